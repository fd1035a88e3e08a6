// Fuzzes ReadTrialExitUsage (trials/exit_usage.h): whatever a dying trial,
// a full disk or another program left as <work_dir>/exit_usage.json. `resume`
// prices the CPU time it reads, so what it accepts is finite and not negative.
#include <cmath>
#include <optional>

#include "tests/fuzz/fuzz_util.h"
#include "trials/exit_usage.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cs::fuzz::WriteScratchFile(cs::kTrialExitUsageFile, cs::fuzz::Text(data, size));
  std::optional<cs::TrialExitUsage> usage = cs::ReadTrialExitUsage(cs::fuzz::ScratchDir());
  if (!usage) return 0;
  CS_FUZZ_CHECK(std::isfinite(usage->cpu_seconds) && usage->cpu_seconds >= 0, "cpu_seconds is negative or not finite");
  CS_FUZZ_CHECK(std::isfinite(usage->unix_seconds) && usage->unix_seconds >= 0, "unix_seconds is negative or not finite");
  return 0;
}
