#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "search_spaces/early_stopping.h"

namespace cs {
namespace {

using State = TrialProgressState;

TrialProgress Trial(int64_t id, State state, std::vector<double> accuracy, int target_epoch = 0) {
  TrialProgress trial;
  trial.trial_id = id;
  trial.state = state;
  trial.scores = std::move(accuracy);
  trial.target_epoch = target_epoch;
  return trial;
}

// Three finished trials; medians by epoch: 0.60, 0.70, 0.75.
std::vector<TrialProgress> FinishedTrio() {
  return {Trial(1, State::kFinished, {0.60, 0.70, 0.75}), Trial(2, State::kFinished, {0.50, 0.65, 0.70}),
          Trial(3, State::kFinished, {0.70, 0.80, 0.85})};
}

}  // namespace

TEST_CASE("median pruner: stops a trial strictly below the median of finished trials at the same epoch") {
  MedianPruner pruner;  // min_epochs 1, min_trials 3, finished trials
  std::vector<TrialProgress> trials = FinishedTrio();

  EarlyStopDecision below = pruner.ShouldStop(Trial(4, State::kRunning, {0.55}), trials);
  CHECK(below.action == EarlyStopAction::kStop);
  CHECK(below.trial_id == 4);
  CHECK(below.reason == "stop trial 4 after epoch 1: score 0.5500 < median 0.6000 of 3 finished trials at epoch 1");

  EarlyStopDecision equal = pruner.ShouldStop(Trial(4, State::kRunning, {0.60}), trials);
  CHECK(equal.action == EarlyStopAction::kContinue);
  CHECK(equal.reason == "keep trial 4 after epoch 1: score 0.6000 >= median 0.6000 of 3 finished trials at epoch 1");

  // Epoch 2 compares with epoch 2 (median 0.70), not with the trial's own epoch 1.
  CHECK(pruner.ShouldStop(Trial(4, State::kRunning, {0.90, 0.66}), trials).action == EarlyStopAction::kStop);
  CHECK(pruner.ShouldStop(Trial(4, State::kRunning, {0.10, 0.71}), trials).action == EarlyStopAction::kContinue);
}

TEST_CASE("median pruner: an even number of trials uses the mean of the middle two") {
  MedianPruner pruner;
  std::vector<TrialProgress> trials = FinishedTrio();
  trials.push_back(Trial(5, State::kFinished, {0.62, 0.9}));  // epoch 1: {0.50, 0.60, 0.62, 0.70} -> 0.61
  CHECK(pruner.ShouldStop(Trial(4, State::kRunning, {0.605}), trials).action == EarlyStopAction::kStop);
  CHECK(pruner.ShouldStop(Trial(4, State::kRunning, {0.615}), trials).action == EarlyStopAction::kContinue);
}

TEST_CASE("median pruner: min_epochs and min_trials hold it back") {
  MedianPrunerOptions options;
  options.min_epochs = 2;
  MedianPruner pruner(options);
  EarlyStopDecision early = pruner.ShouldStop(Trial(4, State::kRunning, {0.10}), FinishedTrio());
  CHECK(early.action == EarlyStopAction::kContinue);
  CHECK(early.reason == "keep trial 4 after epoch 1: min_epochs is 2");
  CHECK(pruner.ShouldStop(Trial(4, State::kRunning, {0.10, 0.10}), FinishedTrio()).action == EarlyStopAction::kStop);

  std::vector<TrialProgress> two = FinishedTrio();
  two.pop_back();
  EarlyStopDecision few = MedianPruner().ShouldStop(Trial(4, State::kRunning, {0.10}), two);
  CHECK(few.action == EarlyStopAction::kContinue);
  CHECK(few.reason == "keep trial 4 after epoch 1: only 2 finished trials at epoch 1 (min_trials 3)");
}

TEST_CASE("median pruner: the reference set is finished trials unless asked otherwise; itself never counts") {
  std::vector<TrialProgress> trials = FinishedTrio();
  // A running and a pruned trial with low values: ignored by default.
  trials.push_back(Trial(6, State::kRunning, {0.20}));
  trials.push_back(Trial(7, State::kStopped, {0.30}));
  TrialProgress candidate = Trial(4, State::kRunning, {0.55});
  trials.push_back(candidate);  // the orchestrator may pass every trial, this one included
  CHECK(MedianPruner().ShouldStop(candidate, trials).action == EarlyStopAction::kStop);  // median 0.60

  MedianPrunerOptions all;
  all.reference = MedianPrunerOptions::Reference::kAllOtherTrials;
  EarlyStopDecision decision = MedianPruner(all).ShouldStop(candidate, trials);
  // {0.20, 0.30, 0.50, 0.60, 0.70} -> 0.50
  CHECK(decision.action == EarlyStopAction::kContinue);
  CHECK(decision.reason == "keep trial 4 after epoch 1: score 0.5500 >= median 0.5000 of 5 other trials at epoch 1");
}

TEST_CASE("median pruner: a trial whose accuracy is not a number is stopped") {
  EarlyStopDecision decision = MedianPruner().ShouldStop(Trial(4, State::kRunning, {std::nan("")}), FinishedTrio());
  CHECK(decision.action == EarlyStopAction::kStop);
  CHECK(decision.reason == "stop trial 4 after epoch 1: score is not a number");
}

TEST_CASE("ASHA: rungs at r * eta^i below the max, then the max") {
  CHECK(AshaScheduler({1, 9, 3}).RungEpochs() == std::vector<int>{1, 3, 9});
  CHECK(AshaScheduler({1, 4, 3}).RungEpochs() == std::vector<int>{1, 3, 4});
  CHECK(AshaScheduler({1, 27, 3}).RungEpochs() == std::vector<int>{1, 3, 9, 27});
  CHECK(AshaScheduler({2, 10, 2}).RungEpochs() == std::vector<int>{2, 4, 8, 10});
  CHECK(AshaScheduler({4, 4, 3}).RungEpochs() == std::vector<int>{4});
  CHECK(AshaScheduler({1, 9, 3}).Validate().empty());
  CHECK(AshaScheduler({0, 9, 3}).Validate() == "asha.min_epochs: 0 must be at least 1");
  CHECK(AshaScheduler({5, 4, 3}).Validate() == "asha.max_epochs: 4 must be at least min_epochs (5)");
  CHECK(AshaScheduler({1, 4, 1}).Validate() == "asha.reduction_factor: 1 must be at least 2");
  // Invalid options never promote: every trial runs its full schedule.
  EarlyStopDecision disabled = AshaScheduler({1, 4, 1}).Decide({});
  CHECK(disabled.action == EarlyStopAction::kStartNew);
  CHECK(disabled.stop_after_epoch == 4);
}

TEST_CASE("ASHA: promotes the best paused trial once its rung has eta trials") {
  AshaScheduler asha({1, 9, 3});
  EarlyStopDecision start = asha.Decide({});
  CHECK(start.action == EarlyStopAction::kStartNew);
  CHECK(start.stop_after_epoch == 1);
  CHECK(start.rung == 0);

  std::vector<TrialProgress> trials = {Trial(1, State::kPaused, {0.7}, 1), Trial(2, State::kPaused, {0.8}, 1)};
  CHECK(asha.Decide(trials).action == EarlyStopAction::kStartNew);  // 2 trials: top floor(2/3) = 0

  trials.push_back(Trial(3, State::kPaused, {0.6}, 1));
  EarlyStopDecision promote = asha.Decide(trials);
  CHECK(promote.action == EarlyStopAction::kPromote);
  CHECK(promote.trial_id == 2);
  CHECK(promote.stop_after_epoch == 3);
  CHECK(promote.rung == 1);
  CHECK(promote.reason ==
        "promote trial 2 from 1 to 3 epochs: score 0.8000 at epoch 1 ranks 1 of 3 in rung 0 (top 1 continue)");

  // Once promoted (running towards epoch 3) it holds the rung's one slot.
  trials[1] = Trial(2, State::kRunning, {0.8}, 3);
  EarlyStopDecision next = asha.Decide(trials);
  CHECK(next.action == EarlyStopAction::kStartNew);
  CHECK(next.reason == "start a new trial up to epoch 1: no paused trial in the top 1/3 of a rung "
                       "(rung 0 (1 epochs): 3 trials, top 1; rung 1 (3 epochs): 0 trials, top 0)");
}

TEST_CASE("ASHA: ties go to the lower trial id; stopped trials count but are never promoted") {
  AshaScheduler asha({1, 9, 3});
  std::vector<TrialProgress> tied = {Trial(5, State::kPaused, {0.8}, 1), Trial(3, State::kPaused, {0.8}, 1),
                                     Trial(4, State::kPaused, {0.5}, 1)};
  CHECK(asha.Decide(tied).trial_id == 3);

  std::vector<TrialProgress> best_failed = {Trial(1, State::kStopped, {0.9}), Trial(2, State::kPaused, {0.8}, 1),
                                            Trial(3, State::kPaused, {0.5}, 1)};
  CHECK(asha.Decide(best_failed).action == EarlyStopAction::kStartNew);
}

TEST_CASE("ASHA: higher rungs are served first") {
  AshaScheduler asha({1, 9, 3});
  std::vector<TrialProgress> trials;
  // Three trials paused at rung 1 (3 epochs) and six at rung 0, two of them promotable.
  trials.push_back(Trial(1, State::kPaused, {0.80, 0.82, 0.84}, 3));
  trials.push_back(Trial(2, State::kPaused, {0.79, 0.81, 0.90}, 3));
  trials.push_back(Trial(3, State::kPaused, {0.78, 0.80, 0.81}, 3));
  trials.push_back(Trial(4, State::kPaused, {0.77}, 1));
  trials.push_back(Trial(5, State::kPaused, {0.70}, 1));
  trials.push_back(Trial(6, State::kPaused, {0.60}, 1));
  EarlyStopDecision decision = asha.Decide(trials);
  CHECK(decision.action == EarlyStopAction::kPromote);
  CHECK(decision.trial_id == 2);  // best at epoch 3, though not at epoch 1
  CHECK(decision.stop_after_epoch == 9);
  CHECK(decision.rung == 2);

  trials[1] = Trial(2, State::kRunning, {0.79, 0.81, 0.90}, 9);
  // Rung 1's slot is taken; rung 0 has 6 trials, top 2 = trials 1 and 2, both promoted.
  CHECK(asha.Decide(trials).action == EarlyStopAction::kStartNew);
}

// One worker running a scripted sweep: each decision is applied at once
// (start = train to the first rung and pause; promote = resume and pause at
// the next rung, or finish at the last). Trial i's accuracy after epoch e is
// kBase[i] + 0.01 e, so ranks follow kBase.
TEST_CASE("ASHA: a scripted sweep makes the hand-traced decisions") {
  const std::vector<double> kBase = {0.50, 0.80, 0.60, 0.70, 0.90, 0.40, 0.65, 0.75, 0.55};
  AshaScheduler asha({1, 9, 3});
  std::vector<TrialProgress> trials;
  std::vector<std::string> log;
  int epochs_trained = 0;
  for (int step = 0; step < 13; ++step) {
    EarlyStopDecision decision = asha.Decide(trials);
    int64_t id = decision.trial_id;
    if (decision.action == EarlyStopAction::kStartNew) {
      id = static_cast<int64_t>(trials.size());
      REQUIRE(id < static_cast<int64_t>(kBase.size()));
      trials.push_back(Trial(id, State::kRunning, {}));
      log.push_back("start " + std::to_string(id));
    } else {
      REQUIRE(decision.action == EarlyStopAction::kPromote);
      log.push_back("promote " + std::to_string(id) + " to " + std::to_string(decision.stop_after_epoch));
    }
    TrialProgress& trial = trials[static_cast<size_t>(id)];
    trial.target_epoch = decision.stop_after_epoch;
    // Resumes from its checkpoint: only the new epochs are trained.
    for (int e = static_cast<int>(trial.scores.size()) + 1; e <= decision.stop_after_epoch; ++e) {
      trial.scores.push_back(kBase[static_cast<size_t>(id)] + 0.01 * e);
      ++epochs_trained;
    }
    trial.state = decision.stop_after_epoch == 9 ? State::kFinished : State::kPaused;
  }
  CHECK(log == std::vector<std::string>{"start 0", "start 1", "start 2", "promote 1 to 3", "start 3", "start 4",
                                        "promote 4 to 3", "start 5", "start 6", "start 7", "start 8",
                                        "promote 7 to 3", "promote 4 to 9"});
  // 9 first rungs + 3 promotions of 2 epochs + 1 of 6, against 81 without stopping.
  CHECK(epochs_trained == 9 + 3 * 2 + 6);
  CHECK(trials[4].state == State::kFinished);
}

}  // namespace cs
