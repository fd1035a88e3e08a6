// CostModel: predicts a trial's CO2 before it starts (for its reservation)
// and after each of its epochs (to stop it early when it cannot finish inside
// the budget), from what this sweep has measured so far.
//
// The unit is grams per training example seen, taken from every trial with at
// least one epoch done: the trial's grams so far (start-up included) divided
// by the examples its epochs reported. A prediction is the LARGEST such rate
// in the sweep x epochs x examples per epoch, so the costliest configuration
// seen bounds every reservation (conservative: a trial that might not fit is
// not started). Before any epoch was measured the model is uncalibrated; the
// loop then runs one trial alone as the calibration run (its hard stop
// still caps the spend). Plain value, one thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

namespace cs {

class CostModel {
 public:
  // What one trial has cost so far; replaces that trial's earlier observation.
  // Ignored until `epochs_done` >= 1 and `examples_seen` > 0.
  void Observe(int64_t trial_id, double grams_co2e, int epochs_done, int64_t examples_seen);
  bool calibrated() const { return !observations_.empty(); }
  // The largest grams per example observed; nullopt before calibration.
  std::optional<double> GramsPerExample() const;
  // Examples in one epoch (from the latest observation); nullopt before calibration.
  std::optional<double> ExamplesPerEpoch() const;
  // Predicted grams of a whole trial of `epochs` epochs; nullopt before calibration.
  std::optional<double> PredictTrialGrams(int epochs) const;

 private:
  struct Observation {
    double grams_per_example = 0;
    double examples_per_epoch = 0;
  };
  std::map<int64_t, Observation> observations_;
  int64_t latest_trial_ = -1;
};

// Grams still free for new work: budget - spent - what open trials reserved
// beyond what they already spent. May be negative.
inline double AvailableGrams(double budget_grams, double spent_grams, double outstanding_reserved_grams) {
  return budget_grams - spent_grams - outstanding_reserved_grams;
}

}  // namespace cs
