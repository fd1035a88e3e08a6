// SweepLoop: the loop behind RunSweep (sweep_runner.h), split over
// sweep_loop.cc (set-up, starting trials, ticks, the budget, the end) and
// sweep_loop_events.cc (what each launcher event does). Internal to
// orchestrator/: only sweep_runner.cc constructs it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/text.h"
#include "orchestrator/energy_ledger.h"
#include "orchestrator/sweep_planner.h"
#include "orchestrator/sweep_runner.h"
#include "orchestrator/trial_book.h"

namespace cs {

// This machine's host name ("unknown-host" when it has none), for leases and sweep records.
std::string ThisHostName();

// Trials in a row that fail before their first epoch before the sweep stops:
// one can be bad luck (a node, the OOM killer), three that die the same way
// are input that cannot work.
constexpr int kCrashLoopLimit = 3;

// The loop proper: waits for launcher events and sampler ticks, dispatches
// them, and carries out what the planner decides. Recovery (sweep_recovery.h)
// has run before the first iteration; every joule goes through the ledger.
class SweepLoop {
 public:
  SweepLoop(int64_t sweep_id, const SweepConfig& config, const Strategy& strategy, const SweepEnvironment& env)
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
  static std::string FormatAccuracy(double accuracy) { return StringPrintf("%.4f", accuracy); }
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

}  // namespace cs
