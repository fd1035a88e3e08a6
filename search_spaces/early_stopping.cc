#include "search_spaces/early_stopping.h"

#include <algorithm>
#include <cmath>

#include "common/text.h"

namespace cs {

namespace {

std::string Score(double value) { return StringPrintf("%.4f", value); }

std::string TrialName(int64_t trial_id) { return "trial " + std::to_string(trial_id); }

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t middle = values.size() / 2;
  if (values.size() % 2 == 1) return values[middle];
  return (values[middle - 1] + values[middle]) / 2;
}

// Epochs a trial has done or been told to reach, whichever is further.
int EffectiveTarget(const TrialProgress& trial) {
  return std::max(trial.target_epoch, static_cast<int>(trial.scores.size()));
}

}  // namespace

const char* EarlyStopActionName(EarlyStopAction action) {
  switch (action) {
    case EarlyStopAction::kContinue: return "continue";
    case EarlyStopAction::kStop: return "stop";
    case EarlyStopAction::kPromote: return "promote";
    case EarlyStopAction::kStartNew: return "start-new";
  }
  return "unknown";
}

MedianPruner::MedianPruner(MedianPrunerOptions options) : options_(options) {}

EarlyStopDecision MedianPruner::ShouldStop(const TrialProgress& trial, const std::vector<TrialProgress>& trials) const {
  EarlyStopDecision decision;
  decision.trial_id = trial.trial_id;
  int epoch = static_cast<int>(trial.scores.size());
  std::string subject = TrialName(trial.trial_id) + " after epoch " + std::to_string(epoch);
  if (epoch == 0) {
    decision.reason = "keep " + TrialName(trial.trial_id) + ": no epoch done yet";
    return decision;
  }
  double score = trial.scores.back();
  if (std::isnan(score)) {
    decision.action = EarlyStopAction::kStop;
    decision.reason = "stop " + subject + ": score is not a number";
    return decision;
  }
  if (epoch < options_.min_epochs) {
    decision.reason = "keep " + subject + ": min_epochs is " + std::to_string(options_.min_epochs);
    return decision;
  }
  bool finished_only = options_.reference == MedianPrunerOptions::Reference::kFinishedTrials;
  std::vector<double> reference;
  for (const TrialProgress& other : trials) {
    if (other.trial_id == trial.trial_id) continue;
    if (finished_only && other.state != TrialProgressState::kFinished) continue;
    if (static_cast<int>(other.scores.size()) < epoch) continue;
    double value = other.scores[static_cast<size_t>(epoch - 1)];
    if (!std::isnan(value)) reference.push_back(value);
  }
  std::string which = finished_only ? "finished" : "other";
  std::string group = std::to_string(reference.size()) + " " + which + " trials at epoch " + std::to_string(epoch);
  if (static_cast<int>(reference.size()) < options_.min_trials) {
    decision.reason = "keep " + subject + ": only " + group + " (min_trials " + std::to_string(options_.min_trials) + ")";
    return decision;
  }
  double median = Median(reference);
  if (score < median) {
    decision.action = EarlyStopAction::kStop;
    decision.reason = "stop " + subject + ": score " + Score(score) + " < median " + Score(median) +
                      " of " + group;
  } else {
    decision.reason = "keep " + subject + ": score " + Score(score) + " >= median " + Score(median) +
                      " of " + group;
  }
  return decision;
}

AshaScheduler::AshaScheduler(AshaOptions options) : options_(options) {
  if (!Validate().empty()) return;
  // r, r*eta, r*eta^2, ... below R, then R itself: the last rung is always
  // the full schedule even when R is not r times a power of eta.
  for (int64_t epochs = options_.min_epochs; epochs < options_.max_epochs; epochs *= options_.reduction_factor) {
    rung_epochs_.push_back(static_cast<int>(epochs));
  }
  rung_epochs_.push_back(options_.max_epochs);
}

std::string AshaScheduler::Validate() const {
  if (options_.min_epochs < 1) {
    return "asha.min_epochs: " + std::to_string(options_.min_epochs) + " must be at least 1";
  }
  if (options_.max_epochs < options_.min_epochs) {
    return "asha.max_epochs: " + std::to_string(options_.max_epochs) + " must be at least min_epochs (" +
           std::to_string(options_.min_epochs) + ")";
  }
  if (options_.reduction_factor < 2) {
    return "asha.reduction_factor: " + std::to_string(options_.reduction_factor) + " must be at least 2";
  }
  return "";
}

EarlyStopDecision AshaScheduler::Decide(const std::vector<TrialProgress>& trials) const {
  EarlyStopDecision decision;
  if (rung_epochs_.empty()) {
    // Invalid options: never promote; run every trial to the end.
    decision.action = EarlyStopAction::kStartNew;
    decision.stop_after_epoch = std::max(1, options_.max_epochs);
    decision.rung = 0;
    decision.reason = "start a new trial up to epoch " + std::to_string(decision.stop_after_epoch) +
                      " (halving disabled: " + Validate() + ")";
    return decision;
  }
  const int eta = options_.reduction_factor;
  std::string census;  // "rung 0 (1 epoch): 5 trials, top 1" ... for the start-new reason
  // From the highest promotable rung down (Li et al. 2020, Algorithm 2).
  for (size_t rung = rung_epochs_.size() - 1; rung-- > 0;) {
    const int epochs = rung_epochs_[rung];
    std::vector<const TrialProgress*> members;
    for (const TrialProgress& trial : trials) {
      if (static_cast<int>(trial.scores.size()) >= epochs) members.push_back(&trial);
    }
    auto value = [epochs](const TrialProgress* trial) { return trial->scores[static_cast<size_t>(epochs - 1)]; };
    std::sort(members.begin(), members.end(), [&](const TrialProgress* a, const TrialProgress* b) {
      double va = value(a);
      double vb = value(b);
      if (std::isnan(va) != std::isnan(vb)) return std::isnan(vb);  // NaN ranks last
      if (va != vb && !std::isnan(va)) return va > vb;
      return a->trial_id < b->trial_id;
    });
    size_t quota = members.size() / static_cast<size_t>(eta);
    census = "rung " + std::to_string(rung) + " (" + std::to_string(epochs) + " epochs): " +
             std::to_string(members.size()) + " trials, top " + std::to_string(quota) +
             (census.empty() ? "" : "; ") + census;
    for (size_t rank = 0; rank < quota; ++rank) {
      const TrialProgress& trial = *members[rank];
      if (trial.state != TrialProgressState::kPaused || EffectiveTarget(trial) > epochs) continue;
      if (std::isnan(value(&trial))) continue;
      decision.action = EarlyStopAction::kPromote;
      decision.trial_id = trial.trial_id;
      decision.rung = static_cast<int>(rung + 1);
      decision.stop_after_epoch = rung_epochs_[rung + 1];
      decision.reason = "promote " + TrialName(trial.trial_id) + " from " + std::to_string(epochs) + " to " +
                        std::to_string(decision.stop_after_epoch) + " epochs: score " +
                        Score(value(&trial)) + " at epoch " + std::to_string(epochs) + " ranks " +
                        std::to_string(rank + 1) + " of " + std::to_string(members.size()) + " in rung " +
                        std::to_string(rung) + " (top " + std::to_string(quota) + " continue)";
      return decision;
    }
  }
  decision.action = EarlyStopAction::kStartNew;
  decision.rung = 0;
  decision.stop_after_epoch = rung_epochs_[0];
  decision.reason = "start a new trial up to epoch " + std::to_string(decision.stop_after_epoch) +
                    ": no paused trial in the top 1/" + std::to_string(eta) + " of a rung" +
                    (census.empty() ? "" : " (" + census + ")");
  return decision;
}

}  // namespace cs
