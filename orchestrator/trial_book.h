// TrialBook: what the sweep loop, its recovery pass and its planner know of
// the sweep's trials between two store reads, and the few facts about a
// trial all three derive the same way (its work dir, its command line, how
// its end becomes an outcome, whether it resumes).
//
// The store stays the truth (every fact is written when it happens); the
// book is the in-memory view the loop's decisions read. Owned by the sweep
// loop; only its thread touches it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/cost_model.h"
#include "orchestrator/launcher.h"
#include "orchestrator/progress.h"
#include "orchestrator/sweep_config.h"
#include "search_spaces/early_stopping.h"
#include "store/sweep_store.h"

namespace cs {

// Why the loop stopped a trial (decides the state recorded at its exit).
enum class StopCause { kNone = 0, kBudget = 1, kInterrupt = 2, kPruned = 3, kHold = 4 };

// What the loop knows of every trial of the sweep (for pruning, halving, progress).
struct TrialView {
  int64_t id = 0;
  int64_t index = 0;
  TrialState state = TrialState::kReserved;
  // The sweep's metric by epoch (epoch e at [e - 1]); unset where an epoch
  // did not report it. Its size is the epochs done.
  std::vector<std::optional<double>> metric;
  int target_epoch = 0;              // halving: the rung it was last sent to.
  std::optional<double> best_metric;  // the best of `metric`, or the end event's.

  int EpochsDone() const { return static_cast<int>(metric.size()); }
  // Keeps epoch `epoch`'s value (1-based) and best_metric.
  void RecordEpoch(int epoch, std::optional<double> value, const Objective& objective);
  // The epoch (1-based) with the best metric, if any epoch reported it.
  std::optional<int> BestEpoch(const Objective& objective) const;
  // For rankers that only maximise (pruning, halving): Objective::Score of
  // each epoch, NaN where the epoch did not report the metric.
  std::vector<double> Scores(const Objective& objective) const;
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
  // at the meter: Slurm's own figure for the job replaces them at its end.
  double attempt_self_meter_joules = 0;
  StopCause stop_cause = StopCause::kNone;
  std::string stop_reason;
  std::vector<int> gpus;  // the devices it holds (--gpus), given back at its exit.
};

struct TrialBook {
  std::map<int64_t, TrialView> views;     // every trial of the sweep, by id.
  std::map<int64_t, ActiveTrial> running; // by trial id.
  std::deque<TrialRecord> to_resume;      // open/interrupted trials to relaunch, by index.
  int64_t next_index = 0;                 // the strategy's next point.
  CostModel cost;
  std::vector<int> free_gpus;             // --gpus devices no running trial holds, ascending.

  // Every trial as the pruner and halving see it.
  std::vector<TrialProgress> Progress(const Objective& objective) const;
};

// <work_root>/trial-<index>.
std::string TrialWorkDir(const SweepConfig& config, int64_t index);
// What the launcher runs for `trial`, from the sweep's stored config: the
// bundled trial, or the user's command with its placeholders filled.
Result<LaunchRequest> LaunchRequestFor(const SweepConfig& config, const ActiveTrial& trial);
// The epochs a trial's params ask for: the bundled trial's `epochs` (or its
// default), a command's integer `epochs` >= 1, else 1 (a job that does not
// say is one run to its end).
int TrialEpochs(const nlohmann::json& params);

bool IsEndState(TrialState state);
// A stored trial the sweep runs again: open or interrupted, or paused when
// nothing (halving) decides about paused trials.
bool IsResumable(const TrialRecord& trial, bool halving);
// A trial still open in the store whose job outlives its orchestrator (a
// Slurm job id; a local trial's "pid:N" dies with it): resume follows the job.
bool HasOutlivingJob(const TrialRecord& trial);

// How a trial's process ended, as far as the loop knows.
struct TrialEnding {
  const nlohmann::json* end_event = nullptr;  // its checked end event; nullptr when none arrived.
  StopCause stop_cause = StopCause::kNone;
  std::string stop_reason;
  int stop_after_epoch = 0;
  const TrialExit* exit = nullptr;  // nullptr: no process was watched (an end found on resume).
  // A user's command that exits 0 without an end event finished (the
  // bundled trial always says how it ended: for it, that is a crash).
  bool exit_zero_finishes = false;
};
// The one mapping of an ending to the state, reason and exit status stored
// (accuracies and counts are the caller's: they come from the events).
TrialOutcome OutcomeFromExit(const TrialEnding& ending);

// "warning: trial N: <message>", as an event and a line.
void WarnAboutTrial(ProgressReporter* progress, int64_t trial_index, const std::string& message);

}  // namespace cs
