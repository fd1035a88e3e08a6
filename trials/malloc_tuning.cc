#include "trials/malloc_tuning.h"

#include <malloc.h>

namespace cs {

bool KeepFreedMemoryForReuse() {
  // 32 MiB is glibc's ceiling for M_MMAP_THRESHOLD on 64-bit; larger blocks
  // (rare here: the largest activation of a batch is a few MiB) still mmap.
  constexpr int kMmapThresholdBytes = 32 * 1024 * 1024;
  // Keep up to 1 GiB of free heap top instead of returning it after each step,
  // and grow the heap in 64 MiB steps so a step's allocations need few brk calls.
  constexpr int kTrimThresholdBytes = 1024 * 1024 * 1024;
  constexpr int kTopPadBytes = 64 * 1024 * 1024;
  bool ok = mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes) == 1;
  ok = mallopt(M_TRIM_THRESHOLD, kTrimThresholdBytes) == 1 && ok;
  ok = mallopt(M_TOP_PAD, kTopPadBytes) == 1 && ok;
  return ok;
}

}  // namespace cs
