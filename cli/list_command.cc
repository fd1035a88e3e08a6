// `carbonsweep list`: one line per sweep in a store (read-only).
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/store_access.h"
#include "cli/sweep_summary.h"
#include "common/units.h"
#include "common/text.h"
#include "store/sweep_store.h"

namespace cs {

namespace po = boost::program_options;

namespace {

// The BEST column: the accuracy as before, or "<value> <metric>" for a sweep
// ranked by another metric (the name cut to fit).
std::string BestColumn(const SweepSummary& summary) {
  const Objective& objective = summary.sweep.objective;
  if (objective.metric == "val_accuracy" || !summary.best_metric) return FormatAccuracyOrDash(summary.best_metric);
  return StringPrintf("%.4g", *summary.best_metric) + " " + objective.metric.substr(0, 8);
}

}  // namespace

int RunListCommand(const std::vector<std::string>& args) {
  po::options_description options("list options");
  options.add_options()("db", po::value<std::string>()->default_value("carbonsweep.db"), "the store file")(
      "json", po::bool_switch(), "JSON instead of a table");
  po::variables_map vm;
  int exit_code = 0;
  if (!ParseCommandLine("list", "[--db FILE] [--json]", options, nullptr, args, &vm, &exit_code)) return exit_code;
  auto store = OpenStoreForReading(vm["db"].as<std::string>());
  if (!store.ok()) return ReportError("list", store.status());
  auto all = (*store)->ListSweeps();
  if (!all.ok()) return ReportError("list", all.status());
  if (vm["json"].as<bool>()) {
    nlohmann::json json = nlohmann::json::array();
    for (const SweepSummary& summary : *all) json.push_back(SummaryJson(summary, std::nullopt));
    std::cout << json.dump(2) << "\n";
    return 0;
  }
  std::printf("%-24s %-13s %-8s %7s %9s %23s  %s\n", "NAME", "STATE", "STRATEGY", "TRIALS", "BEST", "CO2 / BUDGET",
              "CREATED (UTC)");
  for (const SweepSummary& summary : *all) {
    std::string co2 = FormatGrams(summary.spend.total.grams_co2e) + " / " + FormatGrams(summary.sweep.budget_grams_co2e);
    std::printf("%-24s %-13s %-8s %7lld %9s %23s  %s\n", summary.sweep.name.c_str(), SweepStateName(summary.sweep.state),
                summary.sweep.strategy.c_str(), static_cast<long long>(summary.trial_count),
                BestColumn(summary).c_str(), co2.c_str(),
                FormatUtcForStatus(summary.sweep.created_at_unix).c_str());
  }
  return 0;
}

}  // namespace cs
