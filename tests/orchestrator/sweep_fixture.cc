#include "tests/orchestrator/sweep_fixture.h"

#include <algorithm>
#include <cmath>

#include <doctest/doctest.h>

namespace cs::testing {

namespace {

std::string ArgAfter(const std::vector<std::string>& args, const std::string& flag) {
  auto it = std::find(args.begin(), args.end(), flag);
  return it != args.end() && it + 1 != args.end() ? *(it + 1) : "";
}

}  // namespace

SweepFixture::SweepFixture() {
  config.name = "test";
  config.budget_grams_co2e = 1000;
  config.space = "ci-tiny";
  config.parallel = 1;
  config.total_threads = 2;
  config.carbon.sample_interval_seconds = 1;
  config.work_root = dir_.File("work");
  auto store = SweepStore::Open(dir_.File("sweeps.db"), StoreOptions{});
  REQUIRE_MESSAGE(store.ok(), store.status().message());
  store_ = std::move(*store);
}

void SweepFixture::ReopenStore(const StoreOptions& options) {
  store_.reset();
  auto store = SweepStore::Open(dir_.File("sweeps.db"), options);
  REQUIRE_MESSAGE(store.ok(), store.status().message());
  store_ = std::move(*store);
}

FakeTrialScript SweepFixture::ScriptFor(const LaunchRequest& request, int attempt) {
  nlohmann::json params = nlohmann::json::parse(ArgAfter(request.args, "--params"));
  std::string work_dir = ArgAfter(request.args, "--work-dir");
  int64_t index = std::stoll(work_dir.substr(work_dir.rfind("trial-") + 6));
  if (on_launch) on_launch(index, attempt);
  FakeTraining training;
  training.epochs = params.value("epochs", 3);
  training.startup_seconds = behaviour.startup_seconds;
  training.seconds_per_epoch = behaviour.seconds_per_epoch;
  training.examples_per_epoch = behaviour.examples_per_epoch;
  std::string stop_after = ArgAfter(request.args, "--stop-after-epoch");
  if (!stop_after.empty()) training.stop_after_epoch = std::stoi(stop_after);
  // Resume from the last epoch the store recorded, as a checkpoint would.
  auto epochs = store_->ListEpochs(request.trial_id);
  training.first_epoch = 1 + (epochs.ok() ? static_cast<int>(epochs->size()) : 0);
  // Accuracy depends only on the params (and the epoch): runs are comparable.
  double learning_rate = params.value("learning_rate", 1e-3);
  double base = 0.7 - std::fabs(std::log10(learning_rate) + 3) * 0.1 + (params.value("batch_size", 32) == 16 ? 0.02 : 0);
  for (int epoch = 1; epoch <= training.epochs; ++epoch) training.val_accuracy.push_back(base + 0.02 * epoch);
  if (std::count(behaviour.crash_indices.begin(), behaviour.crash_indices.end(), index) > 0) {
    training.crash_after_epoch = training.first_epoch;
  }
  FakeTrialScript script = MakeTrainingScript(training);
  if (edit_script) edit_script(index, attempt, &script);
  return script;
}

Result<SweepOutcome> SweepFixture::Run() {
  if (sweep_id_ == 0) {
    auto space = LoadSearchSpace(config.space);
    if (!space.ok()) return space.status();
    auto strategy = MakeStrategy(*space, config.strategy);
    if (!strategy.ok()) return strategy.status();
    ConstantIntensity constant(RegionInfo{"TEST", "Test", "country", grams_per_kwh, 2024, "tests"}, false);
    const IntensityProvider& provider = intensity ? *intensity : constant;
    auto id = CreateSweepRecord(*store_, config, *space, **strategy, nlohmann::json::object(), provider,
                                clock_.NowUnixSeconds());
    if (!id.ok()) return id.status();
    sweep_id_ = *id;
  }
  return RunOnce();
}

Result<SweepOutcome> SweepFixture::Resume() { return RunOnce(); }

Result<SweepOutcome> SweepFixture::RunOnce() {
  auto space = LoadSearchSpace(config.space);
  if (!space.ok()) return space.status();
  auto strategy = MakeStrategy(*space, config.strategy);
  if (!strategy.ok()) return strategy.status();
  launcher_ = std::make_unique<FakeLauncher>(
      &clock_, [this](const LaunchRequest& request, int attempt) { return ScriptFor(request, attempt); });
  std::shared_ptr<const IntensityProvider> provider = intensity;
  if (!provider) {
    provider = std::make_shared<ConstantIntensity>(RegionInfo{"TEST", "Test", "country", grams_per_kwh, 2024, "tests"},
                                                   false);
  }
  PowerSetup setup;
  setup.options.ram_rule = RamRule::kNone;
  setup.options.idle_share = IdleShare::kExclude;
  setup.options.pue = config.carbon.pue;
  setup.cpu_time = launcher_->MakeCpuTimeReader();
  setup.cpu_model.method = EnergyMethod::kUserSet;
  setup.cpu_model.watts_per_thread = watts_per_thread;
  setup.cpu_model.basis = "tests: scripted watts per thread";
  SamplerOptions sampler_options;
  sampler_options.interval_seconds = config.carbon.sample_interval_seconds;
  sampler_options.clock = &clock_;
  PowerSampler sampler(std::move(setup), provider, sampler_options);
  std::ostringstream out, err;
  ProgressReporter progress(ProgressMode::kJson, &out, &err, false);

  SweepEnvironment env;
  env.store = store_.get();
  env.launcher = launcher_.get();
  env.sampler = &sampler;
  env.intensity = provider.get();
  env.clock = &clock_;
  env.sampling = SamplingMode::kOnTick;
  env.progress = &progress;
  env.interrupts = &interrupts;
  env.lease_owner = "test-host:1";
  auto outcome = RunSweep(sweep_id_, config, **strategy, env);
  json_text_ += out.str();
  return outcome;
}

std::vector<TrialRecord> SweepFixture::Trials() {
  auto trials = store_->ListTrials(sweep_id_);
  REQUIRE(trials.ok());
  return *trials;
}

double SweepFixture::SpentGrams() {
  auto spend = store_->GetSweepSpend(sweep_id_);
  REQUIRE(spend.ok());
  return spend->total.grams_co2e;
}

double SweepFixture::OneIntervalGrams() const {
  double watts = watts_per_thread * std::max(config.total_threads, config.parallel);
  return watts * config.carbon.sample_interval_seconds * config.carbon.pue * grams_per_kwh / 3.6e6;
}

}  // namespace cs::testing
