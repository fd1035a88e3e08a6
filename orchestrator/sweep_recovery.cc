#include "orchestrator/sweep_recovery.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <thread>
#include <utility>

#include "common/json.h"
#include "common/text.h"
#include "common/units.h"
#include "orchestrator/trial_files.h"
#include "trials/exit_usage.h"
#include "trials/protocol.h"

namespace cs {

Status SweepRecovery::Run() {
  auto trials = env_.store->ListTrials(sweep_.id);
  if (!trials.ok()) return trials.status();
  for (TrialRecord& trial : *trials) {
    CS_RETURN_IF_ERROR(RecordUnrecordedLaunch(trial));
    if (IsResumable(trial, config_.halving)) CS_RETURN_IF_ERROR(IngestWorkDir(trial));
  }
  auto epochs = env_.store->ListSweepEpochs(sweep_.id);
  if (!epochs.ok()) return epochs.status();
  std::map<int64_t, std::vector<EpochRecord>> by_trial;
  for (const EpochRecord& epoch : *epochs) by_trial[epoch.trial_id].push_back(epoch);
  for (const TrialRecord& trial : *trials) {
    AddView(trial, by_trial[trial.id]);
    book_->next_index = std::max(book_->next_index, trial.index + 1);
    if (IsResumable(trial, config_.halving) && !AdoptRunning(trial)) book_->to_resume.push_back(trial);
  }
  return Status::Ok();
}

Status SweepRecovery::RecordUnrecordedLaunch(TrialRecord& trial) {
  const bool launchable = IsOpenTrialState(trial.state) || trial.state == TrialState::kInterrupted ||
                          trial.state == TrialState::kPaused;
  if (!launchable) return Status::Ok();
  const std::string work_dir = trial.work_dir.empty() ? TrialWorkDir(config_, trial.index) : trial.work_dir;
  std::optional<std::string> job_id = env_.launcher->UnrecordedJob(trial.id, work_dir, trial.job_id);
  if (!job_id) return Status::Ok();
  TrialLaunch launch;
  launch.job_id = *job_id;
  launch.work_dir = work_dir;
  CS_RETURN_IF_ERROR(env_.store->MarkTrialRunning(trial.id, launch, Now()));
  env_.progress->Event({{"event", "trial_unrecorded_job"}, {"trial", trial.index}, {"job_id", *job_id}},
                       "trial " + std::to_string(trial.index) + ": job " + *job_id +
                           " was submitted but not recorded before the last orchestrator stopped; recorded now");
  trial.state = TrialState::kRunning;
  trial.job_id = *job_id;
  trial.work_dir = work_dir;
  return Status::Ok();
}

Status SweepRecovery::RecoverEnergyAfterOrchestratorDeath(const TrialRecord& trial) {
  // A local trial running when its orchestrator died left its whole CPU time
  // (trials/exit_usage.h). What the ledger lacks for this attempt - the CPU
  // after the last sample, or samples drained but never written - is priced
  // at this trial's own joules per CPU second, per component and method.
  if (trial.state != TrialState::kRunning || trial.job_id.rfind("pid:", 0) != 0) return Status::Ok();
  // A trial still in its start-up when we died writes its file once its
  // handler is in place (a second or so): wait for it, never run beside it.
  const int64_t pid = std::atoll(trial.job_id.c_str() + 4);
  for (int waited = 0; waited < 600 && TrialProcessAlive(pid, trial.work_dir); ++waited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::optional<TrialExitUsage> usage = ReadTrialExitUsage(trial.work_dir);
  if (!usage || "pid:" + std::to_string(usage->pid) != trial.job_id) return Status::Ok();  // another attempt's.
  const double missing_cpu_seconds = usage->cpu_seconds - trial.attempt_cpu_seconds;
  if (missing_cpu_seconds < 1e-3) return Status::Ok();  // already in the ledger (a second resume).
  // The file is the trial's word: no process burns more CPU than every core
  // of this machine since the trial was first launched, nor dies in the future.
  const double launched = trial.started_at_unix.value_or(trial.created_at_unix);
  const double cores = std::max(1u, std::thread::hardware_concurrency());
  if (usage->unix_seconds < launched - 1 || usage->unix_seconds > Now() + 60 ||
      usage->cpu_seconds > (Now() - launched + 60) * cores) {
    WarnAboutTrial(env_.progress, trial.index,
                   std::string(kTrialExitUsageFile) + ": " + std::to_string(usage->cpu_seconds) + " CPU s at " +
                       std::to_string(usage->unix_seconds) + " is not possible for a trial launched at " +
                       std::to_string(launched) + " (ignored)");
    return Status::Ok();
  }

  // Meter joules per CPU second by (component, method): its own price; for a
  // trial killed before its first sample, the sweep's.
  Result<std::vector<EnergyTotal>> priced = env_.store->TrialEnergy(trial.id);
  if (!priced.ok()) return priced.status();
  auto has_price = [](const EnergyTotal& total) { return total.cpu_seconds > 0 && total.joules > 0; };
  if (std::none_of(priced->begin(), priced->end(), has_price)) {
    priced = env_.store->SweepEnergy(sweep_.id);
    if (!priced.ok()) return priced.status();
  }
  std::map<std::pair<std::string, std::string>, std::pair<double, double>> joules_and_cpu;
  for (const EnergyTotal& total : *priced) {
    if (!total.trial_id || !has_price(total)) continue;
    std::pair<double, double>& sums = joules_and_cpu[{total.component, total.method}];
    sums.first += ledger_->pricing().MeterJoulesOf(total.joules);
    sums.second += total.cpu_seconds;
  }
  if (joules_and_cpu.empty() && env_.sampler != nullptr) {
    // Killed before any sample of the sweep was written: the CPU-time model's
    // price where the machine has one (no share of RAM: nothing measured it).
    nlohmann::json cpu = env_.sampler->Describe().value("components", nlohmann::json::object()).value(
        "cpu", nlohmann::json::object());
    const double watts_per_thread = JsonNumberOr(cpu, "watts_per_thread", 0.0);
    if (watts_per_thread > 0) {
      joules_and_cpu[{"cpu", cpu.value("method", std::string("cpu-time-model"))}] = {watts_per_thread, 1.0};
    }
  }
  if (joules_and_cpu.empty()) {
    env_.progress->Event({{"event", "warning"}, {"trial", trial.index}, {"cpu_seconds", missing_cpu_seconds}},
                         "warning: trial " + std::to_string(trial.index) + " used " +
                             std::to_string(missing_cpu_seconds) +
                             " CPU s before any sample of this sweep could price them; not counted");
    return Status::Ok();
  }
  std::vector<MeterReading> readings;
  double recovered_joules = 0;
  for (const auto& [key, sums] : joules_and_cpu) {
    MeterReading reading;
    reading.trial_id = trial.id;
    reading.component = key.first;
    reading.method = key.second;
    reading.end_unix_seconds = usage->unix_seconds;
    reading.interval_seconds = 0;  // not a metered window: CPU time priced after the fact.
    reading.meter_joules = missing_cpu_seconds * sums.first / sums.second;
    reading.cpu_seconds = missing_cpu_seconds;
    recovered_joules += ledger_->RowFor(reading).joules;
    readings.push_back(std::move(reading));
  }
  Result<double> recorded = ledger_->Record(readings);
  if (!recorded.ok()) return recorded.status();
  env_.progress->Event({{"event", "energy_recovered"}, {"trial", trial.index}, {"cpu_seconds", missing_cpu_seconds},
                        {"joules", recovered_joules}},
                       "trial " + std::to_string(trial.index) + ": " + FormatJoules(recovered_joules) + " (" +
                           StringPrintf("%.2f", missing_cpu_seconds) +
                           " CPU s) it used after the last sample of the previous run, now counted");
  return Status::Ok();
}

Status SweepRecovery::IngestWorkDir(TrialRecord& trial) {
  // Epochs (and an end) the trial wrote but the orchestrator did not record
  // before it died. RecordEpoch is idempotent, so re-reading all is safe.
  if (trial.work_dir.empty()) return Status::Ok();
  CS_RETURN_IF_ERROR(RecoverEnergyAfterOrchestratorDeath(trial));
  const int max_epoch = TrialEpochBound(ParseJsonOrDiscarded(trial.params_json));
  TrialFileEvents files = ReadTrialEvents(trial.work_dir, max_epoch);
  for (const std::string& warning : files.warnings) WarnAboutTrial(env_.progress, trial.index, warning + " (skipped)");
  for (const nlohmann::json& epoch : files.epochs) {
    Result<EpochRecord> record = EpochRecordFromEvent(trial.id, epoch, max_epoch, Now(), sweep_.objective.metric);
    if (!record.ok()) continue;  // ReadTrialEvents already warned about it.
    CS_RETURN_IF_ERROR(env_.store->RecordEpoch(*record));
  }
  if (!files.last_end) return Status::Ok();
  // A job that ended while no orchestrator watched is followed again all the
  // same (AdoptRunning): its end arrives with the energy it wrote after it.
  if (HasOutlivingJob(trial)) return Status::Ok();
  // It ended (finished or diverged) after the orchestrator's last write: record it, never rerun it.
  TrialEnding ending;
  ending.end_event = &*files.last_end;
  TrialOutcome outcome = OutcomeFromExit(ending);
  if (outcome.state != TrialState::kFinished && outcome.state != TrialState::kDiverged) return Status::Ok();
  if (!FillOutcomeFromEndEvent(*files.last_end, max_epoch, sweep_.objective.metric, &outcome).ok()) return Status::Ok();  // warned.
  outcome.reason += outcome.reason.empty() ? "recorded from its events.log on resume" : "";
  CS_RETURN_IF_ERROR(env_.store->FinishTrial(trial.id, outcome, Now()));
  trial.state = outcome.state;
  trial.val_accuracy = outcome.val_accuracy;
  trial.metric = outcome.metric;
  return Status::Ok();
}

void SweepRecovery::AddView(const TrialRecord& trial, const std::vector<EpochRecord>& epochs) {
  TrialView view;
  view.id = trial.id;
  view.index = trial.index;
  view.state = trial.state;
  int64_t examples = 0;
  for (const EpochRecord& epoch : epochs) {
    if (epoch.epoch < 1 || epoch.epoch > kMaxTrialEpochs) {  // a store written before rows were checked.
      WarnAboutTrial(env_.progress, trial.index,
                     "the store holds an epoch numbered " + std::to_string(epoch.epoch) + " (ignored)");
      continue;
    }
    view.RecordEpoch(epoch.epoch, epoch.metric, sweep_.objective);
    examples = std::max(examples, epoch.examples);
  }
  if (trial.metric) view.best_metric = trial.metric;  // the end event's figure, when it gave one.
  view.target_epoch = view.EpochsDone();
  const bool unfinished_run = IsOpenTrialState(trial.state) || trial.state == TrialState::kInterrupted;
  if (config_.halving && unfinished_run) {
    // It was training toward the next rung when it stopped: that rung is still its target.
    for (int rung : asha_.RungEpochs()) {
      if (rung > view.target_epoch) {
        view.target_epoch = rung;
        break;
      }
    }
  }
  book_->cost.Observe(trial.id, trial.energy.grams_co2e, view.EpochsDone(), examples);
  book_->views[trial.id] = view;
}

bool SweepRecovery::AdoptRunning(const TrialRecord& record) {
  // A local trial ("pid:N") died with its orchestrator; a Slurm job may still be queued or running.
  if (!HasOutlivingJob(record)) return false;
  ActiveTrial trial;
  trial.id = record.id;
  trial.index = record.index;
  trial.params = ParseJsonOrDiscarded(record.params_json);
  if (!trial.params.is_object()) return false;
  trial.epochs = TrialEpochs(trial.params);
  trial.work_dir = record.work_dir.empty() ? TrialWorkDir(config_, record.index) : record.work_dir;
  TrialView& view = book_->views[record.id];
  if (config_.halving && view.target_epoch < trial.epochs) trial.stop_after_epoch = view.target_epoch;
  // What Launch() would start now, from the store's config: a job preempted
  // after this resume is resubmitted with it, never with the work dir's word.
  Result<LaunchRequest> request = LaunchRequestFor(config_, trial);
  auto adopted = request.ok() ? env_.launcher->AdoptLaunch(*request, record.job_id) : Result<LaunchedTrial>(request.status());
  if (!adopted.ok()) {
    env_.progress->Event({{"event", "adopt_failed"}, {"trial", record.index}, {"job_id", record.job_id},
                          {"message", adopted.status().message()}},
                         "trial " + std::to_string(record.index) + ": cannot follow job " + record.job_id + " (" +
                             adopted.status().message() + "); relaunching it from its checkpoint");
    return false;
  }
  trial.pid = 0;  // it meters itself.
  trial.started_monotonic = env_.clock->MonotonicSeconds();
  view.state = TrialState::kRunning;
  env_.progress->Event({{"event", "trial_adopt"}, {"trial", record.index}, {"job_id", record.job_id}},
                       "trial " + std::to_string(record.index) + ": following job " + record.job_id +
                           " of the previous run");
  book_->running[record.id] = std::move(trial);
  return true;
}

}  // namespace cs
