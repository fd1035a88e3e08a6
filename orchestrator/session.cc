#include "orchestrator/session.h"

#include <signal.h>

#include <cmath>
#include <filesystem>

#include "carbon/intensity.h"
#include "carbon/power_source.h"
#include "carbon/sampler.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/json.h"
#include "common/text.h"
#include "common/units.h"
#include "orchestrator/local_process_launcher.h"
#include "orchestrator/slurm_launcher.h"
#include "orchestrator/trial_command.h"

namespace cs {

namespace {

std::atomic<int> g_interrupts{0};

void CountInterrupt(int) { g_interrupts.fetch_add(1); }

Result<std::unique_ptr<SweepStore>> OpenStoreForWriting(const std::string& db_path, bool create) {
  StoreOptions options;
  options.create_if_missing = create;
  return SweepStore::Open(db_path, options);
}

IntensityOptions IntensityOptionsOf(const CarbonOptions& carbon) {
  IntensityOptions options;
  options.region = carbon.region;
  options.grams_per_kwh = carbon.intensity_g_per_kwh;
  options.intensity_file = carbon.intensity_file;
  return options;
}

// Everything a sweep runs against on this machine; lives for one run.
struct ProductionWiring {
  std::shared_ptr<const IntensityProvider> intensity;
  std::unique_ptr<PowerSampler> sampler;
  std::unique_ptr<TrialLauncher> launcher;
};

Result<ProductionWiring> Wire(const SweepConfig& config, const SessionOptions& options) {
  ProductionWiring wiring;
  auto intensity = MakeIntensityProvider(IntensityOptionsOf(config.carbon));
  if (!intensity.ok()) return intensity.status();
  wiring.intensity = *intensity;
  MeterOptions meter;
  meter.cpu_watts = config.carbon.cpu_watts;
  meter.pue = config.carbon.pue;
  if (!config.gpus.empty()) meter.gpu_indices = config.gpus;  // the sweep's devices, each billed to its trial.
  auto setup = DetectPowerSources(meter);
  if (!setup.ok()) return setup.status();
  SamplerOptions sampler_options;
  sampler_options.interval_seconds = config.carbon.sample_interval_seconds;
  wiring.sampler = std::make_unique<PowerSampler>(std::move(*setup), wiring.intensity, sampler_options);
  if (config.launcher == LauncherKind::kSlurm) {
    // The trial meters itself on its compute node: the orchestrator's sampler sees none of its power.
    SlurmLauncherOptions slurm;
    slurm.binary = options.trial_binary;
    slurm.partition = config.slurm.partition;
    slurm.gres = config.slurm.gres;
    slurm.time_limit = config.slurm.time_limit;
    slurm.extra = config.slurm.extra;
    // Skipped work-dir content is said where the sweep's other warnings go.
    ProgressReporter* progress = options.progress;
    slurm.warn = [progress](const std::string& message) {
      progress->Event({{"event", "warning"}, {"message", message}}, "warning: " + message);
    };
    slurm.meter_args = {"--sample-interval", nlohmann::json(config.carbon.sample_interval_seconds).dump()};
    if (config.carbon.cpu_watts >= 0) {
      slurm.meter_args.insert(slurm.meter_args.end(), {"--cpu-watts", nlohmann::json(config.carbon.cpu_watts).dump()});
    }
    slurm.trailing_args = {"--meter-self"};
    slurm.trailing_args.insert(slurm.trailing_args.end(), slurm.meter_args.begin(), slurm.meter_args.end());
    wiring.launcher = std::make_unique<SlurmLauncher>(slurm, MakeRealSlurmClient());
    return wiring;
  }
  LocalLauncherOptions launcher_options;
  launcher_options.binary = options.trial_binary;
  wiring.launcher = std::make_unique<LocalProcessLauncher>(launcher_options);
  return wiring;
}

Result<SweepOutcome> RunWired(SweepStore& store, int64_t sweep_id, const SweepConfig& config,
                              const Strategy& strategy, ProductionWiring& wiring,
                              const SessionOptions& options) {
  SweepEnvironment env;
  env.store = &store;
  env.launcher = wiring.launcher.get();
  env.sampler = wiring.sampler.get();
  env.intensity = wiring.intensity.get();
  env.clock = RealClock::Get();
  env.sampling = SamplingMode::kSamplerThread;
  env.progress = options.progress;
  env.interrupts = options.interrupts;
  env.lease_owner = ThisProcessOwner();
  return RunSweep(sweep_id, config, strategy, env);
}

}  // namespace

const std::atomic<int>* InstallInterruptHandlers() {
  struct sigaction action {};
  action.sa_handler = CountInterrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: poll() returns at once and the loop sees the interrupt.
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  return &g_interrupts;
}

std::string DefaultWorkRoot(const std::string& db_path, const std::string& sweep_name) {
  std::error_code error;
  std::filesystem::path db = std::filesystem::absolute(db_path, error);
  if (error) db = db_path;
  return db.string() + ".d/" + sweep_name;
}

namespace {

// The longest sweep name: it names a work dir and appears in every report line.
constexpr size_t kMaxSweepNameBytes = 100;

// A sweep name is one path component of its own (<db>.d/<name>): not "." or
// "..", which would share a work dir with other sweeps or stores.
Status ValidateSweepName(const std::string& name) {
  if (name.empty()) return Status::InvalidArgument("--name: must not be empty");
  if (name.size() > kMaxSweepNameBytes) {
    return Status::InvalidArgument("--name: " + std::to_string(name.size()) + " bytes, more than the " +
                                   std::to_string(kMaxSweepNameBytes) + " allowed");
  }
  if (name == "." || name == "..") return Status::InvalidArgument("--name '" + name + "': not a name of its own");
  if (!IsValidUtf8(name)) return Status::InvalidArgument("--name '" + name + "': not valid UTF-8");
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    // C0 controls, DEL, and C1 controls (U+0080..U+009F, UTF-8 C2 80..C2 9F).
    const bool control = c < 0x20 || c == 0x7f ||
                         (c == 0xc2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) < 0xa0);
    if (c == '/' || control) {
      return Status::InvalidArgument("--name '" + name + "': must not contain '/' or control characters");
    }
  }
  return Status::Ok();
}

// The carbon numbers, each the one way its module checks it; sentinels
// (-1) mean unset, anything else (NaN, -5, 1e308) must be in range.
Status ValidateCarbonNumbers(const SweepConfig& config) {
  const CarbonOptions& carbon = config.carbon;
  if (carbon.intensity_g_per_kwh != -1) {
    CS_RETURN_IF_ERROR(CheckIntensity(carbon.intensity_g_per_kwh));
    if (carbon.intensity_g_per_kwh == 0 && !config.max_trials) {
      return Status::InvalidArgument(
          "--intensity 0: every trial costs 0 g, so the budget never ends the sweep; pass --trials N");
    }
  }
  CS_RETURN_IF_ERROR(CheckPue(carbon.pue));
  if (carbon.cpu_watts != -1) CS_RETURN_IF_ERROR(CheckCpuWatts(carbon.cpu_watts));
  if (config.max_intensity_g_per_kwh != -1 &&
      !(config.max_intensity_g_per_kwh >= 0 && std::isfinite(config.max_intensity_g_per_kwh))) {
    return Status::InvalidArgument("--max-intensity " + FormatNumber(config.max_intensity_g_per_kwh) +
                                   ": must be a finite number of gCO2e/kWh, 0 or more");
  }
  if (!std::isfinite(config.max_delay_seconds)) return Status::InvalidArgument("--max-delay: must be finite");
  return Status::Ok();
}

}  // namespace

Status ValidateSweepConfig(const SweepConfig& config) {
  CS_RETURN_IF_ERROR(ValidateSweepName(config.name));
  if (!(config.budget_grams_co2e > 0) || !std::isfinite(config.budget_grams_co2e)) {
    return Status::InvalidArgument("--budget: must be greater than zero");
  }
  if (config.parallel < 1) return Status::InvalidArgument("--parallel " + std::to_string(config.parallel) + ": must be at least 1");
  if (config.total_threads < 0) {
    return Status::InvalidArgument("--threads " + std::to_string(config.total_threads) + ": must be 0 (every core) or more");
  }
  if (config.max_trials && *config.max_trials < 1) {
    return Status::InvalidArgument("--trials " + std::to_string(*config.max_trials) + ": must be at least 1");
  }
  CS_RETURN_IF_ERROR(CheckSampleInterval(config.carbon.sample_interval_seconds));
  CS_RETURN_IF_ERROR(ValidateCarbonNumbers(config));
  if (config.halving) {
    std::string invalid = AshaScheduler(config.asha).Validate();
    if (!invalid.empty()) return Status::InvalidArgument(invalid);
  }
  if (config.max_intensity_g_per_kwh >= 0 && config.max_delay_seconds <= 0) {
    return Status::InvalidArgument("--max-intensity needs --max-delay (the longest hold, e.g. 6h)");
  }
  CS_RETURN_IF_ERROR(ValidateSlurmConfig(config));
  CS_RETURN_IF_ERROR(ValidateGpuConfig(config));
  CS_RETURN_IF_ERROR(ValidateObjective(config));
  if (!config.command.empty()) CS_RETURN_IF_ERROR(ParseTrialCommand(config.command).status());
  return Status::Ok();
}

namespace {

// The devices of --gpus exist on this machine (NVML).
Status CheckGpusPresent(const SweepConfig& config) {
  if (config.gpus.empty()) return Status::Ok();
  Result<int> count = NvmlDeviceCount(DefaultNvmlLibrary());
  if (!count.ok()) return count.status().WithPrefix("--gpus");
  for (int gpu : config.gpus) {
    if (gpu >= *count) {
      return Status::InvalidArgument("--gpus: this machine has no GPU " + std::to_string(gpu) + " (NVML sees " +
                                     std::to_string(*count) + " device(s)" +
                                     (*count > 0 ? ", 0 to " + std::to_string(*count - 1) : std::string()) + ")");
    }
  }
  return Status::Ok();
}

// The names a sweep's space may use: any, for a user's command.
ParamNames SpaceNamesFor(const SweepConfig& config) {
  return config.command.empty() ? ParamNames::kBundledTrial : ParamNames::kOpen;
}

// Before anything is recorded or spent: a user's command must be found and
// name only the space's hyperparameters; the bundled trial must find its data
// and backbone (the caller's check_trials).
Status CheckTrialsCanRun(const SweepConfig& config, const SearchSpace& space, const SessionOptions& options) {
  CS_RETURN_IF_ERROR(CheckGpusPresent(config));
  if (!config.command.empty()) {
    Result<TrialCommand> command = ParseTrialCommand(config.command);
    if (!command.ok()) return command.status();
    return CheckTrialCommand(*command, space);
  }
  return options.check_trials ? options.check_trials(config, space) : Status::Ok();
}

}  // namespace

Result<SweepOutcome> RunNewSweep(SweepConfig config, const SessionOptions& options) {
  CS_RETURN_IF_ERROR(ValidateSweepConfig(config));
  auto space = LoadSearchSpace(config.space, SpaceNamesFor(config));
  if (!space.ok()) return space.status();
  if (config.halving && !space->UpperBound("epochs")) {
    return Status::InvalidArgument("--strategy halving: space '" + space->name + "' does not set epochs");
  }
  auto strategy = MakeStrategy(*space, config.strategy);
  if (!strategy.ok()) return strategy.status();
  CS_RETURN_IF_ERROR(CheckTrialsCanRun(config, *space, options));
  if (config.work_root.empty()) config.work_root = DefaultWorkRoot(options.db_path, config.name);
  auto wiring = Wire(config, options);
  if (!wiring.ok()) return wiring.status();
  auto store = OpenStoreForWriting(options.db_path, /*create=*/true);
  if (!store.ok()) return store.status();
  if ((*store)->GetSweep(config.name).ok()) {
    return Status::InvalidArgument("sweep '" + config.name + "' already exists in " + options.db_path +
                                   " (`carbonsweep resume " + config.name + "` continues it)");
  }
  // The trials' work dirs go under the work root: it must be this user's alone.
  CS_RETURN_IF_ERROR(MakePrivateDirs(config.work_root));
  auto sweep_id = CreateSweepRecord(**store, config, *space, **strategy, wiring->sampler->Describe(),
                                    *wiring->intensity, RealClock::Get()->NowUnixSeconds());
  if (!sweep_id.ok()) return sweep_id.status();
  options.progress->Event({{"event", "sweep_start"}, {"sweep", config.name}, {"strategy", (*strategy)->Describe()},
                           {"budget_grams_co2e", config.budget_grams_co2e}, {"db", options.db_path}},
                          "sweep '" + config.name + "': " + (*strategy)->Describe() + ", space " + space->name +
                              ", budget " + FormatGrams(config.budget_grams_co2e) + ", " +
                              std::to_string(config.parallel) + " at a time");
  return RunWired(**store, *sweep_id, config, **strategy, *wiring, options);
}

Result<SweepOutcome> ResumeSweep(const std::string& name, const ResumeOverrides& overrides,
                                 const SessionOptions& options) {
  auto store = OpenStoreForWriting(options.db_path, /*create=*/false);
  if (!store.ok()) return store.status();
  auto sweep = (*store)->GetSweep(name);
  if (!sweep.ok()) return sweep.status();
  nlohmann::json config_json = ParseJsonOrDiscarded(sweep->config_json);
  if (config_json.is_discarded()) return Status::Corruption(options.db_path + ": sweep '" + name + "': config is not JSON");
  auto config = SweepConfig::FromJson(config_json);
  if (!config.ok()) return config.status().WithPrefix(options.db_path + ": sweep '" + name + "'");
  // The budget lives in the sweep's record alone (config_json does not hold it).
  config->budget_grams_co2e = sweep->budget_grams_co2e;
  config->on_budget = sweep->on_budget;
  config->objective = sweep->objective;
  if (overrides.budget_grams_co2e) config->budget_grams_co2e = *overrides.budget_grams_co2e;
  if (overrides.parallel) config->parallel = *overrides.parallel;
  if (overrides.total_threads) config->total_threads = *overrides.total_threads;
  CS_RETURN_IF_ERROR(ValidateSweepConfig(*config));
  auto space = ParseSearchSpaceText(sweep->space_json, options.db_path + ": sweep '" + name + "' space",
                                    SpaceNamesFor(*config));
  if (!space.ok()) return space.status();
  auto strategy = config_json.contains("strategy_state")
                      ? RestoreStrategy(*space, config_json["strategy_state"])
                      : MakeStrategy(*space, config->strategy);
  if (!strategy.ok()) return strategy.status();
  const bool runs = sweep->state != SweepState::kDone;
  // Before anything changes: a resume that cannot run leaves the sweep as it was.
  if (runs) CS_RETURN_IF_ERROR(CheckTrialsCanRun(*config, *space, options));
  if (overrides.budget_grams_co2e) {
    CS_RETURN_IF_ERROR((*store)->SetSweepBudget(sweep->id, *overrides.budget_grams_co2e, RealClock::Get()->NowUnixSeconds()));
  }

  if (sweep->state == SweepState::kDone) {
    SweepOutcome outcome;
    outcome.state = SweepState::kDone;
    outcome.summary = "sweep '" + name + "' is already done; nothing to resume";
    return outcome;
  }
  if (sweep->state == SweepState::kBudgetSpent && !overrides.budget_grams_co2e) {
    auto spend = (*store)->GetSweepSpend(sweep->id);
    if (!spend.ok()) return spend.status();
    if (spend->total.grams_co2e >= config->budget_grams_co2e * 0.999) {
      SweepOutcome outcome;
      outcome.state = SweepState::kBudgetSpent;
      outcome.exit_code = ExitCode::kBudgetSpent;
      outcome.spent_grams_co2e = spend->total.grams_co2e;
      outcome.budget_grams_co2e = config->budget_grams_co2e;
      outcome.summary = "sweep '" + name + "' has spent its budget (" + FormatGrams(spend->total.grams_co2e) +
                        " of " + FormatGrams(config->budget_grams_co2e) + "); `resume " + name +
                        " --budget MORE` continues it";
      return outcome;
    }
  }
  if (!config->work_root.empty()) CS_RETURN_IF_ERROR(MakePrivateDirs(config->work_root));
  auto wiring = Wire(*config, options);
  if (!wiring.ok()) return wiring.status();
  options.progress->Event({{"event", "sweep_resume"}, {"sweep", name}, {"db", options.db_path}},
                          "resuming sweep '" + name + "' (" + SweepStateName(sweep->state) + ")");
  return RunWired(**store, sweep->id, *config, **strategy, *wiring, options);
}

}  // namespace cs
