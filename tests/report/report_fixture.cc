#include "tests/report/report_fixture.h"

#include <doctest/doctest.h>

#include <optional>
#include <vector>

namespace cs::testing {
namespace {

constexpr double kGramsPerKwh = 1000;

SweepRecord Sweep(const std::string& name, const std::string& strategy, const std::string& region,
                  const std::string& task, const std::string& checksum) {
  SweepRecord sweep;
  sweep.name = name;
  sweep.created_at_unix = kFixtureT0;
  sweep.host = "testhost";
  sweep.strategy = strategy;
  sweep.seed = 7;
  sweep.budget_grams_co2e = 50;
  sweep.region = region;
  sweep.intensity_g_per_kwh = kGramsPerKwh;
  sweep.intensity_source = "test fixture";
  sweep.intensity_year = 2024;
  sweep.pue = 1.0;
  sweep.power_json =
      R"({"machine":{"cpu_model":"Test CPU 9000","logical_threads":8,"ram_gb":32},"gpus":[{"name":"NVIDIA H200"}],)"
      R"("notes":["gpu: nvml energy counter","cpu: rapl package"]})";
  sweep.task_json = R"({"task":")" + task + R"(","data_sha256":")" + checksum + R"("})";
  sweep.task_checksum = checksum;
  sweep.space_json =
      R"({"name":"test-space","source":"Devlin et al. 2019","dimensions":[{"name":"learning_rate","type":)"
      R"("log-uniform","range":[1e-4,3e-3],"source":"BERT A.3"}]})";
  sweep.config_json = R"({"carbon":{"region":")" + region + R"(","intensity_g_per_kwh":-1,"intensity_file":""},)"
                      R"("task":{"task":")" + task + R"(","backbone":"","from_scratch":)" +
                      (strategy == "grid" ? "false" : "true") + "}}";
  if (strategy == "grid") sweep.grid_order_json = "[3,1,0,2,5,4]";
  return sweep;
}

struct TrialSpec {
  int64_t index;
  TrialState state;
  std::optional<double> accuracy;
  double joules;  // GPU 3/4, CPU 1/4
  double start, end;  // seconds after kFixtureT0; start < 0: never ran.
  double learning_rate;
};

void AddTrials(SweepStore* store, int64_t sweep_id, const std::vector<TrialSpec>& specs) {
  for (const TrialSpec& spec : specs) {
    NewTrial trial;
    trial.sweep_id = sweep_id;
    trial.index = spec.index;
    trial.params_json = R"({"learning_rate":)" + std::to_string(spec.learning_rate) + R"(,"batch_size":32})";
    trial.state = spec.state == TrialState::kSkippedBudget ? TrialState::kSkippedBudget : TrialState::kReserved;
    if (spec.state == TrialState::kSkippedBudget) trial.reason = "predicted 30 g did not fit the 3 g left";
    Result<int64_t> id = store->InsertTrial(trial, kFixtureT0 + spec.start);
    REQUIRE(id.ok());
    if (spec.start < 0) continue;
    REQUIRE(store->MarkTrialRunning(*id, TrialLaunch{4242, "", "/tmp/w"}, kFixtureT0 + spec.start).ok());
    double seconds = spec.end - spec.start;
    std::vector<PowerSampleRow> rows;
    for (const auto& [component, method, share] :
         std::vector<std::tuple<std::string, std::string, double>>{{"gpu", "nvml-energy", 0.75}, {"cpu", "rapl", 0.25}}) {
      PowerSampleRow row;
      row.sweep_id = sweep_id;
      row.trial_id = *id;
      row.unix_seconds = kFixtureT0 + spec.end;
      row.interval_seconds = seconds;
      row.component = component;
      row.method = method;
      row.joules = spec.joules * share;
      row.watts = row.joules / seconds;
      row.grams_co2e = row.joules / 3600;
      row.intensity_g_per_kwh = kGramsPerKwh;
      rows.push_back(row);
    }
    REQUIRE(store->AppendPowerSamples(rows).ok());
    if (spec.accuracy) {
      EpochRecord epoch;
      epoch.trial_id = *id;
      epoch.epoch = 1;
      epoch.val_accuracy = *spec.accuracy;
      epoch.metric = *spec.accuracy;  // the sweep ranks by val_accuracy (the default objective).
      epoch.examples = 1000;
      epoch.seconds = seconds;
      epoch.recorded_at_unix = kFixtureT0 + spec.end;
      REQUIRE(store->RecordEpoch(epoch).ok());
    }
    TrialOutcome outcome;
    outcome.state = spec.state;
    outcome.val_accuracy = spec.accuracy;
    outcome.metric = spec.accuracy;
    outcome.test_accuracy = spec.accuracy ? std::optional<double>(*spec.accuracy - 0.01) : std::nullopt;
    outcome.best_epoch = spec.accuracy ? std::optional<int>(1) : std::nullopt;
    outcome.seconds = seconds;
    outcome.examples = 1000;
    if (spec.state == TrialState::kFailed) {
      outcome.exit_status = 1;
      outcome.reason = "exit status 1: out of memory, \"CUDA\"";
    }
    REQUIRE(store->FinishTrial(*id, outcome, kFixtureT0 + spec.end).ok());
  }
}

int64_t Create(SweepStore* store, const SweepRecord& sweep) {
  Result<int64_t> id = store->CreateSweep(sweep);
  REQUIRE(id.ok());
  return *id;
}

}  // namespace

std::unique_ptr<SweepStore> BuildFixtureStore(const std::string& path) {
  Result<std::unique_ptr<SweepStore>> opened = SweepStore::Open(path, StoreOptions{});
  REQUIRE(opened.ok());
  SweepStore* store = opened->get();

  int64_t a = Create(store, Sweep("random-a", "random", "aws:ap-south-1", "imdb", "abc"));
  AddTrials(store, a,
            {{0, TrialState::kFinished, 0.800, 36000, 0, 100, 1e-4},
             {1, TrialState::kFailed, std::nullopt, 18000, 100, 150, 3e-3},
             {2, TrialState::kFinished, 0.880, 36000, 150, 250, 3e-4},
             {3, TrialState::kInterrupted, std::nullopt, 7200, 250, 270, 1e-3},
             {4, TrialState::kSkippedBudget, std::nullopt, 0, -1, -1, 2e-3}});
  PowerSampleRow idle;
  idle.sweep_id = a;
  idle.unix_seconds = kFixtureT0 + 270;
  idle.interval_seconds = 270;
  idle.component = "cpu";
  idle.method = "rapl";
  idle.joules = 3600;
  idle.watts = 3600.0 / 270;
  idle.grams_co2e = 1;
  idle.intensity_g_per_kwh = kGramsPerKwh;
  REQUIRE(store->AppendPowerSamples({idle}).ok());
  REQUIRE(store->SetSweepState(a, SweepState::kBudgetSpent, kFixtureT0 + 270).ok());

  int64_t b = Create(store, Sweep("grid-b", "grid", "FRA", "imdb", "abc"));
  AddTrials(store, b,
            {{0, TrialState::kFinished, 0.850, 72000, 0, 200, 1e-4},
             {1, TrialState::kFinished, 0.884, 36000, 200, 300, 3e-4},
             {2, TrialState::kDiverged, std::nullopt, 3600, 300, 310, 3e-3}});

  Create(store, Sweep("empty", "random", "FRA", "imdb", "abc"));
  int64_t other = Create(store, Sweep("other-task", "random", "FRA", "sst2", "xyz"));
  AddTrials(store, other, {{0, TrialState::kFinished, 0.9, 3600, 0, 10, 1e-4}});
  int64_t world = Create(store, Sweep("world", "random", "", "imdb", "abc"));
  AddTrials(store, world, {{0, TrialState::kFinished, 0.7, 3600, 0, 10, 1e-4}});

  BaselineRecord baseline;
  baseline.task_json = R"({"task":"imdb"})";
  baseline.task_checksum = "abc";
  baseline.method = "linear-bow";
  baseline.val_accuracy = 0.780;
  baseline.test_accuracy = 0.775;
  baseline.seconds = 12;
  baseline.joules = 1800;
  baseline.grams_co2e = 0.5;
  baseline.created_at_unix = kFixtureT0;
  REQUIRE(store->InsertBaseline(baseline).ok());
  return std::move(*opened);
}

SweepReport LoadFixtureReport(SweepStore* store, const std::string& name) {
  Result<SweepReport> report = LoadSweepReport(store, name, ReportOptions{});
  INFO(report.status().ToString());
  REQUIRE(report.ok());
  return std::move(*report);
}

}  // namespace cs::testing
