// Reports of stores built by the tests: the codecarbon CSV header and units,
// the JSON layout, the model-card block, the terminal text, and the summary
// figures (best trial, anytime curve, other regions) against hand-computed values.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "carbon/intensity.h"
#include "common/files.h"
#include "report/codecarbon_csv.h"
#include "report/sweep_report.h"
#include "tests/report/report_fixture.h"
#include "tests/testing/temp_dir.h"

namespace cs {
namespace {

SweepReport Load(SweepStore* store, const std::string& name) { return testing::LoadFixtureReport(store, name); }

std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(field);
      field.clear();
    } else {
      field += c;
    }
  }
  fields.push_back(field);
  return fields;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_CASE("the CSV starts with codecarbon's 38 emissions.csv columns in order, then ours") {
  const std::string kCodecarbonHeader =
      "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,"
      "cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,country_name,country_iso_code,region,"
      "cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,"
      "longitude,latitude,ram_total_size,tracking_mode,cpu_utilization_percent,gpu_utilization_percent,"
      "ram_utilization_percent,ram_used_gb,on_cloud,pue,wue";
  CHECK(CodecarbonColumns().size() == 38);
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  std::vector<std::string> lines = Lines(RenderCsvReport(Load(store.get(), "random-a")));
  REQUIRE(lines.size() == 1 + 5);
  CHECK(lines[0] == kCodecarbonHeader + ",trial_id,trial_index,state,accuracy,test_accuracy,params,energy_methods,"
                                        "intensity_g_per_kwh,reason");
}

TEST_CASE("CSV rows carry kg, kWh, W and seconds like codecarbon") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  std::vector<std::string> lines = Lines(RenderCsvReport(Load(store.get(), "random-a")));
  std::vector<std::string> header = SplitCsvLine(lines[0]);
  auto column = [&](const std::vector<std::string>& row, const std::string& name) {
    auto it = std::find(header.begin(), header.end(), name);
    REQUIRE(it != header.end());
    return row[it - header.begin()];
  };
  // Trial 0: 36000 J over 100 s at 1000 g/kWh; GPU 3/4, CPU 1/4.
  std::vector<std::string> row = SplitCsvLine(lines[1]);
  REQUIRE(row.size() == 38 + 9);
  CHECK(column(row, "timestamp") == "2023-11-14T22:15:00");
  CHECK(column(row, "project_name") == "random-a");
  CHECK(std::stod(column(row, "duration")) == doctest::Approx(100));
  CHECK(std::stod(column(row, "emissions")) == doctest::Approx(0.010));          // kg
  CHECK(std::stod(column(row, "emissions_rate")) == doctest::Approx(0.0001));    // kg/s
  CHECK(std::stod(column(row, "energy_consumed")) == doctest::Approx(0.010));    // kWh
  CHECK(std::stod(column(row, "gpu_energy")) == doctest::Approx(0.0075));
  CHECK(std::stod(column(row, "cpu_energy")) == doctest::Approx(0.0025));
  CHECK(std::stod(column(row, "ram_energy")) == doctest::Approx(0));
  CHECK(std::stod(column(row, "gpu_power")) == doctest::Approx(270));            // W = 27000 J / 100 s
  CHECK(std::stod(column(row, "cpu_power")) == doctest::Approx(90));
  CHECK(column(row, "cloud_provider") == "aws");
  CHECK(column(row, "cloud_region") == "ap-south-1");
  CHECK(column(row, "on_cloud") == "Y");
  CHECK(column(row, "gpu_model") == "NVIDIA H200");
  CHECK(column(row, "gpu_count") == "1");
  CHECK(column(row, "cpu_model") == "Test CPU 9000");
  CHECK(column(row, "state") == "finished");
  CHECK(std::stod(column(row, "accuracy")) == doctest::Approx(0.8));
  CHECK(column(row, "params") == R"({"batch_size":32,"learning_rate":0.0001})");
  // The failed trial's reason keeps its comma and quotes through CSV quoting.
  std::vector<std::string> failed = SplitCsvLine(lines[2]);
  CHECK(column(failed, "state") == "failed");
  CHECK(column(failed, "accuracy") == "");
  CHECK(column(failed, "reason") == "exit status 1: out of memory, \"CUDA\"");
  // The skipped trial never ran: no energy, no duration.
  std::vector<std::string> skipped = SplitCsvLine(lines[5]);
  CHECK(column(skipped, "state") == "skipped_budget");
  CHECK(std::stod(column(skipped, "emissions")) == 0);
}

TEST_CASE("CSV text from user data cannot run as a spreadsheet formula; the program's own numbers stay numbers") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  SweepReport report = Load(store.get(), "random-a");
  report.sweep.name = "=HYPERLINK(\"http://x\",\"y\")";
  report.trials[0].record.reason = "-2+3 crashed";
  report.trials[0].params = {{"@note", 1}};
  report.trials[0].wall_seconds = -5;  // a number the program writes: never quoted.
  report.hardware.cpu_model = "+cmd|' /C calc'!A0";
  std::vector<std::string> lines = Lines(RenderCsvReport(report));
  std::vector<std::string> header = SplitCsvLine(lines[0]);
  std::vector<std::string> row = SplitCsvLine(lines[1]);
  auto column = [&](const std::string& name) {
    auto it = std::find(header.begin(), header.end(), name);
    REQUIRE(it != header.end());
    return row[it - header.begin()];
  };
  CHECK(column("project_name") == "'=HYPERLINK(\"http://x\",\"y\")");
  CHECK(column("run_id") == "'=HYPERLINK(\"http://x\",\"y\"):trial-0");
  CHECK(column("reason") == "'-2+3 crashed");
  CHECK(column("cpu_model") == "'+cmd|' /C calc'!A0");
  CHECK(column("params") == R"({"@note":1})");  // starts with '{': left as is.
  CHECK(column("duration") == "-5");
  for (const std::string& cell : row) CHECK_MESSAGE(std::string("=+@").find(cell.empty() ? 'x' : cell[0]) == std::string::npos, cell);
}

TEST_CASE("the empty sweep's CSV is the header alone and its other formats still render") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  SweepReport report = Load(store.get(), "empty");
  CHECK(Lines(RenderCsvReport(report)).size() == 1);
  CHECK(!report.best);
  CHECK(report.anytime.empty());
  CHECK(RenderTerminalReport(report).find("(no trials)") != std::string::npos);
  CHECK(RenderModelCard(report).find("no best-trial block") != std::string::npos);
  nlohmann::json json = ReportToJson(report);
  CHECK(json["trials"].empty());
  CHECK(json["best_trial"].is_null());
  CHECK(RenderHtmlReport(report).find("no data") != std::string::npos);
}

TEST_CASE("best trial, totals and the anytime curve match the hand-computed figures") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  SweepReport report = Load(store.get(), "random-a");
  REQUIRE(report.best);
  CHECK(report.trials[*report.best].record.index == 2);
  CHECK(report.spend.total.grams_co2e == doctest::Approx(28));
  CHECK(report.spend.unattributed.grams_co2e == doctest::Approx(1));
  CHECK(report.trials_launched == 4);
  CHECK(report.wall_seconds == doctest::Approx(270));
  REQUIRE(report.anytime.size() == 4);
  CHECK(report.anytime[0].cumulative_grams_co2e == doctest::Approx(10));
  CHECK(report.anytime[1].cumulative_grams_co2e == doctest::Approx(15));
  CHECK(*report.anytime[1].best_so_far == doctest::Approx(0.80));
  CHECK(report.anytime[2].cumulative_grams_co2e == doctest::Approx(25));
  CHECK(*report.anytime[2].best_so_far == doctest::Approx(0.88));
  CHECK(report.anytime[3].cumulative_grams_co2e == doctest::Approx(27));
  CHECK(!report.intensity_assumed);
  CHECK(report.baselines.size() == 1);
  CHECK(report.hardware.Describe() == "1 x NVIDIA H200, Test CPU 9000 (8 threads), 32 GB RAM");
}

TEST_CASE("the same energy is priced in Mumbai, Montreal, the world and the cleanest region of the provider") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  SweepReport report = Load(store.get(), "random-a");
  // 28 g at 1000 g/kWh is 0.028 kWh.
  double kwh = 0.028;
  std::map<std::string, const RegionAlternative*> by_key;
  for (const RegionAlternative& r : report.regions) by_key[r.key] = &r;
  REQUIRE(by_key.count("aws:ap-south-1"));
  REQUIRE(by_key.count("aws:ca-central-1"));
  CHECK(by_key["aws:ap-south-1"]->grams_co2e == doctest::Approx(kwh * FindRegion("aws:ap-south-1")->grams_per_kwh));
  CHECK(by_key["aws:ca-central-1"]->grams_per_kwh < 100);
  CHECK(by_key["aws:ap-south-1"]->grams_per_kwh > 500);
  // The cleanest aws region is at most Montreal's figure.
  const RegionAlternative* cleanest = nullptr;
  for (const RegionAlternative& r : report.regions) {
    if (r.why == "cleanest aws region") cleanest = &r;
  }
  double lowest_aws = 1e9;
  for (const RegionInfo& region : KnownRegions()) {
    if (region.kind == "cloud" && region.key.rfind("aws:", 0) == 0) lowest_aws = std::min(lowest_aws, region.grams_per_kwh);
  }
  if (cleanest == nullptr) {
    // Montreal itself is the cleanest and was already listed.
    CHECK(by_key["aws:ca-central-1"]->grams_per_kwh == doctest::Approx(lowest_aws));
  } else {
    CHECK(cleanest->grams_per_kwh == doctest::Approx(lowest_aws));
  }
  std::string text = RenderTerminalReport(report);
  CHECK(text.find("aws:ap-south-1") != std::string::npos);
  CHECK(text.find("aws:ca-central-1") != std::string::npos);
}

TEST_CASE("a sweep that assumed the world average says so in every human format") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  SweepReport report = Load(store.get(), "world");
  CHECK(report.intensity_assumed);
  CHECK(RenderTerminalReport(report).find("ASSUMED") != std::string::npos);
  CHECK(RenderHtmlReport(report).find("assumed") != std::string::npos);
  CHECK(RenderModelCard(report).find("world-average grid intensity assumed") != std::string::npos);
  CHECK(ReportToJson(report)["intensity"]["assumed"] == true);
}

TEST_CASE("the terminal report lists settings, every trial, totals, best trial and equivalents") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  std::string text = RenderTerminalReport(Load(store.get(), "random-a"));
  for (const char* expected :
       {"Settings", "test-space — Devlin et al. 2019", "learning_rate log-uniform", "BERT A.3", "test fixture",
        "PUE", "NVIDIA H200", "gpu: nvml-energy", "cpu: rapl", "finished", "failed", "interrupted", "skipped_budget",
        "88.0 %", "best: trial 2", "km", "baseline linear-bow", "Equivalents"}) {
    INFO(expected);
    CHECK(text.find(expected) != std::string::npos);
  }
}

TEST_CASE("the terminal report shows why trials failed, not only that they did") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  std::string text = RenderTerminalReport(Load(store.get(), "random-a"));
  CHECK_MESSAGE(text.find("failed: 1 trial(s); the first, trial 1: exit status 1: out of memory, \"CUDA\"") !=
                    std::string::npos,
                text);
  CHECK(RenderTerminalReport(Load(store.get(), "grid-b")).find("failed:") == std::string::npos);
}

TEST_CASE("the JSON report holds the documented top-level fields") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  nlohmann::json json = ReportToJson(Load(store.get(), "random-a"));
  for (const char* field : {"report_version", "generator", "sweep", "task", "task_checksum", "space", "config",
                            "intensity", "location", "pue", "hardware", "power", "energy_methods", "totals", "trials",
                            "best_trial", "anytime", "equivalents", "other_regions", "grid", "baselines", "backbone",
                            "power_samples"}) {
    INFO(field);
    CHECK(json.contains(field));
  }
  CHECK(json["report_version"] == kReportJsonVersion);
  CHECK(json["totals"]["grams_co2e"].get<double>() == doctest::Approx(28));
  CHECK(json["totals"]["trials_by_state"]["finished"] == 2);
  CHECK(json["trials"].size() == 5);
  CHECK(json["trials"][0]["epochs"].size() == 1);
  CHECK(json["trials"][4]["started_at"].is_null());
  CHECK(json["best_trial"]["index"] == 2);
  CHECK(json["anytime"].size() == 4);
  CHECK(json["grid"].is_null());
  // The JSON document is documented field by field.
  Result<std::string> doc_file = ReadFile(testing::SourceDir() + "/docs/report-json.md");
  REQUIRE(doc_file.ok());
  const std::string& doc = *doc_file;
  for (auto it = json.begin(); it != json.end(); ++it) {
    INFO(it.key());
    CHECK(doc.find("`" + it.key() + "`") != std::string::npos);
  }
}

TEST_CASE("the model card has one co2_eq_emissions block for the best trial and one for the search, in grams") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  std::string card = RenderModelCard(Load(store.get(), "random-a"));
  std::vector<std::string> lines = Lines(card);
  std::vector<std::string> emissions;
  for (const std::string& line : lines) {
    if (line.rfind("  emissions: ", 0) == 0) emissions.push_back(line.substr(13));
  }
  REQUIRE(emissions.size() == 2);
  CHECK(std::stod(emissions[0]) == doctest::Approx(10));  // best trial: 10 g
  CHECK(std::stod(emissions[1]) == doctest::Approx(28));  // the whole search: 28 g
  CHECK(card.find("co2_eq_emissions:\n  emissions:") != std::string::npos);
  CHECK(card.find("  training_type: \"fine-tuning\"") != std::string::npos);
  CHECK(card.find("  geographical_location: \"") != std::string::npos);
  CHECK(card.find("(aws:ap-south-1)") != std::string::npos);
  CHECK(card.find("  hardware_used: \"1 x NVIDIA H200, Test CPU 9000 (8 threads), 32 GB RAM\"") != std::string::npos);
  CHECK(card.find("  source: \"carbonsweep") != std::string::npos);
}

TEST_CASE("report formats parse by name and refuse unknown ones with the name") {
  CHECK(ParseReportFormat("model-card").value() == ReportFormat::kModelCard);
  Result<ReportFormat> bad = ParseReportFormat("pdf");
  CHECK(!bad.ok());
  CHECK(bad.status().message().find("'pdf'") != std::string::npos);
}

TEST_CASE("an unknown sweep is NotFound and names the known ones") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  Result<SweepReport> report = LoadSweepReport(store.get(), "nope", ReportOptions{});
  CHECK(report.status().code() == Status::Code::kNotFound);
  CHECK(report.status().message().find("random-a") != std::string::npos);
}

TEST_CASE("the backbone's pre-training footprint is read from its backbone.json") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  // As `carbonsweep pretrain` writes it (only the fields the report reads).
  dir.Write("backbone/backbone.json",
            R"({"format":1,"provenance":{"steps":1000,"energy":{"joules":7.2e6,"grams_co2e":400},)"
            R"("timing":{"wall_seconds":3600}}})");
  ReportOptions options;
  options.default_backbone_dir = dir.File("backbone");
  // random-a's config says from_scratch: no backbone footprint.
  CHECK(!LoadSweepReport(store.get(), "random-a", options)->backbone);
  // grid-b's trials started from the default (committed) backbone.
  Result<SweepReport> grid = LoadSweepReport(store.get(), "grid-b", options);
  REQUIRE(grid.ok());
  REQUIRE(grid->backbone);
  CHECK(grid->backbone->grams_co2e == doctest::Approx(400));
  std::string text = RenderTerminalReport(*grid);
  CHECK(text.find("Backbone pre-training (amortisable") != std::string::npos);
  CHECK(ReportToJson(*grid)["backbone"]["kwh"].get<double>() == doctest::Approx(2));
  CHECK(text.find("1000 steps") != std::string::npos);
}

TEST_CASE("a continued backbone is amortised with its whole line: provenance.total") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  // The continuation's own run cost 100 g; with its parent, 500 g.
  dir.Write("backbone/backbone.json",
            R"({"format":1,"provenance":{"steps":600,"energy":{"joules":1.8e6,"grams_co2e":100},)"
            R"("timing":{"wall_seconds":900},"total":{"backbones":2,"steps":1600,"joules":9.0e6,)"
            R"("grams_co2e":500,"wall_seconds":4500}}})");
  ReportOptions options;
  options.default_backbone_dir = dir.File("backbone");
  Result<SweepReport> grid = LoadSweepReport(store.get(), "grid-b", options);
  REQUIRE(grid.ok());
  REQUIRE(grid->backbone);
  CHECK(grid->backbone->grams_co2e == doctest::Approx(500));
  CHECK(grid->backbone->seconds == doctest::Approx(4500));
  CHECK(grid->backbone->summary.find("1600 steps in 2 runs") != std::string::npos);
}

}  // namespace
}  // namespace cs

namespace cs {

TEST_CASE("a hold's CO2 avoided: the same samples, earlier by the hold time before them, at the intensities then") {
  // Dirty (900 g/kWh) from 100 s to 200 s; the sweep held for exactly that time,
  // so its 2 samples of 3.6 MJ (1 kWh each) ran at 100 g/kWh from 200 s on.
  auto intensity_at = [](double unix_seconds) { return unix_seconds >= 100 && unix_seconds < 200 ? 900.0 : 100.0; };
  HoldRecord hold;
  hold.started_at_unix = 100;
  hold.ended_at_unix = 200;
  hold.intensity_g_per_kwh = 900;
  hold.threshold_g_per_kwh = 500;
  std::vector<PowerSampleRow> samples(2);
  for (int i = 0; i < 2; ++i) {
    samples[i].unix_seconds = 210 + 10 * i;
    samples[i].interval_seconds = 10;
    samples[i].joules = 3.6e6;
    samples[i].grams_co2e = 100;  // as measured, at 100 g/kWh.
  }
  HoldSummary summary = SummarizeHolds({hold}, samples, /*sweep_updated_at_unix=*/300, intensity_at);
  CHECK(summary.delay_seconds == 100);
  // Without waiting they would have run at 105 s and 115 s, inside the dirty hour.
  REQUIRE(summary.grams_without_waiting.has_value());
  CHECK(*summary.grams_without_waiting == doctest::Approx(1800));
  CHECK(*summary.grams_avoided == doctest::Approx(1600));
  CHECK(DescribeHolds(summary).find("1 hold") == 0);
  CHECK(DescribeHolds(summary).find("avoided") != std::string::npos);

  // A hold still open when the orchestrator died ends at the sweep's last update;
  // without the series, the delay is still known and the reason is said.
  hold.ended_at_unix.reset();
  HoldSummary open = SummarizeHolds({hold}, samples, /*sweep_updated_at_unix=*/150, nullptr);
  CHECK(open.delay_seconds == 50);
  CHECK(!open.grams_without_waiting.has_value());
}

}  // namespace cs
