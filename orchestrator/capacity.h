// How many trials this machine can run at once: the cores this process may
// run on and the memory available now, and the check `run` and `resume`
// make before a local sweep starts, so --parallel 64 on a laptop is refused
// instead of thrashing (and billing the budget for it). Pure check, separate
// reading, so tests script machines. Any thread.
#pragma once

#include <cstdint>
#include <optional>

#include "common/status.h"

namespace cs {

struct MachineCapacity {
  int cores = 1;                           // sched_getaffinity (else hardware_concurrency), at least 1.
  std::optional<int64_t> available_bytes;  // /proc/meminfo MemAvailable; nullopt when unreadable.
};

// Resident memory one local trial needs, estimated: `carbonsweep trial
// --task imdb --train-size 256` (the 64 MB file read whole, libtorch, the
// bundled backbone with AdamW state, 1 epoch, 1 thread) peaked at 514 MiB
// (/usr/bin/time -v, Dec 2026); doubled for headroom (the default 4,000
// examples, larger --train-size, wider spaces).
constexpr int64_t kTrialBytesEstimate = int64_t{1} << 30;

// The capacity of this machine for this process, read now.
MachineCapacity ThisMachine();

// InvalidArgument naming --parallel, the limit and where it comes from when
// `parallel` trials would not fit: more trials than cores (each trial needs
// at least one: more only time-slice them, longer and no cheaper), or more
// than MemAvailable / `trial_bytes` (the machine would swap or kill trials).
// An unreadable MemAvailable skips the memory check.
Status CheckParallelFits(int parallel, const MachineCapacity& machine, int64_t trial_bytes = kTrialBytesEstimate);

}  // namespace cs
