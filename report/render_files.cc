// The machine-readable renderers of SweepReport: CSV (codecarbon columns),
// JSON (docs/report-json.md) and the Hugging Face model-card block.
#include <cmath>
#include <ctime>
#include <map>

#include "common/text.h"
#include "common/units.h"
#include "report/codecarbon_csv.h"
#include "report/sweep_report.h"
#include "report/text_table.h"

#ifndef CARBONSWEEP_VERSION
#define CARBONSWEEP_VERSION "dev"
#endif

namespace cs {
namespace {

// Enough digits for a kWh of a few seconds of CPU, without float noise.
std::string Num(double value) { return StringPrintf("%.9g", value); }

// codecarbon's timestamp format, %Y-%m-%dT%H:%M:%S; ours is always UTC.
std::string IsoUtc(double unix_seconds) { return FormatUtc(unix_seconds, "%Y-%m-%dT%H:%M:%S"); }

nlohmann::json OptionalJson(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}
nlohmann::json OptionalTime(const std::optional<double>& unix_seconds) {
  return unix_seconds ? nlohmann::json(IsoUtc(*unix_seconds) + "Z") : nlohmann::json(nullptr);
}

// Per component of one trial: joules (PUE applied, as stored) and interval seconds.
struct ComponentTotals {
  double joules = 0;
  double seconds = 0;
};
std::map<std::string, ComponentTotals> ByComponent(const ReportTrial& trial) {
  std::map<std::string, ComponentTotals> out;
  for (const EnergyTotal& total : trial.energy) {
    ComponentTotals& c = out[total.component];
    c.joules += total.joules;
    // Two methods for one component cover the same time, not consecutive time.
    c.seconds = std::max(c.seconds, total.seconds);
  }
  return out;
}

// YAML double-quoted scalar.
std::string YamlString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string MethodsSummary(const SweepReport& report) {
  std::string out;
  for (const MethodShare& share : report.methods) {
    if (!out.empty()) out += ", ";
    out += share.component + " " + share.method;
  }
  return out.empty() ? "nothing measured" : out;
}

std::string GeographicalLocation(const SweepReport& report) {
  if (report.intensity_assumed) return "unknown (world-average grid intensity assumed)";
  if (!report.location.known) return report.sweep.region;
  return report.location.name + " (" + report.location.key + ")";
}

std::string ModelCardBlock(const std::string& comment, double grams_co2e, const SweepReport& report) {
  std::string source = std::string("carbonsweep ") + CARBONSWEEP_VERSION + ", measured (" + MethodsSummary(report) +
                       StringPrintf("), PUE %.2f, %.0f gCO2e/kWh from ", report.sweep.pue,
                                    report.sweep.intensity_g_per_kwh) +
                       report.sweep.intensity_source;
  std::string out = "---\n# " + comment + "\n";
  out += "co2_eq_emissions:\n";
  out += "  emissions: " + StringPrintf("%.4g", grams_co2e) + "\n";
  out += "  source: " + YamlString(source) + "\n";
  out += "  training_type: \"fine-tuning\"\n";
  out += "  geographical_location: " + YamlString(GeographicalLocation(report)) + "\n";
  out += "  hardware_used: " + YamlString(report.hardware.Describe()) + "\n";
  return out;
}

}  // namespace

std::string RenderCsvReport(const SweepReport& report) {
  // Text from user data or the machine (names, params, reasons, models) is
  // neutralised against formula injection; numbers this function formats are not.
  auto user_text = [](const std::string& text) { return NeutraliseCsvText(text); };
  std::vector<std::string> header = CodecarbonColumns();
  for (const std::string& extra : ReportExtraColumns()) header.push_back(extra);
  std::string out = CsvLine(header);
  const ReportLocation& where = report.location;
  const HardwareInfo& hardware = report.hardware;
  for (const ReportTrial& trial : report.trials) {
    const TrialRecord& record = trial.record;
    std::map<std::string, ComponentTotals> components = ByComponent(trial);
    // Power as stored, PUE included like the energy columns beside it, so
    // power x duration = energy in every row.
    auto power = [&](const char* name) {
      auto it = components.find(name);
      if (it == components.end() || it->second.seconds <= 0) return std::string("0");
      return Num(it->second.joules / it->second.seconds);
    };
    auto energy = [&](const char* name) {
      auto it = components.find(name);
      return Num(it == components.end() ? 0 : JoulesToKwh(it->second.joules));
    };
    double kg = record.energy.grams_co2e / 1000;
    double timestamp = record.ended_at_unix.value_or(record.started_at_unix.value_or(record.created_at_unix));
    std::vector<std::string> row = {
        IsoUtc(timestamp),
        user_text(report.sweep.name),
        user_text(report.sweep.name + ":trial-" + std::to_string(record.index)),
        std::to_string(report.sweep.id),
        Num(trial.wall_seconds),
        Num(kg),
        Num(trial.wall_seconds > 0 ? kg / trial.wall_seconds : 0),
        power("cpu"),
        power("gpu"),
        power("ram"),
        energy("cpu"),
        energy("gpu"),
        energy("ram"),
        Num(JoulesToKwh(record.energy.joules)),
        "0",  // water_consumed: no water-usage factor is configured (codecarbon's default wue=0 gives 0 too).
        user_text(where.country_name),
        user_text(where.country_iso_code),
        user_text(where.region),
        user_text(where.cloud_provider),
        user_text(where.cloud_region),
        user_text(hardware.os),
        "",  // python_version: not a Python tracker.
        "",  // codecarbon_version: not written by codecarbon.
        hardware.cpu_count > 0 ? std::to_string(hardware.cpu_count) : "",
        user_text(hardware.cpu_model),
        std::to_string(hardware.gpu_count),
        user_text(hardware.gpu_model),
        "",  // longitude: never geolocated.
        "",  // latitude
        hardware.ram_gb > 0 ? Num(hardware.ram_gb) : "",
        "process",  // energy is attributed to each trial's process (CPU-time share, its GPUs).
        "", "", "", "",  // utilisation and RAM use: not sampled.
        where.cloud_provider.empty() ? "N" : "Y",
        Num(report.sweep.pue),
        "0",  // wue
        std::to_string(record.id),
        std::to_string(record.index),
        TrialStateName(record.state),
        record.val_accuracy ? Num(*record.val_accuracy) : "",
        record.test_accuracy ? Num(*record.test_accuracy) : "",
        user_text(trial.params.dump()),
        user_text(trial.methods),
        Num(report.sweep.intensity_g_per_kwh),
        user_text(record.reason),
    };
    out += CsvLine(row);
  }
  return out;
}

nlohmann::json ReportToJson(const SweepReport& report) {
  const SweepRecord& sweep = report.sweep;
  nlohmann::json out;
  out["report_version"] = kReportJsonVersion;
  out["generator"] = std::string("carbonsweep ") + CARBONSWEEP_VERSION;
  out["sweep"] = {{"id", sweep.id},
                  {"name", sweep.name},
                  {"state", SweepStateName(sweep.state)},
                  {"strategy", sweep.strategy},
                  {"seed", sweep.seed},
                  {"host", sweep.host},
                  {"launcher", sweep.launcher},
                  {"created_at", IsoUtc(sweep.created_at_unix) + "Z"},
                  {"budget_grams_co2e", sweep.budget_grams_co2e},
                  {"on_budget", OnBudgetName(sweep.on_budget)},
                  {"metric", sweep.objective.metric},
                  {"mode", MetricModeName(sweep.objective.mode)}};
  out["task"] = report.task;
  out["task_checksum"] = sweep.task_checksum;
  out["space"] = report.space;
  out["config"] = report.config;
  out["intensity"] = {{"region", sweep.region},
                      {"region_name", report.location.name},
                      {"grams_per_kwh", sweep.intensity_g_per_kwh},
                      {"source", sweep.intensity_source},
                      {"year", sweep.intensity_year},
                      {"assumed", report.intensity_assumed}};
  const ReportLocation& where = report.location;
  out["location"] = {{"known", where.known},         {"key", where.key},
                     {"kind", where.kind},           {"country_name", where.country_name},
                     {"country_iso_code", where.country_iso_code}, {"region", where.region},
                     {"cloud_provider", where.cloud_provider},     {"cloud_region", where.cloud_region}};
  out["pue"] = sweep.pue;
  const HardwareInfo& hardware = report.hardware;
  out["hardware"] = {{"description", hardware.Describe()}, {"cpu_model", hardware.cpu_model},
                     {"cpu_count", hardware.cpu_count},    {"gpu_model", hardware.gpu_model},
                     {"gpu_count", hardware.gpu_count},    {"ram_gb", hardware.ram_gb},
                     {"os", hardware.os}};
  out["power"] = report.power;
  out["energy_methods"] = nlohmann::json::array();
  for (const MethodShare& share : report.methods) {
    out["energy_methods"].push_back({{"component", share.component},
                                     {"method", share.method},
                                     {"joules", share.joules},
                                     {"kwh", JoulesToKwh(share.joules)},
                                     {"seconds", share.seconds},
                                     {"samples", share.samples}});
  }

  nlohmann::json by_state = nlohmann::json::object();
  for (const ReportTrial& trial : report.trials) {
    std::string state = TrialStateName(trial.record.state);
    by_state[state] = by_state.value(state, 0) + 1;
  }
  const SweepSpend& spend = report.spend;
  out["totals"] = {
      {"trials", report.trials.size()},
      {"trials_by_state", by_state},
      {"trials_launched", report.trials_launched},
      {"joules", spend.total.joules},
      {"kwh", JoulesToKwh(spend.total.joules)},
      {"grams_co2e", spend.total.grams_co2e},
      {"kg_co2e", spend.total.grams_co2e / 1000},
      {"unattributed_joules", spend.unattributed.joules},
      {"unattributed_grams_co2e", spend.unattributed.grams_co2e},
      {"reserved_grams_co2e", spend.reserved_grams_co2e},
      {"budget_used_fraction", sweep.budget_grams_co2e > 0 ? spend.total.grams_co2e / sweep.budget_grams_co2e : 0.0},
      {"wall_seconds", report.wall_seconds}};

  out["holds"] = nullptr;
  if (report.holds) {
    nlohmann::json periods = nlohmann::json::array();
    for (const HoldRecord& hold : report.holds->holds) {
      periods.push_back({{"started_at", hold.started_at_unix},
                         {"ended_at", hold.ended_at_unix ? nlohmann::json(*hold.ended_at_unix) : nullptr},
                         {"intensity_g_per_kwh", hold.intensity_g_per_kwh},
                         {"threshold_g_per_kwh", hold.threshold_g_per_kwh}});
    }
    auto optional = [](const std::optional<double>& value) { return value ? nlohmann::json(*value) : nullptr; };
    out["holds"] = {{"periods", periods},
                    {"delay_seconds", report.holds->delay_seconds},
                    {"grams_co2e_without_waiting", optional(report.holds->grams_without_waiting)},
                    {"grams_co2e_avoided", optional(report.holds->grams_avoided)},
                    {"note", report.holds->note}};
  }

  out["trials"] = nlohmann::json::array();
  for (const ReportTrial& trial : report.trials) {
    const TrialRecord& r = trial.record;
    nlohmann::json energy = nlohmann::json::array();
    for (const EnergyTotal& total : trial.energy) {
      energy.push_back({{"component", total.component},
                        {"method", total.method},
                        {"joules", total.joules},
                        {"grams_co2e", total.grams_co2e},
                        {"seconds", total.seconds},
                        {"samples", total.samples}});
    }
    nlohmann::json epochs = nlohmann::json::array();
    for (const EpochRecord& e : trial.epochs) {
      epochs.push_back({{"epoch", e.epoch},
                        {"train_loss", e.train_loss},
                        {"val_loss", e.val_loss},
                        {"val_accuracy", OptionalJson(e.val_accuracy)},
                        {"metric", OptionalJson(e.metric)},
                        {"seconds", e.seconds},
                        {"steps", e.steps},
                        {"examples", e.examples}});
    }
    out["trials"].push_back({{"id", r.id},
                             {"index", r.index},
                             {"state", TrialStateName(r.state)},
                             {"params", trial.params},
                             {"val_accuracy", OptionalJson(r.val_accuracy)},
                             {"test_accuracy", OptionalJson(r.test_accuracy)},
                             {"metric", OptionalJson(r.metric)},
                             {"best_epoch", r.best_epoch ? nlohmann::json(*r.best_epoch) : nlohmann::json(nullptr)},
                             {"created_at", IsoUtc(r.created_at_unix) + "Z"},
                             {"started_at", OptionalTime(r.started_at_unix)},
                             {"ended_at", OptionalTime(r.ended_at_unix)},
                             {"wall_seconds", trial.wall_seconds},
                             {"training_seconds", r.seconds},
                             {"steps", r.steps},
                             {"examples", r.examples},
                             {"joules", r.energy.joules},
                             {"kwh", JoulesToKwh(r.energy.joules)},
                             {"grams_co2e", r.energy.grams_co2e},
                             {"reserved_grams_co2e", r.reserved_grams_co2e},
                             {"energy_methods", trial.methods},
                             {"energy", energy},
                             {"epochs", epochs},
                             {"attempts", r.attempts},
                             {"exit_status", r.exit_status ? nlohmann::json(*r.exit_status) : nlohmann::json(nullptr)},
                             {"reason", r.reason}});
  }

  if (report.best) {
    const TrialRecord& r = report.trials[*report.best].record;
    out["best_trial"] = {{"id", r.id},
                         {"index", r.index},
                         {"params", report.trials[*report.best].params},
                         {"val_accuracy", OptionalJson(r.val_accuracy)},
                         {"test_accuracy", OptionalJson(r.test_accuracy)},
                         {"metric", OptionalJson(r.metric)},
                         {"joules", r.energy.joules},
                         {"grams_co2e", r.energy.grams_co2e}};
  } else {
    out["best_trial"] = nullptr;
  }
  out["anytime"] = nlohmann::json::array();
  for (const AnytimePoint& p : report.anytime) {
    out["anytime"].push_back({{"trial_index", p.trial_index},
                              {"ended_at", IsoUtc(p.ended_at_unix) + "Z"},
                              {"cumulative_grams_co2e", p.cumulative_grams_co2e},
                              {"cumulative_kwh", JoulesToKwh(p.cumulative_joules)},
                              {"accuracy", OptionalJson(p.accuracy)},
                              {"best_so_far", OptionalJson(p.best_so_far)}});
  }
  out["equivalents"] = nlohmann::json::array();
  for (const Equivalent& e : report.equivalents) {
    out["equivalents"].push_back({{"what", e.what}, {"amount", e.amount}, {"unit", e.unit}, {"source", e.source}});
  }
  out["other_regions"] = nlohmann::json::array();
  for (const RegionAlternative& r : report.regions) {
    out["other_regions"].push_back({{"key", r.key},
                                    {"name", r.name},
                                    {"why", r.why},
                                    {"grams_per_kwh", r.grams_per_kwh},
                                    {"grams_co2e", r.grams_co2e},
                                    {"source", r.source}});
  }
  out["grid"] = report.grid_size ? nlohmann::json{{"size", *report.grid_size}, {"launched", report.trials_launched}}
                                 : nlohmann::json(nullptr);
  out["baselines"] = nlohmann::json::array();
  for (const BaselineRecord& b : report.baselines) {
    out["baselines"].push_back({{"id", b.id},
                                {"method", b.method},
                                {"val_accuracy", b.val_accuracy},
                                {"test_accuracy", b.test_accuracy},
                                {"seconds", b.seconds},
                                {"joules", b.joules},
                                {"grams_co2e", b.grams_co2e},
                                {"details", ParseJsonColumn(b.details_json)}});
  }
  if (report.backbone) {
    const BackboneFootprint& b = *report.backbone;
    out["backbone"] = {{"path", b.path},
                       {"joules", b.joules},
                       {"kwh", JoulesToKwh(b.joules)},
                       {"grams_co2e", b.grams_co2e},
                       {"seconds", b.seconds},
                       {"summary", b.summary}};
  } else {
    out["backbone"] = nullptr;
  }
  out["power_samples"] = nlohmann::json::array();
  for (const PowerSampleRow& s : report.samples) {
    out["power_samples"].push_back({{"unix_seconds", s.unix_seconds},
                                    {"trial_id", s.trial_id ? nlohmann::json(*s.trial_id) : nlohmann::json(nullptr)},
                                    {"component", s.component},
                                    {"method", s.method},
                                    {"interval_seconds", s.interval_seconds},
                                    {"watts", s.watts},
                                    {"joules", s.joules},
                                    {"grams_co2e", s.grams_co2e}});
  }
  return out;
}

std::string RenderModelCard(const SweepReport& report) {
  std::string out = "# Hugging Face model-card metadata (co2_eq_emissions, emissions in grams CO2e) for sweep '" +
                    report.sweep.name + "'.\n"
                    "# Two YAML documents: paste one into the card's front matter. The search is what emitted,\n"
                    "# so the whole-search figure is the honest one for a model picked by this sweep.\n";
  if (report.best) {
    const ReportTrial& best = report.trials[*report.best];
    out += ModelCardBlock(StringPrintf("the best trial alone (trial %lld, %s %s)",
                                       static_cast<long long>(best.record.index),
                                       RanksByAccuracy(report.sweep.objective) ? "validation accuracy"
                                                                               : report.sweep.objective.metric.c_str(),
                                       FormatMetricValue(report.sweep.objective, best.record.metric).c_str()),
                          best.record.energy.grams_co2e, report);
  } else {
    out += "# (no trial has reported the sweep's metric yet: no best-trial block)\n";
  }
  out += ModelCardBlock(StringPrintf("the whole search: %zu trials, %s, including energy no trial was charged with",
                                     report.trials.size(), FormatJoules(report.spend.total.joules).c_str()),
                        report.spend.total.grams_co2e, report);
  out += "---\n";
  return out;
}

}  // namespace cs
