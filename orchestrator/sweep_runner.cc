#include "orchestrator/sweep_runner.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <sstream>
#include <thread>

#include "common/files.h"
#include "common/json.h"
#include "common/units.h"
#include "orchestrator/cost_model.h"
#include "orchestrator/slurm_energy.h"
#include "orchestrator/trial_files.h"
#include "search_spaces/early_stopping.h"
#include "trials/exit_usage.h"
#include "trials/params.h"
#include "trials/protocol.h"

namespace cs {

namespace {

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown-host";
  return name;
}

// True when `owner` ("host:pid") names a process on this host that no longer exists.
bool OwnerIsDeadHere(const std::string& owner) {
  size_t colon = owner.rfind(':');
  if (colon == std::string::npos || owner.substr(0, colon) != HostName()) return false;
  char* end = nullptr;
  long pid = std::strtol(owner.c_str() + colon + 1, &end, 10);
  if (end == owner.c_str() + colon + 1 || pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

std::string FormatAccuracy(double accuracy) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", accuracy);
  return text;
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

// A trial still open in the store whose job outlives its orchestrator (a
// Slurm job id; a local trial's "pid:N" dies with it): resume follows the job.
bool HasOutlivingJob(const TrialRecord& trial) {
  return IsOpenTrialState(trial.state) && !trial.job_id.empty() && trial.job_id.rfind("pid:", 0) != 0;
}

// Trials in a row that fail before their first epoch before the sweep stops:
// one can be bad luck (a node, the OOM killer), three that die the same way
// are input that cannot work.
constexpr int kCrashLoopLimit = 3;

// Why the loop stopped a trial (decides the state recorded at its exit).
enum class StopCause { kNone = 0, kBudget = 1, kInterrupt = 2, kPruned = 3, kHold = 4 };

// What the loop knows of every trial of the sweep (for pruning, halving, progress).
struct TrialView {
  int64_t id = 0;
  int64_t index = 0;
  TrialState state = TrialState::kReserved;
  std::vector<double> val_accuracy;  // by epoch.
  int target_epoch = 0;              // halving: the rung it was last sent to.
  std::optional<double> best_val_accuracy;
};

// A trial with a process (or about to get one).
struct ActiveTrial {
  int64_t id = 0;
  int64_t index = 0;
  nlohmann::json params;
  int epochs = 0;            // params.epochs: the whole schedule.
  int stop_after_epoch = 0;  // halving: pause after this epoch; 0 = run to the end.
  std::string work_dir;
  int pid = 0;
  double started_monotonic = 0;
  int64_t examples_seen = 0;
  double seconds = 0;
  int64_t steps = 0;
  std::optional<nlohmann::json> end_event;
  // Joules the trial metered itself ("energy" events) in its current job,
  // before PUE: Slurm's own figure for the job replaces them at its end.
  double attempt_self_joules = 0;
  StopCause stop_cause = StopCause::kNone;
  std::string stop_reason;
};

class SweepLoop {
 public:
  SweepLoop(int64_t sweep_id, const SweepConfig& config, const SearchSpace& space, const Strategy& strategy,
            const SweepEnvironment& env)
      : sweep_id_(sweep_id), config_(config), space_(space), strategy_(strategy), env_(env),
        pruner_(config.median), asha_(config.asha) {}

  Result<SweepOutcome> Run();

 private:
  // --- set-up ---
  Status TakeLease();
  Status LoadTrials();
  Status IngestWorkDir(TrialRecord& trial);
  // A job submitted for the trial that the previous orchestrator died before
  // recording becomes the trial's running attempt, to be followed, not resubmitted.
  Status RecordUnrecordedLaunch(TrialRecord& trial);
  Status RecoverEnergyAfterOrchestratorDeath(const TrialRecord& trial);
  // --- the loop ---
  void HandleInterrupts();
  void StartWhatFits();
  // What the next free slot would run.
  struct NextWork {
    enum class Kind { kNothing, kResume, kPromote, kNew } kind = Kind::kNothing;
    EarlyStopDecision decision;  // halving: kPromote's trial and rung, kNew's first rung.
  };
  NextWork PickNext();
  bool CanStartMore();
  bool HoldingForIntensity();
  Status Launch(ActiveTrial trial, bool resumed);
  // Records trial `trial.index` (the next index) with `state`; returns its id.
  Result<int64_t> InsertNewTrial(const ActiveTrial& trial, TrialState state, double reserved_grams,
                                 const std::string& reason);
  void Handle(const LauncherEvent& event);
  void HandleEnergy(ActiveTrial& trial, const nlohmann::json& event);
  void HandleRequeue(ActiveTrial& trial, const nlohmann::json& event);
  void HandleSlurmEnergy(ActiveTrial& trial, const nlohmann::json& event);
  // Resume: follows a trial whose job outlived the previous orchestrator. False: relaunch it.
  bool AdoptRunning(const TrialRecord& trial);
  // Closes the store's row of the carbon-aware hold in progress, if any.
  void EndHoldRecord();
  void HandleEpoch(ActiveTrial& trial, const nlohmann::json& event);
  void HandleExit(ActiveTrial& trial, const TrialExit& exit);
  void Tick();
  void WriteSamples(double* grams_written);
  void BudgetReached(const std::string& why);
  void StopTrial(ActiveTrial& trial, StopCause cause, const std::string& reason, StopMode mode);
  void Fail(const Status& status);
  // The crash-loop guard: kCrashLoopLimit trials in a row that failed before
  // their first epoch stop the sweep (SweepState::kTrialsFailing) before it
  // spends more on trials that cannot run.
  void CountEarlyFailure(ActiveTrial& trial, const TrialOutcome& outcome);
  // A line of a trial's output or files that could not be used: said, then skipped.
  void Warn(int64_t trial_index, const std::string& message);
  void ReportStatus(bool force);
  // --- helpers ---
  double Now() { return env_.clock->NowUnixSeconds(); }
  std::string WorkDirFor(int64_t index) const;
  std::vector<std::string> TrialArgs(const ActiveTrial& trial) const;
  std::optional<int64_t> TrialsPlanned() const;
  std::vector<TrialProgress> Progress() const;
  SweepOutcome Finish();
  // Halving, at the end: trials left paused at a rung were not promoted; they end pruned.
  void PruneUnpromoted();
  std::optional<SweepSpend> Spend();

  const int64_t sweep_id_;
  const SweepConfig& config_;
  const SearchSpace& space_;
  const Strategy& strategy_;
  const SweepEnvironment& env_;
  MedianPruner pruner_;
  AshaScheduler asha_;

  SweepRecord sweep_;
  CostModel cost_;
  std::map<int64_t, TrialView> views_;       // every trial of the sweep, by id.
  std::deque<TrialRecord> to_resume_;        // open/interrupted trials to relaunch, by index.
  std::map<int64_t, ActiveTrial> running_;   // by trial id.
  int64_t next_index_ = 0;
  double spent_grams_ = 0;                   // the store's figure at the last tick.
  double spent_at_start_ = 0;
  double start_monotonic_ = 0;
  double last_tick_monotonic_ = 0;
  double next_interval_grams_ = 0;           // what the current power adds in one interval.
  double event_grams_since_tick_ = 0;        // grams of self-metered trials' energy events since the last tick.
  double last_heartbeat_ = 0;
  double hold_started_ = -1;                 // carbon-aware hold: monotonic start, -1 = not holding.
  int64_t hold_record_ = 0;                  // the store's row of the hold in progress; 0 = none.
  double held_seconds_ = 0;
  std::string holding_;
  int interrupts_handled_ = 0;
  bool interrupted_ = false;
  bool budget_reached_ = false;
  int early_failures_in_a_row_ = 0;
  std::string crash_loop_;                   // why the guard stopped the sweep; "" = it did not.
  std::string last_failure_;                 // "trial 3 crashed: exit 2: ...", for the summary.
  bool sampler_started_ = false;
  Status fatal_;
  double trial_seconds_sum_ = 0;             // for the ETA: trials ended in this run.
  int64_t trials_timed_ = 0;
};

std::string SweepLoop::WorkDirFor(int64_t index) const {
  return config_.work_root + "/trial-" + std::to_string(index);
}

std::vector<std::string> SweepLoop::TrialArgs(const ActiveTrial& trial) const {
  std::vector<std::string> args = {"--params", trial.params.dump()};
  std::vector<std::string> task = config_.task.ToTrialArgs();
  args.insert(args.end(), task.begin(), task.end());
  args.insert(args.end(), {"--threads", std::to_string(config_.ThreadsPerTrial()), "--work-dir", trial.work_dir,
                           "--out", trial.work_dir + "/" + kTrialResultFile, "--quiet"});
  if (trial.stop_after_epoch > 0) args.insert(args.end(), {"--stop-after-epoch", std::to_string(trial.stop_after_epoch)});
  return args;
}

std::optional<int64_t> SweepLoop::TrialsPlanned() const {
  std::optional<int64_t> planned = config_.max_trials;
  if (auto grid = strategy_.GridSize()) planned = planned ? std::min(*planned, *grid) : *grid;
  return planned;
}

std::optional<SweepSpend> SweepLoop::Spend() {
  auto spend = env_.store->GetSweepSpend(sweep_id_);
  if (!spend.ok()) {
    Fail(spend.status());
    return std::nullopt;
  }
  return *spend;
}

Status SweepLoop::TakeLease() {
  double stale_after = env_.lease_stale_after_seconds;
  auto lease = env_.store->GetLease(sweep_id_);
  if (!lease.ok()) return lease.status();
  if (lease->has_value() && (*lease)->owner != env_.lease_owner && OwnerIsDeadHere((*lease)->owner)) {
    stale_after = -1;  // its owner is gone: take it now, however fresh its last heartbeat.
  }
  return env_.store->AcquireLease(sweep_id_, env_.lease_owner, Now(), stale_after);
}

Status SweepLoop::RecoverEnergyAfterOrchestratorDeath(const TrialRecord& trial) {
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
    Warn(trial.index, std::string(kTrialExitUsageFile) + ": " + std::to_string(usage->cpu_seconds) + " CPU s at " +
                          std::to_string(usage->unix_seconds) + " is not possible for a trial launched at " +
                          std::to_string(launched) + " (ignored)");
    return Status::Ok();
  }

  // Its own price; for a trial killed before its first sample, the sweep's.
  Result<std::vector<EnergyTotal>> priced = env_.store->TrialEnergy(trial.id);
  if (!priced.ok()) return priced.status();
  auto has_price = [](const EnergyTotal& total) { return total.cpu_seconds > 0 && total.joules > 0; };
  if (std::none_of(priced->begin(), priced->end(), has_price)) {
    priced = env_.store->SweepEnergy(sweep_id_);
    if (!priced.ok()) return priced.status();
  }
  std::map<std::pair<std::string, std::string>, std::pair<double, double>> joules_and_cpu;
  for (const EnergyTotal& total : *priced) {
    if (!total.trial_id || !has_price(total)) continue;
    auto& [joules, cpu] = joules_and_cpu[{total.component, total.method}];
    joules += total.joules;
    cpu += total.cpu_seconds;
  }
  if (joules_and_cpu.empty() && env_.sampler != nullptr) {
    // Killed before any sample of the sweep was written: the CPU-time model's
    // price where the machine has one (no share of RAM: nothing measured it).
    nlohmann::json cpu = env_.sampler->Describe().value("components", nlohmann::json::object()).value(
        "cpu", nlohmann::json::object());
    double watts_per_thread = cpu.value("watts_per_thread", 0.0);
    if (watts_per_thread > 0) {
      joules_and_cpu[{"cpu", cpu.value("method", std::string("cpu-time-model"))}] = {
          watts_per_thread * config_.carbon.pue, 1.0};
    }
  }
  if (joules_and_cpu.empty()) {
    env_.progress->Event({{"event", "warning"}, {"trial", trial.index}, {"cpu_seconds", missing_cpu_seconds}},
                         "warning: trial " + std::to_string(trial.index) + " used " +
                             std::to_string(missing_cpu_seconds) +
                             " CPU s before any sample of this sweep could price them; not counted");
    return Status::Ok();
  }
  const double intensity = env_.intensity != nullptr ? env_.intensity->GramsPerKwhAt(usage->unix_seconds)
                                                     : sweep_.intensity_g_per_kwh;
  std::vector<PowerSampleRow> rows;
  double recovered_joules = 0;
  for (const auto& [key, totals] : joules_and_cpu) {
    PowerSampleRow row;
    row.sweep_id = sweep_id_;
    row.trial_id = trial.id;
    row.unix_seconds = usage->unix_seconds;
    row.interval_seconds = 0;  // not a metered interval: CPU time priced after the fact.
    row.component = key.first;
    row.method = key.second;
    row.joules = missing_cpu_seconds * totals.first / totals.second;
    row.grams_co2e = row.joules * intensity / 3.6e6;  // the stored joules already carry the PUE.
    row.intensity_g_per_kwh = intensity;
    row.cpu_seconds = missing_cpu_seconds;
    recovered_joules += row.joules;
    rows.push_back(std::move(row));
  }
  auto appended = env_.store->AppendPowerSamples(rows);
  if (!appended.ok()) return appended.status();
  char cpu_text[32];
  std::snprintf(cpu_text, sizeof cpu_text, "%.2f", missing_cpu_seconds);
  env_.progress->Event({{"event", "energy_recovered"}, {"trial", trial.index}, {"cpu_seconds", missing_cpu_seconds},
                        {"joules", recovered_joules}},
                       "trial " + std::to_string(trial.index) + ": " + FormatJoules(recovered_joules) + " (" +
                           cpu_text + " CPU s) it used after the last sample of the previous run, now counted");
  return Status::Ok();
}

Status SweepLoop::IngestWorkDir(TrialRecord& trial) {
  // Epochs (and an end) the trial wrote but the orchestrator did not record
  // before it died. RecordEpoch is idempotent, so re-reading all is safe.
  if (trial.work_dir.empty()) return Status::Ok();
  CS_RETURN_IF_ERROR(RecoverEnergyAfterOrchestratorDeath(trial));
  const int max_epoch = TrialEpochBound(ParseJsonOrDiscarded(trial.params_json));
  TrialFileEvents files = ReadTrialEvents(trial.work_dir, max_epoch);
  for (const std::string& warning : files.warnings) Warn(trial.index, warning + " (skipped)");
  for (const nlohmann::json& epoch : files.epochs) {
    Result<EpochRecord> record = EpochRecordFromEvent(trial.id, epoch, max_epoch, Now());
    if (!record.ok()) continue;  // ReadTrialEvents already warned about it.
    CS_RETURN_IF_ERROR(env_.store->RecordEpoch(*record));
  }
  if (!files.last_end) return Status::Ok();
  // A job that ended while no orchestrator watched is followed again all the
  // same (AdoptRunning): its end arrives with the energy it wrote after it.
  if (HasOutlivingJob(trial)) return Status::Ok();
  // It ended (finished or diverged) after the orchestrator's last write: record it, never rerun it.
  std::string state = files.last_end->value("state", "");
  TrialOutcome outcome;
  if (state == TrialEndStateName(TrialEndState::kFinished)) {
    outcome.state = TrialState::kFinished;
  } else if (state == TrialEndStateName(TrialEndState::kDiverged)) {
    outcome.state = TrialState::kDiverged;
    outcome.reason = "diverged (NaN/inf loss)";
  } else {
    return Status::Ok();
  }
  if (!FillOutcomeFromEndEvent(*files.last_end, max_epoch, &outcome).ok()) return Status::Ok();  // warned.
  outcome.reason += outcome.reason.empty() ? "recorded from its events.log on resume" : "";
  CS_RETURN_IF_ERROR(env_.store->FinishTrial(trial.id, outcome, Now()));
  trial.state = outcome.state;
  trial.val_accuracy = outcome.val_accuracy;
  return Status::Ok();
}

Status SweepLoop::RecordUnrecordedLaunch(TrialRecord& trial) {
  const bool launchable = IsOpenTrialState(trial.state) || trial.state == TrialState::kInterrupted ||
                          trial.state == TrialState::kPaused;
  if (!launchable) return Status::Ok();
  const std::string work_dir = trial.work_dir.empty() ? WorkDirFor(trial.index) : trial.work_dir;
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

Status SweepLoop::LoadTrials() {
  auto trials = env_.store->ListTrials(sweep_id_);
  if (!trials.ok()) return trials.status();
  for (TrialRecord& trial : *trials) {
    CS_RETURN_IF_ERROR(RecordUnrecordedLaunch(trial));
    bool resumable = IsOpenTrialState(trial.state) || trial.state == TrialState::kInterrupted ||
                     (trial.state == TrialState::kPaused && !config_.halving);
    if (resumable) CS_RETURN_IF_ERROR(IngestWorkDir(trial));
  }
  auto epochs = env_.store->ListSweepEpochs(sweep_id_);
  if (!epochs.ok()) return epochs.status();
  std::map<int64_t, std::vector<EpochRecord>> by_trial;
  for (const EpochRecord& epoch : *epochs) by_trial[epoch.trial_id].push_back(epoch);
  for (const TrialRecord& trial : *trials) {
    TrialView view;
    view.id = trial.id;
    view.index = trial.index;
    view.state = trial.state;
    view.best_val_accuracy = trial.val_accuracy;
    int64_t examples = 0;
    for (const EpochRecord& epoch : by_trial[trial.id]) {
      if (epoch.epoch < 1 || epoch.epoch > kMaxTrialEpochs) {  // a store written before rows were checked.
        Warn(trial.index, "the store holds an epoch numbered " + std::to_string(epoch.epoch) + " (ignored)");
        continue;
      }
      if (static_cast<int>(view.val_accuracy.size()) < epoch.epoch) view.val_accuracy.resize(epoch.epoch, 0);
      view.val_accuracy[epoch.epoch - 1] = epoch.val_accuracy;
      examples = std::max(examples, epoch.examples);
      if (!view.best_val_accuracy || epoch.val_accuracy > *view.best_val_accuracy) {
        view.best_val_accuracy = epoch.val_accuracy;
      }
    }
    view.target_epoch = static_cast<int>(view.val_accuracy.size());
    bool unfinished_run = IsOpenTrialState(trial.state) || trial.state == TrialState::kInterrupted;
    if (config_.halving && unfinished_run) {
      // It was training toward the next rung when it stopped: that rung is still its target.
      for (int rung : asha_.RungEpochs()) {
        if (rung > view.target_epoch) {
          view.target_epoch = rung;
          break;
        }
      }
    }
    cost_.Observe(trial.id, trial.energy.grams_co2e, static_cast<int>(view.val_accuracy.size()), examples);
    views_[trial.id] = view;
    next_index_ = std::max(next_index_, trial.index + 1);
    bool resumable = IsOpenTrialState(trial.state) || trial.state == TrialState::kInterrupted ||
                     (trial.state == TrialState::kPaused && !config_.halving);
    if (resumable && !AdoptRunning(trial)) to_resume_.push_back(trial);
  }
  return Status::Ok();
}

bool SweepLoop::AdoptRunning(const TrialRecord& record) {
  // A local trial ("pid:N") died with its orchestrator; a Slurm job may still be queued or running.
  if (!HasOutlivingJob(record)) return false;
  ActiveTrial trial;
  trial.id = record.id;
  trial.index = record.index;
  trial.params = ParseJsonOrDiscarded(record.params_json);
  if (!trial.params.is_object()) return false;
  auto parsed = ParseTrialParams(trial.params);
  trial.epochs = parsed.ok() ? parsed->epochs : 1;
  trial.work_dir = record.work_dir.empty() ? WorkDirFor(record.index) : record.work_dir;
  if (config_.halving && views_[record.id].target_epoch < trial.epochs) {
    trial.stop_after_epoch = views_[record.id].target_epoch;
  }
  // What Launch() would start now, from the store's config: a job preempted
  // after this resume is resubmitted with it, never with the work dir's word.
  LaunchRequest request;
  request.trial_id = record.id;
  request.args = TrialArgs(trial);
  request.work_dir = trial.work_dir;
  request.threads = config_.ThreadsPerTrial();
  auto adopted = env_.launcher->AdoptLaunch(request, record.job_id);
  if (!adopted.ok()) {
    env_.progress->Event({{"event", "adopt_failed"}, {"trial", record.index}, {"job_id", record.job_id},
                          {"message", adopted.status().message()}},
                         "trial " + std::to_string(record.index) + ": cannot follow job " + record.job_id + " (" +
                             adopted.status().message() + "); relaunching it from its checkpoint");
    return false;
  }
  trial.pid = 0;  // it meters itself.
  trial.started_monotonic = env_.clock->MonotonicSeconds();
  views_[record.id].state = TrialState::kRunning;
  env_.progress->Event({{"event", "trial_adopt"}, {"trial", record.index}, {"job_id", record.job_id}},
                       "trial " + std::to_string(record.index) + ": following job " + record.job_id +
                           " of the previous run");
  running_[record.id] = std::move(trial);
  return true;
}

void SweepLoop::Fail(const Status& status) {
  if (!fatal_.ok()) return;
  fatal_ = status;
  env_.progress->Event({{"event", "error"}, {"message", status.message()}},
                       "error: " + status.message() + "; stopping the running trials (resumable)");
  for (auto& [id, trial] : running_) {
    if (trial.stop_cause == StopCause::kNone) StopTrial(trial, StopCause::kInterrupt, status.message(), StopMode::kGraceful);
  }
}

void SweepLoop::CountEarlyFailure(ActiveTrial& trial, const TrialOutcome& outcome) {
  const bool reached_an_epoch = !views_[trial.id].val_accuracy.empty() || outcome.val_accuracy.has_value();
  if (outcome.state != TrialState::kFailed || reached_an_epoch) {
    if (reached_an_epoch) early_failures_in_a_row_ = 0;
    return;
  }
  if (++early_failures_in_a_row_ < kCrashLoopLimit || !crash_loop_.empty()) return;
  crash_loop_ = std::to_string(early_failures_in_a_row_) + " trials in a row failed before their first epoch; the last: " +
                outcome.reason;
  env_.progress->Event({{"event", "crash_loop"}, {"trial", trial.index}, {"failures_in_a_row", early_failures_in_a_row_},
                        {"reason", outcome.reason}},
                       "stopping the sweep: " + crash_loop_);
  for (auto& [id, other] : running_) {
    if (id != trial.id) StopTrial(other, StopCause::kInterrupt, "stopped: the sweep's trials keep failing", StopMode::kGraceful);
  }
}

void SweepLoop::Warn(int64_t trial_index, const std::string& message) {
  env_.progress->Event({{"event", "warning"}, {"trial", trial_index}, {"message", message}},
                       "warning: trial " + std::to_string(trial_index) + ": " + message);
}

void SweepLoop::StopTrial(ActiveTrial& trial, StopCause cause, const std::string& reason, StopMode mode) {
  if (trial.stop_cause == StopCause::kNone) {
    trial.stop_cause = cause;
    trial.stop_reason = reason;
  }
  env_.launcher->Stop(trial.id, mode);
}

void SweepLoop::HandleInterrupts() {
  if (env_.interrupts == nullptr) return;
  int seen = env_.interrupts->load();
  if (seen <= interrupts_handled_) return;
  if (interrupts_handled_ == 0) {
    interrupted_ = true;
    env_.progress->Event({{"event", "interrupt"}, {"running", running_.size()}},
                         "interrupted: stopping " + std::to_string(running_.size()) +
                             " running trial(s) at their next step (checkpointed); interrupt again to kill them");
    for (auto& [id, trial] : running_) StopTrial(trial, StopCause::kInterrupt, "interrupted", StopMode::kGraceful);
  }
  if (seen >= 2) {
    for (auto& [id, trial] : running_) StopTrial(trial, StopCause::kInterrupt, "interrupted", StopMode::kKill);
  }
  interrupts_handled_ = seen;
}

SweepLoop::NextWork SweepLoop::PickNext() {
  NextWork next;
  if (interrupted_ || budget_reached_ || !fatal_.ok() || !crash_loop_.empty()) return next;
  if (!to_resume_.empty()) {
    next.kind = NextWork::Kind::kResume;
    return next;
  }
  bool new_allowed = (!config_.max_trials || next_index_ < *config_.max_trials) &&
                     strategy_.Point(next_index_).has_value();
  if (config_.halving) {
    next.decision = asha_.Decide(Progress());
    if (next.decision.action == EarlyStopAction::kPromote) {
      next.kind = NextWork::Kind::kPromote;
      return next;
    }
  }
  if (new_allowed) next.kind = NextWork::Kind::kNew;
  return next;
}

bool SweepLoop::CanStartMore() { return PickNext().kind != NextWork::Kind::kNothing; }

void SweepLoop::EndHoldRecord() {
  if (hold_record_ == 0) return;
  Status status = env_.store->EndHold(hold_record_, Now());
  hold_record_ = 0;
  if (!status.ok()) Fail(status);
}

bool SweepLoop::HoldingForIntensity() {
  holding_.clear();
  if (config_.max_intensity_g_per_kwh < 0 || env_.intensity == nullptr) return false;
  double now = env_.clock->MonotonicSeconds();
  double intensity = env_.intensity->GramsPerKwhAt(Now());
  if (intensity <= config_.max_intensity_g_per_kwh) {
    if (hold_started_ >= 0) held_seconds_ += now - hold_started_;
    hold_started_ = -1;
    EndHoldRecord();
    return false;
  }
  if (hold_started_ < 0) {
    hold_started_ = now;
    HoldRecord hold;
    hold.sweep_id = sweep_id_;
    hold.started_at_unix = Now();
    hold.intensity_g_per_kwh = intensity;
    hold.threshold_g_per_kwh = config_.max_intensity_g_per_kwh;
    auto recorded = env_.store->BeginHold(hold);
    if (!recorded.ok()) Fail(recorded.status());
    hold_record_ = recorded.ok() ? *recorded : 0;
  }
  if (held_seconds_ + (now - hold_started_) >= config_.max_delay_seconds) {
    EndHoldRecord();  // waited long enough: trials run, dirty grid or not.
    return false;
  }
  char text[128];
  std::snprintf(text, sizeof text, "holding: %.0f g/kWh > %.0f", intensity, config_.max_intensity_g_per_kwh);
  holding_ = text;
  return true;
}

Status SweepLoop::Launch(ActiveTrial trial, bool resumed) {
  LaunchRequest request;
  request.trial_id = trial.id;
  request.args = TrialArgs(trial);
  request.work_dir = trial.work_dir;
  request.threads = config_.ThreadsPerTrial();
  auto launched = env_.launcher->Start(request);
  if (!launched.ok()) return launched.status();
  trial.pid = launched->pid;
  trial.started_monotonic = env_.clock->MonotonicSeconds();
  if (trial.pid > 0) env_.sampler->Track(trial.id, trial.pid, {});
  TrialLaunch launch;
  if (launched->pid > 0) launch.pid = launched->pid;
  launch.job_id = launched->job_id;
  launch.work_dir = trial.work_dir;
  CS_RETURN_IF_ERROR(env_.store->MarkTrialRunning(trial.id, launch, Now()));
  TrialView& view = views_[trial.id];
  view.state = TrialState::kRunning;
  view.target_epoch = trial.stop_after_epoch > 0 ? trial.stop_after_epoch : trial.epochs;
  env_.progress->Event({{"event", "trial_start"}, {"trial", trial.index}, {"params", trial.params},
                        {"resumed", resumed}, {"stop_after_epoch", trial.stop_after_epoch}},
                       (resumed ? "trial " + std::to_string(trial.index) + " resumed" : "trial " +
                        std::to_string(trial.index) + " started") + ": " + trial.params.dump());
  running_[trial.id] = std::move(trial);
  return Status::Ok();
}

Result<int64_t> SweepLoop::InsertNewTrial(const ActiveTrial& trial, TrialState state, double reserved_grams,
                                          const std::string& reason) {
  NewTrial row;
  row.sweep_id = sweep_id_;
  row.index = trial.index;
  row.params_json = trial.params.dump();
  row.reserved_grams_co2e = reserved_grams;
  row.state = state;
  row.reason = reason;
  auto id = env_.store->InsertTrial(row, Now());
  if (!id.ok()) return id.status();
  ++next_index_;
  views_[*id] = TrialView{*id, trial.index, state, {}, 0, std::nullopt};
  return *id;
}

void SweepLoop::StartWhatFits() {
  while (static_cast<int>(running_.size()) < config_.parallel) {
    NextWork next = PickNext();
    if (next.kind == NextWork::Kind::kNothing) return;
    // Until one epoch was measured, one trial runs alone: it calibrates the cost model.
    if (!cost_.calibrated() && !running_.empty()) return;
    if (HoldingForIntensity()) return;
    auto spend = Spend();
    if (!spend) return;
    double available = AvailableGrams(sweep_.budget_grams_co2e, spend->total.grams_co2e,
                                      spend->outstanding_reserved_grams_co2e);

    ActiveTrial trial;
    bool resumed = next.kind != NextWork::Kind::kNew;
    std::optional<TrialRecord> record;
    if (next.kind == NextWork::Kind::kResume) record = to_resume_.front();
    if (next.kind == NextWork::Kind::kPromote) {
      auto stored = env_.store->GetTrial(next.decision.trial_id);
      if (!stored.ok()) return Fail(stored.status());
      record = *stored;
    }
    if (record) {
      trial.id = record->id;
      trial.index = record->index;
      trial.params = ParseJsonOrDiscarded(record->params_json);
      trial.work_dir = record->work_dir.empty() ? WorkDirFor(record->index) : record->work_dir;
      if (config_.halving) {
        trial.stop_after_epoch = next.kind == NextWork::Kind::kPromote ? next.decision.stop_after_epoch
                                                                       : views_[trial.id].target_epoch;
      }
    } else {
      trial.index = next_index_;
      trial.params = *strategy_.Point(next_index_);
      if (config_.halving) {
        trial.params["epochs"] = config_.asha.max_epochs;
        trial.stop_after_epoch = next.decision.stop_after_epoch;
      }
      trial.work_dir = WorkDirFor(trial.index);
    }
    if (!trial.params.is_object()) return Fail(Status::Corruption("trial " + std::to_string(trial.index) + ": stored params are not JSON"));
    auto parsed = ParseTrialParams(trial.params);
    trial.epochs = parsed.ok() ? parsed->epochs : 1;
    if (trial.stop_after_epoch >= trial.epochs) trial.stop_after_epoch = 0;
    int target = trial.stop_after_epoch > 0 ? trial.stop_after_epoch : trial.epochs;

    // What it will cost from here, and what it reserves in all.
    double already = 0;
    int epochs_done = 0;
    if (record) {
      already = record->energy.grams_co2e;
      epochs_done = static_cast<int>(views_[record->id].val_accuracy.size());
    }
    std::optional<double> predicted = cost_.PredictTrialGrams(target - epochs_done);
    double needed = predicted.value_or(0);  // uncalibrated: this is the calibration run.
    double reserve = already + needed;

    if (spend->total.grams_co2e + next_interval_grams_ >= sweep_.budget_grams_co2e) {
      BudgetReached("the budget is spent");
      return;
    }
    if (needed > available) {
      if (!running_.empty()) return;  // wait: running trials free their reservations as they end.
      std::string reason = "predicted " + FormatGrams(needed) + " does not fit in the " +
                           FormatGrams(std::max(0.0, available)) + " left of the budget";
      if (record) {
        TrialOutcome outcome;
        outcome.state = TrialState::kStoppedBudget;
        outcome.reason = reason;
        if (!to_resume_.empty() && to_resume_.front().id == record->id) to_resume_.pop_front();
        Status status = env_.store->FinishTrial(record->id, outcome, Now());
        if (!status.ok()) return Fail(status);
        views_[record->id].state = TrialState::kStoppedBudget;
      } else {
        auto id = InsertNewTrial(trial, TrialState::kSkippedBudget, needed, reason);
        if (!id.ok()) return Fail(id.status());
      }
      env_.progress->Event({{"event", "trial_skipped"}, {"trial", trial.index}, {"reason", reason}},
                           "trial " + std::to_string(trial.index) + " skipped: " + reason);
      BudgetReached("the next trial does not fit");
      return;
    }

    if (record) {
      if (!to_resume_.empty() && to_resume_.front().id == record->id) to_resume_.pop_front();
      Status status = env_.store->SetTrialReservation(record->id, reserve);
      if (!status.ok()) return Fail(status);
    } else {
      auto id = InsertNewTrial(trial, TrialState::kReserved, reserve, "");
      if (!id.ok()) return Fail(id.status());
      trial.id = *id;
    }
    Status launched = Launch(std::move(trial), resumed);
    if (!launched.ok()) return Fail(launched);
  }
}

void SweepLoop::HandleEpoch(ActiveTrial& trial, const nlohmann::json& event) {
  Result<EpochRecord> checked = EpochRecordFromEvent(trial.id, event, TrialEpochBound(trial.params), Now());
  if (!checked.ok()) return Warn(trial.index, "epoch event: " + checked.status().message() + " (skipped)");
  const EpochRecord& record = *checked;
  Status status = env_.store->RecordEpoch(record);
  if (!status.ok()) return Fail(status);
  TrialView& view = views_[trial.id];
  if (static_cast<int>(view.val_accuracy.size()) < record.epoch) view.val_accuracy.resize(record.epoch, 0);
  view.val_accuracy[record.epoch - 1] = record.val_accuracy;
  if (!view.best_val_accuracy || record.val_accuracy > *view.best_val_accuracy) {
    view.best_val_accuracy = record.val_accuracy;
  }
  trial.examples_seen = record.examples;
  trial.seconds = record.seconds;
  trial.steps = record.steps;
  auto stored = env_.store->GetTrial(trial.id);
  if (!stored.ok()) return Fail(stored.status());
  double trial_grams = stored->energy.grams_co2e;
  cost_.Observe(trial.id, trial_grams, record.epoch, record.examples);
  env_.progress->Event({{"event", "epoch"}, {"trial", trial.index}, {"epoch", record.epoch},
                        {"val_accuracy", record.val_accuracy}, {"grams_co2e", trial_grams}},
                       "");
  if (trial.stop_cause != StopCause::kNone) return;

  if (config_.prune == PruneMode::kMedian) {
    TrialProgress progress{trial.id, TrialProgressState::kRunning, view.val_accuracy, view.target_epoch};
    EarlyStopDecision decision = pruner_.ShouldStop(progress, Progress());
    if (decision.action == EarlyStopAction::kStop) {
      return StopTrial(trial, StopCause::kPruned, decision.reason, StopMode::kKill);
    }
  }
  int target = trial.stop_after_epoch > 0 ? trial.stop_after_epoch : trial.epochs;
  int epochs_left = target - record.epoch;
  if (epochs_left <= 0) return;
  if (HoldingForIntensity()) {
    // Carbon-aware: pause at this epoch boundary; it resumes from the checkpoint when the grid is cleaner.
    return StopTrial(trial, StopCause::kHold, holding_, StopMode::kGraceful);
  }
  double needed = trial_grams / record.epoch * epochs_left;
  auto spend = Spend();
  if (!spend) return;
  double own_outstanding = std::max(0.0, stored->reserved_grams_co2e - trial_grams);
  double available = AvailableGrams(sweep_.budget_grams_co2e, spend->total.grams_co2e,
                                    spend->outstanding_reserved_grams_co2e - own_outstanding);
  if (config_.on_budget == OnBudget::kStop && needed > available) {
    std::string reason = "after epoch " + std::to_string(record.epoch) + " its " + std::to_string(epochs_left) +
                         " remaining epoch(s) need about " + FormatGrams(needed) + ", only " +
                         FormatGrams(std::max(0.0, available)) + " left";
    return StopTrial(trial, StopCause::kBudget, reason, StopMode::kKill);
  }
  status = env_.store->SetTrialReservation(trial.id, trial_grams + needed);
  if (!status.ok()) Fail(status);
}

void SweepLoop::HandleExit(ActiveTrial& trial, const TrialExit& exit) {
  if (trial.pid > 0) env_.sampler->Untrack(trial.id, exit.cpu_seconds);
  double ignored = 0;
  WriteSamples(&ignored);  // its last joules are in the store before its outcome.

  TrialOutcome outcome;
  std::string end_state = trial.end_event ? trial.end_event->value("state", "") : "";
  if (end_state == TrialEndStateName(TrialEndState::kFinished)) {
    outcome.state = TrialState::kFinished;
  } else if (end_state == TrialEndStateName(TrialEndState::kDiverged)) {
    outcome.state = TrialState::kDiverged;
    outcome.reason = "diverged (NaN/inf loss)";
  } else if (end_state == TrialEndStateName(TrialEndState::kPaused)) {
    outcome.state = TrialState::kPaused;
    outcome.reason = "paused after epoch " + std::to_string(trial.stop_after_epoch);
  } else if (trial.stop_cause == StopCause::kBudget) {
    outcome.state = TrialState::kStoppedBudget;
    outcome.reason = trial.stop_reason;
  } else if (trial.stop_cause == StopCause::kPruned) {
    outcome.state = TrialState::kPruned;
    outcome.reason = trial.stop_reason;
  } else if (trial.stop_cause == StopCause::kHold) {
    outcome.state = TrialState::kInterrupted;
    outcome.reason = "paused by the carbon-aware hold (" + trial.stop_reason + ")";
  } else if (trial.stop_cause == StopCause::kInterrupt ||
             end_state == TrialEndStateName(TrialEndState::kInterrupted)) {
    outcome.state = TrialState::kInterrupted;
    outcome.reason = trial.stop_reason.empty() ? "interrupted (" + exit.Describe() + ")" : trial.stop_reason;
  } else {
    outcome.state = TrialState::kFailed;
    outcome.reason = "crashed: " + exit.Describe();
    if (std::string said = exit.LastStderrLine(); !said.empty()) outcome.reason += ": " + said;
    outcome.stderr_tail = exit.stderr_tail;
  }
  if (exit.how == TrialExit::How::kExited) outcome.exit_status = exit.exit_code;
  if (exit.how == TrialExit::How::kSignaled) outcome.exit_status = 128 + exit.signal;

  TrialView& view = views_[trial.id];
  outcome.seconds = trial.seconds;
  outcome.steps = trial.steps;
  outcome.examples = trial.examples_seen;
  if (trial.end_event && trial.end_event->contains("val_accuracy")) {
    (void)FillOutcomeFromEndEvent(*trial.end_event, TrialEpochBound(trial.params), &outcome);  // checked on arrival.
  } else if (!view.val_accuracy.empty()) {
    auto best = std::max_element(view.val_accuracy.begin(), view.val_accuracy.end());
    outcome.best_epoch = static_cast<int>(best - view.val_accuracy.begin()) + 1;
    outcome.val_accuracy = *best;
    outcome.seconds = trial.seconds;
    outcome.steps = trial.steps;
    outcome.examples = trial.examples_seen;
  }
  if (outcome.val_accuracy) view.best_val_accuracy = outcome.val_accuracy;
  view.state = outcome.state;
  CountEarlyFailure(trial, outcome);
  if (outcome.state == TrialState::kFailed) last_failure_ = "trial " + std::to_string(trial.index) + " " + outcome.reason;
  if (fatal_.ok()) {
    Status status = env_.store->FinishTrial(trial.id, outcome, Now());
    if (!status.ok()) Fail(status);
  }
  double trial_grams = 0;
  if (fatal_.ok()) {
    auto stored = env_.store->GetTrial(trial.id);
    if (stored.ok()) {
      trial_grams = stored->energy.grams_co2e;
      cost_.Observe(trial.id, trial_grams, static_cast<int>(view.val_accuracy.size()), trial.examples_seen);
    }
  }
  if (trial.stop_cause == StopCause::kHold && fatal_.ok() && !interrupted_) {
    auto stored = env_.store->GetTrial(trial.id);
    if (stored.ok()) to_resume_.push_back(*stored);
  }
  if (IsEndState(outcome.state)) {
    trial_seconds_sum_ += env_.clock->MonotonicSeconds() - trial.started_monotonic;
    ++trials_timed_;
  }
  std::string human = "trial " + std::to_string(trial.index) + " " + TrialStateName(outcome.state);
  if (outcome.val_accuracy) human += ": val acc " + FormatAccuracy(*outcome.val_accuracy);
  human += ", " + FormatGrams(trial_grams);
  if (!outcome.reason.empty() && outcome.state != TrialState::kFinished) human += " (" + outcome.reason + ")";
  nlohmann::json fields = {{"event", "trial_end"}, {"trial", trial.index}, {"state", TrialStateName(outcome.state)},
                           {"grams_co2e", trial_grams}, {"reason", outcome.reason}};
  fields["val_accuracy"] = outcome.val_accuracy ? nlohmann::json(*outcome.val_accuracy) : nullptr;
  fields["test_accuracy"] = outcome.test_accuracy ? nlohmann::json(*outcome.test_accuracy) : nullptr;
  env_.progress->Event(fields, human);
}

void SweepLoop::Handle(const LauncherEvent& event) {
  auto it = running_.find(event.trial_id);
  if (it == running_.end()) return;
  ActiveTrial& trial = it->second;
  if (event.kind == LauncherEvent::Kind::kExit) {
    HandleExit(trial, event.exit);
    running_.erase(it);
    if (fatal_.ok()) {
      if (auto spend = Spend()) spent_grams_ = spend->total.grams_co2e;  // the progress line includes its last joules.
    }
    ReportStatus(/*force=*/true);
    return;
  }
  const std::string& kind = event.event["event"].get_ref<const std::string&>();  // ParseTrialEvent checked it.
  if (kind == "epoch") {
    HandleEpoch(trial, event.event);
  } else if (kind == "end") {
    TrialOutcome ignored;
    Status checked = FillOutcomeFromEndEvent(event.event, TrialEpochBound(trial.params), &ignored);
    if (!checked.ok()) return Warn(trial.index, "end event: " + checked.message() + " (skipped)");
    trial.end_event = event.event;
  } else if (kind == kEnergyEventName) {
    HandleEnergy(trial, event.event);
  } else if (kind == "requeue") {
    HandleRequeue(trial, event.event);
  } else if (kind == "slurm_energy") {
    HandleSlurmEnergy(trial, event.event);
  }
}

void SweepLoop::HandleEnergy(ActiveTrial& trial, const nlohmann::json& event) {
  if (!fatal_.ok()) return;
  if (env_.intensity == nullptr) return Fail(Status::Internal("an energy event arrived but the sweep has no intensity provider"));
  auto row = PowerSampleFromEnergyEvent(event, sweep_id_, trial.id, config_.carbon.pue, *env_.intensity);
  if (!row.ok()) {
    env_.progress->Event({{"event", "warning"}, {"trial", trial.index}, {"message", row.status().message()}},
                         "warning: " + row.status().message() + " (line skipped)");
    return;
  }
  trial.attempt_self_joules += event.value("joules", 0.0);
  event_grams_since_tick_ += row->grams_co2e;
  auto appended = env_.store->AppendPowerSamples({*row});
  if (!appended.ok()) Fail(appended.status());
}

void SweepLoop::HandleRequeue(ActiveTrial& trial, const nlohmann::json& event) {
  // Preempted or its node failed: the same work dir runs again as a new job, from the last checkpoint.
  trial.end_event.reset();
  trial.attempt_self_joules = 0;
  TrialLaunch launch;
  launch.job_id = event.value("job_id", "");
  launch.work_dir = trial.work_dir;
  Status status = env_.store->MarkTrialRunning(trial.id, launch, Now());
  if (!status.ok()) return Fail(status);
  std::string why = event.value("state", "");
  if (!event.value("reason", "").empty()) why += " (" + event.value("reason", "") + ")";
  env_.progress->Event({{"event", "trial_requeue"}, {"trial", trial.index}, {"job_id", launch.job_id},
                        {"previous_job_id", event.value("previous_job_id", "")}, {"state", event.value("state", "")},
                        {"reason", event.value("reason", "")}},
                       "trial " + std::to_string(trial.index) + " requeued as job " + launch.job_id + " after " +
                           event.value("previous_job_id", "its job") + " ended " + why);
}

void SweepLoop::HandleSlurmEnergy(ActiveTrial& trial, const nlohmann::json& event) {
  // Slurm measured the whole allocation; what the trial metered itself is
  // already in the store, so only the difference is added, as the node's.
  if (!fatal_.ok() || !event.contains("joules") || !event["joules"].is_number()) return;
  if (env_.intensity == nullptr) return Fail(Status::Internal("a slurm_energy event arrived but the sweep has no intensity provider"));
  double extra_joules = std::max(0.0, event["joules"].get<double>() - trial.attempt_self_joules);
  trial.attempt_self_joules = 0;
  if (extra_joules <= 0) return;
  nlohmann::json correction = {{"unix_seconds", Now()}, {"interval_seconds", 0.0}, {"component", "node"},
                               {"method", "slurm"}, {"joules", extra_joules}};
  auto row = PowerSampleFromEnergyEvent(correction, sweep_id_, trial.id, config_.carbon.pue, *env_.intensity);
  if (!row.ok()) return Fail(row.status());
  event_grams_since_tick_ += row->grams_co2e;
  auto appended = env_.store->AppendPowerSamples({*row});
  if (!appended.ok()) Fail(appended.status());
}

void SweepLoop::WriteSamples(double* grams_written) {
  std::vector<EnergySample> samples = env_.sampler->TakeSamples();
  *grams_written = 0;
  if (samples.empty() || !fatal_.ok()) return;
  std::vector<PowerSampleRow> rows;
  rows.reserve(samples.size());
  for (const EnergySample& sample : samples) {
    PowerSampleRow row;
    row.sweep_id = sweep_id_;
    if (sample.trial_id >= 0) row.trial_id = sample.trial_id;
    row.unix_seconds = sample.unix_seconds;
    row.interval_seconds = sample.interval_seconds;
    row.component = ComponentName(sample.component);
    row.method = EnergyMethodName(sample.method);
    row.joules = sample.joules * config_.carbon.pue;
    row.watts = sample.watts * config_.carbon.pue;
    row.grams_co2e = sample.grams_co2e;
    row.intensity_g_per_kwh = sample.intensity_g_per_kwh;
    row.cpu_seconds = sample.cpu_seconds;
    *grams_written += sample.grams_co2e;
    rows.push_back(std::move(row));
  }
  auto appended = env_.store->AppendPowerSamples(rows);
  if (!appended.ok()) Fail(appended.status());
}

void SweepLoop::BudgetReached(const std::string& why) {
  if (budget_reached_) return;
  budget_reached_ = true;
  bool stop = config_.on_budget == OnBudget::kStop;
  env_.progress->Event({{"event", "budget_reached"}, {"spent_grams_co2e", spent_grams_},
                        {"budget_grams_co2e", sweep_.budget_grams_co2e}, {"running", running_.size()},
                        {"on_budget", OnBudgetName(config_.on_budget)}},
                       "budget reached (" + why + "): " + FormatGrams(spent_grams_) + " of " +
                           FormatGrams(sweep_.budget_grams_co2e) +
                           (running_.empty() ? "" : stop ? "; stopping the running trials"
                                                         : "; letting the running trials finish"));
  if (!stop) return;
  for (auto& [id, trial] : running_) {
    StopTrial(trial, StopCause::kBudget,
              "budget spent: " + FormatGrams(spent_grams_) + " of " + FormatGrams(sweep_.budget_grams_co2e),
              StopMode::kKill);
  }
}

void SweepLoop::Tick() {
  double now = env_.clock->MonotonicSeconds();
  if (env_.sampling == SamplingMode::kOnTick) env_.sampler->SampleOnce();
  double grams = 0;
  WriteSamples(&grams);
  grams += event_grams_since_tick_;  // trials metering themselves (Slurm) count toward the next interval too.
  event_grams_since_tick_ = 0;
  double elapsed = now - last_tick_monotonic_;
  last_tick_monotonic_ = now;
  if (elapsed > 0) next_interval_grams_ = grams / elapsed * config_.carbon.sample_interval_seconds;
  auto spend = Spend();
  if (!spend) return;
  spent_grams_ = spend->total.grams_co2e;
  if (!budget_reached_ && spent_grams_ + next_interval_grams_ >= sweep_.budget_grams_co2e) {
    BudgetReached("measured spend plus one more interval reaches it");
  }
  if (now - last_heartbeat_ >= env_.heartbeat_interval_seconds && fatal_.ok()) {
    last_heartbeat_ = now;
    Status status = env_.store->Heartbeat(sweep_id_, env_.lease_owner, Now());
    if (!status.ok()) Fail(status.WithPrefix("lost the sweep's lease"));
  }
  ReportStatus(/*force=*/false);
}

std::vector<TrialProgress> SweepLoop::Progress() const {
  std::vector<TrialProgress> all;
  all.reserve(views_.size());
  for (const auto& [id, view] : views_) {
    TrialProgress progress;
    progress.trial_id = id;
    progress.val_accuracy = view.val_accuracy;
    progress.target_epoch = view.target_epoch;
    switch (view.state) {
      case TrialState::kReserved:
      case TrialState::kRunning: progress.state = TrialProgressState::kRunning; break;
      case TrialState::kPaused:
      case TrialState::kInterrupted: progress.state = TrialProgressState::kPaused; break;
      case TrialState::kFinished: progress.state = TrialProgressState::kFinished; break;
      default: progress.state = TrialProgressState::kStopped; break;
    }
    if (running_.count(id)) progress.state = TrialProgressState::kRunning;
    all.push_back(std::move(progress));
  }
  return all;
}

void SweepLoop::ReportStatus(bool force) {
  ProgressSnapshot snapshot;
  std::optional<double> best;
  for (const auto& [id, view] : views_) {
    if (IsEndState(view.state) || view.state == TrialState::kPaused) ++snapshot.trials_ended;
    if (view.best_val_accuracy && (!best || *view.best_val_accuracy > *best)) best = view.best_val_accuracy;
  }
  snapshot.best_val_accuracy = best;
  snapshot.trials_planned = TrialsPlanned();
  snapshot.running = static_cast<int>(running_.size());
  snapshot.spent_grams = spent_grams_;
  snapshot.budget_grams = sweep_.budget_grams_co2e;
  snapshot.holding = holding_;
  double elapsed = env_.clock->MonotonicSeconds() - start_monotonic_;
  std::optional<double> eta;
  if (snapshot.trials_planned && trials_timed_ > 0) {
    double left = static_cast<double>(std::max<int64_t>(0, *snapshot.trials_planned - snapshot.trials_ended));
    eta = left * (trial_seconds_sum_ / trials_timed_) / std::max(1, config_.parallel);
  }
  double spent_here = spent_grams_ - spent_at_start_;
  if (spent_here > 0 && elapsed > 0) {
    double until_budget = std::max(0.0, sweep_.budget_grams_co2e - spent_grams_) / (spent_here / elapsed);
    eta = eta ? std::min(*eta, until_budget) : until_budget;
  }
  snapshot.eta_seconds = eta;
  env_.progress->Status(snapshot, force);
}

void SweepLoop::PruneUnpromoted() {
  for (auto& [id, view] : views_) {
    if (view.state != TrialState::kPaused) continue;
    auto stored = env_.store->GetTrial(id);
    if (!stored.ok()) return Fail(stored.status());
    TrialOutcome outcome;
    outcome.state = TrialState::kPruned;
    outcome.best_epoch = stored->best_epoch;
    outcome.val_accuracy = stored->val_accuracy;
    outcome.test_accuracy = stored->test_accuracy;
    outcome.seconds = stored->seconds;
    outcome.steps = stored->steps;
    outcome.examples = stored->examples;
    outcome.exit_status = stored->exit_status;
    outcome.reason = "halving: not promoted past epoch " + std::to_string(view.val_accuracy.size());
    Status status = env_.store->FinishTrial(id, outcome, Now());
    if (!status.ok()) return Fail(status);
    view.state = TrialState::kPruned;
  }
}

SweepOutcome SweepLoop::Finish() {
  if (fatal_.ok()) EndHoldRecord();
  SweepOutcome outcome;
  outcome.budget_grams_co2e = sweep_.budget_grams_co2e;
  if (!fatal_.ok()) {
    outcome.state = SweepState::kFailed;
  } else if (interrupted_) {
    outcome.state = SweepState::kInterrupted;
    outcome.exit_code = ExitCode::kInterrupted;
  } else if (budget_reached_) {
    outcome.state = SweepState::kBudgetSpent;
    outcome.exit_code = ExitCode::kBudgetSpent;
  }
  if (fatal_.ok() && outcome.state == SweepState::kDone && config_.halving) PruneUnpromoted();
  auto summary = env_.store->GetSweepSummary(sweep_id_);
  const bool nothing_but_failures =
      summary.ok() && summary->trials_by_state[static_cast<int>(TrialState::kFailed)] > 0 &&
      !summary->best_val_accuracy;
  if (fatal_.ok() && !interrupted_ && (!crash_loop_.empty() || nothing_but_failures)) {
    // A sweep that learnt nothing because its trials cannot run never ends "done".
    outcome.state = SweepState::kTrialsFailing;
    outcome.exit_code = ExitCode::kTrialsFailing;
  }
  if (fatal_.ok()) {
    Status status = env_.store->SetSweepState(sweep_id_, outcome.state, Now());
    if (!status.ok()) fatal_ = status;
  }
  summary = env_.store->GetSweepSummary(sweep_id_);  // after the state and the pruned trials.
  if (summary.ok()) {
    outcome.spent_grams_co2e = summary->spend.total.grams_co2e;
    outcome.best_val_accuracy = summary->best_val_accuracy;
    outcome.best_trial_index = summary->best_trial_index;
    for (int state = 0; state < kTrialStateCount; ++state) {
      if (IsEndState(static_cast<TrialState>(state))) outcome.trials_ended += summary->trials_by_state[state];
    }
  }
  std::ostringstream line;
  line << "sweep '" << sweep_.name << "' " << SweepStateName(outcome.state) << ": " << outcome.trials_ended
       << " trial(s) ended";
  if (outcome.best_val_accuracy) {
    line << ", best val acc " << FormatAccuracy(*outcome.best_val_accuracy) << " (trial "
         << outcome.best_trial_index.value_or(-1) << ")";
  }
  line << ", " << FormatGrams(outcome.spent_grams_co2e) << " of " << FormatGrams(outcome.budget_grams_co2e);
  if (outcome.spent_grams_co2e > outcome.budget_grams_co2e) {
    line << " (over by " << FormatGrams(outcome.spent_grams_co2e - outcome.budget_grams_co2e) << ")";
  }
  if (held_seconds_ > 0) line << ", held " << FormatSeconds(held_seconds_) << " for carbon intensity";
  if (outcome.state == SweepState::kInterrupted) line << "; `carbonsweep resume " << sweep_.name << "` continues it";
  if (outcome.state == SweepState::kTrialsFailing) {
    line << "; " << (!crash_loop_.empty()   ? crash_loop_
                     : last_failure_.empty() ? std::string("every trial failed")
                                             : "every trial failed; the last: " + last_failure_)
         << "; fix the input, then `carbonsweep resume " << sweep_.name << "`";
  }
  outcome.summary = line.str();
  return outcome;
}

Result<SweepOutcome> SweepLoop::Run() {
  auto sweep = env_.store->GetSweepById(sweep_id_);
  if (!sweep.ok()) return sweep.status();
  sweep_ = *sweep;
  CS_RETURN_IF_ERROR(TakeLease());
  Status loaded = LoadTrials();
  if (!loaded.ok()) {
    env_.store->ReleaseLease(sweep_id_, env_.lease_owner);
    return loaded;
  }
  if (Status status = env_.store->SetSweepState(sweep_id_, SweepState::kRunning, Now()); !status.ok()) {
    env_.store->ReleaseLease(sweep_id_, env_.lease_owner);
    return status;
  }
  if (auto spend = Spend()) spent_grams_ = spend->total.grams_co2e;
  spent_at_start_ = spent_grams_;
  start_monotonic_ = last_tick_monotonic_ = last_heartbeat_ = env_.clock->MonotonicSeconds();
  if (env_.sampling == SamplingMode::kSamplerThread) {
    env_.sampler->Start();
    sampler_started_ = true;
  } else {
    env_.sampler->SampleOnce();  // the baseline reading.
  }
  const double interval = config_.carbon.sample_interval_seconds;
  double next_tick = env_.clock->MonotonicSeconds() + interval;
  std::vector<LauncherEvent> events;
  while (true) {
    HandleInterrupts();
    if (CanStartMore()) StartWhatFits();
    if (running_.empty() && !CanStartMore()) break;
    double timeout = std::max(0.0, next_tick - env_.clock->MonotonicSeconds());
    events.clear();
    env_.launcher->Wait(timeout, &events);
    for (const LauncherEvent& event : events) Handle(event);
    double now = env_.clock->MonotonicSeconds();
    if (now >= next_tick) {
      Tick();
      next_tick = std::max(next_tick + interval, now + interval * 0.5);
    }
  }
  if (sampler_started_) env_.sampler->Stop();
  double grams = 0;
  WriteSamples(&grams);
  SweepOutcome outcome = Finish();
  env_.progress->Finish();
  env_.store->ReleaseLease(sweep_id_, env_.lease_owner);
  if (!fatal_.ok()) return fatal_;
  return outcome;
}

}  // namespace

std::string ThisProcessOwner() { return HostName() + ":" + std::to_string(::getpid()); }

Result<int64_t> CreateSweepRecord(SweepStore& store, const SweepConfig& config, const SearchSpace& space,
                                  const Strategy& strategy, const nlohmann::json& power,
                                  const IntensityProvider& intensity, double now_unix) {
  SweepRecord sweep;
  sweep.name = config.name;
  sweep.created_at_unix = now_unix;
  sweep.host = HostName();
  sweep.strategy = StrategyLabel(config);
  sweep.seed = static_cast<int64_t>(config.strategy.seed);
  sweep.budget_grams_co2e = config.budget_grams_co2e;
  sweep.on_budget = config.on_budget;
  nlohmann::json described = intensity.Describe();
  sweep.region = described.value("region", config.carbon.region);
  sweep.intensity_g_per_kwh = intensity.GramsPerKwhAt(now_unix);
  sweep.intensity_source = described.value("source", "");
  sweep.intensity_year = described.value("year", 0);
  sweep.pue = config.carbon.pue;
  nlohmann::json power_json = power;
  power_json["intensity"] = described;
  sweep.power_json = power_json.dump();
  nlohmann::json task = config.task.ToTrialArgs();
  sweep.task_json = nlohmann::json{{"task", config.task.task.empty() ? "default" : config.task.task},
                                   {"args", task}}.dump();
  sweep.task_checksum = config.task.data_checksum.empty() ? Sha256OfString(sweep.task_json) : config.task.data_checksum;
  sweep.space_json = space.ToJson().dump();
  nlohmann::json config_json = config.ToJson();
  config_json["strategy_state"] = strategy.State();
  sweep.config_json = config_json.dump();
  nlohmann::json state = strategy.State();
  sweep.grid_order_json = state.contains("order") ? state["order"].dump() : "";
  sweep.launcher = LauncherKindName(config.launcher);
  sweep.state = SweepState::kRunning;
  return store.CreateSweep(sweep);
}

Result<SweepOutcome> RunSweep(int64_t sweep_id, const SweepConfig& config, const SearchSpace& space,
                              const Strategy& strategy, const SweepEnvironment& env) {
  SweepLoop loop(sweep_id, config, space, strategy, env);
  return loop.Run();
}

}  // namespace cs
