#include "cli/sweep_summary.h"

#include "common/text.h"

namespace cs {

std::string FormatAccuracyOrDash(const std::optional<double>& accuracy) {
  return accuracy ? StringPrintf("%.4f", *accuracy) : "-";
}

std::string FormatUtcForStatus(double unix_seconds) { return FormatUtc(unix_seconds, "%Y-%m-%d %H:%M:%S"); }

nlohmann::json SummaryJson(const SweepSummary& summary, const std::optional<LeaseRecord>& lease) {
  nlohmann::json by_state = nlohmann::json::object();
  for (int state = 0; state < kTrialStateCount; ++state) {
    if (summary.trials_by_state[state] > 0) {
      by_state[TrialStateName(static_cast<TrialState>(state))] = summary.trials_by_state[state];
    }
  }
  const SweepRecord& sweep = summary.sweep;
  nlohmann::json json = {{"name", sweep.name},
                         {"state", SweepStateName(sweep.state)},
                         {"strategy", sweep.strategy},
                         {"seed", sweep.seed},
                         {"budget_grams_co2e", sweep.budget_grams_co2e},
                         {"spent_grams_co2e", summary.spend.total.grams_co2e},
                         {"spent_joules", summary.spend.total.joules},
                         {"reserved_grams_co2e", summary.spend.outstanding_reserved_grams_co2e},
                         {"on_budget", OnBudgetName(sweep.on_budget)},
                         {"trials", summary.trial_count},
                         {"trials_by_state", by_state},
                         {"created_at", FormatUtcForStatus(sweep.created_at_unix)},
                         {"region", sweep.region},
                         {"intensity_g_per_kwh", sweep.intensity_g_per_kwh}};
  const nlohmann::json best = summary.best_metric ? nlohmann::json(*summary.best_metric) : nullptr;
  json["metric"] = sweep.objective.metric;
  json["mode"] = MetricModeName(sweep.objective.mode);
  json["best_metric"] = best;
  if (sweep.objective.metric == "val_accuracy") json["best_val_accuracy"] = best;  // the name before --metric.
  json["best_trial"] = summary.best_trial_index ? nlohmann::json(*summary.best_trial_index) : nullptr;
  json["lease"] = lease ? nlohmann::json{{"owner", lease->owner}, {"heartbeat_at", FormatUtcForStatus(lease->heartbeat_at_unix)}}
                        : nlohmann::json(nullptr);
  return json;
}

}  // namespace cs
