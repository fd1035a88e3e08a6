#include "orchestrator/capacity.h"

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "common/text.h"

namespace cs {

namespace {

std::string Gib(int64_t bytes) { return StringPrintf("%.1f GiB", static_cast<double>(bytes) / (int64_t{1} << 30)); }

std::optional<int64_t> MemAvailableBytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    int64_t kib = 0;
    if (fields >> kib) return kib * 1024;
  }
  return std::nullopt;
}

}  // namespace

MachineCapacity ThisMachine() {
  MachineCapacity machine;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    machine.cores = CPU_COUNT(&set);
  } else {
    machine.cores = static_cast<int>(std::thread::hardware_concurrency());
  }
  machine.cores = std::max(machine.cores, 1);
  machine.available_bytes = MemAvailableBytes();
  return machine;
}

Status CheckParallelFits(int parallel, const MachineCapacity& machine, int64_t trial_bytes) {
  if (parallel > machine.cores) {
    return Status::InvalidArgument("--parallel " + std::to_string(parallel) + ": this process may run on " +
                                   std::to_string(machine.cores) +
                                   " cores (sched_getaffinity) and each trial needs one; more would only "
                                   "time-slice them, slower and no cheaper (at most --parallel " +
                                   std::to_string(machine.cores) + ")");
  }
  if (machine.available_bytes && parallel > 1 && parallel * trial_bytes > *machine.available_bytes) {
    const int64_t fits = std::max<int64_t>(1, *machine.available_bytes / trial_bytes);
    return Status::InvalidArgument("--parallel " + std::to_string(parallel) + ": " + std::to_string(parallel) +
                                   " trials need about " + Gib(parallel * trial_bytes) + " (" + Gib(trial_bytes) +
                                   " each, estimated) but /proc/meminfo MemAvailable is " +
                                   Gib(*machine.available_bytes) + " (at most --parallel " + std::to_string(fits) +
                                   " now)");
  }
  return Status::Ok();
}

}  // namespace cs
