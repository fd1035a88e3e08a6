// compare on the fixture's sweeps: hand-computed CO2 to come within 0.5
// points of the best, grid coverage, the baseline row, refusals.
#include <doctest/doctest.h>

#include "report/compare.h"
#include "tests/report/report_fixture.h"
#include "tests/testing/temp_dir.h"

namespace cs {
namespace {

std::vector<SweepReport> LoadAll(SweepStore* store, const std::vector<std::string>& names) {
  std::vector<SweepReport> reports;
  for (const std::string& name : names) {
    Result<SweepReport> report = LoadSweepReport(store, name, ReportOptions{});
    REQUIRE(report.ok());
    reports.push_back(std::move(*report));
  }
  return reports;
}

TEST_CASE("compare finds the CO2 each sweep needed to come within 0.5 points of the best") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  Result<Comparison> comparison = CompareSweeps(LoadAll(store.get(), {"random-a", "grid-b"}), CompareOptions{});
  REQUIRE(comparison.ok());
  // Best of all: grid-b's 0.884; within 0.5 points means >= 0.879.
  CHECK(*comparison->best_metric == doctest::Approx(0.884));
  CHECK(*comparison->target_metric == doctest::Approx(0.879));
  const ComparisonRow& a = comparison->rows[0];
  const ComparisonRow& b = comparison->rows[1];
  // random-a reached 0.880 with its third trial to end: 10 + 5 + 10 = 25 g.
  CHECK(*a.grams_to_target == doctest::Approx(25));
  CHECK(*a.trial_to_target == 2);
  // grid-b reached 0.884 with its second: 20 + 10 = 30 g.
  CHECK(*b.grams_to_target == doctest::Approx(30));
  CHECK(*b.trial_to_target == 1);
  CHECK(a.trials == 5);
  CHECK(b.grams_co2e == doctest::Approx(31));
  CHECK(*b.grid_size == 6);
  CHECK(b.trials_launched == 3);
  CHECK(!a.grid_size);
  REQUIRE(comparison->baseline);
  CHECK(comparison->baseline->method == "linear-bow");

  std::string text = RenderComparisonTerminal(*comparison);
  CHECK(text.find("baseline (reference)") != std::string::npos);
  CHECK(text.find("3/6") != std::string::npos);
  CHECK(text.find("(trial 2)") != std::string::npos);
  CHECK(text.find("Anytime curves") != std::string::npos);
}

TEST_CASE("a sweep given twice is refused, as a name or as the same sweep loaded again") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  Result<Comparison> twice = CompareSweeps(LoadAll(store.get(), {"random-a", "random-a"}), CompareOptions{});
  REQUIRE(!twice.ok());
  CHECK(twice.status().message() == "compare: sweep 'random-a' is given twice");
  CHECK(!CompareSweeps(LoadAll(store.get(), {"random-a", "grid-b", "random-a"}), CompareOptions{}).ok());
}

TEST_CASE("compare --json: one object per sweep in order, nulls where nothing exists") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  Result<Comparison> comparison = CompareSweeps(LoadAll(store.get(), {"random-a", "grid-b"}), CompareOptions{});
  REQUIRE(comparison.ok());
  nlohmann::json json = ComparisonJson(*comparison);
  CHECK(json["compare_version"] == 1);
  REQUIRE(json["sweeps"].size() == 2);
  CHECK(json["sweeps"][0]["name"] == "random-a");
  CHECK(json["sweeps"][0]["grams_co2e_to_target"].get<double>() == doctest::Approx(25));
  CHECK(json["sweeps"][0]["grid_size"].is_null());
  CHECK(json["sweeps"][1]["grid_size"] == 6);
  CHECK(json["target_val_accuracy"].get<double>() == doctest::Approx(0.879));
  CHECK(json["within_points"].get<double>() == doctest::Approx(0.5));
  CHECK(json["warnings"].is_array());
}

TEST_CASE("a stricter margin leaves a sweep that never got there as 'never'") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  CompareOptions options;
  options.within_points = 0.1;  // >= 0.883: random-a's 0.880 is not enough.
  Result<Comparison> comparison = CompareSweeps(LoadAll(store.get(), {"random-a", "grid-b"}), options);
  REQUIRE(comparison.ok());
  CHECK(!comparison->rows[0].grams_to_target);
  CHECK(RenderComparisonTerminal(*comparison).find("never") != std::string::npos);
}

TEST_CASE("sweeps of different tasks are refused with the reason unless forced") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  Result<Comparison> refused = CompareSweeps(LoadAll(store.get(), {"random-a", "other-task"}), CompareOptions{});
  REQUIRE(!refused.ok());
  CHECK(refused.status().message().find("different task") != std::string::npos);
  CHECK(refused.status().message().find("sst2") != std::string::npos);
  CHECK(refused.status().message().find("--force") != std::string::npos);
  CompareOptions forced;
  forced.comparability = CompareOptions::Comparability::kForce;
  Result<Comparison> comparison = CompareSweeps(LoadAll(store.get(), {"random-a", "other-task"}), forced);
  REQUIRE(comparison.ok());
  CHECK(comparison->warnings.size() == 1);
}

TEST_CASE("same task name with other data is refused as different data") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  std::vector<SweepReport> reports = LoadAll(store.get(), {"random-a", "grid-b"});
  reports[1].sweep.task_checksum = "def456";
  Result<Comparison> refused = CompareSweeps(std::move(reports), CompareOptions{});
  REQUIRE(!refused.ok());
  CHECK(refused.status().message().find("different data") != std::string::npos);
}

TEST_CASE("an empty sweep compares without a best accuracy") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  Result<Comparison> comparison = CompareSweeps(LoadAll(store.get(), {"grid-b", "empty"}), CompareOptions{});
  REQUIRE(comparison.ok());
  CHECK(!comparison->rows[1].best_metric);
  CHECK(!comparison->rows[1].grams_to_target);
  CHECK(RenderComparisonHtml(*comparison).find("<svg") != std::string::npos);
}

}  // namespace
}  // namespace cs
