// The sampler thread and the attribution of each interval's energy.
#include "carbon/sampler.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <tuple>

#include "common/text.h"

namespace cs {
namespace {

const char* IdleShareName(IdleShare share) {
  switch (share) {
    case IdleShare::kExclude: return "exclude";
    case IdleShare::kSplitAmongTrials: return "split-among-trials";
    case IdleShare::kEmitUnattributed: return "emit-unattributed";
  }
  return "unknown";
}

}  // namespace

Status CheckSampleInterval(double seconds) {
  if (seconds > 0 && seconds <= 3600) return Status::Ok();  // false for NaN.
  return Status::InvalidArgument("--sample-interval " + FormatNumber(seconds) + ": must be in (0 s, 1 h]");
}

PowerSampler::PowerSampler(PowerSetup setup, std::shared_ptr<const IntensityProvider> intensity,
                           SamplerOptions options)
    : setup_(std::move(setup)),
      intensity_(std::move(intensity)),
      options_(options),
      clock_(options.clock ? options.clock : RealClock::Get()) {
  if (!(options_.interval_seconds > 0)) options_.interval_seconds = 1.0;
  counter_last_monotonic_.assign(setup_.counters.size(), -1);
}

PowerSampler::~PowerSampler() { Stop(); }

void PowerSampler::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_) return;
  running_ = true;
  stop_ = false;
  SampleLocked(-1, -1);
  thread_ = std::thread([this] { Loop(); });
}

void PowerSampler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_) return;
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  running_ = false;
  SampleLocked(-1, -1);
}

void PowerSampler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  auto interval = std::chrono::duration<double>(options_.interval_seconds);
  // Waiting uses the steady clock; the injected Clock only stamps and measures
  // intervals (tests drive the sampler through SampleOnce instead).
  while (!wake_.wait_for(lock, interval, [this] { return stop_; })) {
    SampleLocked(-1, -1);
  }
}

void PowerSampler::Track(int64_t trial_id, pid_t pid, std::vector<int> gpu_indices) {
  std::lock_guard<std::mutex> lock(mu_);
  SampleLocked(-1, -1);  // closes the interval before this trial existed.
  Tracked tracked;
  tracked.pid = pid;
  tracked.gpu_indices = std::move(gpu_indices);
  // The process's CPU time so far is its own (Track follows the fork; for
  // MeterSelf it is the trial's set-up), so the baseline is 0.
  tracked.last_cpu_seconds = 0;
  tracked_[trial_id] = tracked;
}

void PowerSampler::Untrack(int64_t trial_id, double final_cpu_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!tracked_.count(trial_id)) return;
  SampleLocked(trial_id, final_cpu_seconds);
  tracked_.erase(trial_id);
}

Status PowerSampler::MeterSelf(int64_t trial_id) { return MeterGroup(trial_id, getpid()); }

Status PowerSampler::MeterGroup(int64_t trial_id, pid_t leader) {
  std::vector<int> gpus = setup_.options.gpu_indices;
  if (gpus.empty()) {
    if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES")) {
      auto parsed = ParseCudaVisibleDevices(visible);
      if (!parsed.ok()) return parsed.status();
      gpus = *parsed;
    }
  }
  Track(trial_id, leader, gpus);
  return Status::Ok();
}

std::vector<EnergySample> PowerSampler::TakeSamples() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<EnergySample> samples;
  samples.swap(pending_);
  return samples;
}

void PowerSampler::SampleOnce() {
  std::lock_guard<std::mutex> lock(mu_);
  SampleLocked(-1, -1);
}

double PowerSampler::TotalJoules(int64_t trial_id, Component component) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = totals_.find({trial_id, static_cast<int>(component)});
  return it == totals_.end() ? 0 : it->second;
}

void PowerSampler::NoteError(const std::string& error) {
  if (std::find(read_errors_.begin(), read_errors_.end(), error) == read_errors_.end() &&
      read_errors_.size() < 20) {
    read_errors_.push_back(error);
  }
}

void PowerSampler::SampleLocked(int64_t final_trial_id, double final_cpu_seconds) {
  double now_monotonic = clock_->MonotonicSeconds();
  double now_unix = clock_->NowUnixSeconds();
  bool first = last_monotonic_ < 0;
  double interval = first ? 0 : std::max(0.0, now_monotonic - last_monotonic_);
  last_monotonic_ = now_monotonic;

  // 1. CPU seconds of each trial, and of the whole machine, in the interval.
  // A trial is its whole process group (workers, ranks, a wrapping shell):
  // one scan of /proc answers for every tracked trial.
  std::vector<pid_t> leaders;
  for (const auto& [trial_id, tracked] : tracked_) {
    if (!(trial_id == final_trial_id && final_cpu_seconds >= 0)) leaders.push_back(tracked.pid);
  }
  std::map<pid_t, Result<double>> group_cpu = setup_.cpu_time->ProcessGroupCpuSeconds(leaders);
  std::map<int64_t, double> cpu_seconds;
  double tracked_cpu = 0;
  for (auto& [trial_id, tracked] : tracked_) {
    double now_cpu = -1;
    if (trial_id == final_trial_id && final_cpu_seconds >= 0) {
      now_cpu = final_cpu_seconds;
    } else if (auto read = group_cpu.find(tracked.pid); read != group_cpu.end()) {
      if (read->second.ok()) {
        now_cpu = *read->second;
      } else if (trial_id == final_trial_id) {
        NoteError("trial " + std::to_string(trial_id) + ": no final CPU time (" + read->second.status().message() +
                  "); its last interval is not counted");
      }
    }
    // last_cpu_seconds is a high-water mark: a group's sum goes down when a
    // member is reaped outside the group (an orphan reaped by init takes its
    // CPU time with it) or when a scan races a reap, and the exit figure
    // (wait4 plus the members still alive) misses members that vanished
    // earlier. What was billed stays billed, and growth is billed only once
    // the sum passes the mark again, so nothing is counted twice.
    double delta = now_cpu < 0 ? 0 : std::max(0.0, now_cpu - tracked.last_cpu_seconds);
    if (now_cpu >= 0) tracked.last_cpu_seconds = std::max(tracked.last_cpu_seconds, now_cpu);
    cpu_seconds[trial_id] = delta;
    tracked_cpu += delta;
  }
  double machine_busy = -1;
  auto busy = setup_.cpu_time->MachineBusyCpuSeconds();
  if (busy.ok()) {
    machine_busy = last_machine_busy_ < 0 ? 0 : std::max(0.0, *busy - last_machine_busy_);
    last_machine_busy_ = *busy;
  } else {
    NoteError("machine CPU time: " + busy.status().message() + " (shares use the trials' CPU time only)");
  }

  // Joules per (trial, component, method) in this interval.
  std::map<std::tuple<int64_t, Component, EnergyMethod>, double> joules;
  auto unattributed = [&](Component component, EnergyMethod method, double value) {
    if (setup_.options.idle_share == IdleShare::kEmitUnattributed) {
      joules[{-1, component, method}] += value;
    } else {
      dropped_joules_[static_cast<int>(component)] += value;
    }
  };
  // Machine-level energy: each trial pays its share of the machine's busy
  // CPU time; the rest follows IdleShare.
  auto split_machine = [&](Component component, EnergyMethod method, double value) {
    double denominator = std::max(machine_busy, tracked_cpu);
    double attributed = 0;
    if (denominator > 0) {
      for (const auto& [trial_id, seconds] : cpu_seconds) {
        double share = value * seconds / denominator;
        joules[{trial_id, component, method}] += share;
        attributed += share;
      }
    }
    double rest = value - attributed;
    if (rest <= 0) return;
    if (setup_.options.idle_share == IdleShare::kSplitAmongTrials && !tracked_.empty()) {
      for (const auto& [trial_id, seconds] : cpu_seconds) {
        double weight = tracked_cpu > 0 ? seconds / tracked_cpu : 1.0 / tracked_.size();
        joules[{trial_id, component, method}] += rest * weight;
      }
    } else {
      unattributed(component, method, rest);
    }
  };

  // 2. Hardware counters.
  for (size_t i = 0; i < setup_.counters.size(); ++i) {
    double since = counter_last_monotonic_[i] < 0 ? 0 : now_monotonic - counter_last_monotonic_[i];
    auto read = setup_.counters[i]->Read(since);
    if (!read.ok()) {
      NoteError(read.status().message());
      continue;  // the next successful read covers this interval too.
    }
    counter_last_monotonic_[i] = now_monotonic;
    if (first) continue;  // baseline only.
    for (const DeviceEnergy& energy : *read) {
      if (energy.component != Component::kGpu) {
        split_machine(energy.component, energy.method, energy.joules);
        continue;
      }
      std::vector<int64_t> owners;
      for (const auto& [trial_id, tracked] : tracked_) {
        const auto& gpus = tracked.gpu_indices;
        if (std::find(gpus.begin(), gpus.end(), energy.device_index) != gpus.end()) owners.push_back(trial_id);
      }
      if (owners.empty()) {
        unattributed(Component::kGpu, energy.method, energy.joules);
      } else {
        for (int64_t owner : owners) joules[{owner, Component::kGpu, energy.method}] += energy.joules / owners.size();
      }
    }
  }

  if (!first) {
    // 3. The CPU-time model where no counter reads the CPU.
    if (!setup_.cpu_counted_by_counter) {
      const CpuPowerModel& model = setup_.cpu_model;
      for (const auto& [trial_id, seconds] : cpu_seconds) {
        joules[{trial_id, Component::kCpu, model.method}] += seconds * model.watts_per_thread;
      }
      // The idle floor is nobody's CPU time: it follows IdleShare.
      double idle = model.idle_watts * interval;
      if (idle > 0) {
        if (setup_.options.idle_share == IdleShare::kSplitAmongTrials && !tracked_.empty()) {
          for (const auto& [trial_id, seconds] : cpu_seconds) {
            double weight = tracked_cpu > 0 ? seconds / tracked_cpu : 1.0 / tracked_.size();
            joules[{trial_id, Component::kCpu, model.method}] += idle * weight;
          }
        } else {
          unattributed(Component::kCpu, model.method, idle);
        }
      }
    }
    // 4. RAM by rule where no dram counter reads it.
    if (!setup_.ram_counted_by_counter && setup_.ram_model.watts > 0) {
      split_machine(Component::kRam, setup_.ram_model.method, setup_.ram_model.watts * interval);
    }
  }

  // 5. Samples, in meter joules: whoever records them prices them (EnergyPricing).
  for (const auto& [key, value] : joules) {
    if (value <= 0) continue;
    EnergySample sample;
    sample.unix_seconds = now_unix;
    sample.interval_seconds = interval;
    std::tie(sample.trial_id, sample.component, sample.method) = key;
    sample.joules = value;
    sample.watts = interval > 0 ? value / interval : 0;
    auto used = cpu_seconds.find(sample.trial_id);
    if (used != cpu_seconds.end()) sample.cpu_seconds = used->second;
    totals_[{sample.trial_id, static_cast<int>(sample.component)}] += value;
    pending_.push_back(sample);
  }
}

namespace {

// "Linux-6.1.0-18-amd64-x86_64", as codecarbon's `os` column names a system:
// kept with the sweep, so a report made on another host still knows it.
std::string OperatingSystem() {
  struct utsname name {};
  if (uname(&name) != 0) return "";
  return std::string(name.sysname) + "-" + name.release + "-" + name.machine;
}

}  // namespace

nlohmann::json PowerSampler::Describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json components;
  if (setup_.cpu_counted_by_counter) {
    components["cpu"] = {{"method", "rapl"}};
  } else {
    components["cpu"] = {{"method", EnergyMethodName(setup_.cpu_model.method)},
                         {"watts_per_thread", setup_.cpu_model.watts_per_thread},
                         {"machine_watts", setup_.cpu_model.machine_watts},
                         {"idle_watts", setup_.cpu_model.idle_watts},
                         {"basis", setup_.cpu_model.basis}};
  }
  if (setup_.ram_counted_by_counter) {
    components["ram"] = {{"method", "rapl"}};
  } else {
    components["ram"] = {{"method", EnergyMethodName(setup_.ram_model.method)},
                         {"watts", setup_.ram_model.watts},
                         {"basis", setup_.ram_model.basis}};
  }
  nlohmann::json counters = nlohmann::json::array();
  for (const auto& counter : setup_.counters) counters.push_back(counter->Describe());
  nlohmann::json gpus = nlohmann::json::array();
  for (const auto& counter : counters) {
    if (counter.contains("devices") && counter.value("method", "") != "rapl") {
      for (const auto& device : counter["devices"]) gpus.push_back(device);
    }
  }
  components["gpu"] = {{"devices", gpus}};
  if (gpus.empty()) components["gpu"]["note"] = "no GPU metered";
  nlohmann::json dropped;
  for (const auto& [component, value] : dropped_joules_) {
    dropped[ComponentName(static_cast<Component>(component))] = value;
  }
  return {{"components", components},
          {"counters", counters},
          {"machine", {{"cpu_model", setup_.machine.cpu_model},
                       {"os", OperatingSystem()},
                       {"logical_threads", setup_.machine.logical_threads},
                       {"sockets", setup_.machine.sockets},
                       {"ram_gib", setup_.machine.ram_gb}}},
          {"pue", setup_.options.pue},
          {"interval_seconds", options_.interval_seconds},
          {"idle_share", IdleShareName(setup_.options.idle_share)},
          {"unattributed_joules_dropped", dropped},
          {"intensity", intensity_->Describe()},
          {"notes", setup_.notes},
          {"read_errors", read_errors_}};
}

}  // namespace cs
