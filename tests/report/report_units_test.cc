// What a reader sees of the figures: the power plot's series from real-looking
// samples, legends that hide nothing, one unit per page in plain decimals,
// short hyperparameters in tables fitted to the terminal, equivalents at the
// figure's scale, and codecarbon's machine and country columns filled.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <sstream>

#include "carbon/equivalents.h"
#include "carbon/intensity.h"
#include "report/codecarbon_csv.h"
#include "report/plots.h"
#include "report/quantities.h"
#include "report/sweep_report.h"
#include "report/text_table.h"
#include "tests/report/report_fixture.h"
#include "tests/testing/temp_dir.h"

namespace cs {
namespace {

SweepReport Load(SweepStore* store, const std::string& name) { return testing::LoadFixtureReport(store, name); }

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A trial metered like the real sampler: ticks at irregular, often
// sub-second spacing, each row holding the energy of its interval at a
// steady draw (`cpu_watts` + `ram_watts`), times with float noise.
std::vector<PowerSampleRow> SteadyTrial(int64_t trial_id, double start, double seconds, double cpu_watts,
                                        double ram_watts) {
  static const double kSpacings[] = {0.31, 0.97, 0.05, 1.62, 0.5, 0.499999, 0.7, 2.3};
  std::vector<PowerSampleRow> rows;
  double t = start;
  for (size_t i = 0; t < start + seconds; ++i) {
    double interval = std::min(kSpacings[i % 8], start + seconds - t);
    double end = t + interval;
    for (const auto& [component, watts] : {std::pair<std::string, double>{"cpu", cpu_watts}, {"ram", ram_watts}}) {
      PowerSampleRow row;
      row.trial_id = trial_id;
      row.unix_seconds = end;
      row.interval_seconds = end - t;
      row.component = component;
      row.joules = watts * row.interval_seconds;
      row.watts = watts;
      rows.push_back(row);
    }
    t = end;
  }
  return rows;
}

TEST_CASE("a steady 9.6 W drawn at irregular sub-second ticks plots as a steady 9.6 W, also across trial ends") {
  // Three trials back to back, as a sweep runs them: ticks never line up with whole seconds.
  std::vector<PowerSampleRow> samples;
  double t = 1.7e9 + 0.43;
  for (int64_t trial = 1; trial <= 3; ++trial) {
    std::vector<PowerSampleRow> rows = SteadyTrial(trial, t, 20.3, 8.0, 1.6);
    samples.insert(samples.end(), rows.begin(), rows.end());
    t = rows.back().unix_seconds;
  }
  std::vector<PowerStep> steps = PowerSteps(samples, /*max_steps=*/0);
  REQUIRE(steps.size() > 30);
  for (const PowerStep& step : steps) {
    CHECK(step.watts.at("cpu") == doctest::Approx(8.0));
    CHECK(step.watts.at("ram") == doctest::Approx(1.6));
  }
  SweepReport report;
  report.samples = samples;
  std::vector<PlotSeries> series = PowerSeries(report);
  REQUIRE(series.size() == 2);
  CHECK(series[0].name == "cpu");
  CHECK(series[1].name == "+ ram");
  for (const PlotPoint& point : series[1].points) CHECK(point.y == doctest::Approx(9.6));  // no spike, no sawtooth
  // Merged into few steps for a long sweep, the draw stays 9.6 W.
  for (const PowerStep& step : PowerSteps(samples, /*max_steps=*/7)) {
    CHECK(step.watts.at("cpu") + step.watts.at("ram") == doctest::Approx(9.6));
  }
}

TEST_CASE("concurrent trials add up where they overlap and a gap shows nothing measured") {
  std::vector<PowerSampleRow> samples = SteadyTrial(1, 100, 10, 5, 0);
  std::vector<PowerSampleRow> second = SteadyTrial(2, 104.2, 10, 3, 0);  // overlaps 104.2 .. 110
  samples.insert(samples.end(), second.begin(), second.end());
  std::vector<PowerSampleRow> later = SteadyTrial(3, 120, 5, 7, 0);      // after a gap
  samples.insert(samples.end(), later.begin(), later.end());
  for (PowerStep step : PowerSteps(samples, /*max_steps=*/0)) {
    double mid = (step.start_unix + step.end_unix) / 2;
    double expected = mid < 104.2 ? 5 : mid < 110 ? 8 : mid < 114.2 ? 3 : mid < 120 ? 0 : 7;
    INFO("at " << mid);
    CHECK(step.watts["cpu"] == doctest::Approx(expected));
  }
}

TEST_CASE("legends sit below the plot area, so no data point is ever under them") {
  PlotSpec spec;
  spec.series.push_back({"random-a", "#111", PlotSeries::Style::kMarkers, {{0, 80, ""}, {1, 90, ""}}});
  spec.series.push_back({"grid-b with a long name", "#222", PlotSeries::Style::kMarkers, {{1, 88}}});
  spec.series.push_back({"third", "#333", PlotSeries::Style::kMarkers, {{0.5, 85}}});
  std::string svg = RenderSvgPlot(spec);
  CHECK(svg.find("legend-box") == std::string::npos);
  std::smatch area;
  REQUIRE(std::regex_search(svg, area, std::regex(R"re(class="plot-area" x="[0-9.]+" y="([0-9.]+)" width="[0-9.]+" height="([0-9.]+)")re")));
  const double area_bottom = std::stod(area[1]) + std::stod(area[2]);
  std::regex swatch(R"re(class="legend-swatch" x="[0-9.]+" y="([0-9.]+)")re");
  int swatches = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), swatch); it != std::sregex_iterator(); ++it, ++swatches) {
    CHECK(std::stod((*it)[1]) > area_bottom);
  }
  CHECK(swatches == 3);
}

TEST_CASE("one unit per page, chosen from the data, in plain decimals") {
  CHECK(ChooseCo2Unit(0.3).symbol == "mg");
  CHECK(ChooseCo2Unit(28).symbol == "g");
  CHECK(ChooseCo2Unit(2500).symbol == "kg");
  CHECK(ChooseCo2Unit(3e6).symbol == "t");
  CHECK(ChooseEnergyUnit(0.5).symbol == "J");
  CHECK(ChooseEnergyUnit(36).symbol == "mWh");
  CHECK(ChooseEnergyUnit(108000).symbol == "Wh");
  CHECK(ChooseEnergyUnit(7.2e6).symbol == "kWh");
  CHECK(PlainNumber(0.0028295707859746838) == "0.00283");
  CHECK(PlainNumber(1e-5) == "0.0000100");
  CHECK(PlainNumber(1234.6) == "1235");
  CHECK(PlainNumber(9.996) == "10.0");
  CHECK(PlainNumber(0) == "0");
  CHECK(FormatIn(0.3, ChooseCo2Unit(0.3)) == "300 mg");

  // The anytime axis of a 30 mg sweep: mg ticks, never "1e-05".
  PlotSpec spec = AnytimePlot({{"s", "#000", PlotSeries::Style::kStepWithMarkers, {{0.012, 80}, {0.031, 85}}}},
                              ChooseCo2Unit(0.031), Objective{});
  CHECK(spec.x_label == "cumulative mg CO2e of trials");
  std::string svg = RenderSvgPlot(spec);
  std::regex tick(R"re(class="tick"[^>]*>([^<]*)<)re");
  int ticks = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tick); it != std::sregex_iterator(); ++it, ++ticks) {
    std::string label = (*it)[1];
    INFO(label);
    CHECK(label.find('e') == std::string::npos);
  }
  CHECK(ticks > 4);

  // The fixture's sweep totals 28 g and 100.8 kJ: g and Wh in every table of the report.
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  SweepReport report = Load(store.get(), "random-a");
  std::string text = RenderTerminalReport(report);
  CHECK(text.find("g CO2e") != std::string::npos);
  CHECK(text.find("  Wh") != std::string::npos);
  CHECK_FALSE(std::regex_search(text, std::regex(R"(\b0\.0000)")));  // no "0.0000 kWh"-style figures
  std::string html = RenderHtmlReport(report);
  CHECK(html.find("28.0 g") != std::string::npos);
  CHECK(html.find("28.0 Wh") != std::string::npos);
  CHECK(html.find("cumulative g CO2e") != std::string::npos);
}

TEST_CASE("tables show hyperparameters with 3 significant digits and fit the terminal; CSV keeps every digit") {
  nlohmann::json params = {{"learning_rate", 0.0028295707859746838}, {"batch_size", 32}, {"warmup", 0.1}};
  CHECK(FormatParams(params) == "batch_size=32 learning_rate=0.00283 warmup=0.1");

  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  SweepReport report = Load(store.get(), "random-a");
  for (ReportTrial& trial : report.trials) {
    trial.params["learning_rate"] = 0.0028295707859746838 + trial.record.index * 1e-4;
    trial.params["a_long_parameter_name_one"] = "some-long-categorical-value";
    trial.params["a_long_parameter_name_two"] = "another-long-categorical-value-" + std::to_string(trial.record.index);
  }
  std::string text = RenderTerminalReport(report, /*columns=*/100);
  bool in_trials = false;
  for (const std::string& line : Lines(text)) {
    if (line == "Trials") in_trials = true;
    if (line == "Totals") break;
    if (in_trials) {
      INFO(line);
      CHECK(DisplayWidth(line) <= 100);
    }
  }
  CHECK(text.find("learning_rate=0.00283") != std::string::npos);
  CHECK(text.find("0.0028295707859746838") == std::string::npos);
  CHECK(RenderCsvReport(report).find("0.0028295707859746838") != std::string::npos);
  CHECK(ReportToJson(report).dump().find("0.0028295707859746838") != std::string::npos);
}

TEST_CASE("wrapping breaks at spaces and cuts only a word longer than the line") {
  CHECK(WrapText("a=1 bb=2 ccc=3", 8) == std::vector<std::string>{"a=1 bb=2", "ccc=3"});
  CHECK(WrapText("abcdefghij", 4) == std::vector<std::string>{"abcd", "efgh", "ij"});
  CHECK(WrapText("short", 10) == std::vector<std::string>{"short"});
  CHECK(WrapText("cpu:rapl+gpu:nvml-energy", 12) == std::vector<std::string>{"cpu:rapl+", "gpu:nvml-ene", "rgy"});
}

TEST_CASE("equivalents are in units that say something at the figure's scale, never in scientific notation") {
  std::vector<EverydayEquivalent> small = EverydayEquivalents(0.3);  // 0.3 g
  REQUIRE(small.size() == 2);  // a flight share would be 0.00006 %: left out
  CHECK(small[0].unit == "m");
  CHECK(small[0].amount == doctest::Approx(300 / kCarGramsPerKm));
  CHECK(small[1].unit == "s");
  CHECK(small[1].amount == doctest::Approx(0.3 / kTvGramsPerHour * 3600));
  std::vector<EverydayEquivalent> large = EverydayEquivalents(50000);  // 50 kg
  REQUIRE(large.size() == 3);
  CHECK(large[0].unit == "km");
  CHECK(large[1].unit == "h");
  CHECK(large[2].unit == "% of one");
  CHECK(large[2].amount == doctest::Approx(100 * 50000 / kTransatlanticFlightGramsPerPassenger));
  for (const EverydayEquivalent& e : large) CHECK_FALSE(e.source.empty());

  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  SweepReport report = Load(store.get(), "random-a");
  std::string text = RenderTerminalReport(report);
  std::string equivalents = text.substr(text.find("Equivalents"));
  equivalents = equivalents.substr(0, equivalents.find("\n\n"));
  INFO(equivalents);
  CHECK_FALSE(std::regex_search(equivalents, std::regex(R"([0-9]e[-+][0-9])")));
  CHECK(equivalents.find("flights") == std::string::npos);
  CHECK(RenderHtmlReport(report).find("0.0000 kWh") == std::string::npos);
}

TEST_CASE("codecarbon's os, ram_total_size and country columns are filled from what the sweep recorded") {
  SweepReport report;
  report.sweep.name = "s";
  report.sweep.host = "node7";
  report.sweep.intensity_g_per_kwh = 56;
  // A sweep priced with --intensity-file: no region column, the region in its intensity record.
  report.power = {{"machine", {{"cpu_model", "Test CPU"}, {"logical_threads", 8}, {"ram_gib", 125.5}}},
                  {"intensity", {{"kind", "series"}, {"region", "FRA"}}}};
  TrialRecord trial;
  trial.index = 0;
  trial.state = TrialState::kFinished;
  report.trials.push_back({trial, nlohmann::json::object(), {}, {}, 10, ""});
  SummarizeSweepReport(&report);
  FillFromLocalMachine("node7", LocalMachine{"node7", "Linux-6.8.0-x86_64", 999}, &report.hardware);
  FillFromLocalMachine("node7", LocalMachine{"other-host", "Windows", 1}, &report.hardware);  // another machine: ignored

  std::vector<std::string> lines = Lines(RenderCsvReport(report));
  REQUIRE(lines.size() == 2);
  std::vector<std::string> header = CodecarbonColumns();
  auto column = [&](const std::string& name) {
    size_t at = std::find(header.begin(), header.end(), name) - header.begin();
    std::vector<std::string> fields;
    std::stringstream row(lines[1]);
    for (std::string field; std::getline(row, field, ',');) fields.push_back(field);
    REQUIRE(at < fields.size());
    return fields[at];
  };
  CHECK(column("os") == "Linux-6.8.0-x86_64");
  CHECK(std::stod(column("ram_total_size")) == doctest::Approx(125.5));  // recorded beats readable
  CHECK(column("country_name") == "France");
  CHECK(column("country_iso_code") == "FRA");
}

TEST_CASE("every known region names its country for codecarbon's columns") {
  for (const RegionInfo& region : KnownRegions()) {
    SweepReport report;
    report.sweep.region = region.key;
    SummarizeSweepReport(&report);
    INFO(region.key << " (" << region.name << ", " << region.kind << ")");
    CHECK_FALSE(report.location.country_name.empty());
    CHECK(report.location.country_iso_code.size() == 3);
    if (region.kind == "us-state" || region.kind == "ca-province" || region.kind == "nordic-zone") {
      CHECK_FALSE(report.location.region.empty());
    }
  }
}

}  // namespace
}  // namespace cs
