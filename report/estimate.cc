#include "report/estimate.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "carbon/power_source.h"
#include "common/files.h"
#include "common/json.h"
#include "common/units.h"
#include "report/text_table.h"

namespace cs {
namespace {

// codecarbon's constant mode assumes a CPU draws half its TDP
// (CONSUMPTION_PERCENTAGE_CONSTANT = 0.5, codecarbon/core/cpu.py); the ML
// CO2 impact calculator assumes 100 %. Those two bracket the TDP estimate.
constexpr double kTdpLowShare = 0.5;

PerExampleEnergy FromPerExample(std::vector<double> joules_per_example, double examples_per_trial, double pue,
                                std::string source) {
  std::sort(joules_per_example.begin(), joules_per_example.end());
  PerExampleEnergy out;
  out.low_joules = joules_per_example.front();
  out.high_joules = joules_per_example.back();
  size_t n = joules_per_example.size();
  out.typical_joules = n % 2 == 1 ? joules_per_example[n / 2]
                                  : (joules_per_example[n / 2 - 1] + joules_per_example[n / 2]) / 2;
  out.samples = static_cast<int>(n);
  out.examples_per_trial = examples_per_trial;
  out.pue = pue;
  out.source = std::move(source);
  return out;
}

}  // namespace

Result<PerExampleEnergy> CalibrationFromSweep(SweepStore* store, const std::string& name) {
  Result<SweepRecord> sweep = store->GetSweep(name);
  if (!sweep.ok()) return sweep.status();
  Result<std::vector<TrialRecord>> trials = store->ListTrials(sweep->id);
  if (!trials.ok()) return trials.status();
  std::vector<double> per_example;
  double examples = 0;
  for (const TrialRecord& trial : *trials) {
    if (trial.state != TrialState::kFinished || trial.examples <= 0 || trial.energy.joules <= 0) continue;
    per_example.push_back(trial.energy.joules / static_cast<double>(trial.examples));
    examples += static_cast<double>(trial.examples);
  }
  if (per_example.empty()) {
    return Status::InvalidArgument(store->path() + ": sweep '" + name +
                                   "' has no finished trial with measured energy and examples to calibrate from");
  }
  return FromPerExample(per_example, examples / per_example.size(), sweep->pue,
                        StringPrintf("measured: %zu finished trials of sweep '%s' (host %s)", per_example.size(),
                                     name.c_str(), sweep->host.c_str()));
}

Result<PerExampleEnergy> CalibrationFromFile(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  nlohmann::json json = ParseJsonOrDiscarded(*text);
  if (json.is_discarded() || !json.is_object()) return Status::InvalidArgument(path + ": not a JSON object");
  auto number = [&](const nlohmann::json& object, const char* key, const std::string& where) -> Result<double> {
    if (!object.contains(key) || !object[key].is_number() || !(object[key].get<double>() > 0)) {
      return Status::InvalidArgument(path + ": " + where + key + " must be a positive number");
    }
    return object[key].get<double>();
  };
  std::vector<double> per_example;
  double examples_total = 0;
  if (json.contains("joules_per_example")) {
    Result<double> value = number(json, "joules_per_example", "");
    if (!value.ok()) return value.status();
    per_example.push_back(*value);
  } else if (json.contains("trials")) {
    if (!json["trials"].is_array() || json["trials"].empty()) {
      return Status::InvalidArgument(path + ": trials must be a non-empty array");
    }
    for (size_t i = 0; i < json["trials"].size(); ++i) {
      std::string where = "trials[" + std::to_string(i) + "].";
      Result<double> joules = number(json["trials"][i], "joules", where);
      if (!joules.ok()) return joules.status();
      Result<double> examples = number(json["trials"][i], "examples", where);
      if (!examples.ok()) return examples.status();
      per_example.push_back(*joules / *examples);
      examples_total += *examples;
    }
  } else {
    Result<double> joules = number(json, "joules", "");
    if (!joules.ok()) return joules.status();
    Result<double> examples = number(json, "examples", "");
    if (!examples.ok()) return examples.status();
    per_example.push_back(*joules / *examples);
    examples_total = *examples;
  }
  double pue = json.contains("pue") && json["pue"].is_number() ? json["pue"].get<double>() : 1.0;
  std::string source = json.value("source", std::string("calibration file"));
  return FromPerExample(per_example, examples_total / per_example.size(), pue, "measured: " + source + " (" + path + ")");
}

PerExampleEnergy CalibrationFromMeasurement(double joules, double examples, double pue, const std::string& source) {
  return FromPerExample({examples > 0 ? joules / examples : 0}, examples, pue, source);
}

Status CheckEstimatePlan(const EstimateRequest& request) {
  if (!request.trials && !request.budget_grams_co2e) {
    return Status::InvalidArgument("give the number of trials (--trials, or --strategy grid) or a --budget");
  }
  if (request.trials && *request.trials <= 0) return Status::InvalidArgument("--trials must be positive");
  return Status::Ok();
}

Result<SweepEstimate> EstimateSweep(const EstimateRequest& request) {
  CS_RETURN_IF_ERROR(CheckEstimatePlan(request));
  if (!(request.grams_per_kwh > 0)) return Status::InvalidArgument("estimate: the grid intensity must be positive");
  CS_RETURN_IF_ERROR(CheckPue(request.pue));
  SweepEstimate estimate;
  if (request.measured) {
    const PerExampleEnergy& m = *request.measured;
    double examples = request.examples_per_trial > 0 ? request.examples_per_trial : m.examples_per_trial;
    if (!(examples > 0)) {
      return Status::InvalidArgument("estimate: the calibration does not say how many examples a trial trains on; "
                                     "give --examples-per-trial");
    }
    // The calibration's joules include its own PUE; re-base them on the planned one.
    double scale = examples * request.pue / m.pue;
    double per_example[3] = {m.low_joules, m.typical_joules, m.high_joules};
    for (int i = 0; i < 3; ++i) estimate.trial_joules[i] = per_example[i] * scale;
    estimate.method = SweepEstimate::Method::kMeasured;
    estimate.how.push_back(m.source);
    estimate.how.push_back(StringPrintf("%.3g / %.3g / %.3g J per training example (lowest / median / highest of %d), "
                                        "x %.0f examples per trial%s",
                                        m.low_joules, m.typical_joules, m.high_joules, m.samples, examples,
                                        request.examples_per_trial > 0 ? "" : " (as in the calibration)"));
  } else {
    if (!(request.tdp_watts > 0) || !(request.hours_per_trial > 0)) {
      return Status::InvalidArgument("estimate: no calibration: give the hardware (--gpu/--tdp-watts) and "
                                     "--hours-per-trial for a TDP estimate, or --calibration");
    }
    double high = KwhToJoules(request.tdp_watts * request.hours_per_trial / 1000) * request.pue;
    estimate.trial_joules[0] = high * kTdpLowShare;
    estimate.trial_joules[1] = high * (1 + kTdpLowShare) / 2;
    estimate.trial_joules[2] = high;
    estimate.method = SweepEstimate::Method::kTdp;
    estimate.how.push_back("NOT measured: TDP x hours x intensity, as the ML CO2 impact calculator (Lacoste et al. 2019)");
    estimate.how.push_back(request.tdp_source + StringPrintf(", %.3g h per trial", request.hours_per_trial));
    estimate.how.push_back("range: 50 % of TDP (codecarbon's constant-mode assumption) to 100 % (the calculator's)");
  }
  estimate.how.push_back(StringPrintf("PUE %.2f; %.0f gCO2e/kWh from ", request.pue, request.grams_per_kwh) +
                         request.intensity_source +
                         (request.intensity_assumed ? " — ASSUMED world average, no region given" : ""));
  for (int i = 0; i < 3; ++i) estimate.trial_grams_co2e[i] = GramsCo2e(estimate.trial_joules[i], request.grams_per_kwh);
  if (request.trials) {
    estimate.trials = request.trials;
    for (int i = 0; i < 3; ++i) {
      estimate.total_joules[i] = estimate.trial_joules[i] * *request.trials;
      estimate.total_grams_co2e[i] = estimate.trial_grams_co2e[i] * *request.trials;
    }
  }
  if (request.budget_grams_co2e) {
    double budget = *request.budget_grams_co2e;
    if (estimate.trial_grams_co2e[2] > 0) {
      estimate.budget_trials_at_least = static_cast<int64_t>(std::floor(budget / estimate.trial_grams_co2e[2]));
    }
    if (estimate.trial_grams_co2e[0] > 0) {
      estimate.budget_trials_at_most = static_cast<int64_t>(std::floor(budget / estimate.trial_grams_co2e[0]));
    }
    estimate.how.push_back("budget " + FormatGrams(budget) + " CO2e");
  }
  return estimate;
}

std::string RenderEstimate(const SweepEstimate& estimate) {
  std::string out = estimate.method == SweepEstimate::Method::kMeasured ? "Estimate from measured energy\n"
                                                                        : "Estimate from hardware TDP (not measured)\n";
  TextTable table({{""}, {"low", TextTable::Align::kRight}, {"typical", TextTable::Align::kRight},
                   {"high", TextTable::Align::kRight}});
  auto row = [&](const std::string& name, const double* joules, const double* grams) {
    table.AddRow({name + " energy", FormatJoules(joules[0]), FormatJoules(joules[1]), FormatJoules(joules[2])});
    table.AddRow({name + " CO2e", FormatGrams(grams[0]), FormatGrams(grams[1]), FormatGrams(grams[2])});
  };
  row("per trial", estimate.trial_joules, estimate.trial_grams_co2e);
  if (estimate.trials) {
    row(StringPrintf("%lld trials", static_cast<long long>(*estimate.trials)), estimate.total_joules,
        estimate.total_grams_co2e);
  }
  out += table.Render();
  if (estimate.budget_trials_at_least && estimate.budget_trials_at_most) {
    out += StringPrintf("  the budget buys %lld to %lld trials\n", static_cast<long long>(*estimate.budget_trials_at_least),
                        static_cast<long long>(*estimate.budget_trials_at_most));
  }
  out += "How:\n";
  for (const std::string& line : estimate.how) out += "  " + line + "\n";
  return out;
}

nlohmann::json EstimateJson(const SweepEstimate& estimate) {
  auto range = [](const double* values) {
    return nlohmann::json{{"low", values[0]}, {"typical", values[1]}, {"high", values[2]}};
  };
  nlohmann::json json = {
      {"estimate_version", 1},
      {"method", estimate.method == SweepEstimate::Method::kMeasured ? "measured" : "tdp"},
      {"per_trial", {{"joules", range(estimate.trial_joules)}, {"grams_co2e", range(estimate.trial_grams_co2e)}}},
      {"how", estimate.how}};
  json["trials"] = estimate.trials ? nlohmann::json(*estimate.trials) : nullptr;
  json["total"] = estimate.trials ? nlohmann::json{{"joules", range(estimate.total_joules)},
                                                   {"grams_co2e", range(estimate.total_grams_co2e)}}
                                  : nlohmann::json(nullptr);
  json["budget_trials"] = estimate.budget_trials_at_least && estimate.budget_trials_at_most
                              ? nlohmann::json{{"at_least", *estimate.budget_trials_at_least},
                                               {"at_most", *estimate.budget_trials_at_most}}
                              : nlohmann::json(nullptr);
  return json;
}

}  // namespace cs
