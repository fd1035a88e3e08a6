// SweepPlanner: what the sweep does next, decided from the book, the
// strategy and the budget; the loop (sweep_runner.cc) carries it out and
// records it. ninja's Plan to the loop's Builder:
//   - which work a free slot runs next: a trial to resume, a paused trial to
//     promote to its next rung (halving), or the strategy's next point;
//   - whether it fits: its predicted grams (cost_model.h) against the budget
//     minus the measured spend and the other trials' reservations;
//   - after each epoch: prune (median), pause for a dirty grid, stop for the
//     budget, or go on with a new reservation;
//   - at the end of a halving sweep, which paused trials were never promoted.
// IntensityHold is the carbon-aware hold: it records each hold in the store.
// Only the sweep loop's thread calls these.
#pragma once

#include <optional>
#include <string>

#include "orchestrator/sweep_runner.h"
#include "orchestrator/trial_book.h"

namespace cs {

// The carbon-aware hold: trials wait while the grid's intensity is above the
// sweep's threshold, at most max_delay_seconds in all.
class IntensityHold {
 public:
  IntensityHold(const SweepConfig& config, const SweepEnvironment& env, int64_t sweep_id)
      : config_(config), env_(env), sweep_id_(sweep_id) {}

  // Whether trials wait now; opens or closes the store's hold row as the
  // intensity crosses the threshold.
  Result<bool> Holding();
  // Closes the hold row in progress, if any.
  Status End();
  // "holding: 512 g/kWh > 300" while holding, else "".
  const std::string& why() const { return why_; }
  double held_seconds() const { return held_seconds_; }

 private:
  const SweepConfig& config_;
  const SweepEnvironment& env_;
  const int64_t sweep_id_;
  double started_ = -1;  // monotonic start of the hold in progress; -1 = not holding.
  int64_t record_ = 0;   // the store's row of the hold in progress; 0 = none.
  double held_seconds_ = 0;
  std::string why_;
};

// What a free slot would run next.
struct NextWork {
  enum class Kind { kNothing, kResume, kPromote, kNew } kind = Kind::kNothing;
  EarlyStopDecision decision;  // halving: kPromote's trial and rung, kNew's first rung.
};

// A trial the planner would start, with what it costs.
struct PlannedTrial {
  ActiveTrial trial;                   // id 0 for a new trial (not yet recorded).
  std::optional<TrialRecord> record;   // the stored trial, for a resumed or promoted one.
  double needed_grams = 0;             // predicted from here on; 0 before the cost model is calibrated.
  double reserve_grams = 0;            // what it has cost plus `needed_grams`.
};

// Whether a planned trial may start now.
struct Admission {
  enum class Verdict {
    kStart,        // it fits: reserve and launch it.
    kWait,         // it does not fit yet: running trials free their reservations as they end.
    kSkip,         // it does not fit and nothing runs: record it skipped and end the sweep.
    kBudgetSpent,  // the measured spend (plus one interval) has reached the budget.
  } verdict = Verdict::kStart;
  std::string reason;  // for kSkip.
};

// What the sweep does with a trial after one of its epochs.
struct EpochVerdict {
  StopCause stop = StopCause::kNone;  // kNone: go on.
  StopMode mode = StopMode::kKill;
  std::string reason;
  std::optional<double> reserve_grams;  // going on: its new reservation.
};

class SweepPlanner {
 public:
  // Nothing is owned. `sweep` is the stored record: its budget and on-budget
  // behaviour are the ones in force.
  SweepPlanner(const SweepRecord& sweep, const SweepConfig& config, const Strategy& strategy, const TrialBook& book,
               const AshaScheduler& asha, const MedianPruner& pruner)
      : sweep_(sweep), config_(config), strategy_(strategy), book_(book), asha_(asha), pruner_(pruner) {}

  // `may_start`: false once the sweep is interrupted, out of budget or failing.
  NextWork PickNext(bool may_start) const;
  // The trial `next` would run: params, work dir, rung, and its cost.
  // Corruption when a stored trial's params are not a JSON object.
  Result<PlannedTrial> Plan(const NextWork& next, SweepStore& store) const;
  Admission Admit(const PlannedTrial& planned, const SweepSpend& spend, double next_interval_grams) const;
  // After epoch `epoch` of `trial`, which has cost `trial_grams` and holds
  // `reserved_grams`. Asks `hold` only when the trial has epochs left.
  Result<EpochVerdict> AfterEpoch(const ActiveTrial& trial, int epoch, double trial_grams, double reserved_grams,
                                  const SweepSpend& spend, IntensityHold& hold) const;
  // Halving, at the end: the paused trials never promoted past their rung.
  std::vector<int64_t> Unpromoted() const;

 private:
  const SweepRecord& sweep_;
  const SweepConfig& config_;
  const Strategy& strategy_;
  const TrialBook& book_;
  const AshaScheduler& asha_;
  const MedianPruner& pruner_;
};

}  // namespace cs
