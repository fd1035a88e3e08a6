#include "orchestrator/cost_model.h"

#include <algorithm>

namespace cs {

void CostModel::Observe(int64_t trial_id, double grams_co2e, int epochs_done, int64_t examples_seen) {
  if (epochs_done < 1 || examples_seen <= 0) return;
  observations_[trial_id] = {grams_co2e / static_cast<double>(examples_seen),
                             static_cast<double>(examples_seen) / epochs_done};
  latest_trial_ = trial_id;
}

std::optional<double> CostModel::GramsPerExample() const {
  if (observations_.empty()) return std::nullopt;
  double largest = 0;
  for (const auto& [id, observation] : observations_) largest = std::max(largest, observation.grams_per_example);
  return largest;
}

std::optional<double> CostModel::ExamplesPerEpoch() const {
  if (observations_.empty()) return std::nullopt;
  return observations_.at(latest_trial_).examples_per_epoch;
}

std::optional<double> CostModel::PredictTrialGrams(int epochs) const {
  if (observations_.empty()) return std::nullopt;
  return *GramsPerExample() * *ExamplesPerEpoch() * std::max(0, epochs);
}

}  // namespace cs
