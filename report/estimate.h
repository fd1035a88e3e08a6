// Pre-flight estimate of a planned sweep's energy and CO2
// (`carbonsweep estimate`): from MEASURED energy per training example (the
// finished trials of a previous sweep on this machine, a calibration file,
// or a live few-step calibration trial the caller ran), or, without one,
// from hardware TDP x hours x grid intensity as the ML CO2 impact
// calculator does. Always says which, and gives a range, not one number.
//
// Callers: cli/estimate_command.cc, tests. Pure functions except the two
// calibration loaders (which read the store or a file); any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "store/sweep_store.h"

namespace cs {

// Measured energy of training, per example processed (facility joules, PUE
// included as the store keeps them).
struct PerExampleEnergy {
  double low_joules = 0;      // the cheapest calibration trial.
  double typical_joules = 0;  // median.
  double high_joules = 0;     // the most expensive.
  int samples = 0;            // calibration trials (or runs) behind the figures.
  // Mean training examples per calibration trial (epochs x training set), 0 if unknown.
  double examples_per_trial = 0;
  double pue = 1.0;           // the PUE already inside the joules.
  std::string source;         // one line: where the figures come from.
};

// From the finished trials (joules > 0, examples > 0) of sweep `name`.
// NotFound when the sweep is unknown; InvalidArgument when it has no such trial.
Result<PerExampleEnergy> CalibrationFromSweep(SweepStore* store, const std::string& name);
// From a JSON file: {"joules_per_example": x} or {"joules": J, "examples": N}
// (a single measurement), or {"trials": [{"joules": J, "examples": N}, ...]};
// optional "pue" and "source". Errors name the file and field.
Result<PerExampleEnergy> CalibrationFromFile(const std::string& path);
// From joules and examples of a few measured steps (a live calibration
// trial run by the caller): one sample, low = typical = high.
PerExampleEnergy CalibrationFromMeasurement(double joules, double examples, double pue, const std::string& source);

struct EstimateRequest {
  // How much is planned: a number of trials, or a budget to spend (or both:
  // then the estimate also says whether the trials fit the budget).
  std::optional<int64_t> trials;
  std::optional<double> budget_grams_co2e;
  // Grid intensity to use, with where it comes from.
  double grams_per_kwh = 0;
  std::string intensity_source;
  bool intensity_assumed = false;  // the world-average default: say so.
  double pue = 1.0;                // data-centre overhead for the planned sweep.
  // Measured path: per-example energy and planned training examples per
  // trial (0: the calibration's own examples_per_trial).
  std::optional<PerExampleEnergy> measured;
  double examples_per_trial = 0;
  // TDP path (no measurement): the devices' summed TDP and hours per trial.
  double tdp_watts = 0;
  std::string tdp_source;  // "NVIDIA H200: 700 W (mlco2/impact gpus.csv)".
  double hours_per_trial = 0;
};

struct SweepEstimate {
  enum class Method { kMeasured = 0, kTdp = 1 } method = Method::kMeasured;
  // Per trial and for the planned trials, low / typical / high.
  double trial_joules[3] = {0, 0, 0};
  double trial_grams_co2e[3] = {0, 0, 0};
  std::optional<int64_t> trials;
  double total_joules[3] = {0, 0, 0};
  double total_grams_co2e[3] = {0, 0, 0};
  // With a budget: trials it buys at the high and the low per-trial figure.
  std::optional<int64_t> budget_trials_at_least;
  std::optional<int64_t> budget_trials_at_most;
  // How the figures were obtained, one line each (printed as is).
  std::vector<std::string> how;
};

// InvalidArgument when the request plans nothing (no trials and no budget)
// or a trial count below 1. Cheap: `estimate` checks it before it measures
// anything (the live calibration takes about 10 s).
Status CheckEstimatePlan(const EstimateRequest& request);

// InvalidArgument naming the missing input (neither a measurement nor TDP
// and hours; no trials and no budget; a non-positive intensity).
Result<SweepEstimate> EstimateSweep(const EstimateRequest& request);

std::string RenderEstimate(const SweepEstimate& estimate);
// `estimate --json` (docs/report-json.md, "estimate --json"): method,
// per-trial and total joules and grams as {low, typical, high}, the trials
// a budget buys, and how the figures were obtained.
nlohmann::json EstimateJson(const SweepEstimate& estimate);

}  // namespace cs
