// SweepRecovery: what `resume` does before the loop starts, so the loop only
// ever sees a sweep in a consistent state.
//
// From the store and the trials' work dirs, for every trial of the sweep:
//   - a job the previous orchestrator submitted but died before recording is
//     recorded as the trial's running attempt (followed, never resubmitted);
//   - the CPU time a local trial used after the last stored sample (its
//     exit_usage.json, trials/exit_usage.h) is priced and recorded;
//   - epochs and an end the trial wrote but nobody recorded are recorded
//     (every line checked: trial_files.h);
//   - the book gets its view (epochs, rung), the cost model its observation;
//   - a job that outlives its orchestrator (Slurm) is adopted and followed;
//     any other unfinished trial is queued to relaunch from its checkpoint.
// A new sweep has no trials: recovery then only sets the book up.
// Runs on the sweep loop's thread, once, before the loop.
#pragma once

#include "orchestrator/energy_ledger.h"
#include "orchestrator/sweep_runner.h"
#include "orchestrator/trial_book.h"

namespace cs {

class SweepRecovery {
 public:
  // Nothing is owned; `book` is filled.
  SweepRecovery(const SweepRecord& sweep, const SweepConfig& config, const SweepEnvironment& env,
                const AshaScheduler& asha, EnergyLedger* ledger, TrialBook* book)
      : sweep_(sweep), config_(config), env_(env), asha_(asha), ledger_(ledger), book_(book) {}

  Status Run();

 private:
  Status RecordUnrecordedLaunch(TrialRecord& trial);
  Status RecoverEnergyAfterOrchestratorDeath(const TrialRecord& trial);
  Status IngestWorkDir(TrialRecord& trial);
  void AddView(const TrialRecord& trial, const std::vector<EpochRecord>& epochs);
  // Follows a trial whose job outlived the previous orchestrator. False: relaunch it.
  bool AdoptRunning(const TrialRecord& trial);
  double Now() const { return env_.clock->NowUnixSeconds(); }

  const SweepRecord& sweep_;
  const SweepConfig& config_;
  const SweepEnvironment& env_;
  const AshaScheduler& asha_;
  EnergyLedger* ledger_;
  TrialBook* book_;
};

}  // namespace cs
