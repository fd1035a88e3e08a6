// The energy channel of trials that meter themselves (Slurm jobs): the
// worker appends one JSON line per energy sample to <work_dir>/energy.log on
// the shared filesystem; the SlurmLauncher tails that file and hands each
// line to the sweep loop as a kEvent whose event is {"event":"energy", ...};
// the loop turns it into a MeterReading (MeterReadingFromEnergyEvent) for its
// EnergyLedger.
//
// The worker records joules at the meter only. PUE and carbon intensity are
// applied by the orchestrator, so a sweep has one intensity source whatever
// node a trial ran on.
//
// energy.log, one object per line (format version 1, fields append-only):
//   {"unix_seconds":1700000012.0,"interval_seconds":1.0,"component":"cpu",
//    "method":"cpu-time-model","joules":9.8,"watts":9.8}
//
// SelfMeterLog is used by `carbonsweep trial --meter-self` on the compute
// node; its methods may be called from any thread (a mutex guards the file).
// The free functions are pure.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "carbon/intensity.h"
#include "carbon/power_source.h"
#include "carbon/sampler.h"
#include "common/status.h"
#include "orchestrator/energy_ledger.h"

namespace cs {

constexpr const char* kTrialEnergyFile = "energy.log";
// The "event" value of the launcher events that carry one energy record.
constexpr const char* kEnergyEventName = "energy";

// One energy.log line (without the "event" key) for one sample.
nlohmann::json EnergyRecordFromSample(const EnergySample& sample);
// The launcher event for one energy.log line; nullopt when the line is not a
// complete record (a torn write, a human's note) or one of its numbers is not
// finite and non-negative (unix_seconds positive).
std::optional<nlohmann::json> EnergyEventFromLine(const std::string& line);

// The meter reading of one "energy" event of trial `trial_id` (meter joules:
// the ledger applies PUE and intensity). InvalidArgument naming the field
// when the event lacks one or has negative or non-finite numbers.
Result<MeterReading> MeterReadingFromEnergyEvent(const nlohmann::json& event, int64_t trial_id);

// Meters this process and appends its samples to <work_dir>/energy.log.
class SelfMeterLog {
 public:
  // Detects the power sources under `options`, starts a PowerSampler metering
  // this process every `interval_seconds`, and a thread that appends what it
  // measured to the log at the same pace (each line flushed at once).
  static Result<std::unique_ptr<SelfMeterLog>> Start(const std::string& work_dir, const MeterOptions& options,
                                                     double interval_seconds);
  // The same for another process: the process group `leader` leads (a
  // user's command that `carbonsweep job` started), with the GPUs of
  // options.gpu_indices, else of this process's CUDA_VISIBLE_DEVICES.
  static Result<std::unique_ptr<SelfMeterLog>> StartForGroup(const std::string& work_dir, const MeterOptions& options,
                                                             double interval_seconds, pid_t leader);
  ~SelfMeterLog();  // Stop()s.
  SelfMeterLog(const SelfMeterLog&) = delete;
  SelfMeterLog& operator=(const SelfMeterLog&) = delete;

  // Takes the last reading, writes it, joins the thread. Idempotent; the
  // first write error (disk full on the shared filesystem) is returned.
  Status Stop();
  // For StartForGroup, once the leader is reaped: its last reading takes
  // `final_cpu_seconds` (wait4's rusage: what /proc no longer tells of the
  // leader and its reaped descendants), then Stop().
  Status StopAfterExit(double final_cpu_seconds);
  // What the sampler meters with (methods, notes), for the trial's log.
  nlohmann::json Describe() const { return sampler_->Describe(); }

 private:
  SelfMeterLog(std::string path, std::unique_ptr<PowerSampler> sampler, double interval_seconds);
  // leader 0: this process.
  static Result<std::unique_ptr<SelfMeterLog>> StartFor(const std::string& work_dir, const MeterOptions& options,
                                                        double interval_seconds, pid_t leader);
  void Loop();
  void Flush();  // writes pending samples; REQUIRES: file_mu_ not held.

  const std::string path_;
  std::unique_ptr<PowerSampler> sampler_;
  const double interval_seconds_;
  std::mutex file_mu_;               // serializes appends to path_.
  Status write_status_;              // GUARDED_BY(file_mu_): the first failed write.
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;                // GUARDED_BY(mu_)
  bool stopped_ = false;             // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace cs
