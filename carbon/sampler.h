// PowerSampler: the background thread that turns power sources into energy
// samples per trial, in joules at the meter. It prices nothing: PUE and
// grams CO2e are applied by EnergyPricing (carbon/energy_pricing.h) where the
// samples are recorded; the intensity it is given is only described.
//
// Owned by the orchestrator (one per machine, so N concurrent trials never
// count the machine N times) or by a trial process metering itself on a
// Slurm node (MeterSelf). Every interval it reads each EnergyCounter once and
// each tracked trial's CPU seconds once, then attributes:
//   - machine-level counters (RAPL package/dram) by each trial's share of
//     the machine's busy CPU seconds in the interval;
//   - GPU counters by assigned device (split evenly when shared);
//   - with no CPU counter, the CPU-time model: a trial's CPU seconds x watts
//     per thread; RAM by CPU-time share of the machine;
//   - what no trial used follows MeterOptions::idle_share.
// Samples queue up until TakeSamples() drains them; the orchestrator's thread
// writes them to the store. Untrack() takes a final reading, so the energy of
// a trial that exits, crashes or is killed between two ticks is not lost.
//
// Thread safety: every public method may be called from any thread; Stop()
// (or the destructor) is the one way the thread ends.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "carbon/intensity.h"
#include "carbon/power_source.h"
#include "common/clock.h"
#include "common/status.h"

namespace cs {

// Energy of one component, for one trial (or none), over one interval.
struct EnergySample {
  double unix_seconds = 0;      // end of the interval.
  double interval_seconds = 0;  // its length.
  int64_t trial_id = -1;        // -1: not attributable to a trial (see IdleShare).
  Component component = Component::kCpu;
  EnergyMethod method = EnergyMethod::kCpuTimeModel;
  double joules = 0;            // at the meter, before PUE.
  double watts = 0;             // joules / interval_seconds, at the meter.
  double cpu_seconds = 0;       // the trial's CPU seconds in the interval (on each of its samples); 0 unattributed.
};

// The one check of a sampling interval: finite, in (0, 3600] seconds;
// InvalidArgument naming --sample-interval and the value otherwise.
Status CheckSampleInterval(double seconds);

struct SamplerOptions {
  double interval_seconds = 1.0;  // between two readings; > 0.
  Clock* clock = nullptr;         // nullptr = RealClock::Get(). Not owned.
};

class PowerSampler {
 public:
  // `setup` comes from DetectPowerSources (or a test's fakes).
  PowerSampler(PowerSetup setup, std::shared_ptr<const IntensityProvider> intensity,
               SamplerOptions options = {});
  ~PowerSampler();  // Stop()s.
  PowerSampler(const PowerSampler&) = delete;
  PowerSampler& operator=(const PowerSampler&) = delete;

  // Starts the thread (the first reading sets the baselines). Idempotent.
  void Start();
  // Takes a last reading and joins the thread. Idempotent.
  void Stop();

  // From now on, energy of `pid` and every process in the process group it
  // leads (and the GPUs `gpu_indices`, NVML indices) goes to `trial_id`.
  // Takes a reading first so earlier energy is not charged to the new trial.
  void Track(int64_t trial_id, pid_t pid, std::vector<int> gpu_indices);
  // Takes a final reading (with `final_cpu_seconds` from wait4's rusage when
  // >= 0, since /proc no longer knows a reaped pid) and stops attributing.
  void Untrack(int64_t trial_id, double final_cpu_seconds);
  // Meters this process as `trial_id` (getpid(), GPUs from CUDA_VISIBLE_DEVICES).
  Status MeterSelf(int64_t trial_id);
  // The same for the process group `leader` leads (a command this process
  // started, which shares its GPUs).
  Status MeterGroup(int64_t trial_id, pid_t leader);

  // Drains the samples taken so far. Thread-safe.
  std::vector<EnergySample> TakeSamples();
  // One reading now, on the caller's thread (tests, and Stop/Track/Untrack).
  void SampleOnce();

  // Methods per component, constants, intensity, PUE, notes — stored with the sweep.
  nlohmann::json Describe() const;
  // Joules per (trial, component) accumulated since construction (sum of all samples).
  double TotalJoules(int64_t trial_id, Component component) const;

 private:
  struct Tracked {
    pid_t pid = 0;
    std::vector<int> gpu_indices;
    double last_cpu_seconds = -1;  // highest group CPU seconds read so far; -1: none yet.
  };
  void Loop();
  // REQUIRES: mu_ held. `final_cpu` overrides /proc for one trial.
  void SampleLocked(int64_t final_trial_id, double final_cpu_seconds);
  void NoteError(const std::string& error);  // REQUIRES: mu_ held.

  PowerSetup setup_;
  std::shared_ptr<const IntensityProvider> intensity_;
  SamplerOptions options_;
  Clock* clock_;

  mutable std::mutex mu_;
  std::condition_variable wake_;                 // signals stop_ to the thread.
  bool running_ = false;                         // GUARDED_BY(mu_)
  bool stop_ = false;                            // GUARDED_BY(mu_)
  std::map<int64_t, Tracked> tracked_;           // GUARDED_BY(mu_)
  std::vector<EnergySample> pending_;            // GUARDED_BY(mu_)
  std::map<std::pair<int64_t, int>, double> totals_;  // GUARDED_BY(mu_)
  double last_monotonic_ = -1;                   // GUARDED_BY(mu_); -1 before the first reading.
  double last_machine_busy_ = -1;                // GUARDED_BY(mu_)
  std::vector<double> counter_last_monotonic_;   // GUARDED_BY(mu_); per counter, last good read.
  std::map<int, double> dropped_joules_;         // GUARDED_BY(mu_); by Component, IdleShare::kExclude.
  std::vector<std::string> read_errors_;         // GUARDED_BY(mu_); distinct, for Describe().
  std::thread thread_;
};

}  // namespace cs
