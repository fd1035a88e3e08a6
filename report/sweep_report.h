// SweepReport: everything `carbonsweep report` shows about one sweep, read
// from the store once and summarised (totals, best trial, anytime curve,
// equivalents, other regions), then rendered in five formats:
//
//   terminal    settings, trial table, totals, best, equivalents, regions
//   csv         one row per trial, codecarbon's 38 emissions.csv columns
//               (units kg, kWh, W, s) then carbonsweep's extra columns
//   json        everything, stable (docs/report-json.md)
//   model-card  Hugging Face `co2_eq_emissions` blocks (best trial, whole search)
//   html        one self-contained page with tables and three SVG plots
//
// Callers: cli/report_command.cc, report/compare.cc, tests. Loading reads
// the store (any thread the store allows); rendering is pure and
// thread-safe on a const SweepReport.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "store/sweep_store.h"

namespace cs {

// Version of the JSON report layout (docs/report-json.md). Bump on any
// change that removes or renames a field; adding fields keeps it.
constexpr int kReportJsonVersion = 1;

// One trial with what the report needs beyond its store row.
struct ReportTrial {
  TrialRecord record;               // as stored; record.energy holds its joules and grams.
  nlohmann::json params;            // params_json parsed ({} when empty or unparsable).
  std::vector<EnergyTotal> energy;  // by component and method.
  std::vector<EpochRecord> epochs;  // by epoch.
  // Wall seconds from first launch to end (0 when it never ran or has not ended).
  double wall_seconds = 0;
  // "gpu:nvml-energy+cpu:rapl+ram:cpu-time-model": how its energy was measured.
  std::string methods;
};

// A point of the anytime curve: after trial `trial_index` ended (trials in
// order of their end time), the sweep had emitted `cumulative_grams_co2e`
// through its trials and its best validation accuracy so far was `best_so_far`.
struct AnytimePoint {
  int64_t trial_index = 0;
  double ended_at_unix = 0;
  double cumulative_grams_co2e = 0;
  double cumulative_joules = 0;
  std::optional<double> accuracy;     // this trial's value of the sweep's metric (val accuracy by default), if any.
  std::optional<double> best_so_far;  // nullopt until some trial has reported the metric.
};

// What the sweep's energy would have emitted elsewhere.
struct RegionAlternative {
  std::string key;       // "aws:ap-south-1".
  std::string name;      // "Asia Pacific (Mumbai), India".
  std::string why;       // "comparison" | "cleanest <provider> region" | "world average".
  double grams_per_kwh = 0;
  double grams_co2e = 0;  // total joules of the sweep at that intensity.
  std::string source;
};

// One everyday equivalent of the sweep's CO2.
struct Equivalent {
  std::string what;   // "km by car".
  double amount = 0;
  std::string unit;   // "km", "h", "flights".
  std::string source;
};

// The backbone's own pre-training footprint (amortisable over all its
// fine-tunings), from its backbone.json provenance.
struct BackboneFootprint {
  std::string path;  // the backbone.json read.
  double joules = 0;
  double grams_co2e = 0;
  double seconds = 0;
  std::string summary;  // one line: what was pre-trained, on what.
};

// The component/method pairs measured for the whole sweep, with their share.
struct MethodShare {
  std::string component;
  std::string method;
  double joules = 0;
  double seconds = 0;
  int64_t samples = 0;
};

// The machine the sweep ran on, as far as its power description tells.
struct HardwareInfo {
  std::string cpu_model;  // "" when unknown.
  int cpu_count = 0;      // logical threads.
  std::string gpu_model;  // "" when no GPU was metered.
  int gpu_count = 0;
  double ram_gb = 0;
  std::string os;
  // "1 x NVIDIA H200, AMD EPYC 9654 (16 threads), 128 GB RAM"; "unknown" when empty.
  std::string Describe() const;
};

// Where the sweep ran, split into codecarbon's location columns.
struct ReportLocation {
  bool known = false;           // the sweep's region is in the carbon module's table.
  std::string key;              // "aws:ap-south-1", "FRA"; the sweep's region as stored when unknown.
  std::string name;             // "Asia Pacific (Mumbai), India".
  std::string kind;             // "country", "us-state", "ca-province", "nordic-zone", "cloud".
  std::string country_name;     // "India".
  std::string country_iso_code; // ISO 3166 alpha-3 when known ("IND"), else "".
  std::string region;           // sub-national region ("california"), else "".
  std::string cloud_provider;   // "aws", else "".
  std::string cloud_region;     // "ap-south-1", else "".
};

// What the carbon-aware holds (--max-intensity) did: how long the sweep
// waited and what the same energy would have emitted without waiting.
struct HoldSummary {
  std::vector<HoldRecord> holds;
  double delay_seconds = 0;  // summed; a hold left open ends at the sweep's last update.
  // The sweep's energy at the intensities in force had every sample happened
  // earlier by the hold time before it; nullopt when the intensity series
  // cannot be read any more (the file moved).
  std::optional<double> grams_without_waiting;
  std::optional<double> grams_avoided;  // grams_without_waiting - the measured total.
  std::string note;                     // why the counterfactual is missing, or "".
};

// The counterfactual of `holds` for `samples`, at the intensities `intensity_at`
// gives (a function of Unix seconds): pure, for tests.
HoldSummary SummarizeHolds(std::vector<HoldRecord> holds, const std::vector<PowerSampleRow>& samples,
                           double sweep_updated_at_unix, const std::function<double(double)>& intensity_at);

// "2 holds, 3.5 h of delay; without waiting 12.3 g CO2e: 4.1 g (33 %) avoided".
std::string DescribeHolds(const HoldSummary& holds);

struct SweepReport {
  SweepRecord sweep;
  // The sweep's JSON columns, parsed ({} when empty or unparsable).
  nlohmann::json config, space, task, power;
  std::vector<ReportTrial> trials;  // by index.
  std::vector<PowerSampleRow> samples;
  SweepSpend spend;
  std::vector<MethodShare> methods;
  std::vector<BaselineRecord> baselines;  // of the same task, newest first.
  std::optional<BackboneFootprint> backbone;
  std::optional<HoldSummary> holds;  // only for sweeps that held.

  // Derived by SummarizeSweepReport.
  // Index into trials of the best value of the sweep's metric
  // (sweep.objective; val accuracy by default; ties: lower index).
  std::optional<size_t> best;
  std::vector<AnytimePoint> anytime;
  HardwareInfo hardware;
  ReportLocation location;
  bool intensity_assumed = false;  // the world-average default, nobody chose it.
  std::vector<RegionAlternative> regions;
  std::vector<Equivalent> equivalents;
  std::optional<int64_t> grid_size;  // grid sweeps: points in the stored grid order.
  int64_t trials_launched = 0;       // trials that ran at least once.
  double wall_seconds = 0;           // first trial start to last trial end.
};

struct ReportOptions {
  // Where the backbone.json of the sweep's backbone lives when the sweep's
  // config names none; "" skips the backbone footprint.
  std::string default_backbone_dir;
};

// Reads sweep `name` and everything about it from `store`. NotFound names
// the sweep and lists the store's sweeps.
Result<SweepReport> LoadSweepReport(SweepStore* store, const std::string& name, const ReportOptions& options);

// What the machine running the report knows of itself: for a sweep that ran
// on this same host, what its power description did not record (the os
// column of codecarbon's CSV, a RAM size from before the sampler stored it).
struct LocalMachine {
  std::string host;   // gethostname(), what sweeps record as their host.
  std::string os;     // "Linux-6.8.0-45-generic-x86_64" (uname), as codecarbon's platform.platform() starts.
  double ram_gb = 0;  // MemTotal in GiB.
};
LocalMachine ReadLocalMachine();
// Fills `hardware`'s empty os and RAM from `local` when `sweep_host` is
// `local.host`; leaves it alone otherwise (another machine's figures would be wrong).
void FillFromLocalMachine(const std::string& sweep_host, const LocalMachine& local, HardwareInfo* hardware);

// Fills the derived fields of `report` from its stored ones. Called by
// LoadSweepReport; public so tests can summarise hand-built reports.
void SummarizeSweepReport(SweepReport* report);

// The renderers.
// The terminal report, its tables fitted to `columns` (the params column
// wraps; numbers are never cut). 100 when the caller knows no terminal.
std::string RenderTerminalReport(const SweepReport& report, size_t columns = 100);
std::string RenderCsvReport(const SweepReport& report);
nlohmann::json ReportToJson(const SweepReport& report);
std::string RenderModelCard(const SweepReport& report);
// How a page is served while its sweep runs (`run --live-report`).
struct HtmlLiveOptions {
  int refresh_seconds = 0;  // > 0: the page reloads itself that often and says it is live.
  double updated_at_unix = 0;  // shown as "updated at" on a live page.
};
std::string RenderHtmlReport(const SweepReport& report, const HtmlLiveOptions& live = {});

// Output formats of `carbonsweep report --format`.
enum class ReportFormat { kTerminal = 0, kCsv = 1, kJson = 2, kModelCard = 3, kHtml = 4 };
Result<ReportFormat> ParseReportFormat(const std::string& name);
// `terminal_columns` is the terminal report's width; 0 asks stdout's
// terminal (TerminalColumns in report/text_table.h: $COLUMNS, the TTY, else 100).
std::string RenderReport(const SweepReport& report, ReportFormat format, size_t terminal_columns = 0);

// Small shared helpers (also used by compare and estimate).
// "0.874" -> "87.4 %"; nullopt -> "—".
std::string FormatAccuracy(const std::optional<double>& accuracy);
// True when the sweep ranks by the bundled val_accuracy (shown as a percentage).
bool RanksByAccuracy(const Objective& objective);
// The column heading of the sweep's metric: "val acc", or its own name.
std::string MetricHeading(const Objective& objective);
// A value of the sweep's metric as tables show it: "81.2 %" for accuracy,
// else 4 significant digits; "—" when unset.
std::string FormatMetricValue(const Objective& objective, const std::optional<double>& value);
// Plots: accuracy in percent, another metric as it is; and the axis label.
double MetricAxisValue(const Objective& objective, double value);
std::string MetricAxisLabel(const Objective& objective);
// Names of the params whose values differ between trials (tables show only these).
std::vector<std::string> VaryingParamNames(const std::vector<ReportTrial>& trials);
// "learning_rate=0.0003 batch_size=32" over `names` (every param when empty);
// "—" for none. Floats show 3 significant digits (0.00283), for tables; the
// JSON and CSV reports keep full precision.
std::string FormatParams(const nlohmann::json& params, const std::vector<std::string>& names = {});
// The task's name from the sweep's task JSON ("name" or "task"), "" if absent.
std::string TaskName(const nlohmann::json& task);
// Parses a JSON column, {} when empty or invalid.
nlohmann::json ParseJsonColumn(const std::string& text);

}  // namespace cs
