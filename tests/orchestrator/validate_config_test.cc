// ValidateSweepConfig: what `run` and `resume` refuse before anything is
// written, one line naming the flag and the value.
#include <cmath>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "orchestrator/session.h"

namespace cs {

namespace {

SweepConfig ValidConfig() {
  SweepConfig config;
  config.name = "sweep-a";
  config.budget_grams_co2e = 5;
  return config;
}

// The message ValidateSweepConfig gives for `config`, "" when it passes.
std::string Refusal(const SweepConfig& config) {
  Status status = ValidateSweepConfig(config);
  if (status.ok()) return "";
  CHECK(status.code() == Status::Code::kInvalidArgument);
  CHECK(status.message().find('\n') == std::string::npos);
  return status.message();
}

}  // namespace

TEST_CASE("a sweep name is one path component of printable UTF-8, at most 100 bytes") {
  for (const std::string& bad : std::vector<std::string>{".", "..", "a/b", "/abs", "tab\there", "esc\x1b[2J", "bad-\xff-utf8",
                                "c1-\xc2\x9b-control", std::string(101, 'x')}) {
    SweepConfig config = ValidConfig();
    config.name = bad;
    CHECK_MESSAGE(Refusal(config).rfind("--name", 0) == 0, bad);
  }
  for (const std::string& good : std::vector<std::string>{"sweep-20240101-120000", "lr.sweep..2", "séance-CO₂", std::string(100, 'x')}) {
    SweepConfig config = ValidConfig();
    config.name = good;
    CHECK_MESSAGE(Refusal(config) == "", good);
  }
}

TEST_CASE("carbon numbers are finite and in range: NaN, negatives and 1e308 are refused, not taken as unset") {
  auto refusal_with = [](void (*set)(SweepConfig&)) {
    SweepConfig config = ValidConfig();
    config.max_trials = 3;
    set(config);
    return Refusal(config);
  };
  CHECK(refusal_with([](SweepConfig& c) { c.carbon.intensity_g_per_kwh = std::nan(""); }).rfind("--intensity nan", 0) == 0);
  CHECK(refusal_with([](SweepConfig& c) { c.carbon.intensity_g_per_kwh = -5; }).rfind("--intensity -5", 0) == 0);
  CHECK(refusal_with([](SweepConfig& c) { c.carbon.cpu_watts = std::nan(""); }).rfind("--cpu-watts nan", 0) == 0);
  CHECK(refusal_with([](SweepConfig& c) { c.carbon.cpu_watts = 1e308; }).rfind("--cpu-watts 1e+308", 0) == 0);
  CHECK(refusal_with([](SweepConfig& c) { c.carbon.pue = 7; }).rfind("--pue 7", 0) == 0);
  CHECK(refusal_with([](SweepConfig& c) {
          c.max_intensity_g_per_kwh = std::nan("");
          c.max_delay_seconds = 3600;
        }).rfind("--max-intensity nan", 0) == 0);
  CHECK(refusal_with([](SweepConfig& c) {
          c.max_intensity_g_per_kwh = -5;
          c.max_delay_seconds = 3600;
        }).rfind("--max-intensity -5", 0) == 0);
  CHECK(refusal_with([](SweepConfig& c) { c.total_threads = -1; }).rfind("--threads -1", 0) == 0);
  CHECK(refusal_with([](SweepConfig& c) { c.carbon.intensity_g_per_kwh = 0; }) == "");  // --trials 3 ends it.
  CHECK(refusal_with([](SweepConfig& c) { c.carbon.cpu_watts = 95; }) == "");
}

TEST_CASE("--intensity 0 without --trials is refused: grams stay 0, so the budget would never end the sweep") {
  SweepConfig config = ValidConfig();
  config.carbon.intensity_g_per_kwh = 0;
  std::string refusal = Refusal(config);
  CHECK(refusal.rfind("--intensity 0", 0) == 0);
  CHECK(refusal.find("--trials") != std::string::npos);
}

}  // namespace cs

namespace cs {

TEST_CASE("--gpus and --gpus-per-trial are refused when the devices cannot hold the trials") {
  auto refusal_with = [](std::vector<int> gpus, int per_trial, int parallel) {
    SweepConfig config = ValidConfig();
    config.max_trials = 3;
    config.gpus = std::move(gpus);
    config.gpus_per_trial = per_trial;
    config.parallel = parallel;
    return Refusal(config);
  };
  CHECK(refusal_with({0, 1}, 1, 2) == "");
  CHECK(refusal_with({0, 1, 2, 3}, 2, 2) == "");
  CHECK(refusal_with({}, 1, 1) == "--gpus-per-trial needs --gpus (all or 0,1,...)");
  CHECK(refusal_with({0, 0}, 1, 1) == "--gpus 0,0: a device is named twice");
  CHECK(refusal_with({-1}, 1, 1) == "--gpus: -1 is not a device index");
  CHECK(refusal_with({0, 1}, 3, 1) == "--gpus-per-trial 3: must be 1 to 2 (the devices of --gpus 0,1)");
  CHECK(refusal_with({0, 1, 2}, 2, 2) == "--parallel 2: --gpus 0,1,2 with --gpus-per-trial 2 runs at most 1 trial(s) at once");
  SweepConfig slurm = ValidConfig();
  slurm.max_trials = 1;
  slurm.launcher = LauncherKind::kSlurm;
  slurm.gpus = {0};
  slurm.gpus_per_trial = 1;
  CHECK(Refusal(slurm).rfind("--gpus with --launcher slurm", 0) == 0);
}

}  // namespace cs
