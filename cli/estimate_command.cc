// `carbonsweep estimate`: expected energy and CO2 of a planned sweep before
// anything runs (report/estimate.h).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <sstream>

#include "carbon/intensity.h"
#include "carbon/power_source.h"
#include "cli/carbon_flags.h"
#include "cli/command.h"
#include "cli/task_flags.h"
#include "cli/self_meter.h"
#include "cli/store_access.h"
#include "common/files.h"
#include "common/text.h"
#include "common/units.h"
#include "report/estimate.h"
#include "search_spaces/search_space.h"
#include "search_spaces/strategy.h"
#include "store/sweep_store.h"
#include "trials/dataset.h"
#include "trials/finetune.h"

namespace cs {

namespace po = boost::program_options;

namespace {

// The newest sweep of this host in the store with a finished, measured trial.
std::optional<PerExampleEnergy> CalibrationFromThisHost(const std::string& db) {
  if (!FileExists(db)) return std::nullopt;
  Result<std::unique_ptr<SweepStore>> store = OpenStoreForReading(db);
  if (!store.ok()) return std::nullopt;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  Result<std::vector<SweepSummary>> sweeps = (*store)->ListSweeps();
  if (!sweeps.ok()) return std::nullopt;
  for (auto it = sweeps->rbegin(); it != sweeps->rend(); ++it) {
    if (it->sweep.host != host) continue;
    Result<PerExampleEnergy> calibration = CalibrationFromSweep(store->get(), it->sweep.name);
    if (calibration.ok()) return *calibration;
  }
  return std::nullopt;
}

// Training examples a trial of `space` processes on a task with
// `train_examples`: the mean epochs of the space's first random points x that.
Result<double> PlannedExamplesPerTrial(const SearchSpace& space, int train_examples) {
  StrategyOptions options;
  options.kind = StrategyKind::kRandom;
  Result<std::unique_ptr<Strategy>> strategy = MakeStrategy(space, options);
  if (!strategy.ok()) return strategy.status();
  constexpr int kPoints = 64;
  double epochs = 0;
  int counted = 0;
  for (int k = 0; k < kPoints; ++k) {
    std::optional<nlohmann::json> point = (*strategy)->Point(k);
    if (!point) break;
    epochs += point->contains("epochs") ? (*point)["epochs"].get<double>() : TrialParams{}.epochs;
    ++counted;
  }
  if (counted == 0) return Status::InvalidArgument(space.name + ": no point to estimate");
  return epochs / counted * train_examples;
}

// The task a planned trial trains on (run's task flags) and its size.
struct PlannedTask {
  TaskSpec task;
  int train_examples = 0;         // its fixed size, or what the whole file splits into.
  double examples_per_trial = 0;  // PlannedExamplesPerTrial over the --space.
};

Result<PlannedTask> PlanTaskFromFlags(const po::variables_map& vm) {
  PlannedTask planned;
  Result<SearchSpace> space = LoadSearchSpace(vm["space"].as<std::string>());
  if (!space.ok()) return space.status().WithPrefix("--space");
  Result<TaskSpec> task = TaskSpecFromFlags(vm);
  if (!task.ok()) return task.status();
  planned.task = *task;
  if (task->size == DataSize::kFixed) {
    planned.train_examples = task->train_size;
  } else {
    Result<TaskSplit> split = LoadTask(*task);
    if (!split.ok()) return split.status().WithPrefix("--task");
    planned.train_examples = static_cast<int>(split->train.size());
  }
  Result<double> examples = PlannedExamplesPerTrial(*space, planned.train_examples);
  if (!examples.ok()) return examples.status();
  planned.examples_per_trial = *examples;
  return planned;
}

// The live calibration: one epoch of a few hundred examples of the planned
// task (`run`'s task flags) from the bundled backbone, metered like a trial
// (about 10 s here).
// Low charges only the training steps to the examples, high charges the
// whole run (start-up, data loading, evaluation): a real trial lies between.
Result<PerExampleEnergy> CalibrateOnThisMachine(const IntensityOptions& intensity, double pue,
                                                const PlannedTask& planned) {
  const TaskSpec& task = planned.task;
  // A few hundred examples of the task, or all of a smaller one.
  const int kTrainExamples = std::min(512, planned.train_examples);
  Result<std::unique_ptr<SelfEnergyMeter>> meter = StartSelfMeter(intensity, pue, 0.5);
  if (!meter.ok()) return meter.status();
  TrialOptions trial;
  trial.params.epochs = 1;
  trial.task = task;
  if (task.size == DataSize::kFixed) {
    trial.task.train_size = kTrainExamples;
    trial.task.val_size = std::min(128, task.val_size);
    trial.task.test_size = std::min(128, task.test_size);
  }
  trial.verbosity = Verbosity::kQuiet;
  // One thread: a busy machine (another sweep, a build) does not distort a
  // one-thread trial's CPU time, while OpenMP threads spin-waiting for a core
  // can cost several times the work itself.
  trial.threads = 1;
  std::ostringstream events, progress;
  Result<nlohmann::json> result = RunTrial(trial, events, progress);
  if (!result.ok()) return result.status().WithPrefix("the calibration trial");
  const double joules = (*meter)->Read().joules * pue;
  const double seconds = result->value("process_seconds", 0.0);
  double train_seconds = 0;
  for (const nlohmann::json& epoch : result->value("epochs", nlohmann::json::array())) {
    train_seconds += epoch.value("train_seconds", 0.0);
  }
  if (joules <= 0 || seconds <= 0 || train_seconds <= 0) {
    return Status::Internal("the calibration trial measured no energy or time");
  }
  PerExampleEnergy energy;
  energy.high_joules = joules / kTrainExamples;
  energy.low_joules = energy.high_joules * std::min(1.0, train_seconds / seconds);
  energy.typical_joules = std::sqrt(energy.low_joules * energy.high_joules);
  energy.samples = 1;
  energy.examples_per_trial = planned.examples_per_trial;
  energy.pue = pue;
  energy.source = StringPrintf(
                "live calibration on this machine: 1 epoch of %d examples of %s from the bundled backbone (1 thread), "
                "%.0f J in "
                "%.1f s (%.1f s of training steps); low counts the training steps alone, high the whole run",
                kTrainExamples, task.task.c_str(), joules, seconds, train_seconds);
  return energy;
}

// "700 W: 1 x H200 (TDP from ...)".
std::string TdpSource(double watts, const std::string& what) {
  return StringPrintf("%.0f W: ", watts) + what;
}

}  // namespace

int RunEstimateCommand(const std::vector<std::string>& args) {
  po::options_description options("estimate options");
  options.add_options()("space", po::value<std::string>()->default_value(kDefaultSearchSpace),
                        "search space: built-in name or file")(
      "strategy", po::value<std::string>()->default_value("random"), "random | grid (a grid sets --trials)")(
      "grid-points", po::value<int>()->default_value(3), "grid: points per continuous dimension")(
      "trials", po::value<int64_t>(), "planned number of trials")(
      "budget", po::value<std::string>(), "CO2 budget, e.g. 50g or 0.2kg: how many trials it buys")(
      "calibration", po::value<std::string>()->default_value(""),
      "measured energy: a sweep name in --db, or a calibration JSON file")(
      "calibrate", "measure now: one short trial on this machine (the default when nothing was measured before)")(
      "db", po::value<std::string>()->default_value("carbonsweep.db"), "the store with earlier sweeps")(
      "examples-per-trial", po::value<double>()->default_value(0),
      "training examples one planned trial processes (default: as in the calibration)")(
      "gpu", po::value<std::string>()->default_value(""), "no calibration: GPU model for its TDP, e.g. \"A100 PCIe\"")(
      "gpus", po::value<int>()->default_value(1), "no calibration: number of such GPUs")(
      "tdp-watts", po::value<double>(), "no calibration: the hardware's summed TDP in watts")(
      "hours-per-trial", po::value<double>()->default_value(0), "no calibration: hours one trial runs")(
      "json", po::bool_switch(), "JSON instead of the table (docs/report-json.md)");
  AddCarbonFlags(&options, kGridFlags);
  AddTaskFlags(&options);
  po::variables_map vm;
  int exit_code = 0;
  if (!ParseCommandLine("estimate",
                        "[--space S --strategy random|grid --trials N | --budget X] [--task T --train-size N ...] "
                        "[--region R | --intensity G] "
                        "[--calibration SWEEP|FILE | --gpu NAME --hours-per-trial H] [--json]",
                        options, nullptr, args, &vm, &exit_code)) {
    return exit_code;
  }
  // --calibrate asks for a fresh measurement; silently preferring a file, a
  // sweep or TDP figures given beside it would hide which one was used.
  if (vm.count("calibrate")) {
    for (const char* other : {"calibration", "gpu"}) {
      if (!vm[other].as<std::string>().empty()) {
        return ReportError("estimate", ExitCode::kBadInput, std::string("--calibrate and --") + other + " exclude each other");
      }
    }
    if (vm.count("tdp-watts")) return ReportError("estimate", ExitCode::kBadInput, "--calibrate and --tdp-watts exclude each other");
  }
  for (Status range : {CheckFlagRange(vm, "grid-points", 1, 100, "points per dimension"),
                       CheckFlagRange(vm, "trials", 1, 1e9, "trials"),
                       CheckFlagRange(vm, "examples-per-trial", 0, 1e12, "0: as in the calibration"),
                       CheckFlagRange(vm, "gpus", 1, 1024, "GPUs"),
                       CheckFlagRange(vm, "tdp-watts", 1, 1e6, "W"),
                       CheckFlagRange(vm, "hours-per-trial", 0, 1e4, "hours")}) {
    if (!range.ok()) return ReportError("estimate", range);
  }
  Result<CarbonFlags> carbon = CarbonFlagsFromFlags(vm);
  if (!carbon.ok()) return ReportError("estimate", carbon.status());
  EstimateRequest request;
  request.pue = carbon->pue;
  request.examples_per_trial = vm["examples-per-trial"].as<double>();
  if (vm.count("trials")) request.trials = vm["trials"].as<int64_t>();
  if (vm.count("budget")) {
    Result<double> grams = ParseGramsCo2e(vm["budget"].as<std::string>());
    if (!grams.ok()) return ReportError("estimate", grams.status().WithPrefix("--budget"));
    request.budget_grams_co2e = *grams;
  }

  // A grid's size is its number of trials.
  Result<StrategyKind> kind = ParseStrategyKind(vm["strategy"].as<std::string>());
  if (!kind.ok()) return ReportError("estimate", kind.status().WithPrefix("--strategy"));
  if (*kind == StrategyKind::kGrid && !request.trials) {
    Result<SearchSpace> space = LoadSearchSpace(vm["space"].as<std::string>());
    if (!space.ok()) return ReportError("estimate", space.status().WithPrefix("--space"));
    StrategyOptions strategy_options;
    strategy_options.kind = StrategyKind::kGrid;
    strategy_options.grid_points_per_dimension = vm["grid-points"].as<int>();
    Result<std::unique_ptr<Strategy>> strategy = MakeStrategy(*space, strategy_options);
    if (!strategy.ok()) return ReportError("estimate", strategy.status());
    request.trials = (*strategy)->GridSize();
  }
  // Before the calibration trial (about 10 s): a request that plans nothing fails now.
  Status plan = CheckEstimatePlan(request);
  if (!plan.ok()) return ReportError("estimate", plan);

  const IntensityOptions& intensity_options = carbon->intensity;
  Result<std::shared_ptr<const IntensityProvider>> intensity = MakeIntensityProvider(intensity_options);
  if (!intensity.ok()) return ReportError("estimate", intensity.status());
  request.grams_per_kwh = (*intensity)->GramsPerKwhAt(static_cast<double>(std::time(nullptr)));
  nlohmann::json described = (*intensity)->Describe();
  request.intensity_source = described.value("source", std::string("unknown source"));
  if (described.contains("region") && described["region"].is_string() && !described["region"].get<std::string>().empty()) {
    request.intensity_source = described["region"].get<std::string>() + ", " + request.intensity_source;
  }
  request.intensity_assumed = described.value("assumed", false);

  // A task named on purpose sets the planned trial's size, whatever the
  // calibration measured (a per-example figure carries over between tasks).
  const bool task_named = !vm["task"].defaulted() || vm.count("train-size") || vm.count("data-size");
  if (task_named && request.examples_per_trial == 0) {
    Result<PlannedTask> planned = PlanTaskFromFlags(vm);
    if (!planned.ok()) return ReportError("estimate", planned.status());
    request.examples_per_trial = planned->examples_per_trial;
  }

  // Measured energy first: the named calibration, else this host's last sweep
  // (unless TDP figures were given on purpose); TDP otherwise.
  const std::string& calibration = vm["calibration"].as<std::string>();
  bool tdp_given = vm.count("tdp-watts") > 0 || !vm["gpu"].as<std::string>().empty();
  if (!calibration.empty()) {
    Result<PerExampleEnergy> measured = Status::Ok();
    if (FileExists(calibration)) {
      measured = CalibrationFromFile(calibration);
    } else {
      Result<std::unique_ptr<SweepStore>> store = OpenStoreForReading(vm["db"].as<std::string>());
      if (!store.ok()) return ReportError("estimate", store.status());
      measured = CalibrationFromSweep(store->get(), calibration);
    }
    if (!measured.ok()) return ReportError("estimate", measured.status());
    request.measured = *measured;
  } else if (!tdp_given) {
    if (!vm.count("calibrate")) request.measured = CalibrationFromThisHost(vm["db"].as<std::string>());
    if (!request.measured) {
      Result<PlannedTask> planned = PlanTaskFromFlags(vm);
      if (!planned.ok()) return ReportError("estimate", planned.status());
      std::cerr << "estimate: nothing measured on this machine yet; running a short calibration trial on "
                << planned->task.task << "...\n";
      Result<PerExampleEnergy> measured = CalibrateOnThisMachine(intensity_options, request.pue, *planned);
      if (!measured.ok()) return ReportError("estimate", measured.status());
      request.measured = *measured;
    }
  }
  if (!request.measured) {
    int gpus = vm["gpus"].as<int>();
    if (vm.count("tdp-watts")) {
      request.tdp_watts = vm["tdp-watts"].as<double>();
      request.tdp_source = TdpSource(request.tdp_watts, "given with --tdp-watts");
    } else if (!vm["gpu"].as<std::string>().empty()) {
      Result<double> watts = LookUpGpuTdpWatts(vm["gpu"].as<std::string>());
      if (!watts.ok()) return ReportError("estimate", watts.status().WithPrefix("--gpu"));
      request.tdp_watts = *watts * gpus;
      request.tdp_source = TdpSource(request.tdp_watts, std::to_string(gpus) + " x " + vm["gpu"].as<std::string>() +
                                                                  " (TDP from mlco2/impact gpus.csv)");
    }
    request.hours_per_trial = vm["hours-per-trial"].as<double>();
  }
  Result<SweepEstimate> estimate = EstimateSweep(request);
  if (!estimate.ok()) return ReportError("estimate", estimate.status());
  if (vm["json"].as<bool>()) {
    std::cout << EstimateJson(*estimate).dump(2) << "\n";
  } else {
    std::cout << RenderEstimate(*estimate) << std::flush;
  }
  return static_cast<int>(ExitCode::kOk);
}

}  // namespace cs
