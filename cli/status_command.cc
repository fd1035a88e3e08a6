// `carbonsweep status [NAME]`: where one sweep or every sweep stands, read
// from the store (read-only, so it works while a sweep runs).
#include <cstdio>
#include <ctime>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/store_access.h"
#include "cli/sweep_summary.h"
#include "common/clock.h"
#include "common/text.h"
#include "common/units.h"
#include "store/sweep_store.h"

namespace cs {

namespace po = boost::program_options;


namespace {

void PrintSummary(const SweepSummary& summary, const std::optional<LeaseRecord>& lease) {
  const SweepRecord& sweep = summary.sweep;
  std::cout << "sweep '" << sweep.name << "': " << SweepStateName(sweep.state);
  if (lease) {
    double age = RealClock::Get()->NowUnixSeconds() - lease->heartbeat_at_unix;
    std::cout << ", held by " << lease->owner << " (heartbeat " << FormatSeconds(std::max(0.0, age)) << " ago)";
  }
  std::cout << "\n  strategy " << sweep.strategy << ", seed " << sweep.seed << ", created " << FormatUtcForStatus(sweep.created_at_unix)
            << " UTC on " << sweep.host << "\n";
  double spent = summary.spend.total.grams_co2e;
  const std::string share =
      StringPrintf("%.1f%%", sweep.budget_grams_co2e > 0 ? 100 * spent / sweep.budget_grams_co2e : 0);
  std::cout << "  CO2 " << FormatGrams(spent) << " of " << FormatGrams(sweep.budget_grams_co2e) << " (" << share
            << "), " << FormatJoules(summary.spend.total.joules) << " at " << sweep.intensity_g_per_kwh << " g/kWh ("
            << (sweep.region.empty() ? "world average" : sweep.region) << ")";
  if (summary.spend.outstanding_reserved_grams_co2e > 0) {
    std::cout << ", " << FormatGrams(summary.spend.outstanding_reserved_grams_co2e) << " reserved";
  }
  std::cout << "; on budget: " << OnBudgetName(sweep.on_budget) << "\n";
  std::cout << "  trials " << summary.trial_count;
  std::string states;
  for (int state = 0; state < kTrialStateCount; ++state) {
    if (summary.trials_by_state[state] == 0) continue;
    states += (states.empty() ? "" : ", ") + std::string(TrialStateName(static_cast<TrialState>(state))) + " " +
              std::to_string(summary.trials_by_state[state]);
  }
  if (!states.empty()) std::cout << " (" << states << ")";
  const Objective& objective = summary.sweep.objective;
  std::cout << "\n  best " << (summary.best_metric ? FormatMetric(objective, *summary.best_metric)
                                                  : MetricLabel(objective) + " -");
  if (objective.mode == MetricMode::kMin) std::cout << " (lowest)";
  if (summary.best_trial_index) std::cout << " (trial " << *summary.best_trial_index << ")";
  std::cout << "\n";
}

}  // namespace

int RunStatusCommand(const std::vector<std::string>& args) {
  po::options_description options("status options");
  options.add_options()("name", po::value<std::string>(), "one sweep (default: every sweep in the store)")(
      "db", po::value<std::string>()->default_value("carbonsweep.db"), "the store file")(
      "json", po::bool_switch(), "JSON instead of text");
  po::positional_options_description positional;
  positional.add("name", 1);
  po::variables_map vm;
  int exit_code = 0;
  if (!ParseCommandLine("status", "[NAME] [--db FILE] [--json]", options, &positional, args, &vm, &exit_code)) {
    return exit_code;
  }
  auto store = OpenStoreForReading(vm["db"].as<std::string>());
  if (!store.ok()) return ReportError("status", store.status());
  std::vector<SweepSummary> summaries;
  if (vm.count("name")) {
    auto sweep = (*store)->GetSweep(vm["name"].as<std::string>());
    if (!sweep.ok()) return ReportError("status", sweep.status());
    auto summary = (*store)->GetSweepSummary(sweep->id);
    if (!summary.ok()) return ReportError("status", summary.status());
    summaries.push_back(*summary);
  } else {
    auto all = (*store)->ListSweeps();
    if (!all.ok()) return ReportError("status", all.status());
    summaries = std::move(*all);
  }
  nlohmann::json json = nlohmann::json::array();
  for (const SweepSummary& summary : summaries) {
    auto lease = (*store)->GetLease(summary.sweep.id);
    if (!lease.ok()) return ReportError("status", lease.status());
    if (vm["json"].as<bool>()) {
      json.push_back(SummaryJson(summary, *lease));
    } else {
      PrintSummary(summary, *lease);
    }
  }
  if (vm["json"].as<bool>()) std::cout << (vm.count("name") ? json[0] : json).dump(2) << "\n";
  if (summaries.empty() && !vm["json"].as<bool>()) std::cout << "no sweeps in " << vm["db"].as<std::string>() << "\n";
  return 0;
}

}  // namespace cs
