#include "orchestrator/sweep_runner.h"

#include <unistd.h>

#include "common/files.h"
#include "orchestrator/sweep_loop.h"

namespace cs {

std::string ThisProcessOwner() { return ThisHostName() + ":" + std::to_string(::getpid()); }

Result<int64_t> CreateSweepRecord(SweepStore& store, const SweepConfig& config, const SearchSpace& space,
                                  const Strategy& strategy, const nlohmann::json& power,
                                  const IntensityProvider& intensity, double now_unix) {
  SweepRecord sweep;
  sweep.name = config.name;
  sweep.created_at_unix = now_unix;
  sweep.host = ThisHostName();
  sweep.strategy = StrategyLabel(config);
  sweep.seed = static_cast<int64_t>(config.strategy.seed);
  sweep.budget_grams_co2e = config.budget_grams_co2e;
  sweep.objective = config.objective;
  sweep.on_budget = config.on_budget;
  nlohmann::json described = intensity.Describe();
  sweep.region = described.value("region", config.carbon.region);
  sweep.intensity_g_per_kwh = intensity.GramsPerKwhAt(now_unix);
  sweep.intensity_source = described.value("source", "");
  sweep.intensity_year = described.value("year", 0);
  sweep.pue = config.carbon.pue;
  nlohmann::json power_json = power;
  power_json["intensity"] = described;
  sweep.power_json = power_json.dump();
  nlohmann::json task = config.task.ToTrialArgs();
  nlohmann::json task_json = {{"task", config.task.task.empty() ? "default" : config.task.task}, {"args", task}};
  if (!config.task.model.empty()) {
    task_json["model"] = config.task.model;
    task_json["model_sha256"] = config.task.model_sha256;
  }
  if (!config.command.empty()) task_json["command"] = config.command;  // what each trial ran.
  sweep.task_json = task_json.dump();
  sweep.task_checksum = config.task.data_checksum.empty() ? Sha256OfString(sweep.task_json) : config.task.data_checksum;
  sweep.space_json = space.ToJson().dump();
  nlohmann::json config_json = config.ToJson();
  config_json["strategy_state"] = strategy.State();
  sweep.config_json = config_json.dump();
  nlohmann::json state = strategy.State();
  sweep.grid_order_json = state.contains("order") ? state["order"].dump() : "";
  sweep.launcher = LauncherKindName(config.launcher);
  sweep.state = SweepState::kRunning;
  return store.CreateSweep(sweep);
}

Result<SweepOutcome> RunSweep(int64_t sweep_id, const SweepConfig& config, const Strategy& strategy,
                              const SweepEnvironment& env) {
  SweepLoop loop(sweep_id, config, strategy, env);
  return loop.Run();
}

}  // namespace cs
