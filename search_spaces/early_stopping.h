// Early stopping of weak trials, as pure decision logic: the orchestrator
// passes in what it knows of the sweep's trials (per-epoch scores of the
// sweep's metric and state, from the store) and gets back a decision with a
// one-line reason for logs and reports. Nothing here does I/O or keeps
// state between calls, so a resumed sweep decides exactly as before.
// Const methods only: any thread may call them.
//
// MedianPruner (--prune median; Optuna's MedianPruner, Golovin et al. 2017):
//   after each epoch of a running trial, orchestrator calls
//   ShouldStop(trial, all_trials); on kStop it stops the trial (it keeps its
//   energy in the ledger and shows as "pruned").
//
// AshaScheduler (--strategy halving; Li et al., MLSys 2020): asynchronous
//   successive halving over epochs. Rungs at r·η^i epochs below max_epochs,
//   plus max_epochs itself (e.g. r=1, η=3, max=9: rungs 1, 3, 9).
//   How the orchestrator must use it:
//   1. Every trial is launched with params.epochs = options.max_epochs (so its
//      learning-rate schedule is the full one and a promoted trial continues
//      the same schedule; no epoch is trained twice) and with
//      `--stop-after-epoch D.stop_after_epoch`.
//   2. Whenever a slot is free, call Decide(all_trials):
//        kPromote:  relaunch trial D.trial_id from its checkpoint (same
//                   command line, same work dir) with
//                   --stop-after-epoch D.stop_after_epoch.
//        kStartNew: start the strategy's next point with
//                   --stop-after-epoch D.stop_after_epoch (the first rung).
//   3. A trial that ends kPaused at its rung stays AshaTrialState::kPaused
//      until promoted; one that reaches max_epochs is kFinished.
//   The decision only reads the trials it is given, so the orchestrator must
//   pass every trial of the sweep, running ones included.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cs {

// What the orchestrator knows of one trial, for the early-stopping logic.
enum class TrialProgressState {
  kRunning = 0,   // a process is training it (or about to).
  kPaused = 1,    // stopped at a rung, resumable from its checkpoint (ASHA).
  kFinished = 2,  // trained all its epochs.
  kStopped = 3,   // pruned, failed, diverged or killed: never continues.
};

struct TrialProgress {
  int64_t trial_id = 0;
  TrialProgressState state = TrialProgressState::kRunning;
  // scores[e - 1] = the sweep's metric after epoch e, for the epochs done,
  // oriented so that higher is better (negated when the metric is
  // minimised); NaN where the epoch did not report the metric.
  std::vector<double> scores;
  // ASHA: the epoch the trial was last told to stop after (its current target);
  // 0 if unknown. A trial with target > a rung's epochs was promoted past it.
  int target_epoch = 0;
};

enum class EarlyStopAction {
  kContinue = 0,  // MedianPruner: let the trial train on.
  kStop = 1,      // MedianPruner: stop the trial now (pruned).
  kPromote = 2,   // ASHA: resume a paused trial up to a higher rung.
  kStartNew = 3,  // ASHA: start a new trial up to the first rung.
};
const char* EarlyStopActionName(EarlyStopAction action);

struct EarlyStopDecision {
  EarlyStopAction action = EarlyStopAction::kContinue;
  int64_t trial_id = -1;     // the trial concerned; -1 for kStartNew.
  int stop_after_epoch = 0;  // ASHA: the epoch to train up to (its next rung).
  int rung = -1;             // ASHA: index of that rung in RungEpochs().
  // One line, e.g. "stop trial 4 after epoch 2: score 0.712 < median
  // 0.781 of 5 finished trials at epoch 2".
  std::string reason;
};

struct MedianPrunerOptions {
  // Never stop a trial before it has done this many epochs.
  int min_epochs = 1;
  // Need at least this many other trials with a value at the epoch first.
  int min_trials = 3;
  // Which other trials form the median.
  enum class Reference {
    kFinishedTrials = 0,  // finished trials only (as Optuna does): unbiased by pruned ones.
    kAllOtherTrials = 1,  // every other trial that reached the epoch.
  } reference = Reference::kFinishedTrials;
};

// Stops a trial after epoch e when its score is strictly below the median
// of the reference trials' scores at epoch e.
class MedianPruner {
 public:
  explicit MedianPruner(MedianPrunerOptions options = {});
  // `trial` has just finished its last epoch (trial.scores.size());
  // `trials` is every trial of the sweep (may include `trial`, skipped by id).
  // Returns kContinue or kStop, with the reason.
  EarlyStopDecision ShouldStop(const TrialProgress& trial, const std::vector<TrialProgress>& trials) const;
  const MedianPrunerOptions& options() const { return options_; }

 private:
  MedianPrunerOptions options_;
};

struct AshaOptions {
  // r: epochs of the first rung.
  int min_epochs = 1;
  // R: epochs of the last rung; every trial's schedule is set for this many.
  // Take it from the space: SearchSpace::UpperBound("epochs").
  int max_epochs = 4;
  // η: the top 1/η of each rung is promoted. Li et al. use 3 or 4.
  int reduction_factor = 3;
};

class AshaScheduler {
 public:
  // Options must satisfy 1 <= min_epochs <= max_epochs and reduction_factor >= 2;
  // Validate() says which field is wrong.
  explicit AshaScheduler(AshaOptions options = {});
  // "asha.reduction_factor: 1 must be at least 2", or empty when valid.
  std::string Validate() const;
  // Epochs at each rung, increasing, last = max_epochs.
  const std::vector<int>& RungEpochs() const { return rung_epochs_; }
  // What to run in a free slot: promote the best paused trial of the highest
  // rung where it is among the top floor(n/η) of that rung's n trials (ties by
  // lower trial_id), else start a new trial. Reason names the ranking.
  EarlyStopDecision Decide(const std::vector<TrialProgress>& trials) const;
  const AshaOptions& options() const { return options_; }

 private:
  AshaOptions options_;
  std::vector<int> rung_epochs_;
};

}  // namespace cs
