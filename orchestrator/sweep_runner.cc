#include "orchestrator/sweep_runner.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>

#include "common/files.h"
#include "common/json.h"
#include "common/text.h"
#include "common/units.h"
#include "orchestrator/energy_ledger.h"
#include "orchestrator/slurm_energy.h"
#include "orchestrator/sweep_planner.h"
#include "orchestrator/sweep_recovery.h"
#include "orchestrator/trial_book.h"
#include "orchestrator/trial_files.h"

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

std::string FormatAccuracy(double accuracy) { return StringPrintf("%.4f", accuracy); }

// Trials in a row that fail before their first epoch before the sweep stops:
// one can be bad luck (a node, the OOM killer), three that die the same way
// are input that cannot work.
constexpr int kCrashLoopLimit = 3;

// The loop proper: waits for launcher events and sampler ticks, dispatches
// them, and carries out what the planner decides. Recovery (sweep_recovery.h)
// has run before the first iteration; every joule goes through the ledger.
class SweepLoop {
 public:
  SweepLoop(int64_t sweep_id, const SweepConfig& config, const SearchSpace& space, const Strategy& strategy,
            const SweepEnvironment& env)
      : sweep_id_(sweep_id), config_(config), strategy_(strategy), env_(env), pruner_(config.median),
        asha_(config.asha), hold_(config, env, sweep_id) {}

  Result<SweepOutcome> Run();

 private:
  Status TakeLease();
  // Sets up the ledger and the planner from the stored sweep record.
  Status Prepare();
  // --- the loop ---
  void HandleInterrupts();
  bool MayStart() const { return !interrupted_ && !budget_reached_ && fatal_.ok() && crash_loop_.empty(); }
  bool CanStartMore() const { return planner_->PickNext(MayStart()).kind != NextWork::Kind::kNothing; }
  void StartWhatFits();
  Status Launch(ActiveTrial trial, bool resumed);
  // Records trial `trial.index` (the next index) with `state`; returns its id.
  Result<int64_t> InsertNewTrial(const ActiveTrial& trial, TrialState state, double reserved_grams,
                                 const std::string& reason);
  // A planned trial that does not fit while nothing runs: recorded, and the sweep ends.
  void SkipForBudget(const PlannedTrial& planned, const std::string& reason);
  void Handle(const LauncherEvent& event);
  void HandleEnergy(ActiveTrial& trial, const nlohmann::json& event);
  void HandleRequeue(ActiveTrial& trial, const nlohmann::json& event);
  void HandleSlurmEnergy(ActiveTrial& trial, const nlohmann::json& event);
  void HandleEpoch(ActiveTrial& trial, const nlohmann::json& event);
  void HandleExit(ActiveTrial& trial, const TrialExit& exit);
  void Tick();
  // Records what the sampler measured since the last call; the grams it adds.
  double RecordSamples();
  // Records meter readings that arrived as trial events (self-metering jobs).
  void RecordEventReadings(const std::vector<MeterReading>& readings);
  void BudgetReached(const std::string& why);
  void StopTrial(ActiveTrial& trial, StopCause cause, const std::string& reason, StopMode mode);
  void Fail(const Status& status);
  // The crash-loop guard: kCrashLoopLimit trials in a row that failed before
  // their first epoch stop the sweep (SweepState::kTrialsFailing) before it
  // spends more on trials that cannot run.
  void CountEarlyFailure(ActiveTrial& trial, const TrialOutcome& outcome);
  void Warn(int64_t trial_index, const std::string& message) { WarnAboutTrial(env_.progress, trial_index, message); }
  void ReportStatus(bool force);
  // --- helpers ---
  double Now() { return env_.clock->NowUnixSeconds(); }
  std::optional<int64_t> TrialsPlanned() const;
  SweepOutcome Finish();
  // Halving, at the end: trials left paused at a rung were not promoted; they end pruned.
  void PruneUnpromoted();
  std::optional<SweepSpend> Spend();

  const int64_t sweep_id_;
  const SweepConfig& config_;
  const Strategy& strategy_;
  const SweepEnvironment& env_;
  MedianPruner pruner_;
  AshaScheduler asha_;

  SweepRecord sweep_;  // as stored: the budget and on-budget behaviour in force.
  TrialBook book_;
  std::unique_ptr<IntensityProvider> stored_intensity_;  // when the environment gives none.
  std::optional<EnergyLedger> ledger_;
  std::optional<SweepPlanner> planner_;
  IntensityHold hold_;
  double spent_grams_ = 0;                   // the store's figure at the last tick.
  double spent_at_start_ = 0;
  double start_monotonic_ = 0;
  double last_tick_monotonic_ = 0;
  double next_interval_grams_ = 0;           // what the current power adds in one interval.
  double event_grams_since_tick_ = 0;        // grams of self-metered trials' energy events since the last tick.
  double last_heartbeat_ = 0;
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

Status SweepLoop::Prepare() {
  auto sweep = env_.store->GetSweepById(sweep_id_);
  if (!sweep.ok()) return sweep.status();
  sweep_ = *sweep;
  const IntensityProvider* intensity = env_.intensity;
  if (intensity == nullptr) {  // tests of the loop alone: the figure stored with the sweep.
    RegionInfo region;
    region.key = sweep_.region;
    region.name = sweep_.region;
    region.grams_per_kwh = sweep_.intensity_g_per_kwh;
    stored_intensity_ = std::make_unique<ConstantIntensity>(region, /*assumed=*/false);
    intensity = stored_intensity_.get();
  }
  ledger_.emplace(env_.store, sweep_id_, EnergyPricing(sweep_.pue, intensity));
  planner_.emplace(sweep_, config_, strategy_, book_, asha_, pruner_);
  return Status::Ok();
}

void SweepLoop::Fail(const Status& status) {
  if (!fatal_.ok()) return;
  fatal_ = status;
  env_.progress->Event({{"event", "error"}, {"message", status.message()}},
                       "error: " + status.message() + "; stopping the running trials (resumable)");
  for (auto& [id, trial] : book_.running) {
    if (trial.stop_cause == StopCause::kNone) StopTrial(trial, StopCause::kInterrupt, status.message(), StopMode::kGraceful);
  }
}

void SweepLoop::CountEarlyFailure(ActiveTrial& trial, const TrialOutcome& outcome) {
  const bool reached_an_epoch = !book_.views[trial.id].val_accuracy.empty() || outcome.val_accuracy.has_value();
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
  for (auto& [id, other] : book_.running) {
    if (id != trial.id) StopTrial(other, StopCause::kInterrupt, "stopped: the sweep's trials keep failing", StopMode::kGraceful);
  }
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
    env_.progress->Event({{"event", "interrupt"}, {"running", book_.running.size()}},
                         "interrupted: stopping " + std::to_string(book_.running.size()) +
                             " running trial(s) at their next step (checkpointed); interrupt again to kill them");
    for (auto& [id, trial] : book_.running) StopTrial(trial, StopCause::kInterrupt, "interrupted", StopMode::kGraceful);
  }
  if (seen >= 2) {
    for (auto& [id, trial] : book_.running) StopTrial(trial, StopCause::kInterrupt, "interrupted", StopMode::kKill);
  }
  interrupts_handled_ = seen;
}

Status SweepLoop::Launch(ActiveTrial trial, bool resumed) {
  auto launched = env_.launcher->Start(LaunchRequestFor(config_, trial));
  if (!launched.ok()) return launched.status();
  trial.pid = launched->pid;
  trial.started_monotonic = env_.clock->MonotonicSeconds();
  if (trial.pid > 0) env_.sampler->Track(trial.id, trial.pid, {});
  TrialLaunch launch;
  if (launched->pid > 0) launch.pid = launched->pid;
  launch.job_id = launched->job_id;
  launch.work_dir = trial.work_dir;
  CS_RETURN_IF_ERROR(env_.store->MarkTrialRunning(trial.id, launch, Now()));
  TrialView& view = book_.views[trial.id];
  view.state = TrialState::kRunning;
  view.target_epoch = trial.stop_after_epoch > 0 ? trial.stop_after_epoch : trial.epochs;
  env_.progress->Event({{"event", "trial_start"}, {"trial", trial.index}, {"params", trial.params},
                        {"resumed", resumed}, {"stop_after_epoch", trial.stop_after_epoch}},
                       (resumed ? "trial " + std::to_string(trial.index) + " resumed" : "trial " +
                        std::to_string(trial.index) + " started") + ": " + trial.params.dump());
  book_.running[trial.id] = std::move(trial);
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
  ++book_.next_index;
  book_.views[*id] = TrialView{*id, trial.index, state, {}, 0, std::nullopt};
  return *id;
}

void SweepLoop::SkipForBudget(const PlannedTrial& planned, const std::string& reason) {
  if (planned.record) {
    TrialOutcome outcome;
    outcome.state = TrialState::kStoppedBudget;
    outcome.reason = reason;
    if (!book_.to_resume.empty() && book_.to_resume.front().id == planned.record->id) book_.to_resume.pop_front();
    Status status = env_.store->FinishTrial(planned.record->id, outcome, Now());
    if (!status.ok()) return Fail(status);
    book_.views[planned.record->id].state = TrialState::kStoppedBudget;
  } else {
    auto id = InsertNewTrial(planned.trial, TrialState::kSkippedBudget, planned.needed_grams, reason);
    if (!id.ok()) return Fail(id.status());
  }
  env_.progress->Event({{"event", "trial_skipped"}, {"trial", planned.trial.index}, {"reason", reason}},
                       "trial " + std::to_string(planned.trial.index) + " skipped: " + reason);
  BudgetReached("the next trial does not fit");
}

void SweepLoop::StartWhatFits() {
  while (static_cast<int>(book_.running.size()) < config_.parallel) {
    NextWork next = planner_->PickNext(MayStart());
    if (next.kind == NextWork::Kind::kNothing) return;
    // Until one epoch was measured, one trial runs alone: it calibrates the cost model.
    if (!book_.cost.calibrated() && !book_.running.empty()) return;
    Result<bool> holding = hold_.Holding();
    if (!holding.ok()) return Fail(holding.status());
    if (*holding) return;
    auto spend = Spend();
    if (!spend) return;
    Result<PlannedTrial> planned = planner_->Plan(next, *env_.store);
    if (!planned.ok()) return Fail(planned.status());
    Admission admission = planner_->Admit(*planned, *spend, next_interval_grams_);
    switch (admission.verdict) {
      case Admission::Verdict::kBudgetSpent: return BudgetReached("the budget is spent");
      case Admission::Verdict::kWait: return;
      case Admission::Verdict::kSkip: return SkipForBudget(*planned, admission.reason);
      case Admission::Verdict::kStart: break;
    }
    ActiveTrial trial = std::move(planned->trial);
    if (planned->record) {
      if (!book_.to_resume.empty() && book_.to_resume.front().id == planned->record->id) book_.to_resume.pop_front();
      Status status = env_.store->SetTrialReservation(planned->record->id, planned->reserve_grams);
      if (!status.ok()) return Fail(status);
    } else {
      auto id = InsertNewTrial(trial, TrialState::kReserved, planned->reserve_grams, "");
      if (!id.ok()) return Fail(id.status());
      trial.id = *id;
    }
    Status launched = Launch(std::move(trial), /*resumed=*/next.kind != NextWork::Kind::kNew);
    if (!launched.ok()) return Fail(launched);
  }
}

void SweepLoop::HandleEpoch(ActiveTrial& trial, const nlohmann::json& event) {
  Result<EpochRecord> checked = EpochRecordFromEvent(trial.id, event, TrialEpochBound(trial.params), Now());
  if (!checked.ok()) return Warn(trial.index, "epoch event: " + checked.status().message() + " (skipped)");
  const EpochRecord& record = *checked;
  Status status = env_.store->RecordEpoch(record);
  if (!status.ok()) return Fail(status);
  TrialView& view = book_.views[trial.id];
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
  const double trial_grams = stored->energy.grams_co2e;
  book_.cost.Observe(trial.id, trial_grams, record.epoch, record.examples);
  env_.progress->Event({{"event", "epoch"}, {"trial", trial.index}, {"epoch", record.epoch},
                        {"val_accuracy", record.val_accuracy}, {"grams_co2e", trial_grams}},
                       "");
  if (trial.stop_cause != StopCause::kNone) return;
  auto spend = Spend();
  if (!spend) return;
  Result<EpochVerdict> verdict =
      planner_->AfterEpoch(trial, record.epoch, trial_grams, stored->reserved_grams_co2e, *spend, hold_);
  if (!verdict.ok()) return Fail(verdict.status());
  if (verdict->stop != StopCause::kNone) return StopTrial(trial, verdict->stop, verdict->reason, verdict->mode);
  if (!verdict->reserve_grams) return;
  status = env_.store->SetTrialReservation(trial.id, *verdict->reserve_grams);
  if (!status.ok()) Fail(status);
}

void SweepLoop::HandleExit(ActiveTrial& trial, const TrialExit& exit) {
  if (trial.pid > 0) env_.sampler->Untrack(trial.id, exit.cpu_seconds);
  RecordSamples();  // its last joules are in the store before its outcome.

  TrialEnding ending;
  ending.end_event = trial.end_event ? &*trial.end_event : nullptr;
  ending.stop_cause = trial.stop_cause;
  ending.stop_reason = trial.stop_reason;
  ending.stop_after_epoch = trial.stop_after_epoch;
  ending.exit = &exit;
  TrialOutcome outcome = OutcomeFromExit(ending);

  TrialView& view = book_.views[trial.id];
  outcome.seconds = trial.seconds;
  outcome.steps = trial.steps;
  outcome.examples = trial.examples_seen;
  if (trial.end_event && trial.end_event->contains("val_accuracy")) {
    (void)FillOutcomeFromEndEvent(*trial.end_event, TrialEpochBound(trial.params), &outcome);  // checked on arrival.
  } else if (!view.val_accuracy.empty()) {
    auto best = std::max_element(view.val_accuracy.begin(), view.val_accuracy.end());
    outcome.best_epoch = static_cast<int>(best - view.val_accuracy.begin()) + 1;
    outcome.val_accuracy = *best;
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
      book_.cost.Observe(trial.id, trial_grams, static_cast<int>(view.val_accuracy.size()), trial.examples_seen);
    }
  }
  if (trial.stop_cause == StopCause::kHold && fatal_.ok() && !interrupted_) {
    auto stored = env_.store->GetTrial(trial.id);
    if (stored.ok()) book_.to_resume.push_back(*stored);
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
  auto it = book_.running.find(event.trial_id);
  if (it == book_.running.end()) return;
  ActiveTrial& trial = it->second;
  if (event.kind == LauncherEvent::Kind::kExit) {
    HandleExit(trial, event.exit);
    book_.running.erase(it);
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
  Result<MeterReading> reading = MeterReadingFromEnergyEvent(event, trial.id);
  if (!reading.ok()) {
    env_.progress->Event({{"event", "warning"}, {"trial", trial.index}, {"message", reading.status().message()}},
                         "warning: " + reading.status().message() + " (line skipped)");
    return;
  }
  trial.attempt_self_meter_joules += reading->meter_joules;
  RecordEventReadings({*reading});
}

void SweepLoop::HandleRequeue(ActiveTrial& trial, const nlohmann::json& event) {
  // Preempted or its node failed: the same work dir runs again as a new job, from the last checkpoint.
  trial.end_event.reset();
  trial.attempt_self_meter_joules = 0;
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
  if (!fatal_.ok()) return;
  const double slurm_joules = JsonNumberOr(event, "joules", -1);
  if (slurm_joules < 0) return;
  MeterReading correction;
  correction.trial_id = trial.id;
  correction.component = "node";
  correction.method = "slurm";
  correction.end_unix_seconds = Now();
  correction.interval_seconds = 0;
  correction.meter_joules = std::max(0.0, slurm_joules - trial.attempt_self_meter_joules);
  trial.attempt_self_meter_joules = 0;
  if (correction.meter_joules > 0) RecordEventReadings({correction});
}

void SweepLoop::RecordEventReadings(const std::vector<MeterReading>& readings) {
  Result<double> grams = ledger_->Record(readings);
  if (!grams.ok()) return Fail(grams.status());
  event_grams_since_tick_ += *grams;
}

double SweepLoop::RecordSamples() {
  std::vector<EnergySample> samples = env_.sampler->TakeSamples();
  if (samples.empty() || !fatal_.ok()) return 0;
  Result<double> grams = ledger_->Record(ReadingsFromSamples(samples));
  if (!grams.ok()) {
    Fail(grams.status());
    return 0;
  }
  return *grams;
}

void SweepLoop::BudgetReached(const std::string& why) {
  if (budget_reached_) return;
  budget_reached_ = true;
  bool stop = sweep_.on_budget == OnBudget::kStop;
  env_.progress->Event({{"event", "budget_reached"}, {"spent_grams_co2e", spent_grams_},
                        {"budget_grams_co2e", sweep_.budget_grams_co2e}, {"running", book_.running.size()},
                        {"on_budget", OnBudgetName(sweep_.on_budget)}},
                       "budget reached (" + why + "): " + FormatGrams(spent_grams_) + " of " +
                           FormatGrams(sweep_.budget_grams_co2e) +
                           (book_.running.empty() ? "" : stop ? "; stopping the running trials"
                                                         : "; letting the running trials finish"));
  if (!stop) return;
  for (auto& [id, trial] : book_.running) {
    StopTrial(trial, StopCause::kBudget,
              "budget spent: " + FormatGrams(spent_grams_) + " of " + FormatGrams(sweep_.budget_grams_co2e),
              StopMode::kKill);
  }
}

void SweepLoop::Tick() {
  double now = env_.clock->MonotonicSeconds();
  if (env_.sampling == SamplingMode::kOnTick) env_.sampler->SampleOnce();
  double grams = RecordSamples();
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

void SweepLoop::ReportStatus(bool force) {
  ProgressSnapshot snapshot;
  std::optional<double> best;
  for (const auto& [id, view] : book_.views) {
    if (IsEndState(view.state) || view.state == TrialState::kPaused) ++snapshot.trials_ended;
    if (view.best_val_accuracy && (!best || *view.best_val_accuracy > *best)) best = view.best_val_accuracy;
  }
  snapshot.best_val_accuracy = best;
  snapshot.trials_planned = TrialsPlanned();
  snapshot.running = static_cast<int>(book_.running.size());
  snapshot.spent_grams = spent_grams_;
  snapshot.budget_grams = sweep_.budget_grams_co2e;
  snapshot.holding = hold_.why();
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
  for (int64_t id : planner_->Unpromoted()) {
    TrialView& view = book_.views[id];
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
  if (fatal_.ok()) {
    if (Status ended = hold_.End(); !ended.ok()) Fail(ended);
  }
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
  if (hold_.held_seconds() > 0) line << ", held " << FormatSeconds(hold_.held_seconds()) << " for carbon intensity";
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
  CS_RETURN_IF_ERROR(Prepare());
  CS_RETURN_IF_ERROR(TakeLease());
  Status recovered = SweepRecovery(sweep_, config_, env_, asha_, &*ledger_, &book_).Run();
  if (!recovered.ok()) {
    env_.store->ReleaseLease(sweep_id_, env_.lease_owner);
    return recovered;
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
    if (book_.running.empty() && !CanStartMore()) break;
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
  RecordSamples();
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
