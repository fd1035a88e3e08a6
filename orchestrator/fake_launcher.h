// FakeLauncher: a TrialLauncher whose trials are scripts on a FakeClock, for
// the orchestrator's tests and benchmarks. A script says what a trial prints
// and when it exits (seconds after its start); Wait() advances the clock to
// the next scripted moment, so a sweep of hours runs in milliseconds and
// every crash, kill and resume is reproducible.
//
// Each fake trial also "uses" `threads` CPU seconds per second while it runs;
// CpuTimeReader() exposes that to a real PowerSampler, so tests meter scripted
// power through the same attribution code as production.
// Not thread-safe beyond this: the scheduler thread calls the launcher; the
// CPU-time reader may be called from the sampler (a mutex guards the table).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "carbon/power_source.h"
#include "common/clock.h"
#include "orchestrator/launcher.h"

namespace cs {

// One scripted moment of a trial.
struct FakeTrialStep {
  double after_seconds = 0;  // since this launch started.
  LauncherEvent::Kind kind = LauncherEvent::Kind::kEvent;
  nlohmann::json event;  // kEvent.
  TrialExit exit;        // kExit: the script's last step.
};
using FakeTrialScript = std::vector<FakeTrialStep>;

// A typical training run, turned into a script by MakeTrainingScript().
struct FakeTraining {
  int epochs = 3;                  // params.epochs.
  int first_epoch = 1;             // > 1 when resuming from a checkpoint.
  int stop_after_epoch = 0;        // > 0: end "paused" after this epoch (ASHA rungs).
  double startup_seconds = 1;      // before the first epoch starts.
  double seconds_per_epoch = 10;
  int64_t examples_per_epoch = 100;
  std::vector<double> val_accuracy;  // per epoch (1-based index - 1); missing = 0.5.
  int crash_after_epoch = 0;       // > 0: die by `crash_signal` after this epoch instead of ending.
  int crash_signal = 11;           // SIGSEGV.
  bool diverge = false;            // end "diverged" after the first epoch.
};
FakeTrialScript MakeTrainingScript(const FakeTraining& training);

class FakeLauncher : public TrialLauncher {
 public:
  // Builds the script of a launch; `attempt` counts launches of that trial id (1 = first).
  using ScriptFactory = std::function<FakeTrialScript(const LaunchRequest& request, int attempt)>;

  FakeLauncher(FakeClock* clock, ScriptFactory factory);

  Result<LaunchedTrial> Start(const LaunchRequest& request) override;
  void Wait(double timeout_seconds, std::vector<LauncherEvent>* events) override;
  void Stop(int64_t trial_id, StopMode mode) override;
  int Running() const override;

  // How long a graceful stop takes before the trial prints its "interrupted"
  // end event and exits 4.
  void set_graceful_stop_seconds(double seconds) { graceful_stop_seconds_ = seconds; }
  // Every request started so far, in order.
  const std::vector<LaunchRequest>& started() const { return started_; }
  // The most trials that ran at once.
  int max_concurrent() const { return max_concurrent_; }
  // Reads the fake trials' CPU time (threads x seconds running) by fake pid.
  // The launcher must outlive the reader.
  std::unique_ptr<CpuTimeReader> MakeCpuTimeReader();

 private:
  struct Trial {
    int64_t trial_id = 0;
    int pid = 0;
    int threads = 1;
    double started_at = 0;        // clock seconds.
    double ended_at = -1;         // clock seconds; -1 while running.
    std::vector<FakeTrialStep> steps;  // absolute times in after_seconds, sorted.
    size_t next_step = 0;
  };
  friend class FakeCpuTimeReader;
  double CpuSecondsOf(int pid);
  double MachineBusySeconds();

  FakeClock* clock_;
  ScriptFactory factory_;
  double graceful_stop_seconds_ = 0.5;
  std::vector<LaunchRequest> started_;
  std::map<int64_t, int> attempts_;
  int max_concurrent_ = 0;
  int next_pid_ = 100000;
  mutable std::mutex mu_;
  std::map<int64_t, Trial> running_;  // GUARDED_BY(mu_), by trial id.
  std::map<int, double> exited_cpu_;  // GUARDED_BY(mu_): final CPU seconds by pid.
};

}  // namespace cs
