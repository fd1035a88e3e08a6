// The HTML renderer of SweepReport (`report --format html`) and the plots it
// shares with compare.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>

#include "common/text.h"
#include "common/units.h"
#include "report/html.h"
#include "report/plots.h"
#include "report/quantities.h"
#include "report/sweep_report.h"
#include "report/text_table.h"

namespace cs {

PlotSeries AnytimeSeries(const SweepReport& report, const std::string& name, const std::string& color,
                         const DisplayUnit& co2_unit) {
  PlotSeries series;
  series.name = name;
  series.color = color;
  series.style = PlotSeries::Style::kStepWithMarkers;
  const Objective& objective = report.sweep.objective;
  for (const AnytimePoint& point : report.anytime) {
    if (!point.best_so_far) continue;
    series.points.push_back({point.cumulative_grams_co2e / co2_unit.base_per_unit,
                             MetricAxisValue(objective, *point.best_so_far),
                             StringPrintf("after trial %lld: best %s at %s", static_cast<long long>(point.trial_index),
                                          FormatMetricValue(objective, point.best_so_far).c_str(),
                                          FormatIn(point.cumulative_grams_co2e, co2_unit).c_str())});
  }
  return series;
}

PlotSeries TrialScatterSeries(const SweepReport& report, const std::string& name, const std::string& color,
                              const DisplayUnit& co2_unit) {
  PlotSeries series;
  series.name = name;
  series.color = color;
  const Objective& objective = report.sweep.objective;
  for (const ReportTrial& trial : report.trials) {
    if (!trial.record.metric) continue;
    series.points.push_back({trial.record.energy.grams_co2e / co2_unit.base_per_unit,
                             MetricAxisValue(objective, *trial.record.metric),
                             StringPrintf("trial %lld (%s): %s, %s", static_cast<long long>(trial.record.index),
                                          TrialStateName(trial.record.state),
                                          FormatMetricValue(objective, trial.record.metric).c_str(),
                                          FormatIn(trial.record.energy.grams_co2e, co2_unit).c_str())});
  }
  return series;
}

PlotSpec AnytimePlot(std::vector<PlotSeries> series, const DisplayUnit& co2_unit, const Objective& objective) {
  PlotSpec spec;
  spec.title = "Anytime curve: best " + MetricHeading(objective) + " so far vs CO2 spent";
  spec.x_label = "cumulative " + co2_unit.symbol + " CO2e of trials";
  spec.y_label = "best " + MetricAxisLabel(objective);
  spec.series = std::move(series);
  spec.x_start = PlotSpec::AxisStart::kZero;
  return spec;
}

namespace {

std::string Figure(const PlotSpec& spec, const std::string& caption, const std::string& id) {
  return "<figure id=\"" + id + "\">" + RenderSvgPlot(spec) + "<figcaption>" + EscapeHtml(caption) +
         "</figcaption></figure>\n";
}

std::string Utc(double unix_seconds) { return FormatUtc(unix_seconds, "%Y-%m-%d %H:%M UTC"); }

}  // namespace

std::string RenderHtmlReport(const SweepReport& report, const HtmlLiveOptions& live) {
  const SweepRecord& sweep = report.sweep;
  // One CO2 unit and one energy unit for every card, table and axis below.
  const PageUnits units = ChoosePageUnits(report.spend.total.grams_co2e, report.spend.total.joules);
  std::string body = "<h1>Sweep " + EscapeHtml(sweep.name) + "</h1>\n<p class=\"sub\">" +
                     EscapeHtml(sweep.strategy + " search, " + SweepStateName(sweep.state) + ", created " +
                                Utc(sweep.created_at_unix) + (sweep.host.empty() ? "" : " on " + sweep.host)) +
                     "</p>\n";
  body += "<div class=\"stats\">";
  body += HtmlStat(FormatIn(report.spend.total.grams_co2e, units.co2), "CO2e emitted in total");
  body += HtmlStat(FormatIn(report.spend.total.joules, units.energy), "energy (PUE included)");
  body += HtmlStat(std::to_string(report.trials.size()), "trials");
  const Objective& objective = sweep.objective;
  body += HtmlStat(report.best ? FormatMetricValue(objective, report.trials[*report.best].record.metric) : "—",
                   RanksByAccuracy(objective) ? "best validation accuracy" : "best " + MetricHeading(objective));
  body += HtmlStat(FormatSeconds(report.wall_seconds), "wall time");
  body += "</div>\n";
  if (report.intensity_assumed) {
    body += "<p class=\"warning\">No region or intensity was given, so the world-average grid intensity (" +
            EscapeHtml(StringPrintf("%.0f", sweep.intensity_g_per_kwh)) +
            " gCO2e/kWh) was <b>assumed</b>. The real figure may be several times lower or higher.</p>\n";
  }

  // Plots.
  PlotSpec anytime =
      AnytimePlot({AnytimeSeries(report, sweep.name, SeriesColor(0), units.co2)}, units.co2, objective);
  if (!report.baselines.empty() && RanksByAccuracy(objective)) {
    anytime.reference_y = report.baselines.front().val_accuracy * 100;
    anytime.reference_label = "baseline " + report.baselines.front().method;
  }
  PlotSpec scatter;
  scatter.title = "Each trial: " + MetricHeading(objective) + " vs its CO2";
  scatter.x_label = units.co2.symbol + " CO2e of the trial";
  scatter.y_label = MetricAxisLabel(objective);
  scatter.series = {TrialScatterSeries(report, sweep.name, SeriesColor(1), units.co2)};
  scatter.x_start = PlotSpec::AxisStart::kZero;
  PlotSpec power;
  power.title = "Power over time";
  power.x_label = "minutes since the first sample";
  power.y_label = "W, stacked by component";
  power.series = PowerSeries(report);
  // Stacked watts start from nothing: a y axis from the lowest line would
  // make a small component look like most of the draw.
  double top_watts = 0;
  for (const PlotSeries& line : power.series) {
    for (const PlotPoint& point : line.points) top_watts = std::max(top_watts, point.y);
  }
  if (top_watts > 0) power.y_max = top_watts * 1.08;  // y_min stays 0
  body += "<h2>Plots</h2>\n<div class=\"plots\">\n";
  body += Figure(anytime, "Each step is a trial that ended with a new best; x is the CO2 of all trials ended so far.",
                 "plot-anytime");
  body += Figure(scatter, "One point per trial that reported " + objective.metric + ".", "plot-trials");
  body += Figure(power, "Average power of each sample interval (its energy over its duration), summed over running trials and stacked: each line adds its component to those below.", "plot-power");
  body += "</div>\n";

  // Trials.
  body += "<h2>Trials</h2>\n";
  std::vector<std::string> varying = VaryingParamNames(report.trials);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> classes;
  for (size_t i = 0; i < report.trials.size(); ++i) {
    const ReportTrial& trial = report.trials[i];
    const TrialRecord& r = trial.record;
    rows.push_back({std::to_string(r.index), FormatParams(trial.params, varying), TrialStateName(r.state),
                    FormatMetricValue(objective, r.metric), trial.wall_seconds > 0 ? FormatSeconds(trial.wall_seconds) : "—",
                    NumberIn(r.energy.joules, units.energy), NumberIn(r.energy.grams_co2e, units.co2),
                    trial.methods.empty() ? "—" : trial.methods, r.reason});
    classes.push_back(report.best && *report.best == i ? "best" : (r.started_at_unix ? "" : "dim"));
  }
  for (const BaselineRecord& baseline : report.baselines) {
    rows.push_back({"ref", "baseline " + baseline.method, "finished", FormatAccuracy(baseline.val_accuracy),
                    FormatSeconds(baseline.seconds), NumberIn(baseline.joules, units.energy),
                    NumberIn(baseline.grams_co2e, units.co2), "", "the cheap reference of the same task"});
    classes.push_back("reference");
    break;
  }
  if (rows.empty()) {
    body += "<p>No trials.</p>\n";
  } else {
    body += HtmlTable({"#", "params", "state", RanksByAccuracy(objective) ? "accuracy" : MetricHeading(objective), "duration", units.energy.symbol, units.co2.symbol + " CO2e", "method", "note"}, rows,
                      {0, 3, 4, 5, 6}, classes);
  }

  // Settings.
  body += "<h2>Settings</h2>\n";
  std::string space = report.space.value("name", std::string("(not stored)"));
  if (report.space.contains("source") && report.space["source"].is_string()) {
    space += " — " + report.space["source"].get<std::string>();
  }
  std::string power_methods;
  for (const MethodShare& share : report.methods) {
    if (!power_methods.empty()) power_methods += "; ";
    power_methods += share.component + ": " + share.method + " (" + FormatIn(share.joules, units.energy) + ")";
  }
  std::string region = report.location.known ? report.location.name + " (" + report.location.key + ")" : sweep.region;
  body += HtmlDefinitionTable({
      {"task", TaskName(report.task).empty() ? "(not stored)" : TaskName(report.task)},
      {"strategy", sweep.strategy + ", seed " + std::to_string(sweep.seed)},
      {"search space", space},
      {"budget", FormatIn(sweep.budget_grams_co2e, units.co2) + " CO2e (on budget: " + OnBudgetName(sweep.on_budget) + ")"},
      {"region", (region.empty() ? "none given" : region) +
                     StringPrintf(", %.0f gCO2e/kWh", sweep.intensity_g_per_kwh) +
                     (report.intensity_assumed ? " — ASSUMED world average" : "")},
      {"intensity source", sweep.intensity_source +
                               (sweep.intensity_year > 0 ? ", " + std::to_string(sweep.intensity_year) : "")},
      {"PUE", StringPrintf("%.2f", sweep.pue)},
      {"hardware", report.hardware.Describe()},
      {"power measured by", power_methods.empty() ? "nothing recorded" : power_methods},
      {"carbon-aware holds", report.holds ? DescribeHolds(*report.holds) : "none"},
  });

  // Equivalents and regions.
  body += "<h2>What it amounts to</h2>\n";
  std::vector<std::vector<std::string>> equivalents;
  for (const Equivalent& e : report.equivalents) {
    equivalents.push_back({e.what, PlainNumber(e.amount) + " " + e.unit, e.source});
  }
  body += HtmlTable({"about the same as", "amount", "source"}, equivalents, {1});
  body += "<h2>The same energy elsewhere</h2>\n";
  std::vector<std::vector<std::string>> regions = {
      {"this sweep: " + region, StringPrintf("%.0f", sweep.intensity_g_per_kwh),
       FormatIn(report.spend.total.grams_co2e, units.co2), ""}};
  for (const RegionAlternative& r : report.regions) {
    regions.push_back({r.key + " — " + r.name, StringPrintf("%.0f", r.grams_per_kwh), FormatIn(r.grams_co2e, units.co2), r.why});
  }
  body += HtmlTable({"region", "gCO2e/kWh", "CO2e", "why"}, regions, {1, 2});
  if (report.backbone) {
    const BackboneFootprint& b = *report.backbone;
    body += "<h2>Backbone pre-training</h2>\n<p>" +
            EscapeHtml(FormatIn(b.joules, ChooseEnergyUnit(b.joules)) + ", " +
                       FormatIn(b.grams_co2e, ChooseCo2Unit(b.grams_co2e)) + " CO2e, " + FormatSeconds(b.seconds) +
                       " — " + b.summary +
                       ". Spent once and amortisable over every fine-tuning of this backbone; not part of the totals "
                       "above.") +
            "</p>\n";
  }
  body += "<footer>Generated by carbonsweep from " + EscapeHtml(sweep.name) +
          ". Energy includes PUE; CO2e = kWh x grid intensity.</footer>\n";
  if (live.refresh_seconds > 0) {
    // At the top of the page: a reader sees at once that the figures move.
    body = "<p class=\"live\" id=\"live\">Live: sweep " + EscapeHtml(SweepStateName(sweep.state)) + ", updated " +
           EscapeHtml(FormatUtc(live.updated_at_unix, "%Y-%m-%d %H:%M:%S")) + " UTC; this page reloads every " +
           std::to_string(live.refresh_seconds) + " s until the sweep ends.</p>\n" + body;
  }
  return HtmlPage("carbonsweep report: " + sweep.name, body, live.refresh_seconds);
}

}  // namespace cs
