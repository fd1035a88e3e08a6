// CheckParallelFits on scripted machines: cores first, then memory.
#include <doctest/doctest.h>

#include "orchestrator/capacity.h"

namespace cs {

TEST_CASE("--parallel beyond the cores or the available memory is refused, saying which and why") {
  const int64_t gib = int64_t{1} << 30;
  MachineCapacity laptop{/*cores=*/4, /*available_bytes=*/3 * gib};
  Status cores = CheckParallelFits(8, laptop, gib);
  CHECK(cores.code() == Status::Code::kInvalidArgument);
  CHECK(cores.message().rfind("--parallel 8: ", 0) == 0);
  CHECK(cores.message().find("4 cores (sched_getaffinity)") != std::string::npos);
  Status memory = CheckParallelFits(4, laptop, gib);
  CHECK(memory.code() == Status::Code::kInvalidArgument);
  CHECK(memory.message().find("MemAvailable is 3.0 GiB") != std::string::npos);
  CHECK(memory.message().find("at most --parallel 3") != std::string::npos);
  CHECK(CheckParallelFits(3, laptop, gib).ok());
  CHECK(CheckParallelFits(1, MachineCapacity{1, gib / 4}, gib).ok());  // one trial always may try.
  CHECK(CheckParallelFits(4, MachineCapacity{4, std::nullopt}, gib).ok());  // no /proc/meminfo: cores only.
}

TEST_CASE("this machine has at least one core and says how much memory is free") {
  MachineCapacity here = ThisMachine();
  CHECK(here.cores >= 1);
  REQUIRE(here.available_bytes);
  CHECK(*here.available_bytes > 0);
}

}  // namespace cs
