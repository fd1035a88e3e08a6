// Comparison of sweeps run on the same task (`carbonsweep compare A B ...`):
// trials, best accuracy, CO2, energy, wall time, the CO2 each needed to come
// within 0.5 points of the best accuracy any of them reached, grid coverage,
// overlaid anytime curves, and the task's linear baseline as the reference.
//
// Callers: cli/compare_command.cc, tests. Pure functions of loaded
// SweepReports (report/sweep_report.h); any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "report/sweep_report.h"

namespace cs {

struct CompareOptions {
  // Compare sweeps of different tasks or data anyway (the table says so).
  enum class Comparability { kRequireSameTask = 0, kForce = 1 } comparability = Comparability::kRequireSameTask;
  // "Within this many points of the best": percentage points of accuracy
  // for val_accuracy; for another metric, this percentage of the best value.
  double within_points = 0.5;
};

// One sweep's line of the comparison.
struct ComparisonRow {
  std::string name;
  std::string strategy;
  int64_t trials = 0;
  int64_t trials_launched = 0;
  std::optional<double> best_metric;  // its best trial's value of the sweeps' metric.
  double grams_co2e = 0;                // the whole sweep (trials + unattributed).
  double joules = 0;
  double wall_seconds = 0;
  // CO2 of the sweep's trials (in order of ending) when its best-so-far
  // first came within `within_points` of the overall best; nullopt: never.
  std::optional<double> grams_to_target;
  std::optional<int64_t> trial_to_target;  // the index of that trial.
  std::optional<int64_t> grid_size;        // grid sweeps only.
};

struct Comparison {
  std::vector<SweepReport> reports;  // as given, in order.
  std::vector<ComparisonRow> rows;   // one per report, same order.
  Objective objective;                  // the metric all compared sweeps rank by.
  std::optional<double> best_metric;    // the best any sweep reached.
  std::optional<double> target_metric;  // what counts as "within within_points of" it (see CompareOptions).
  double within_points = 0.5;
  std::optional<BaselineRecord> baseline;  // newest baseline of the task, when one was run.
  std::vector<std::string> warnings;       // e.g. forced comparison of different tasks.
};

// Why `a` and `b` cannot be compared ("different task: imdb vs sst2"), or
// "" when they can.
std::string ComparabilityProblem(const SweepReport& a, const SweepReport& b);

// InvalidArgument with the reason when two sweeps are not comparable and
// options do not force it, or when fewer than two sweeps are given.
Result<Comparison> CompareSweeps(std::vector<SweepReport> reports, const CompareOptions& options);

std::string RenderComparisonTerminal(const Comparison& comparison);
std::string RenderComparisonHtml(const Comparison& comparison);
// `compare --json` (docs/report-json.md, "compare --json"): one object per
// sweep in the order given, the best and target accuracy, the baseline.
nlohmann::json ComparisonJson(const Comparison& comparison);

}  // namespace cs
