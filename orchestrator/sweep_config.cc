#include "orchestrator/sweep_config.h"

#include <algorithm>
#include <cctype>
#include <thread>
#include <utility>

#include "orchestrator/slurm_client.h"

namespace cs {

std::vector<std::string> TaskOptions::ToTrialArgs() const {
  std::vector<std::string> args;
  if (!task.empty()) args.insert(args.end(), {"--task", task});
  if (!text_column.empty()) args.insert(args.end(), {"--text-column", text_column});
  if (!label_column.empty()) args.insert(args.end(), {"--label-column", label_column});
  if (full_data) args.insert(args.end(), {"--data-size", "full"});
  if (train_size > 0) args.insert(args.end(), {"--train-size", std::to_string(train_size)});
  if (val_size > 0) args.insert(args.end(), {"--val-size", std::to_string(val_size)});
  if (test_size > 0) args.insert(args.end(), {"--test-size", std::to_string(test_size)});
  if (data_seed != 0) args.insert(args.end(), {"--data-seed", std::to_string(data_seed)});
  if (!backbone.empty()) args.insert(args.end(), {"--backbone", backbone});
  if (!vocab.empty()) args.insert(args.end(), {"--vocab", vocab});
  if (!model.empty()) args.insert(args.end(), {"--model", model});
  if (init == TrialInit::kFromScratch) args.push_back("--from-scratch");
  return args;
}

int SweepConfig::ThreadsPerTrial() const {
  int total = total_threads > 0 ? total_threads : static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, total / std::max(1, parallel));
}

std::string LauncherKindName(LauncherKind kind) { return kind == LauncherKind::kSlurm ? "slurm" : "local"; }

std::optional<LauncherKind> ParseLauncherKind(const std::string& name) {
  if (name == "local") return LauncherKind::kLocal;
  if (name == "slurm") return LauncherKind::kSlurm;
  return std::nullopt;
}

std::string GpuList(const std::vector<int>& gpus) {
  std::string list;
  for (int gpu : gpus) list += (list.empty() ? "" : ",") + std::to_string(gpu);
  return list;
}

Status ValidateGpuConfig(const SweepConfig& config) {
  if (config.gpus.empty()) {
    if (config.gpus_per_trial > 0) return Status::InvalidArgument("--gpus-per-trial needs --gpus (all or 0,1,...)");
    return Status::Ok();
  }
  std::vector<int> sorted = config.gpus;
  std::sort(sorted.begin(), sorted.end());
  if (sorted.front() < 0) return Status::InvalidArgument("--gpus: " + std::to_string(sorted.front()) + " is not a device index");
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return Status::InvalidArgument("--gpus " + GpuList(config.gpus) + ": a device is named twice");
  }
  const int size = static_cast<int>(config.gpus.size());
  if (config.gpus_per_trial < 1 || config.gpus_per_trial > size) {
    return Status::InvalidArgument("--gpus-per-trial " + std::to_string(config.gpus_per_trial) + ": must be 1 to " +
                                   std::to_string(size) + " (the devices of --gpus " + GpuList(config.gpus) + ")");
  }
  const int fit = size / config.gpus_per_trial;
  if (config.parallel > fit) {
    return Status::InvalidArgument("--parallel " + std::to_string(config.parallel) + ": --gpus " + GpuList(config.gpus) +
                                   " with --gpus-per-trial " + std::to_string(config.gpus_per_trial) + " runs at most " +
                                   std::to_string(fit) + " trial(s) at once");
  }
  return Status::Ok();
}

Status ValidateObjective(const SweepConfig& config) {
  const std::string& metric = config.objective.metric;
  const bool name_ok = !metric.empty() && metric.size() <= 64 &&
                       std::all_of(metric.begin(), metric.end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' ||
                                c == '/';
                       });
  if (!name_ok) {
    return Status::InvalidArgument("--metric: expected the name of a field of the trials' events (1 to 64 letters, "
                                   "digits, '_', '.', '-', '/')");
  }
  if (config.command.empty() && metric != "val_accuracy" && metric != "val_loss" && metric != "train_loss") {
    return Status::InvalidArgument("--metric " + metric +
                                   ": the bundled trial reports val_accuracy, val_loss and train_loss (any name "
                                   "works with --command)");
  }
  return Status::Ok();
}

Status ValidateSlurmConfig(const SweepConfig& config) {
  if (config.launcher != LauncherKind::kSlurm) return Status::Ok();
  if (!config.gpus.empty()) {
    return Status::InvalidArgument("--gpus with --launcher slurm: Slurm assigns the devices; book them with "
                                   "--slurm-gres gpu:N (the job meters its own devices)");
  }
  const std::pair<const char*, const std::string*> values[] = {
      {"--slurm-partition", &config.slurm.partition}, {"--slurm-gres", &config.slurm.gres},
      {"--slurm-time", &config.slurm.time_limit},     {"--slurm-extra", &config.slurm.extra},
      {"--work-root", &config.work_root},             {"--task", &config.task.task},
      {"--text-column", &config.task.text_column},    {"--label-column", &config.task.label_column},
      {"--backbone", &config.task.backbone},          {"--vocab", &config.task.vocab},
  };
  for (const auto& [flag, value] : values) CS_RETURN_IF_ERROR(RefuseControlCharacters(flag, *value));
  auto extra = SplitShellWords(config.slurm.extra);
  if (!extra.ok()) return extra.status().WithPrefix("--slurm-extra");
  return Status::Ok();
}

std::string StrategyLabel(const SweepConfig& config) {
  return config.halving ? "halving" : StrategyKindName(config.strategy.kind);
}

nlohmann::json SweepConfig::ToJson() const {
  nlohmann::json json = {
      {"name", name},
      {"space", space},
      {"strategy", StrategyKindName(strategy.kind)},
      {"seed", strategy.seed},
      {"grid_points_per_dimension", strategy.grid_points_per_dimension},
      {"halving", halving},
      {"asha", {{"min_epochs", asha.min_epochs}, {"max_epochs", asha.max_epochs},
                {"reduction_factor", asha.reduction_factor}}},
      {"prune", prune == PruneMode::kMedian ? "median" : "none"},
      {"median", {{"min_epochs", median.min_epochs}, {"min_trials", median.min_trials}}},
      {"parallel", parallel},
      {"total_threads", total_threads},
      {"task", {{"task", task.task}, {"text_column", task.text_column}, {"label_column", task.label_column},
                {"full_data", task.full_data}, {"train_size", task.train_size}, {"val_size", task.val_size},
                {"test_size", task.test_size}, {"data_seed", task.data_seed}, {"backbone", task.backbone}, {"vocab", task.vocab},
                {"model", task.model}, {"model_sha256", task.model_sha256},
                {"from_scratch", task.init == TrialInit::kFromScratch}}},
      {"carbon", {{"region", carbon.region}, {"intensity_g_per_kwh", carbon.intensity_g_per_kwh},
                  {"intensity_file", carbon.intensity_file}, {"pue", carbon.pue},
                  {"cpu_watts", carbon.cpu_watts}, {"sample_interval_seconds", carbon.sample_interval_seconds}}},
      {"max_intensity_g_per_kwh", max_intensity_g_per_kwh},
      {"max_delay_seconds", max_delay_seconds},
      {"work_root", work_root},
      {"launcher", LauncherKindName(launcher)},
      {"command", command},
      {"gpus", gpus},
      {"gpus_per_trial", gpus_per_trial},
      {"slurm", {{"partition", slurm.partition}, {"gres", slurm.gres}, {"time_limit", slurm.time_limit},
                 {"extra", slurm.extra}}},
  };
  json["max_trials"] = max_trials ? nlohmann::json(*max_trials) : nlohmann::json(nullptr);
  return json;
}

Result<SweepConfig> SweepConfig::FromJson(const nlohmann::json& json) {
  SweepConfig config;
  try {
    config.name = json.at("name").get<std::string>();
    config.space = json.value("space", config.space);
    auto kind = ParseStrategyKind(json.value("strategy", "random"));
    if (!kind.ok()) return kind.status().WithPrefix("config.strategy");
    config.strategy.kind = *kind;
    config.strategy.seed = json.value("seed", uint64_t{0});
    config.strategy.grid_points_per_dimension =
        json.value("grid_points_per_dimension", config.strategy.grid_points_per_dimension);
    config.halving = json.value("halving", false);
    if (json.contains("asha")) {
      const auto& asha = json["asha"];
      config.asha.min_epochs = asha.value("min_epochs", config.asha.min_epochs);
      config.asha.max_epochs = asha.value("max_epochs", config.asha.max_epochs);
      config.asha.reduction_factor = asha.value("reduction_factor", config.asha.reduction_factor);
    }
    config.prune = json.value("prune", "none") == "median" ? PruneMode::kMedian : PruneMode::kNone;
    if (json.contains("median")) {
      config.median.min_epochs = json["median"].value("min_epochs", config.median.min_epochs);
      config.median.min_trials = json["median"].value("min_trials", config.median.min_trials);
    }
    if (json.contains("max_trials") && !json["max_trials"].is_null()) {
      config.max_trials = json["max_trials"].get<int64_t>();
    }
    config.parallel = json.value("parallel", 1);
    config.total_threads = json.value("total_threads", 0);
    if (json.contains("task")) {
      const auto& task = json["task"];
      config.task.task = task.value("task", "");
      // Fields a sweep made before they existed lack take the trial's defaults, as then.
      config.task.text_column = task.value("text_column", "");
      config.task.label_column = task.value("label_column", "");
      config.task.full_data = task.value("full_data", false);
      config.task.data_seed = task.value("data_seed", uint64_t{0});
      config.task.train_size = task.value("train_size", int64_t{0});
      config.task.val_size = task.value("val_size", int64_t{0});
      config.task.test_size = task.value("test_size", int64_t{0});
      config.task.backbone = task.value("backbone", "");
      config.task.vocab = task.value("vocab", "");
      config.task.model = task.value("model", "");
      config.task.model_sha256 = task.value("model_sha256", "");
      config.task.init = task.value("from_scratch", false) ? TrialInit::kFromScratch : TrialInit::kBackbone;
    }
    if (json.contains("carbon")) {
      const auto& carbon = json["carbon"];
      config.carbon.region = carbon.value("region", "");
      config.carbon.intensity_g_per_kwh = carbon.value("intensity_g_per_kwh", -1.0);
      config.carbon.intensity_file = carbon.value("intensity_file", "");
      config.carbon.pue = carbon.value("pue", 1.0);
      config.carbon.cpu_watts = carbon.value("cpu_watts", -1.0);
      config.carbon.sample_interval_seconds = carbon.value("sample_interval_seconds", 1.0);
    }
    config.max_intensity_g_per_kwh = json.value("max_intensity_g_per_kwh", -1.0);
    config.max_delay_seconds = json.value("max_delay_seconds", 0.0);
    config.work_root = json.value("work_root", "");
    auto launcher = ParseLauncherKind(json.value("launcher", "local"));
    if (!launcher) return Status::Corruption("config.launcher: unknown value");
    config.launcher = *launcher;
    config.command = json.value("command", "");
    config.gpus = json.value("gpus", std::vector<int>{});
    config.gpus_per_trial = json.value("gpus_per_trial", 0);
    if (json.contains("slurm")) {
      const auto& slurm = json["slurm"];
      config.slurm.partition = slurm.value("partition", "");
      config.slurm.gres = slurm.value("gres", "");
      config.slurm.time_limit = slurm.value("time_limit", "");
      config.slurm.extra = slurm.value("extra", "");
    }
  } catch (const nlohmann::json::exception& error) {
    return Status::Corruption(std::string("sweep config: ") + error.what());
  }
  return config;
}

}  // namespace cs
