#include "report/compare.h"

#include <algorithm>
#include <cmath>

#include "common/units.h"
#include "report/html.h"
#include "report/plots.h"
#include "report/quantities.h"
#include "report/text_table.h"

namespace cs {
namespace {

// Best-so-far accuracy of `report` once its trials have emitted `grams`
// (NaN before any trial with an accuracy ended).
double BestAtGrams(const SweepReport& report, double grams) {
  double best = NAN;
  for (const AnytimePoint& point : report.anytime) {
    if (point.cumulative_grams_co2e > grams + 1e-12) break;
    if (point.best_so_far) best = *point.best_so_far;
  }
  return best;
}

std::string Cell(const std::optional<double>& grams) { return grams ? FormatGrams(*grams) : "never"; }

}  // namespace

std::string ComparabilityProblem(const SweepReport& a, const SweepReport& b) {
  std::string task_a = TaskName(a.task), task_b = TaskName(b.task);
  if (task_a != task_b) {
    return "different task: '" + a.sweep.name + "' ran " + (task_a.empty() ? "(unknown)" : task_a) + ", '" +
           b.sweep.name + "' ran " + (task_b.empty() ? "(unknown)" : task_b);
  }
  const Objective& metric_a = a.sweep.objective;
  const Objective& metric_b = b.sweep.objective;
  if (metric_a.metric != metric_b.metric || metric_a.mode != metric_b.mode) {
    return "different metric: '" + a.sweep.name + "' ranks by " + metric_a.metric + " (" +
           MetricModeName(metric_a.mode) + "), '" + b.sweep.name + "' by " + metric_b.metric + " (" +
           MetricModeName(metric_b.mode) + ")";
  }
  if (a.sweep.task_checksum != b.sweep.task_checksum) {
    return "different data: '" + a.sweep.name + "' has checksum " + a.sweep.task_checksum.substr(0, 12) + ", '" +
           b.sweep.name + "' has " + b.sweep.task_checksum.substr(0, 12) + " (other data or splits)";
  }
  return "";
}

Result<Comparison> CompareSweeps(std::vector<SweepReport> reports, const CompareOptions& options) {
  if (reports.size() < 2) return Status::InvalidArgument("compare: needs at least two sweeps");
  for (size_t i = 1; i < reports.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (reports[i].sweep.id == reports[j].sweep.id) {
        return Status::InvalidArgument("compare: sweep '" + reports[i].sweep.name + "' is given twice");
      }
    }
  }
  Comparison comparison;
  comparison.within_points = options.within_points;
  for (size_t i = 1; i < reports.size(); ++i) {
    std::string problem = ComparabilityProblem(reports[0], reports[i]);
    if (problem.empty()) continue;
    if (options.comparability == CompareOptions::Comparability::kRequireSameTask) {
      return Status::InvalidArgument("compare: sweeps are not comparable: " + problem + " (--force compares anyway)");
    }
    comparison.warnings.push_back("compared with --force although not comparable: " + problem);
  }
  const Objective& objective = reports[0].sweep.objective;
  comparison.objective = objective;
  for (const SweepReport& report : reports) {
    if (!report.best) continue;
    const double value = *report.trials[*report.best].record.metric;
    if (!comparison.best_metric || objective.Better(value, *comparison.best_metric)) comparison.best_metric = value;
  }
  if (comparison.best_metric) {
    // Accuracy in percentage points; another metric in percent of its best value.
    const double slack = RanksByAccuracy(objective) ? options.within_points / 100
                                                    : std::fabs(*comparison.best_metric) * options.within_points / 100;
    comparison.target_metric = objective.mode == MetricMode::kMax ? *comparison.best_metric - slack
                                                                  : *comparison.best_metric + slack;
  }
  for (const SweepReport& report : reports) {
    ComparisonRow row;
    row.name = report.sweep.name;
    row.strategy = report.sweep.strategy;
    row.trials = static_cast<int64_t>(report.trials.size());
    row.trials_launched = report.trials_launched;
    if (report.best) row.best_metric = report.trials[*report.best].record.metric;
    row.grams_co2e = report.spend.total.grams_co2e;
    row.joules = report.spend.total.joules;
    row.wall_seconds = report.wall_seconds;
    row.grid_size = report.grid_size;
    if (comparison.target_metric) {
      for (const AnytimePoint& point : report.anytime) {
        // A tiny tolerance so 0.885 - 0.005 still counts 0.880 as within.
        if (point.best_so_far &&
            objective.Score(*point.best_so_far) >= objective.Score(*comparison.target_metric) - 1e-9) {
          row.grams_to_target = point.cumulative_grams_co2e;
          row.trial_to_target = point.trial_index;
          break;
        }
      }
    }
    comparison.rows.push_back(row);
  }
  for (const SweepReport& report : reports) {
    if (!report.baselines.empty()) {
      comparison.baseline = report.baselines.front();
      break;
    }
  }
  comparison.reports = std::move(reports);
  return comparison;
}

std::string RenderComparisonTerminal(const Comparison& comparison) {
  std::string out;
  for (const std::string& warning : comparison.warnings) out += "warning: " + warning + "\n";
  const Objective& objective = comparison.objective;
  std::string target = comparison.target_metric
                           ? StringPrintf("CO2 to within %.1f %s of %s", comparison.within_points,
                                          RanksByAccuracy(objective) ? "pt" : "%",
                                          FormatMetricValue(objective, comparison.best_metric).c_str())
                           : "CO2 to best";
  TextTable table({{"sweep"},
                   {"strategy"},
                   {"trials", TextTable::Align::kRight},
                   {RanksByAccuracy(objective) ? "best acc." : "best " + MetricHeading(objective),
                    TextTable::Align::kRight},
                   {"CO2e", TextTable::Align::kRight},
                   {"kWh", TextTable::Align::kRight},
                   {"wall time", TextTable::Align::kRight},
                   {target, TextTable::Align::kRight},
                   {"grid covered", TextTable::Align::kRight}});
  if (comparison.baseline && RanksByAccuracy(objective)) {
    const BaselineRecord& b = *comparison.baseline;
    table.AddRow({"baseline (reference)", b.method, "1", FormatAccuracy(b.val_accuracy), FormatGrams(b.grams_co2e),
                  StringPrintf("%.4f", JoulesToKwh(b.joules)), FormatSeconds(b.seconds), "", ""});
    table.AddSeparator();
  }
  for (const ComparisonRow& row : comparison.rows) {
    std::string to_target = Cell(row.grams_to_target);
    if (row.trial_to_target) to_target += StringPrintf(" (trial %lld)", static_cast<long long>(*row.trial_to_target));
    std::string grid = row.grid_size ? StringPrintf("%lld/%lld", static_cast<long long>(row.trials_launched),
                                                    static_cast<long long>(*row.grid_size))
                                     : "—";
    table.AddRow({row.name, row.strategy, StringPrintf("%lld", static_cast<long long>(row.trials)),
                  FormatMetricValue(objective, row.best_metric), FormatGrams(row.grams_co2e),
                  StringPrintf("%.4f", JoulesToKwh(row.joules)), FormatSeconds(row.wall_seconds), to_target, grid});
  }
  out += table.Render();

  // Overlaid anytime curves on one CO2 axis and one accuracy scale.
  double max_grams = 0, low = INFINITY, high = -INFINITY;
  for (const SweepReport& report : comparison.reports) {
    for (const AnytimePoint& point : report.anytime) {
      max_grams = std::max(max_grams, point.cumulative_grams_co2e);
      if (point.best_so_far) {
        low = std::min(low, *point.best_so_far);
        high = std::max(high, *point.best_so_far);
      }
    }
  }
  if (max_grams > 0 && low <= high) {
    constexpr int kColumns = 40;
    out += StringPrintf("\nAnytime curves: best %s so far (%s .. %s) vs CO2 of trials, 0 .. %s\n",
                        MetricHeading(objective).c_str(), FormatMetricValue(objective, low).c_str(),
                        FormatMetricValue(objective, high).c_str(), FormatGrams(max_grams).c_str());
    size_t name_width = 0;
    for (const SweepReport& report : comparison.reports) name_width = std::max(name_width, report.sweep.name.size());
    for (const SweepReport& report : comparison.reports) {
      std::vector<double> values;
      for (int column = 1; column <= kColumns; ++column) values.push_back(BestAtGrams(report, max_grams * column / kColumns));
      out += "  " + report.sweep.name + std::string(name_width - report.sweep.name.size(), ' ') + "  " +
             Sparkline(values, low, high) + "\n";
    }
  }
  return out;
}

std::string RenderComparisonHtml(const Comparison& comparison) {
  std::string names;
  for (const ComparisonRow& row : comparison.rows) names += (names.empty() ? "" : " vs ") + row.name;
  std::string body = "<h1>" + EscapeHtml(names) + "</h1>\n<p class=\"sub\">carbonsweep comparison</p>\n";
  for (const std::string& warning : comparison.warnings) body += "<p class=\"warning\">" + EscapeHtml(warning) + "</p>\n";
  // One CO2 unit and one energy unit for the table and both plots, from the largest sweep.
  double largest_grams = comparison.baseline ? comparison.baseline->grams_co2e : 0;
  double largest_joules = comparison.baseline ? comparison.baseline->joules : 0;
  for (const ComparisonRow& row : comparison.rows) {
    largest_grams = std::max(largest_grams, row.grams_co2e);
    largest_joules = std::max(largest_joules, row.joules);
  }
  const PageUnits units = ChoosePageUnits(largest_grams, largest_joules);
  auto co2_cell = [&](const std::optional<double>& grams) { return grams ? NumberIn(*grams, units.co2) : "never"; };
  const Objective& objective = comparison.objective;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> classes;
  if (comparison.baseline && RanksByAccuracy(objective)) {
    const BaselineRecord& b = *comparison.baseline;
    rows.push_back({"baseline (reference)", b.method, "1", FormatAccuracy(b.val_accuracy),
                    NumberIn(b.grams_co2e, units.co2), NumberIn(b.joules, units.energy), FormatSeconds(b.seconds), "",
                    ""});
    classes.push_back("reference");
  }
  for (const ComparisonRow& row : comparison.rows) {
    rows.push_back({row.name, row.strategy, std::to_string(row.trials), FormatMetricValue(objective, row.best_metric),
                    NumberIn(row.grams_co2e, units.co2), NumberIn(row.joules, units.energy),
                    FormatSeconds(row.wall_seconds), co2_cell(row.grams_to_target),
                    row.grid_size ? StringPrintf("%lld/%lld", static_cast<long long>(row.trials_launched),
                                                 static_cast<long long>(*row.grid_size))
                                  : "—"});
    classes.push_back("");
  }
  std::string target = StringPrintf("%s CO2e to within %.1f %s of best", units.co2.symbol.c_str(),
                                    comparison.within_points, RanksByAccuracy(objective) ? "pt" : "%");
  body += HtmlTable({"sweep", "strategy", "trials", RanksByAccuracy(objective) ? "best accuracy" : "best " + MetricHeading(objective), units.co2.symbol + " CO2e", units.energy.symbol,
                     "wall time", target, "grid covered"},
                    rows, {2, 3, 4, 5, 6, 7, 8}, classes);

  std::vector<PlotSeries> anytime, scatter;
  for (size_t i = 0; i < comparison.reports.size(); ++i) {
    anytime.push_back(AnytimeSeries(comparison.reports[i], comparison.reports[i].sweep.name, SeriesColor(i), units.co2));
    scatter.push_back(
        TrialScatterSeries(comparison.reports[i], comparison.reports[i].sweep.name, SeriesColor(i), units.co2));
  }
  PlotSpec anytime_plot = AnytimePlot(anytime, units.co2, objective);
  if (comparison.baseline && RanksByAccuracy(objective)) {
    anytime_plot.reference_y = comparison.baseline->val_accuracy * 100;
    anytime_plot.reference_label = "baseline " + comparison.baseline->method;
  }
  PlotSpec scatter_plot;
  scatter_plot.title = "Each trial: " + MetricHeading(objective) + " vs its CO2";
  scatter_plot.x_label = units.co2.symbol + " CO2e of the trial";
  scatter_plot.y_label = MetricAxisLabel(objective);
  scatter_plot.series = scatter;
  scatter_plot.x_start = PlotSpec::AxisStart::kZero;
  body += "<h2>Anytime curves</h2>\n<div class=\"plots\">\n<figure id=\"plot-anytime\">" + RenderSvgPlot(anytime_plot) +
          "<figcaption>Best " + EscapeHtml(MetricHeading(objective)) +
          " so far against the CO2 of the trials ended so far.</figcaption></figure>\n<figure id=\"plot-trials\">" +
          RenderSvgPlot(scatter_plot) + "<figcaption>One point per trial with a value of " +
          EscapeHtml(objective.metric) + ".</figcaption></figure>\n</div>\n";
  return HtmlPage("carbonsweep compare: " + names, body);
}

nlohmann::json ComparisonJson(const Comparison& comparison) {
  auto optional = [](const auto& value) { return value ? nlohmann::json(*value) : nlohmann::json(nullptr); };
  nlohmann::json sweeps = nlohmann::json::array();
  for (const ComparisonRow& row : comparison.rows) {
    sweeps.push_back({{"name", row.name},
                      {"strategy", row.strategy},
                      {"trials", row.trials},
                      {"trials_launched", row.trials_launched},
                      {"best_metric", optional(row.best_metric)},
                      {"grams_co2e", row.grams_co2e},
                      {"joules", row.joules},
                      {"wall_seconds", row.wall_seconds},
                      {"grams_co2e_to_target", optional(row.grams_to_target)},
                      {"trial_to_target", optional(row.trial_to_target)},
                      {"grid_size", optional(row.grid_size)}});
  }
  nlohmann::json baseline = nullptr;
  if (comparison.baseline) {
    baseline = {{"method", comparison.baseline->method},
                {"val_accuracy", comparison.baseline->val_accuracy},
                {"test_accuracy", comparison.baseline->test_accuracy},
                {"seconds", comparison.baseline->seconds},
                {"joules", comparison.baseline->joules},
                {"grams_co2e", comparison.baseline->grams_co2e}};
  }
  if (RanksByAccuracy(comparison.objective)) {
    // The names before --metric, kept for the scripts that read them.
    for (size_t i = 0; i < sweeps.size(); ++i) sweeps[i]["best_val_accuracy"] = sweeps[i]["best_metric"];
  }
  nlohmann::json out = {{"compare_version", 1},
          {"sweeps", sweeps},
          {"metric", comparison.objective.metric},
          {"mode", MetricModeName(comparison.objective.mode)},
          {"best_metric", optional(comparison.best_metric)},
          {"target_metric", optional(comparison.target_metric)},
          {"within_points", comparison.within_points},
          {"baseline", baseline},
          {"warnings", comparison.warnings}};
  if (RanksByAccuracy(comparison.objective)) {
    out["best_val_accuracy"] = out["best_metric"];
    out["target_val_accuracy"] = out["target_metric"];
  }
  return out;
}

}  // namespace cs
