#include "orchestrator/trial_book.h"

#include <limits>

#include "orchestrator/trial_command.h"
#include "orchestrator/trial_files.h"
#include "trials/params.h"
#include "trials/protocol.h"

namespace cs {

void TrialView::RecordEpoch(int epoch, std::optional<double> value, const Objective& objective) {
  if (EpochsDone() < epoch) metric.resize(static_cast<size_t>(epoch));
  metric[static_cast<size_t>(epoch - 1)] = value;
  if (value && (!best_metric || objective.Better(*value, *best_metric))) best_metric = value;
}

std::optional<int> TrialView::BestEpoch(const Objective& objective) const {
  std::optional<int> best;
  for (int epoch = 1; epoch <= EpochsDone(); ++epoch) {
    const std::optional<double>& value = metric[static_cast<size_t>(epoch - 1)];
    if (value && (!best || objective.Better(*value, *metric[static_cast<size_t>(*best - 1)]))) best = epoch;
  }
  return best;
}

std::vector<double> TrialView::Scores(const Objective& objective) const {
  std::vector<double> scores;
  scores.reserve(metric.size());
  for (const std::optional<double>& value : metric) {
    scores.push_back(value ? objective.Score(*value) : std::numeric_limits<double>::quiet_NaN());
  }
  return scores;
}

std::vector<TrialProgress> TrialBook::Progress(const Objective& objective) const {
  std::vector<TrialProgress> all;
  all.reserve(views.size());
  for (const auto& [id, view] : views) {
    TrialProgress progress;
    progress.trial_id = id;
    progress.scores = view.Scores(objective);
    progress.target_epoch = view.target_epoch;
    switch (view.state) {
      case TrialState::kReserved:
      case TrialState::kRunning: progress.state = TrialProgressState::kRunning; break;
      case TrialState::kPaused:
      case TrialState::kInterrupted: progress.state = TrialProgressState::kPaused; break;
      case TrialState::kFinished: progress.state = TrialProgressState::kFinished; break;
      default: progress.state = TrialProgressState::kStopped; break;
    }
    if (running.count(id)) progress.state = TrialProgressState::kRunning;
    all.push_back(std::move(progress));
  }
  return all;
}

std::string TrialWorkDir(const SweepConfig& config, int64_t index) {
  return config.work_root + "/trial-" + std::to_string(index);
}

Result<LaunchRequest> LaunchRequestFor(const SweepConfig& config, const ActiveTrial& trial) {
  LaunchRequest request;
  request.trial_id = trial.id;
  request.work_dir = trial.work_dir;
  request.threads = config.ThreadsPerTrial();
  if (!config.command.empty()) {
    Result<TrialCommand> command = ParseTrialCommand(config.command);
    if (!command.ok()) return command.status();
    Result<std::vector<std::string>> argv = ExpandTrialCommand(*command, trial.params);
    if (!argv.ok()) return argv.status();
    request.command = std::move(*argv);
    request.environment = TrialCommandEnvironment(trial.params, trial.work_dir, trial.index, trial.stop_after_epoch);
    request.params_json = trial.params.dump();
    return request;
  }
  request.args = {"--params", trial.params.dump()};
  std::vector<std::string> task = config.task.ToTrialArgs();
  request.args.insert(request.args.end(), task.begin(), task.end());
  request.args.insert(request.args.end(), {"--threads", std::to_string(config.ThreadsPerTrial()), "--work-dir",
                                           trial.work_dir, "--out", trial.work_dir + "/" + kTrialResultFile, "--quiet"});
  if (trial.stop_after_epoch > 0) {
    request.args.insert(request.args.end(), {"--stop-after-epoch", std::to_string(trial.stop_after_epoch)});
  }
  return request;
}

int TrialEpochs(const nlohmann::json& params) {
  Result<TrialParams> parsed = ParseTrialParams(params);
  if (parsed.ok()) return parsed->epochs;
  auto epochs = params.is_object() ? params.find("epochs") : params.end();
  if (epochs != params.end() && epochs->is_number_integer() && epochs->get<int64_t>() >= 1 &&
      epochs->get<int64_t>() <= kMaxTrialEpochs) {
    return static_cast<int>(epochs->get<int64_t>());
  }
  return 1;
}

bool IsEndState(TrialState state) {
  switch (state) {
    case TrialState::kFinished:
    case TrialState::kDiverged:
    case TrialState::kFailed:
    case TrialState::kPruned:
    case TrialState::kStoppedBudget:
    case TrialState::kSkippedBudget: return true;
    default: return false;
  }
}

bool IsResumable(const TrialRecord& trial, bool halving) {
  return IsOpenTrialState(trial.state) || trial.state == TrialState::kInterrupted ||
         (trial.state == TrialState::kPaused && !halving);
}

bool HasOutlivingJob(const TrialRecord& trial) {
  return IsOpenTrialState(trial.state) && !trial.job_id.empty() && trial.job_id.rfind("pid:", 0) != 0;
}

TrialOutcome OutcomeFromExit(const TrialEnding& ending) {
  TrialOutcome outcome;
  const std::string end_state = ending.end_event != nullptr ? ending.end_event->value("state", "") : "";
  const std::string exit_said = ending.exit != nullptr ? ending.exit->Describe() : "no process watched";
  if (end_state == TrialEndStateName(TrialEndState::kFinished)) {
    outcome.state = TrialState::kFinished;
  } else if (end_state == TrialEndStateName(TrialEndState::kDiverged)) {
    outcome.state = TrialState::kDiverged;
    outcome.reason = "diverged (NaN/inf loss)";
  } else if (end_state == TrialEndStateName(TrialEndState::kPaused)) {
    outcome.state = TrialState::kPaused;
    outcome.reason = "paused after epoch " + std::to_string(ending.stop_after_epoch);
  } else if (ending.stop_cause == StopCause::kBudget) {
    outcome.state = TrialState::kStoppedBudget;
    outcome.reason = ending.stop_reason;
  } else if (ending.stop_cause == StopCause::kPruned) {
    outcome.state = TrialState::kPruned;
    outcome.reason = ending.stop_reason;
  } else if (ending.stop_cause == StopCause::kHold) {
    outcome.state = TrialState::kInterrupted;
    outcome.reason = "paused by the carbon-aware hold (" + ending.stop_reason + ")";
  } else if (ending.exit_zero_finishes && ending.stop_cause == StopCause::kNone && ending.exit != nullptr &&
             ending.exit->how == TrialExit::How::kExited && ending.exit->exit_code == 0) {
    outcome.state = TrialState::kFinished;
    outcome.reason = "exited 0 without an end event";
  } else if (ending.stop_cause == StopCause::kInterrupt || ending.exit == nullptr ||
             end_state == TrialEndStateName(TrialEndState::kInterrupted)) {
    outcome.state = TrialState::kInterrupted;
    outcome.reason = ending.stop_reason.empty() ? "interrupted (" + exit_said + ")" : ending.stop_reason;
  } else {
    outcome.state = TrialState::kFailed;
    outcome.reason = "crashed: " + exit_said;
    if (std::string said = ending.exit->LastStderrLine(); !said.empty()) outcome.reason += ": " + said;
    outcome.stderr_tail = ending.exit->stderr_tail;
  }
  if (ending.exit != nullptr && ending.exit->how == TrialExit::How::kExited) outcome.exit_status = ending.exit->exit_code;
  if (ending.exit != nullptr && ending.exit->how == TrialExit::How::kSignaled) {
    outcome.exit_status = 128 + ending.exit->signal;
  }
  return outcome;
}

void WarnAboutTrial(ProgressReporter* progress, int64_t trial_index, const std::string& message) {
  progress->Event({{"event", "warning"}, {"trial", trial_index}, {"message", message}},
                  "warning: trial " + std::to_string(trial_index) + ": " + message);
}

}  // namespace cs
