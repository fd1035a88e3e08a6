#include "orchestrator/sweep_loop.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "common/units.h"
#include "orchestrator/sweep_recovery.h"

namespace cs {

std::string ThisHostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown-host";
  return name;
}

namespace {

// True when `owner` ("host:pid") names a process on this host that no longer exists.
bool OwnerIsDeadHere(const std::string& owner) {
  size_t colon = owner.rfind(':');
  if (colon == std::string::npos || owner.substr(0, colon) != ThisHostName()) return false;
  char* end = nullptr;
  long pid = std::strtol(owner.c_str() + colon + 1, &end, 10);
  if (end == owner.c_str() + colon + 1 || pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace

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
  book_.free_gpus = config_.gpus;
  std::sort(book_.free_gpus.begin(), book_.free_gpus.end());
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
  const bool reached_an_epoch = book_.views[trial.id].EpochsDone() > 0 || outcome.metric.has_value() ||
                               outcome.val_accuracy.has_value();
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
  Result<LaunchRequest> request = LaunchRequestFor(config_, trial);
  if (!request.ok()) return request.status();
  if (config_.gpus_per_trial > 0) {
    // Whole devices, the lowest free first; CUDA numbers them as NVML does (PCI bus order).
    const size_t wanted = static_cast<size_t>(config_.gpus_per_trial);
    if (book_.free_gpus.size() < wanted) return Status::Internal("no free GPU set for trial " + std::to_string(trial.index));
    trial.gpus.assign(book_.free_gpus.begin(), book_.free_gpus.begin() + wanted);
    request->environment.push_back("CUDA_DEVICE_ORDER=PCI_BUS_ID");
    request->environment.push_back("CUDA_VISIBLE_DEVICES=" + GpuList(trial.gpus));
  }
  auto launched = env_.launcher->Start(*request);
  if (!launched.ok()) return launched.status();
  book_.free_gpus.erase(book_.free_gpus.begin(), book_.free_gpus.begin() + trial.gpus.size());
  trial.pid = launched->pid;
  trial.started_monotonic = env_.clock->MonotonicSeconds();
  if (trial.pid > 0) env_.sampler->Track(trial.id, trial.pid, trial.gpus);
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
    if (book_.free_gpus.size() < static_cast<size_t>(config_.gpus_per_trial)) return;  // every device set is busy.
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
    if (view.best_metric && (!best || sweep_.objective.Better(*view.best_metric, *best))) best = view.best_metric;
  }
  snapshot.best_metric = best;
  snapshot.objective = sweep_.objective;
  snapshot.trials_planned = TrialsPlanned();
  snapshot.running = static_cast<int>(book_.running.size());
  snapshot.spent_grams = spent_grams_;
  snapshot.budget_grams = sweep_.budget_grams_co2e;
  snapshot.holding = hold_.why();
  // Called every sample interval: the per-trial store reads only when the line shows them.
  if (env_.progress->ShowsRunningTrials(force)) {
    for (const auto& [id, trial] : book_.running) {
      RunningTrialProgress running;
      running.index = trial.index;
      auto view = book_.views.find(id);
      running.epochs_done = view == book_.views.end() ? 0 : view->second.EpochsDone();
      running.epochs = trial.epochs;
      running.examples_per_second = trial.seconds > 0 ? static_cast<double>(trial.examples_seen) / trial.seconds : 0;
      if (auto stored = env_.store->GetTrial(id); stored.ok()) running.grams = stored->energy.grams_co2e;
      snapshot.running_trials.push_back(running);
    }
  }
  std::sort(snapshot.running_trials.begin(), snapshot.running_trials.end(),
            [](const RunningTrialProgress& a, const RunningTrialProgress& b) { return a.index < b.index; });
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
    outcome.metric = stored->metric;
    outcome.seconds = stored->seconds;
    outcome.steps = stored->steps;
    outcome.examples = stored->examples;
    outcome.exit_status = stored->exit_status;
    outcome.reason = "halving: not promoted past epoch " + std::to_string(view.EpochsDone());
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
      !summary->best_metric;
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
    outcome.best_metric = summary->best_metric;
    outcome.objective = sweep_.objective;
    outcome.best_trial_index = summary->best_trial_index;
    for (int state = 0; state < kTrialStateCount; ++state) {
      if (IsEndState(static_cast<TrialState>(state))) outcome.trials_ended += summary->trials_by_state[state];
    }
  }
  std::ostringstream line;
  line << "sweep '" << sweep_.name << "' " << SweepStateName(outcome.state) << ": " << outcome.trials_ended
       << " trial(s) ended";
  if (outcome.best_metric) {
    line << ", best " << FormatMetric(sweep_.objective, *outcome.best_metric) << " (trial "
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

}  // namespace cs
