// The sweep loop: ninja's scheduler applied to trials under a CO2 budget.
//
//   while something can run or is running:
//     start what the free slots, the budget (reservations) and the strategy allow;
//     wait for the next trial event or sampler tick;
//     handle it: record epochs, end trials, write power samples, recompute the
//     spend FROM THE STORE, stop trials when the budget is reached.
//
// One thread (the caller's) owns the launcher, the store writes, the budget
// and the draining of the sampler; the PowerSampler may run its own thread
// (SamplingMode::kSamplerThread) or be sampled on each tick (kOnTick, for
// tests on a FakeClock). Every fact is written to the store when it happens,
// so a kill -9 at any moment loses at most the current sampling interval, and
// RunSweep on the same sweep continues it (resume): finished trials are kept,
// open/interrupted ones relaunch from their checkpoint in the same work dir,
// new trials continue the strategy's sequence at the next index.
//
// The budget (see cost_model.h for predictions):
//   - a trial starts only when its predicted grams fit in
//     budget - spent - outstanding reservations; it is then reserved. When
//     nothing runs and the next trial does not fit, it is recorded
//     skipped_budget and the sweep ends (budget spent);
//   - at every tick, when spent + what the current power adds in one
//     interval reaches the budget: on_budget=stop kills the running trials at
//     once (stopped_budget), on_budget=finish starts nothing new and lets them
//     end (the overshoot is reported);
//   - after every epoch (on_budget=stop), a trial whose remaining epochs at its
//     own measured rate do not fit is stopped (stopped_budget).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "carbon/intensity.h"
#include "carbon/sampler.h"
#include "common/clock.h"
#include "common/exit_codes.h"
#include "common/status.h"
#include "orchestrator/launcher.h"
#include "orchestrator/progress.h"
#include "orchestrator/sweep_config.h"
#include "search_spaces/search_space.h"
#include "search_spaces/strategy.h"
#include "store/sweep_store.h"

namespace cs {

enum class SamplingMode {
  kSamplerThread = 0,  // the sampler's own thread reads power; the loop drains it each tick.
  kOnTick = 1,         // the loop calls SampleOnce() at each tick (tests with a FakeClock).
};

// The side effects a sweep runs against. Nothing here is owned.
struct SweepEnvironment {
  SweepStore* store = nullptr;
  TrialLauncher* launcher = nullptr;
  PowerSampler* sampler = nullptr;  // the loop Start()s and Stop()s it.
  const IntensityProvider* intensity = nullptr;  // for carbon-aware holding.
  Clock* clock = nullptr;
  SamplingMode sampling = SamplingMode::kSamplerThread;
  ProgressReporter* progress = nullptr;
  // How many SIGINT/SIGTERM arrived: the first stops trials gracefully
  // (they checkpoint), the second kills them. nullptr = never.
  const std::atomic<int>* interrupts = nullptr;
  std::string lease_owner;                 // "host:pid".
  double lease_stale_after_seconds = 60;   // a silent owner is presumed dead after this.
  double heartbeat_interval_seconds = 5;
};

struct SweepOutcome {
  SweepState state = SweepState::kDone;
  ExitCode exit_code = ExitCode::kOk;
  double spent_grams_co2e = 0;
  double budget_grams_co2e = 0;
  int64_t trials_ended = 0;
  std::optional<double> best_metric;  // of the sweep's objective.
  Objective objective;
  std::optional<int64_t> best_trial_index;
  std::string summary;  // one line for the terminal.
};

// Records a new sweep (InvalidArgument when the name exists). `power` and
// `intensity` describe how grams are measured and are stored with it.
Result<int64_t> CreateSweepRecord(SweepStore& store, const SweepConfig& config, const SearchSpace& space,
                                  const Strategy& strategy, const nlohmann::json& power,
                                  const IntensityProvider& intensity, double now_unix);

// Runs (or continues) sweep `sweep_id` until done, budget spent, interrupted
// or failed. Takes the sweep's lease first: Busy (naming the holder) when a
// live orchestrator holds it; a dead holder's lease is taken over.
// (The strategy holds the space; the stored sweep holds the budget.)
Result<SweepOutcome> RunSweep(int64_t sweep_id, const SweepConfig& config, const Strategy& strategy,
                              const SweepEnvironment& env);

// "host:pid" of this process.
std::string ThisProcessOwner();

}  // namespace cs
