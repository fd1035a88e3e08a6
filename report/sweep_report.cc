#include "report/sweep_report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "carbon/equivalents.h"
#include "carbon/intensity.h"
#include "carbon/power_source.h"
#include "common/files.h"
#include "common/json.h"
#include "common/units.h"
#include "report/quantities.h"
#include "report/text_table.h"

namespace cs {
namespace {

// The regions every report compares against: the two ends of the ML CO2
// impact calculator's cloud table (mlco2/impact data/impact.csv), Mumbai
// (coal-heavy grid) and Montreal (hydro). Their figures come from the carbon
// module's region table, never from here.
const char* const kComparisonRegionKeys[] = {"aws:ap-south-1", "aws:ca-central-1"};


std::string JoinMethods(const std::vector<EnergyTotal>& energy) {
  std::string out;
  std::set<std::string> seen;
  for (const EnergyTotal& total : energy) {
    std::string part = total.component + ":" + total.method;
    if (!seen.insert(part).second) continue;
    if (!out.empty()) out += "+";
    out += part;
  }
  return out;
}

// The backbone directory the sweep's trials started from: config
// task.backbone (SweepConfig::ToJson), "" meaning the committed default; none
// when they started from scratch.
std::string BackboneDir(const nlohmann::json& config, const ReportOptions& options) {
  if (!config.contains("task") || !config["task"].is_object()) return options.default_backbone_dir;
  const nlohmann::json& task = config["task"];
  if (task.value("from_scratch", false)) return "";
  std::string dir = task.contains("backbone") && task["backbone"].is_string() ? task["backbone"].get<std::string>() : "";
  return dir.empty() ? options.default_backbone_dir : dir;
}

// Reads what `carbonsweep pretrain` writes: provenance.total (the whole line
// of backbones when one continued another with --init-from), else the run's
// own provenance.energy and provenance.timing (backbones made before --init-from).
std::optional<BackboneFootprint> ReadBackboneFootprint(const std::string& dir) {
  if (dir.empty()) return std::nullopt;
  std::string path = dir + "/backbone.json";
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return std::nullopt;
  nlohmann::json info = ParseJsonColumn(*text);
  if (!info.contains("provenance") || !info["provenance"].is_object()) return std::nullopt;
  const nlohmann::json& provenance = info["provenance"];
  const nlohmann::json none = nlohmann::json::object();
  const bool has_total = provenance.contains("total") && provenance["total"].is_object();
  const nlohmann::json& total = has_total ? provenance["total"] : none;
  const nlohmann::json& energy = provenance.contains("energy") ? provenance["energy"] : none;
  const nlohmann::json& timing = provenance.contains("timing") ? provenance["timing"] : none;
  BackboneFootprint footprint;
  footprint.path = path;
  footprint.joules = JsonNumberOr(has_total ? total : energy, "joules", 0);
  footprint.grams_co2e = JsonNumberOr(has_total ? total : energy, "grams_co2e", 0);
  footprint.seconds = JsonNumberOr(has_total ? total : timing, "wall_seconds", 0);
  if (footprint.joules <= 0 && footprint.grams_co2e <= 0) return std::nullopt;
  const double steps = JsonNumberOr(has_total ? total : provenance, "steps", 0);
  const double runs = JsonNumberOr(total, "backbones", 1);
  std::string what = "masked-LM pre-training";
  if (steps > 0) what += StringPrintf(", %lld steps", static_cast<long long>(steps));
  if (runs > 1) what += StringPrintf(" in %lld runs (each continuing the last)", static_cast<long long>(runs));
  footprint.summary = what;
  return footprint;
}

// The first value stored under any of `keys`, searching `json` depth-first:
// the power description's layout belongs to the carbon module, so the report
// looks for the field names rather than for one path.
const nlohmann::json* FindField(const nlohmann::json& json, std::initializer_list<const char*> keys) {
  if (json.is_object()) {
    for (const char* key : keys) {
      auto it = json.find(key);
      if (it != json.end() && !it->is_null()) return &*it;
    }
  }
  if (json.is_object() || json.is_array()) {
    for (const nlohmann::json& child : json) {
      if (const nlohmann::json* found = FindField(child, keys)) return found;
    }
  }
  return nullptr;
}

HardwareInfo ExtractHardware(const nlohmann::json& power) {
  HardwareInfo hardware;
  if (const nlohmann::json* v = FindField(power, {"cpu_model"}); v && v->is_string()) hardware.cpu_model = *v;
  if (const nlohmann::json* v = FindField(power, {"logical_threads", "cpu_count"}); v && v->is_number()) {
    hardware.cpu_count = v->get<int>();
  }
  if (const nlohmann::json* v = FindField(power, {"ram_gb", "ram_gib", "ram_total_size"}); v && v->is_number()) {
    hardware.ram_gb = v->get<double>();
  }
  if (const nlohmann::json* v = FindField(power, {"os"}); v && v->is_string()) hardware.os = *v;
  if (const nlohmann::json* gpus = FindField(power, {"gpus"}); gpus && gpus->is_array()) {
    hardware.gpu_count = static_cast<int>(gpus->size());
    for (const nlohmann::json& gpu : *gpus) {
      const nlohmann::json* name = gpu.is_string() ? &gpu : FindField(gpu, {"name", "gpu_name", "model"});
      if (name && name->is_string()) {
        hardware.gpu_model = *name;
        break;
      }
    }
  } else if (const nlohmann::json* v = FindField(power, {"gpu_model", "gpu_name"}); v && v->is_string()) {
    hardware.gpu_model = *v;
    hardware.gpu_count = 1;
  }
  return hardware;
}

ReportLocation LocateRegion(const std::string& query) {
  ReportLocation location;
  location.key = query;
  Result<RegionInfo> region = FindRegion(query);
  if (query.empty() || !region.ok()) return location;
  location.known = true;
  location.key = region->key;
  location.name = region->name;
  location.kind = region->kind;
  std::string prefix = region->key.substr(0, region->key.find(':'));
  std::string rest = region->key.find(':') == std::string::npos ? "" : region->key.substr(region->key.find(':') + 1);
  // The country is the last ", "-separated part of a cloud region's name ("..., India").
  auto country_of_name = [](const std::string& name) {
    size_t comma = name.rfind(", ");
    return comma == std::string::npos ? name : name.substr(comma + 2);
  };
  if (region->kind == "country") {
    location.country_name = region->name;
    location.country_iso_code = region->key;
  } else if (region->kind == "us-state" || region->kind == "ca-province") {
    Result<RegionInfo> country = FindRegion(region->kind == "us-state" ? "USA" : "CAN");
    location.country_name = country.ok() ? country->name : "";
    location.country_iso_code = country.ok() ? country->key : "";
    location.region = rest;
  } else if (region->kind == "nordic-zone") {
    // Zone keys start with the country's alpha-2 code (SE3, NO1, FI).
    Result<RegionInfo> country = FindRegion(region->key.substr(0, 2));
    location.country_name = country.ok() ? country->name : "";
    location.country_iso_code = country.ok() ? country->key : "";
    location.region = region->key;
  } else if (region->kind == "cloud") {
    location.cloud_provider = prefix;
    location.cloud_region = rest;
    location.country_name = country_of_name(region->name);
    // Cloud tables name a country their own way where it differs from the
    // country table's name: "Korea" (gcp:asia-northeast3, Seoul) is South Korea.
    const std::string lookup = location.country_name == "Korea" ? "South Korea" : location.country_name;
    Result<RegionInfo> country = FindRegion(lookup);
    if (country.ok() && country->kind == "country") {
      location.country_name = country->name;
      location.country_iso_code = country->key;
    }
  }
  return location;
}

}  // namespace

std::string HardwareInfo::Describe() const {
  std::string out;
  if (gpu_count > 0) out += StringPrintf("%d x %s", gpu_count, gpu_model.empty() ? "GPU" : gpu_model.c_str());
  if (!cpu_model.empty()) {
    if (!out.empty()) out += ", ";
    out += cpu_model;
    if (cpu_count > 0) out += StringPrintf(" (%d threads)", cpu_count);
  }
  if (ram_gb > 0) {
    if (!out.empty()) out += ", ";
    out += StringPrintf("%.0f GB RAM", ram_gb);
  }
  return out.empty() ? "unknown" : out;
}

nlohmann::json ParseJsonColumn(const std::string& text) {
  if (text.empty()) return nlohmann::json::object();
  nlohmann::json parsed = ParseJsonOrDiscarded(text);
  return parsed.is_discarded() ? nlohmann::json::object() : parsed;
}

std::string TaskName(const nlohmann::json& task) {
  for (const char* key : {"name", "task"}) {
    if (task.is_object() && task.contains(key) && task[key].is_string()) return task[key].get<std::string>();
  }
  return "";
}

std::string FormatAccuracy(const std::optional<double>& accuracy) {
  if (!accuracy) return "—";
  return StringPrintf("%.1f %%", *accuracy * 100);
}

bool RanksByAccuracy(const Objective& objective) { return objective.metric == "val_accuracy"; }

std::string MetricHeading(const Objective& objective) {
  return MetricLabel(objective) + (objective.mode == MetricMode::kMin ? " (min)" : "");
}

std::string FormatMetricValue(const Objective& objective, const std::optional<double>& value) {
  if (RanksByAccuracy(objective)) return FormatAccuracy(value);
  if (!value) return "—";
  return StringPrintf("%.4g", *value);
}

double MetricAxisValue(const Objective& objective, double value) {
  return RanksByAccuracy(objective) ? value * 100 : value;
}

std::string MetricAxisLabel(const Objective& objective) {
  return RanksByAccuracy(objective) ? "validation accuracy (%)" : MetricHeading(objective);
}

std::vector<std::string> VaryingParamNames(const std::vector<ReportTrial>& trials) {
  // Fixed params only clutter a table; the settings section lists them.
  std::map<std::string, std::set<std::string>> values;
  for (const ReportTrial& trial : trials) {
    if (!trial.params.is_object()) continue;
    for (auto it = trial.params.begin(); it != trial.params.end(); ++it) values[it.key()].insert(it.value().dump());
  }
  std::vector<std::string> varying;
  for (const auto& [key, seen] : values) {
    if (seen.size() > 1) varying.push_back(key);
  }
  return varying;
}

std::string FormatParams(const nlohmann::json& params, const std::vector<std::string>& names) {
  if (!params.is_object() || params.empty()) return "—";
  std::string out;
  for (auto it = params.begin(); it != params.end(); ++it) {
    if (!names.empty() && std::find(names.begin(), names.end(), it.key()) == names.end()) continue;
    if (!out.empty()) out += ' ';
    // Floats get 3 significant digits: a table of 0.0028295707859746838 is
    // unreadable and the digits past the third tell trials apart no better.
    // The full value stays in the JSON and CSV reports and the store.
    std::string value = it.value().is_string()          ? it.value().get<std::string>()
                        : it.value().is_number_float() ? ShortNumber(it.value().get<double>(), 3)
                                                       : it.value().dump();
    out += it.key() + "=" + value;
  }
  return out.empty() ? "—" : out;
}

Result<SweepReport> LoadSweepReport(SweepStore* store, const std::string& name, const ReportOptions& options) {
  Result<SweepRecord> sweep = store->GetSweep(name);
  if (!sweep.ok()) {
    if (sweep.status().code() != Status::Code::kNotFound) return sweep.status();
    std::vector<std::string> names;
    if (Result<std::vector<SweepSummary>> all = store->ListSweeps(); all.ok()) {
      for (const SweepSummary& summary : *all) names.push_back(summary.sweep.name);
    }
    std::string known = names.empty() ? "the store has no sweeps" : "known sweeps:";
    for (const std::string& known_name : names) known += " " + known_name;
    return Status::NotFound(store->path() + ": no sweep named '" + name + "' (" + known + ")");
  }
  SweepReport report;
  report.sweep = std::move(*sweep);
  report.config = ParseJsonColumn(report.sweep.config_json);
  report.space = ParseJsonColumn(report.sweep.space_json);
  report.task = ParseJsonColumn(report.sweep.task_json);
  report.power = ParseJsonColumn(report.sweep.power_json);

  Result<std::vector<TrialRecord>> trials = store->ListTrials(report.sweep.id);
  if (!trials.ok()) return trials.status();
  Result<std::vector<EnergyTotal>> energy = store->SweepEnergy(report.sweep.id);
  if (!energy.ok()) return energy.status();
  std::map<int64_t, std::vector<EnergyTotal>> energy_by_trial;
  std::map<std::pair<std::string, std::string>, MethodShare> shares;
  for (const EnergyTotal& total : *energy) {
    if (total.trial_id) energy_by_trial[*total.trial_id].push_back(total);
    MethodShare& share = shares[{total.component, total.method}];
    share.component = total.component;
    share.method = total.method;
    share.joules += total.joules;
    share.seconds += total.seconds;
    share.samples += total.samples;
  }
  for (auto& [key, share] : shares) report.methods.push_back(share);
  Result<std::vector<EpochRecord>> epochs = store->ListSweepEpochs(report.sweep.id);
  if (!epochs.ok()) return epochs.status();
  std::map<int64_t, std::vector<EpochRecord>> epochs_by_trial;
  for (const EpochRecord& epoch : *epochs) epochs_by_trial[epoch.trial_id].push_back(epoch);
  for (TrialRecord& record : *trials) {
    ReportTrial trial;
    trial.epochs = std::move(epochs_by_trial[record.id]);
    trial.params = ParseJsonColumn(record.params_json);
    trial.energy = energy_by_trial[record.id];
    trial.methods = JoinMethods(trial.energy);
    trial.record = std::move(record);
    report.trials.push_back(std::move(trial));
  }

  Result<SweepSpend> spend = store->GetSweepSpend(report.sweep.id);
  if (!spend.ok()) return spend.status();
  report.spend = *spend;
  Result<std::vector<PowerSampleRow>> samples = store->ListPowerSamples(report.sweep.id);
  if (!samples.ok()) return samples.status();
  report.samples = std::move(*samples);
  if (!report.sweep.task_checksum.empty()) {
    Result<std::vector<BaselineRecord>> baselines = store->ListBaselines(report.sweep.task_checksum);
    if (!baselines.ok()) return baselines.status();
    report.baselines = std::move(*baselines);
  }
  report.backbone = ReadBackboneFootprint(BackboneDir(report.config, options));
  Result<std::vector<HoldRecord>> holds = store->ListHolds(report.sweep.id);
  if (!holds.ok()) return holds.status();
  if (!holds->empty()) {
    // The counterfactual needs the series the sweep ran with.
    IntensityOptions series;
    series.intensity_file = report.config.value("carbon", nlohmann::json::object()).value("intensity_file", "");
    series.region = report.sweep.region;
    Result<std::shared_ptr<const IntensityProvider>> provider = MakeIntensityProvider(series);
    std::function<double(double)> intensity_at;
    if (provider.ok()) intensity_at = [p = *provider](double unix_seconds) { return p->GramsPerKwhAt(unix_seconds); };
    report.holds = SummarizeHolds(std::move(*holds), report.samples, report.sweep.updated_at_unix, intensity_at);
    if (!provider.ok()) report.holds->note = "the intensity series cannot be read: " + provider.status().message();
  }
  SummarizeSweepReport(&report);
  FillFromLocalMachine(report.sweep.host, ReadLocalMachine(), &report.hardware);
  return report;
}

LocalMachine ReadLocalMachine() {
  LocalMachine local;
  // gethostname, as the orchestrator stores the sweep's host (report may not include orchestrator/).
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) local.host = host;
  struct utsname name {};
  if (uname(&name) == 0) {
    // platform.platform()'s leading parts, as codecarbon writes its `os` column.
    local.os = std::string(name.sysname) + "-" + name.release + "-" + name.machine;
  }
  if (Result<MachineInfo> machine = ReadMachineInfo("/proc"); machine.ok()) local.ram_gb = machine->ram_gb;
  return local;
}

void FillFromLocalMachine(const std::string& sweep_host, const LocalMachine& local, HardwareInfo* hardware) {
  // Another machine's uname says nothing about the one the sweep ran on.
  if (sweep_host.empty() || sweep_host != local.host) return;
  if (hardware->os.empty()) hardware->os = local.os;
  if (hardware->ram_gb <= 0) hardware->ram_gb = local.ram_gb;
}

std::string DescribeHolds(const HoldSummary& summary) {
  std::string text = std::to_string(summary.holds.size()) + (summary.holds.size() == 1 ? " hold, " : " holds, ") +
                     FormatSeconds(summary.delay_seconds) + " of delay";
  if (summary.grams_without_waiting && summary.grams_avoided) {
    double share = *summary.grams_without_waiting > 0 ? *summary.grams_avoided / *summary.grams_without_waiting : 0;
    text += "; without waiting " + FormatGrams(*summary.grams_without_waiting) + " CO2e: " +
            FormatGrams(*summary.grams_avoided) + StringPrintf(" (%.0f %%) avoided", share * 100);
  } else if (!summary.note.empty()) {
    text += "; CO2 avoided unknown (" + summary.note + ")";
  }
  return text;
}

HoldSummary SummarizeHolds(std::vector<HoldRecord> holds, const std::vector<PowerSampleRow>& samples,
                           double sweep_updated_at_unix, const std::function<double(double)>& intensity_at) {
  HoldSummary summary;
  summary.holds = std::move(holds);
  for (const HoldRecord& hold : summary.holds) {
    summary.delay_seconds += std::max(0.0, hold.ended_at_unix.value_or(sweep_updated_at_unix) - hold.started_at_unix);
  }
  if (!intensity_at) return summary;
  // Without waiting, each sample would have happened earlier by the hold time
  // before it (for a sample inside a hold, by the part of it already passed).
  double without = 0, measured = 0;
  for (const PowerSampleRow& sample : samples) {
    double shift = 0;
    for (const HoldRecord& hold : summary.holds) {
      double end = hold.ended_at_unix.value_or(sweep_updated_at_unix);
      if (hold.started_at_unix >= sample.unix_seconds) break;  // holds are in start order.
      shift += std::min(end, sample.unix_seconds) - hold.started_at_unix;
    }
    double kwh = sample.joules / 3.6e6;
    without += kwh * intensity_at(sample.unix_seconds - sample.interval_seconds / 2 - shift);
    measured += sample.grams_co2e;
  }
  summary.grams_without_waiting = without;
  summary.grams_avoided = without - measured;
  return summary;
}

void SummarizeSweepReport(SweepReport* report) {
  // Wall time, launched trials, best trial.
  double first_start = INFINITY, last_end = -INFINITY;
  report->trials_launched = 0;
  report->best.reset();
  for (size_t i = 0; i < report->trials.size(); ++i) {
    ReportTrial& trial = report->trials[i];
    const TrialRecord& record = trial.record;
    if (record.started_at_unix) {
      ++report->trials_launched;
      first_start = std::min(first_start, *record.started_at_unix);
      if (record.ended_at_unix) {
        trial.wall_seconds = std::max(0.0, *record.ended_at_unix - *record.started_at_unix);
        last_end = std::max(last_end, *record.ended_at_unix);
      }
    }
    if (trial.methods.empty()) trial.methods = JoinMethods(trial.energy);
    const Objective& objective = report->sweep.objective;
    if (record.metric && (!report->best || objective.Better(*record.metric, *report->trials[*report->best].record.metric))) {
      report->best = i;
    }
  }
  report->wall_seconds = last_end > first_start ? last_end - first_start : 0;

  // Anytime curve: trials in the order they ended, cumulative CO2 of the trials.
  std::vector<const ReportTrial*> ended;
  for (const ReportTrial& trial : report->trials) {
    if (trial.record.ended_at_unix && trial.record.started_at_unix) ended.push_back(&trial);
  }
  std::stable_sort(ended.begin(), ended.end(), [](const ReportTrial* a, const ReportTrial* b) {
    if (*a->record.ended_at_unix != *b->record.ended_at_unix) return *a->record.ended_at_unix < *b->record.ended_at_unix;
    return a->record.index < b->record.index;
  });
  report->anytime.clear();
  double grams = 0, joules = 0;
  std::optional<double> best_so_far;
  for (const ReportTrial* trial : ended) {
    grams += trial->record.energy.grams_co2e;
    joules += trial->record.energy.joules;
    const std::optional<double>& metric = trial->record.metric;
    if (metric && (!best_so_far || report->sweep.objective.Better(*metric, *best_so_far))) best_so_far = metric;
    report->anytime.push_back({trial->record.index, *trial->record.ended_at_unix, grams, joules, metric, best_so_far});
  }

  report->hardware = ExtractHardware(report->power);
  // The region as stored; a sweep priced from --intensity or a file still
  // names its region in the intensity record when the user gave one.
  std::string region = report->sweep.region;
  if (region.empty() && report->power.is_object() && report->power.contains("intensity") &&
      report->power["intensity"].is_object()) {
    region = report->power["intensity"].value("region", std::string());
  }
  report->location = LocateRegion(region);

  // Intensity: the world-average default is flagged so every format says it.
  const RegionInfo world = WorldAverage();
  if (report->config.contains("carbon") && report->config["carbon"].is_object()) {
    // SweepConfig::ToJson: nothing chosen means the world average was assumed.
    const nlohmann::json& carbon = report->config["carbon"];
    report->intensity_assumed = carbon.value("region", std::string()).empty() &&
                                carbon.value("intensity_g_per_kwh", -1.0) < 0 &&
                                carbon.value("intensity_file", std::string()).empty();
  } else {
    report->intensity_assumed = report->sweep.region.empty() || report->sweep.region == world.key;
  }

  // The same energy elsewhere.
  report->regions.clear();
  const double total_joules = report->spend.total.joules;
  auto add_region = [&](const RegionInfo& region, const std::string& why) {
    for (const RegionAlternative& existing : report->regions) {
      if (existing.key == region.key) return;
    }
    report->regions.push_back({region.key, region.name, why, region.grams_per_kwh,
                               GramsCo2e(total_joules, region.grams_per_kwh), region.source});
  };
  for (const char* key : kComparisonRegionKeys) {
    if (Result<RegionInfo> region = FindRegion(key); region.ok()) add_region(*region, "comparison");
  }
  add_region(world, "world average");
  if (report->location.kind == "cloud") {
    const std::string& provider = report->location.cloud_provider;
    const RegionInfo* cleanest = nullptr;
    for (const RegionInfo& region : KnownRegions()) {
      if (region.kind != "cloud" || region.key.compare(0, provider.size() + 1, provider + ":") != 0) continue;
      if (cleanest == nullptr || region.grams_per_kwh < cleanest->grams_per_kwh) cleanest = &region;
    }
    if (cleanest != nullptr) add_region(*cleanest, "cleanest " + provider + " region");
  }

  // Everyday equivalents of the whole sweep's CO2, each in a unit that fits its size.
  report->equivalents.clear();
  for (const EverydayEquivalent& e : EverydayEquivalents(report->spend.total.grams_co2e)) {
    report->equivalents.push_back({e.what, e.amount, e.unit, e.source});
  }

  // Grid coverage: the stored grid order lists every point of the grid.
  report->grid_size.reset();
  if (!report->sweep.grid_order_json.empty()) {
    // Either the order itself or the strategy's State(): {"kind":"grid","size":M,"order":[...]}.
    nlohmann::json order = ParseJsonColumn(report->sweep.grid_order_json);
    if (order.is_object() && order.contains("size") && order["size"].is_number_integer()) {
      report->grid_size = order["size"].get<int64_t>();
    } else if (order.is_object() && order.contains("order") && order["order"].is_array()) {
      report->grid_size = static_cast<int64_t>(order["order"].size());
    } else if (order.is_array()) {
      report->grid_size = static_cast<int64_t>(order.size());
    }
  }
}

Result<ReportFormat> ParseReportFormat(const std::string& name) {
  if (name == "terminal") return ReportFormat::kTerminal;
  if (name == "csv") return ReportFormat::kCsv;
  if (name == "json") return ReportFormat::kJson;
  if (name == "model-card") return ReportFormat::kModelCard;
  if (name == "html") return ReportFormat::kHtml;
  return Status::InvalidArgument("--format: unknown format '" + name +
                                 "' (expected terminal, csv, json, model-card or html)");
}

std::string RenderReport(const SweepReport& report, ReportFormat format, size_t terminal_columns) {
  switch (format) {
    case ReportFormat::kTerminal:
      return RenderTerminalReport(report, terminal_columns > 0 ? terminal_columns : TerminalColumns(STDOUT_FILENO));
    case ReportFormat::kCsv: return RenderCsvReport(report);
    case ReportFormat::kJson: return ReportToJson(report).dump(2) + "\n";
    case ReportFormat::kModelCard: return RenderModelCard(report);
    case ReportFormat::kHtml: return RenderHtmlReport(report);
  }
  return "";
}

}  // namespace cs
