// SweepFixture: a sweep wired to fakes — scripted trials (FakeLauncher) on a
// FakeClock, scripted power (the real PowerSampler reading the fake trials'
// CPU time at a fixed watts per thread), a real SweepStore in a temp dir —
// so the loop's tests run hours of sweep in milliseconds.
#pragma once

#include <atomic>
#include <memory>
#include <sstream>
#include <string>

#include "carbon/intensity.h"
#include "carbon/sampler.h"
#include "common/clock.h"
#include "orchestrator/fake_launcher.h"
#include "orchestrator/progress.h"
#include "orchestrator/sweep_config.h"
#include "orchestrator/sweep_runner.h"
#include "search_spaces/search_space.h"
#include "search_spaces/strategy.h"
#include "store/sweep_store.h"
#include "tests/testing/temp_dir.h"

namespace cs::testing {

// How the fake trials behave: the accuracy of a trial is a pure function of
// its params, so two runs of a sweep can be compared.
struct FakeTrialBehaviour {
  double startup_seconds = 2;
  double seconds_per_epoch = 10;
  int64_t examples_per_epoch = 100;
  // Trial indices (from --work-dir trial-<k>) that crash after their first epoch.
  std::vector<int64_t> crash_indices;
};

class SweepFixture {
 public:
  SweepFixture();

  // watts per CPU thread of the fake trials; intensity in g/kWh.
  double watts_per_thread = 100;
  double grams_per_kwh = 400;
  FakeTrialBehaviour behaviour;
  SweepConfig config;  // name "test", ci-tiny space, budget 1 kg, 2 threads per trial.
  std::atomic<int> interrupts{0};
  // Called at each trial launch (index, attempt): lets a test interrupt at a chosen moment.
  std::function<void(int64_t index, int attempt)> on_launch;
  // Rewrites the script of a launch (index, attempt) after the usual one is
  // built: a trial that crashes at start-up, prints hostile events, ...
  std::function<void(int64_t index, int attempt, FakeTrialScript* script)> edit_script;
  // A time-varying intensity instead of the constant grams_per_kwh.
  std::shared_ptr<const IntensityProvider> intensity;

  // Creates the sweep (first call) and runs it with a fresh launcher and sampler.
  Result<SweepOutcome> Run();
  // Runs the existing sweep again (what `resume` does) with fresh fakes.
  Result<SweepOutcome> Resume();

  SweepStore& store() { return *store_; }
  // Opens the store file again with `options` (e.g. a size limit that acts as a full disk).
  void ReopenStore(const StoreOptions& options);
  FakeClock& clock() { return clock_; }
  FakeLauncher& launcher() { return *launcher_; }
  int64_t sweep_id() const { return sweep_id_; }
  const std::string& json_output() const { return json_text_; }
  std::vector<TrialRecord> Trials();
  double SpentGrams();
  // The most one sampling interval can add: every running trial at full power.
  double OneIntervalGrams() const;
  const TempDir& dir() const { return dir_; }

 private:
  Result<SweepOutcome> RunOnce();
  FakeTrialScript ScriptFor(const LaunchRequest& request, int attempt);

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<SweepStore> store_;
  std::unique_ptr<FakeLauncher> launcher_;
  std::string json_text_;
  int64_t sweep_id_ = 0;
};

}  // namespace cs::testing
