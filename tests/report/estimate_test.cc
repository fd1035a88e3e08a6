// estimate: measured (from a sweep in the store, a file, a measurement) and
// TDP x hours x intensity, with hand-computed figures.
#include <cmath>

#include <doctest/doctest.h>

#include "carbon/power_source.h"
#include "report/estimate.h"
#include "tests/report/report_fixture.h"
#include "tests/testing/temp_dir.h"

namespace cs {
namespace {

TEST_CASE("a calibration from a previous sweep uses its finished trials' energy per example") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  // grid-b: finished trials 72000 J and 36000 J, 1000 examples each: 72 and 36 J per example.
  Result<PerExampleEnergy> calibration = CalibrationFromSweep(store.get(), "grid-b");
  REQUIRE(calibration.ok());
  CHECK(calibration->low_joules == doctest::Approx(36));
  CHECK(calibration->high_joules == doctest::Approx(72));
  CHECK(calibration->typical_joules == doctest::Approx(54));
  CHECK(calibration->examples_per_trial == doctest::Approx(1000));
  CHECK(calibration->samples == 2);

  EstimateRequest request;
  request.trials = 10;
  request.budget_grams_co2e = 100;
  request.grams_per_kwh = 500;
  request.intensity_source = "test";
  request.measured = *calibration;
  request.examples_per_trial = 2000;
  Result<SweepEstimate> estimate = EstimateSweep(request);
  REQUIRE(estimate.ok());
  // Per trial: 36..72 J x 2000 = 72000..144000 J = 0.02..0.04 kWh = 10..20 g at 500 g/kWh.
  CHECK(estimate->trial_grams_co2e[0] == doctest::Approx(10));
  CHECK(estimate->trial_grams_co2e[2] == doctest::Approx(20));
  CHECK(estimate->total_grams_co2e[1] == doctest::Approx(150));
  CHECK(*estimate->budget_trials_at_least == 5);
  CHECK(*estimate->budget_trials_at_most == 10);
  std::string text = RenderEstimate(*estimate);
  CHECK(text.find("measured") != std::string::npos);
  CHECK(text.find("grid-b") != std::string::npos);
  CHECK(text.find("buys 5 to 10 trials") != std::string::npos);
}

TEST_CASE("a sweep with nothing finished cannot calibrate") {
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  Result<PerExampleEnergy> calibration = CalibrationFromSweep(store.get(), "empty");
  CHECK(calibration.status().code() == Status::Code::kInvalidArgument);
  CHECK(calibration.status().message().find("'empty'") != std::string::npos);
}

TEST_CASE("without a calibration the TDP estimate brackets 50 % to 100 % of TDP and says it is not measured") {
  EstimateRequest request;
  request.trials = 4;
  request.grams_per_kwh = 920;
  request.intensity_source = "aws:ap-south-1";
  request.tdp_watts = 400;
  request.tdp_source = "400 W: 1 x A100";
  request.hours_per_trial = 0.5;
  request.pue = 1.5;
  Result<SweepEstimate> estimate = EstimateSweep(request);
  REQUIRE(estimate.ok());
  // 400 W x 0.5 h = 0.2 kWh, x PUE 1.5 = 0.3 kWh, x 920 g/kWh = 276 g at 100 %.
  CHECK(estimate->trial_grams_co2e[2] == doctest::Approx(276));
  CHECK(estimate->trial_grams_co2e[0] == doctest::Approx(138));
  CHECK(estimate->total_grams_co2e[2] == doctest::Approx(1104));
  CHECK(estimate->method == SweepEstimate::Method::kTdp);
  CHECK(RenderEstimate(*estimate).find("NOT measured") != std::string::npos);
}

TEST_CASE("calibration files: per example, one measurement, several trials; errors name the field") {
  testing::TempDir dir;
  CHECK(CalibrationFromFile(dir.Write("a.json", R"({"joules_per_example": 2.5})"))->typical_joules == 2.5);
  Result<PerExampleEnergy> one = CalibrationFromFile(dir.Write("b.json", R"({"joules": 100, "examples": 40})"));
  CHECK(one->typical_joules == doctest::Approx(2.5));
  CHECK(one->examples_per_trial == doctest::Approx(40));
  Result<PerExampleEnergy> many = CalibrationFromFile(
      dir.Write("c.json", R"({"trials":[{"joules":10,"examples":10},{"joules":30,"examples":10}],"pue":1.2})"));
  CHECK(many->low_joules == doctest::Approx(1));
  CHECK(many->high_joules == doctest::Approx(3));
  CHECK(many->pue == doctest::Approx(1.2));
  Result<PerExampleEnergy> bad = CalibrationFromFile(dir.Write("d.json", R"({"trials":[{"joules":10}]})"));
  CHECK(bad.status().message().find("trials[0].examples") != std::string::npos);
  CHECK(bad.status().message().find("d.json") != std::string::npos);
}

TEST_CASE("a live measurement is accepted as per-example energy and PUE is re-based") {
  EstimateRequest request;
  request.budget_grams_co2e = 50;
  request.grams_per_kwh = 100;
  request.pue = 1.0;
  request.measured = CalibrationFromMeasurement(/*joules=*/3600, /*examples=*/100, /*pue=*/2.0, "live: 20 steps");
  request.examples_per_trial = 10000;
  Result<SweepEstimate> estimate = EstimateSweep(request);
  REQUIRE(estimate.ok());
  // 36 J/example at PUE 2 = 18 J/example IT; x 10000 = 180000 J = 0.05 kWh = 5 g.
  CHECK(estimate->trial_grams_co2e[1] == doctest::Approx(5));
  CHECK(*estimate->budget_trials_at_least == 10);
  CHECK(!estimate->trials);
}

TEST_CASE("estimate refuses a request with no plan or no way to price it") {
  EstimateRequest request;
  request.grams_per_kwh = 100;
  CHECK(EstimateSweep(request).status().message().find("--trials") != std::string::npos);
  request.trials = 3;
  CHECK(EstimateSweep(request).status().message().find("--hours-per-trial") != std::string::npos);
}

TEST_CASE("the plan is checked on its own, before anything is measured or priced") {
  EstimateRequest request;  // no intensity, no energy: the plan is all that is looked at.
  CHECK(CheckEstimatePlan(request).message() ==
        "give the number of trials (--trials, or --strategy grid) or a --budget");
  request.trials = 0;
  CHECK(CheckEstimatePlan(request).message() == "--trials must be positive");
  request.trials = 4;
  CHECK(CheckEstimatePlan(request).ok());
  request.trials.reset();
  request.budget_grams_co2e = 50;
  CHECK(CheckEstimatePlan(request).ok());
}

TEST_CASE("estimate --json gives each range as low, typical, high and null for what was not asked") {
  EstimateRequest request;
  request.trials = 3;
  request.grams_per_kwh = 100;
  request.tdp_watts = 300;
  request.hours_per_trial = 1;
  request.tdp_source = "300 W: given with --tdp-watts";
  Result<SweepEstimate> estimate = EstimateSweep(request);
  REQUIRE(estimate.ok());
  nlohmann::json json = EstimateJson(*estimate);
  CHECK(json["estimate_version"] == 1);
  CHECK(json["method"] == "tdp");
  // 300 W x 1 h = 0.3 kWh = 1.08 MJ at 100 g/kWh = 30 g per trial at most.
  CHECK(json["per_trial"]["joules"]["high"].get<double>() == doctest::Approx(1.08e6));
  CHECK(json["per_trial"]["grams_co2e"]["high"].get<double>() == doctest::Approx(30));
  CHECK(json["trials"] == 3);
  CHECK(json["total"]["grams_co2e"]["high"].get<double>() == doctest::Approx(90));
  CHECK(json["budget_trials"].is_null());
  CHECK(json["how"][0].get<std::string>().find("NOT measured") == 0);
}

TEST_CASE("estimate checks PUE the one way run does: [1, 5], NaN refused") {
  for (double pue : {7.0, std::nan("")}) {
    EstimateRequest request;
    request.trials = 3;
    request.grams_per_kwh = 100;
    request.tdp_watts = 300;
    request.hours_per_trial = 1;
    request.pue = pue;
    CHECK(EstimateSweep(request).status().message() == CheckPue(pue).message());
  }
}

}  // namespace
}  // namespace cs
