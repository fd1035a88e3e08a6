// `carbonsweep run`: a new hyperparameter sweep under a CO2 budget
// (orchestrator/session.h does the work; this file maps flags to SweepConfig).
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>

#include "carbon/power_source.h"
#include "cli/carbon_flags.h"
#include "cli/command.h"
#include "cli/sweep_session.h"
#include "cli/task_flags.h"
#include "cli/trial_check.h"
#include "common/files.h"
#include "common/units.h"
#include "orchestrator/capacity.h"
#include "orchestrator/session.h"
#include "trials/dataset.h"

namespace cs {

namespace po = boost::program_options;

namespace {

std::string DefaultSweepName() {
  std::time_t now = std::time(nullptr);
  char text[64];
  std::strftime(text, sizeof text, "sweep-%Y%m%d-%H%M%S", std::localtime(&now));
  return text;
}

// What the sweep tells every trial about its data, and the data checksum that
// compare and baselines match on, both from the spec `trial` and `baseline`
// build from the same flags (cli/task_flags.h): the sweep's trials read
// exactly their split. The backbone fields are set by the caller.
TaskOptions SweepTaskOptions(const TaskSpec& spec) {
  const TaskSpec defaults = DefaultTaskSpec(spec.task);
  TaskOptions options;
  options.task = spec.task;
  if (spec.text_column != defaults.text_column) options.text_column = spec.text_column;
  if (spec.label_column != defaults.label_column) options.label_column = spec.label_column;
  if (spec.size == DataSize::kFull) {
    options.full_data = true;
  } else {
    options.train_size = spec.train_size;
    options.val_size = spec.val_size;
    options.test_size = spec.test_size;
  }
  options.data_seed = spec.data_seed;
  options.data_checksum = TaskSpecChecksum(spec);
  return options;
}

// --gpus none | all | 0,1,...: "all" asks NVML how many there are.
Result<std::vector<int>> ParseGpuFlag(const std::string& text) {
  std::vector<int> gpus;
  if (text == "none") return gpus;
  if (text == "all") {
    Result<int> count = NvmlDeviceCount(DefaultNvmlLibrary());
    if (!count.ok()) return count.status().WithPrefix("--gpus all");
    if (*count == 0) return Status::InvalidArgument("--gpus all: NVML sees no device");
    for (int i = 0; i < *count; ++i) gpus.push_back(i);
    return gpus;
  }
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    char* parsed_end = nullptr;
    long index = item.empty() ? -1 : std::strtol(item.c_str(), &parsed_end, 10);
    if (item.empty() || *parsed_end != '\0' || index < 0 || index > 1023) {
      return Status::InvalidArgument("--gpus '" + text + "': expected none, all or device indices such as 0,1");
    }
    gpus.push_back(static_cast<int>(index));
    start = end + 1;
  }
  return gpus;
}

}  // namespace

int RunRunCommand(const std::vector<std::string>& args) {
  po::options_description options("run options");
  options.add_options()
      ("budget", po::value<std::string>(), "CO2 budget with its unit: 50g, 0.05kg, 1t (required)")
      ("strategy", po::value<std::string>()->default_value("random"), "random | grid | halving (ASHA over random points)")
      ("space", po::value<std::string>()->default_value(kDefaultSearchSpace), "a built-in search space name or a JSON file")
      ("seed", po::value<uint64_t>()->default_value(0), "the sweep's seed: trial k's params depend on (seed, k) only")
      ("trials", po::value<int64_t>(), "at most this many trials (default: until the budget or the grid ends)")
      ("name", po::value<std::string>(), "the sweep's name in the store (default: sweep-<date>-<time>)")
      ("parallel", po::value<int>()->default_value(1), "trials running at once; the threads are split between them")
      ("threads", po::value<int>()->default_value(0), "CPU threads for all running trials together (0: every core)")
      ("on-budget", po::value<std::string>()->default_value("stop"), "when the budget is reached: stop (kill running trials) | finish (let them end)")
      ("prune", po::value<std::string>()->default_value("none"), "none | median: stop trials below the median of finished ones at the same epoch")
      ("prune-min-epochs", po::value<int>()->default_value(1), "median pruning: never before this many epochs")
      ("asha-min-epochs", po::value<int>()->default_value(1), "halving: epochs of the first rung")
      ("asha-max-epochs", po::value<int>(), "halving: epochs of the last rung (default: the space's largest epochs)")
      ("reduction-factor", po::value<int>()->default_value(3), "halving: keep the top 1/N at each rung")
      ("max-intensity", po::value<double>(), "hold new trials while the grid intensity exceeds this (gCO2e/kWh)")
      ("max-delay", po::value<std::string>(), "the longest total hold for --max-intensity, e.g. 6h")
      ("backbone", po::value<std::string>(), "the pre-trained backbone directory")
      ("from-scratch", po::bool_switch(), "train from random weights instead of the backbone")
      ("vocab", po::value<std::string>(), "vocab.txt for --model, or for --from-scratch when there is no backbone")
      ("model", po::value<std::string>(), "your TorchScript encoder (forward(ids, mask) -> [B,T,H]) instead of the backbone; needs --vocab")
      ("work-root", po::value<std::string>(), "where trial work dirs go (default: <db>.d/<name>/); with slurm, on a filesystem the nodes share")
      ("launcher", po::value<std::string>()->default_value("local"), "where trials run: local (child processes) | slurm (sbatch jobs)")
      ("gpus", po::value<std::string>()->default_value("none"), "NVIDIA devices trials may use: none | all | 0,1,... (NVML indices)")
      ("gpus-per-trial", po::value<int>(), "whole devices per trial, as CUDA_VISIBLE_DEVICES (default 1 with --gpus)")
      ("command", po::value<std::string>(), "your own training command per trial, {name} = the trial's value, e.g. \"python3 train.py --lr {learning_rate}\" (docs/trial-protocol.md)")
      ("metric", po::value<std::string>()->default_value("val_accuracy"), "the event field that ranks trials (best, pruning, halving, compare, reports)")
      ("mode", po::value<std::string>()->default_value("max"), "max: higher --metric is better | min: lower is better (a loss)")
      ("slurm-partition", po::value<std::string>(), "slurm: sbatch --partition (default: the cluster's)")
      ("slurm-gres", po::value<std::string>(), "slurm: sbatch --gres, e.g. gpu:1")
      ("slurm-time", po::value<std::string>(), "slurm: sbatch --time per trial, e.g. 02:00:00")
      ("slurm-extra", po::value<std::string>(), "slurm: more sbatch flags, e.g. '--account=ml --qos=low'");
  AddCarbonFlags(&options, kGridFlags | kSeriesFlag | kMeterFlags);
  AddTaskFlags(&options);
  AddSessionFlags(options);
  po::variables_map vm;
  int exit_code = 0;
  if (!ParseCommandLine("run", "--budget AMOUNT [options]", options, nullptr, args, &vm, &exit_code)) return exit_code;
  // Ranges of the numbers the orchestrator does not check itself; the rest
  // (--parallel, --threads, --trials, the carbon flags) are checked below or
  // by ValidateSweepConfig, all before anything is created.
  for (Status range : {CheckFlagRange(vm, "prune-min-epochs", 1, 1000, "epochs"),
                       CheckFlagRange(vm, "asha-min-epochs", 1, 1000, "epochs"),
                       CheckFlagRange(vm, "asha-max-epochs", 1, 1000, "epochs"),
                       CheckFlagRange(vm, "reduction-factor", 2, 100, "keep the top 1/N"),
                       CheckFlagRange(vm, "max-intensity", 0, kMaxGramsPerKwh, "gCO2e/kWh")}) {
    if (!range.ok()) return ReportError("run", range);
  }
  Result<CarbonFlags> carbon = CarbonFlagsFromFlags(vm);
  if (!carbon.ok()) return ReportError("run", carbon.status());

  if (!vm.count("budget")) {
    return ReportError("run", ExitCode::kBadInput, "--budget is required, with its unit (e.g. --budget 50g, 0.05kg, 1t)");
  }
  auto budget = ParseGramsCo2e(vm["budget"].as<std::string>());
  if (!budget.ok()) return ReportError("run", budget.status().WithPrefix("--budget"));
  SweepConfig config;
  config.budget_grams_co2e = *budget;
  config.name = vm.count("name") ? vm["name"].as<std::string>() : DefaultSweepName();
  config.space = vm["space"].as<std::string>();
  if (vm.count("command")) config.command = vm["command"].as<std::string>();
  config.objective.metric = vm["metric"].as<std::string>();
  auto mode = ParseMetricMode(vm["mode"].as<std::string>());
  if (!mode) return ReportError("run", ExitCode::kBadInput, "--mode '" + vm["mode"].as<std::string>() + "': expected max or min");
  config.objective.mode = *mode;
  if (config.objective.mode == MetricMode::kMax && config.objective.metric.find("loss") != std::string::npos &&
      vm["mode"].defaulted()) {
    std::cerr << "carbonsweep run: warning: --metric " << config.objective.metric
              << " ranks higher values as better; a loss wants --mode min\n";
  }
  Result<std::vector<int>> gpus = ParseGpuFlag(vm["gpus"].as<std::string>());
  if (!gpus.ok()) return ReportError("run", gpus.status());
  config.gpus = *gpus;
  config.gpus_per_trial = vm.count("gpus-per-trial") ? vm["gpus-per-trial"].as<int>() : (config.gpus.empty() ? 0 : 1);
  const ParamNames space_names = config.command.empty() ? ParamNames::kBundledTrial : ParamNames::kOpen;
  std::string strategy = vm["strategy"].as<std::string>();
  if (strategy == "halving") {
    config.halving = true;
    config.strategy.kind = StrategyKind::kRandom;
  } else {
    auto kind = ParseStrategyKind(strategy);
    if (!kind.ok()) return ReportError("run", Status::InvalidArgument("--strategy '" + strategy + "': expected random, grid or halving"));
    config.strategy.kind = *kind;
  }
  config.strategy.seed = vm["seed"].as<uint64_t>();
  if (vm.count("trials")) config.max_trials = vm["trials"].as<int64_t>();
  config.parallel = vm["parallel"].as<int>();
  config.total_threads = vm["threads"].as<int>();
  auto on_budget = ParseOnBudget(vm["on-budget"].as<std::string>());
  if (!on_budget) return ReportError("run", ExitCode::kBadInput, "--on-budget '" + vm["on-budget"].as<std::string>() + "': expected stop or finish");
  config.on_budget = *on_budget;
  std::string prune = vm["prune"].as<std::string>();
  if (prune != "none" && prune != "median") return ReportError("run", ExitCode::kBadInput, "--prune '" + prune + "': expected none or median");
  config.prune = prune == "median" ? PruneMode::kMedian : PruneMode::kNone;
  config.median.min_epochs = vm["prune-min-epochs"].as<int>();
  config.asha.min_epochs = vm["asha-min-epochs"].as<int>();
  config.asha.reduction_factor = vm["reduction-factor"].as<int>();
  if (config.halving) {
    if (vm.count("asha-max-epochs")) {
      config.asha.max_epochs = vm["asha-max-epochs"].as<int>();
    } else if (auto space = LoadSearchSpace(config.space, space_names); space.ok() && space->UpperBound("epochs")) {
      config.asha.max_epochs = static_cast<int>(*space->UpperBound("epochs"));
    }
  }
  if (vm.count("max-intensity")) config.max_intensity_g_per_kwh = vm["max-intensity"].as<double>();
  if (vm.count("max-delay")) {
    auto delay = ParseSeconds(vm["max-delay"].as<std::string>());
    if (!delay.ok()) return ReportError("run", delay.status().WithPrefix("--max-delay"));
    config.max_delay_seconds = *delay;
  }
  Result<TaskSpec> data = TaskSpecFromFlags(vm);
  if (!data.ok()) return ReportError("run", data.status());
  config.task = SweepTaskOptions(*data);
  if (vm.count("backbone")) config.task.backbone = AbsolutePath(vm["backbone"].as<std::string>());
  if (vm["from-scratch"].as<bool>()) config.task.init = TrialInit::kFromScratch;
  if (vm.count("vocab")) config.task.vocab = AbsolutePath(vm["vocab"].as<std::string>());
  if (vm.count("model")) {
    if (vm.count("backbone") || vm["from-scratch"].as<bool>()) {
      return ReportError("run", ExitCode::kBadInput, "--model excludes --backbone and --from-scratch");
    }
    if (!vm.count("vocab")) return ReportError("run", ExitCode::kBadInput, "--model needs --vocab vocab.txt");
    config.task.model = AbsolutePath(vm["model"].as<std::string>());
    Result<std::string> sha256 = Sha256OfFile(config.task.model);
    if (!sha256.ok()) return ReportError("run", sha256.status().WithPrefix("--model"));
    config.task.model_sha256 = *sha256;
  }
  if (config.command.empty() && config.task.model.empty() &&
      (config.space == "bert-devlin2019" || config.space == "roberta-glue") && !vm["quiet"].as<bool>()) {
    // Their learning rates (2e-5 to 5e-5) are BERT-base's; the bundled 1.5M-parameter encoder learns best near 1e-3.
    std::cerr << "carbonsweep run: warning: space '" << config.space
              << "' is for BERT-base-size models (learning rates 2e-5 to 5e-5); the bundled encoder's best is about "
                 "1e-3 (BENCHMARKS.md): use carbonsweep-small, or --model with your own BERT\n";
  }
  config.carbon.region = carbon->intensity.region;
  config.carbon.intensity_g_per_kwh = carbon->intensity.grams_per_kwh;
  if (!carbon->intensity.intensity_file.empty()) config.carbon.intensity_file = AbsolutePath(carbon->intensity.intensity_file);
  config.carbon.pue = carbon->pue;
  config.carbon.cpu_watts = carbon->cpu_watts;
  config.carbon.sample_interval_seconds = carbon->sample_interval_seconds;
  if (vm.count("work-root")) config.work_root = AbsolutePath(vm["work-root"].as<std::string>());
  auto launcher = ParseLauncherKind(vm["launcher"].as<std::string>());
  if (!launcher) return ReportError("run", ExitCode::kBadInput, "--launcher '" + vm["launcher"].as<std::string>() + "': expected local or slurm");
  config.launcher = *launcher;
  const char* slurm_flags[] = {"slurm-partition", "slurm-gres", "slurm-time", "slurm-extra"};
  for (const char* flag : slurm_flags) {
    if (vm.count(flag) && config.launcher != LauncherKind::kSlurm) {
      return ReportError("run", ExitCode::kBadInput, std::string("--") + flag + " needs --launcher slurm");
    }
  }
  if (vm.count("slurm-partition")) config.slurm.partition = vm["slurm-partition"].as<std::string>();
  if (vm.count("slurm-gres")) config.slurm.gres = vm["slurm-gres"].as<std::string>();
  if (vm.count("slurm-time")) config.slurm.time_limit = vm["slurm-time"].as<std::string>();
  if (vm.count("slurm-extra")) config.slurm.extra = vm["slurm-extra"].as<std::string>();

  if (config.launcher == LauncherKind::kLocal) {  // Slurm trials run on other machines.
    Status fits = CheckParallelFits(config.parallel, ThisMachine());
    if (!fits.ok()) return ReportError("run", fits);
  }

  return RunSweepSession("run", vm, [&](const SessionOptions& session) { return RunNewSweep(config, session); });
}

}  // namespace cs
