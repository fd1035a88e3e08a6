// The terminal renderer of SweepReport (`carbonsweep report NAME`).
#include <algorithm>
#include <ctime>

#include "common/units.h"
#include "report/quantities.h"
#include "report/sweep_report.h"
#include "report/text_table.h"

namespace cs {
namespace {

std::string UtcDate(double unix_seconds) { return FormatUtc(unix_seconds, "%Y-%m-%d %H:%M UTC"); }

std::string JsonText(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// "name: source" then one line per dimension with its range and source.
std::vector<std::string> SpaceLines(const nlohmann::json& space) {
  std::vector<std::string> lines;
  if (!space.is_object() || space.empty()) return {"(not stored)"};
  std::string head = space.value("name", std::string("(unnamed)"));
  if (space.contains("source")) head += " — " + JsonText(space["source"]);
  lines.push_back(head);
  if (space.contains("dimensions") && space["dimensions"].is_array()) {
    for (const nlohmann::json& dimension : space["dimensions"]) {
      std::string line = "  " + dimension.value("name", std::string("?")) + " " + dimension.value("type", std::string());
      if (dimension.contains("values")) line += " " + dimension["values"].dump();
      if (dimension.contains("range")) line += " " + dimension["range"].dump();
      if (dimension.contains("source")) line += " — " + JsonText(dimension["source"]);
      lines.push_back(line);
    }
  }
  if (space.contains("fixed") && space["fixed"].is_object()) {
    for (auto it = space["fixed"].begin(); it != space["fixed"].end(); ++it) {
      std::string line = "  " + it.key() + " fixed";
      if (it->is_object() && it->contains("value")) line += " = " + (*it)["value"].dump();
      if (it->is_object() && it->contains("source")) line += " — " + JsonText((*it)["source"]);
      lines.push_back(line);
    }
  }
  return lines;
}

void Setting(std::string* out, const std::string& name, const std::vector<std::string>& lines) {
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string label = i == 0 ? name : "";
    *out += "  " + label + std::string(12 - std::min<size_t>(12, DisplayWidth(label)), ' ') + lines[i] + "\n";
  }
}

}  // namespace

std::string RenderTerminalReport(const SweepReport& report, size_t columns) {
  const SweepRecord& sweep = report.sweep;
  // One CO2 unit and one energy unit for every figure of the report.
  const PageUnits units = ChoosePageUnits(report.spend.total.grams_co2e, report.spend.total.joules);
  auto energy = [&](double joules) { return NumberIn(joules, units.energy); };
  auto co2 = [&](double grams) { return NumberIn(grams, units.co2); };
  std::string out = "Sweep '" + sweep.name + "' (" + sweep.strategy + ", " + SweepStateName(sweep.state) +
                    "), created " + UtcDate(sweep.created_at_unix) + (sweep.host.empty() ? "" : " on " + sweep.host) +
                    "\n\nSettings\n";
  std::string task = TaskName(report.task).empty() ? std::string("(not stored)") : TaskName(report.task);
  if (!sweep.task_checksum.empty()) task += " (data checksum " + sweep.task_checksum.substr(0, 12) + ")";
  Setting(&out, "task", {task});
  if (report.task.is_object() && report.task.contains("command") && report.task["command"].is_string()) {
    Setting(&out, "command", {report.task["command"].get<std::string>()});
  }
  if (report.task.is_object() && report.task.contains("model") && report.task["model"].is_string()) {
    const std::string sha = report.task.value("model_sha256", "");
    Setting(&out, "model", {report.task["model"].get<std::string>() + (sha.empty() ? "" : " (sha256 " + sha + ")")});
  }
  Setting(&out, "strategy", {sweep.strategy + ", seed " + std::to_string(sweep.seed)});
  Setting(&out, "space", SpaceLines(report.space));
  Setting(&out, "budget", {FormatIn(sweep.budget_grams_co2e, units.co2) + " CO2e, " +
                               StringPrintf("%.0f %% spent", sweep.budget_grams_co2e > 0
                                                                 ? 100 * report.spend.total.grams_co2e /
                                                                       sweep.budget_grams_co2e
                                                                 : 0.0) +
                               ", on budget: " + OnBudgetName(sweep.on_budget)});
  std::vector<std::string> region_lines;
  std::string region = report.location.known ? report.location.name + " (" + report.location.key + ")"
                                             : (sweep.region.empty() ? "none given" : sweep.region);
  region_lines.push_back(region + StringPrintf(": %.0f gCO2e/kWh", sweep.intensity_g_per_kwh));
  std::string source = "source: " + (sweep.intensity_source.empty() ? "not recorded" : sweep.intensity_source);
  if (sweep.intensity_year > 0) source += ", " + std::to_string(sweep.intensity_year);
  region_lines.push_back(source);
  if (report.intensity_assumed) {
    region_lines.push_back("ASSUMED: no region or intensity was given, so the world average was used;");
    region_lines.push_back("the real figure may be several times lower or higher (pass --region or --intensity).");
  }
  Setting(&out, "region", region_lines);
  Setting(&out, "PUE", {StringPrintf("%.2f", sweep.pue) + (sweep.pue == 1.0 ? " (no data-centre overhead counted)" : "")});
  Setting(&out, "hardware", {report.hardware.Describe()});
  std::vector<std::string> power_lines;
  for (const MethodShare& share : report.methods) {
    power_lines.push_back(share.component + ": " + share.method + " — " + FormatIn(share.joules, units.energy) + " in " +
                          std::to_string(share.samples) + " samples");
  }
  if (report.power.is_object() && report.power.contains("notes") && report.power["notes"].is_array()) {
    for (const nlohmann::json& note : report.power["notes"]) power_lines.push_back(JsonText(note));
  }
  if (power_lines.empty()) power_lines.push_back("no energy recorded");
  Setting(&out, "power", power_lines);

  out += "\nTrials\n";
  if (report.trials.empty()) {
    out += "  (no trials)\n";
  } else {
    std::vector<std::string> varying = VaryingParamNames(report.trials);
    TextTable table({{"#", TextTable::Align::kRight},
                     {"params", TextTable::Align::kLeft, TextTable::Fit::kWrap},
                     {"state"},
                     {RanksByAccuracy(report.sweep.objective) ? "accuracy" : MetricHeading(report.sweep.objective),
                      TextTable::Align::kRight},
                     {"duration", TextTable::Align::kRight},
                     {units.energy.symbol, TextTable::Align::kRight},
                     {units.co2.symbol + " CO2e", TextTable::Align::kRight},
                     {"method", TextTable::Align::kLeft, TextTable::Fit::kWrap}});
    for (const ReportTrial& trial : report.trials) {
      const TrialRecord& r = trial.record;
      table.AddRow({std::to_string(r.index), FormatParams(trial.params, varying), TrialStateName(r.state),
                    FormatMetricValue(report.sweep.objective, r.metric),
                    trial.wall_seconds > 0 ? FormatSeconds(trial.wall_seconds) : "—", energy(r.energy.joules),
                    co2(r.energy.grams_co2e), trial.methods.empty() ? "—" : trial.methods});
    }
    if (report.spend.unattributed.joules > 0) {
      table.AddRow({"", "(not charged to a trial: idle, orchestrator)", "", "", "", energy(report.spend.unattributed.joules),
                    co2(report.spend.unattributed.grams_co2e), ""});
    }
    table.AddSeparator();
    table.AddRow({"", "total", "", "", report.wall_seconds > 0 ? FormatSeconds(report.wall_seconds) : "—",
                  energy(report.spend.total.joules), co2(report.spend.total.grams_co2e), ""});
    out += table.Render("  ", columns);
  }

  out += "\nTotals\n";
  out += StringPrintf("  %zu trials (%lld launched), %s, %s CO2e, wall time %s\n", report.trials.size(),
                      static_cast<long long>(report.trials_launched), FormatIn(report.spend.total.joules, units.energy).c_str(),
                      FormatIn(report.spend.total.grams_co2e, units.co2).c_str(), FormatSeconds(report.wall_seconds).c_str());
  if (report.holds) out += "  carbon-aware holds: " + DescribeHolds(*report.holds) + "\n";
  // A failure's cause belongs where the user looks first, not only in a log file.
  const ReportTrial* first_failure = nullptr;
  int failures = 0;
  for (const ReportTrial& trial : report.trials) {
    if (trial.record.state != TrialState::kFailed) continue;
    ++failures;
    if (first_failure == nullptr) first_failure = &trial;
  }
  if (first_failure != nullptr) {
    out += StringPrintf("  failed: %d trial(s); the first, trial %lld: ", failures,
                        static_cast<long long>(first_failure->record.index)) +
           first_failure->record.reason + "\n";
  }
  // A user's command that never prints its metric finishes all the same: say why "best" is empty.
  int silent = 0;
  for (const ReportTrial& trial : report.trials) {
    if (trial.record.state == TrialState::kFinished && !trial.record.metric) ++silent;
  }
  if (silent > 0) {
    out += StringPrintf("  no metric: %d finished trial(s) reported no %s (an epoch or end event must "
                        "carry it: docs/trial-protocol.md)\n",
                        silent, report.sweep.objective.metric.c_str());
  }
  if (report.grid_size) {
    out += StringPrintf("  grid coverage: %lld of %lld points\n", static_cast<long long>(report.trials_launched),
                        static_cast<long long>(*report.grid_size));
  }
  if (report.best) {
    const ReportTrial& best = report.trials[*report.best];
    const Objective& objective = report.sweep.objective;
    out += StringPrintf("  best: trial %lld, %s %s", static_cast<long long>(best.record.index),
                        RanksByAccuracy(objective) ? "validation accuracy" : MetricHeading(objective).c_str(),
                        FormatMetricValue(objective, best.record.metric).c_str());
    if (best.record.test_accuracy) out += ", test " + FormatAccuracy(best.record.test_accuracy);
    out += ", " + FormatIn(best.record.energy.grams_co2e, units.co2) + " CO2e\n        " + FormatParams(best.params) + "\n";
  } else {
    out += "  best: none (no trial reported " + report.sweep.objective.metric + ")\n";
  }
  if (!report.anytime.empty()) {
    std::vector<double> curve;
    for (const AnytimePoint& point : report.anytime) curve.push_back(point.best_so_far.value_or(NAN));
    out += "  anytime (best " + MetricHeading(report.sweep.objective) + " after each trial, in order of ending): " +
           Sparkline(curve) + "\n";
  }
  for (const BaselineRecord& baseline : report.baselines) {
    out += "  baseline " + baseline.method + ": validation accuracy " + FormatAccuracy(baseline.val_accuracy) + ", " +
           FormatIn(baseline.grams_co2e, units.co2) + " CO2e\n";
    break;  // the newest one is the reference
  }

  out += "\nEquivalents (about)\n";
  for (const Equivalent& e : report.equivalents) {
    out += StringPrintf("  %-38s %10s %-8s (%s)\n", e.what.c_str(), PlainNumber(e.amount).c_str(), e.unit.c_str(),
                        e.source.c_str());
  }

  out += "\nThe same " + FormatIn(report.spend.total.joules, units.energy) + " elsewhere\n";
  TextTable regions({{"region", TextTable::Align::kLeft, TextTable::Fit::kWrap},
                     {"g/kWh", TextTable::Align::kRight},
                     {units.co2.symbol + " CO2e", TextTable::Align::kRight},
                     {"why"}});
  regions.AddRow({"this sweep: " + (report.location.known ? report.location.key : sweep.region),
                  StringPrintf("%.0f", sweep.intensity_g_per_kwh), co2(report.spend.total.grams_co2e), ""});
  for (const RegionAlternative& r : report.regions) {
    regions.AddRow({r.key + " " + r.name, StringPrintf("%.0f", r.grams_per_kwh), co2(r.grams_co2e), r.why});
  }
  out += regions.Render("  ", columns);

  if (report.backbone) {
    const BackboneFootprint& b = *report.backbone;
    out += "\nBackbone pre-training (amortisable over every fine-tuning of it, not part of this sweep)\n";
    out += "  " + FormatIn(b.joules, ChooseEnergyUnit(b.joules)) + ", " + FormatIn(b.grams_co2e, ChooseCo2Unit(b.grams_co2e)) +
           " CO2e, " + FormatSeconds(b.seconds) +
           " — " + b.summary + " (" + b.path + ")\n";
  }
  return out;
}

}  // namespace cs
