// --gpus with the real binary and the fake NVML library (tests/carbon/fake_nvml.c,
// FAKE_NVML_DEVICES: devices that draw a steady 100 W): whole devices per
// trial through CUDA_VISIBLE_DEVICES, each device billed to its own trial,
// none to a CPU-only trial, and devices that do not exist refused.
#include <cstdlib>
#include <map>
#include <sstream>

#include <doctest/doctest.h>

#include "common/files.h"
#include "tests/e2e/e2e_helpers.h"
#include "tests/testing/temp_dir.h"

namespace cs {

using namespace cs::testing;

namespace {

// The fake library with `devices` devices for the binaries this test starts.
struct FakeGpus {
  explicit FakeGpus(int devices) {
    ::setenv("CARBONSWEEP_NVML_LIBRARY", FAKE_NVML_PATH, 1);
    ::setenv("FAKE_NVML_DEVICES", std::to_string(devices).c_str(), 1);
  }
  ~FakeGpus() {
    ::unsetenv("CARBONSWEEP_NVML_LIBRARY");
    ::unsetenv("FAKE_NVML_DEVICES");
  }
};

// A command that records the devices it was given, reports an epoch (the
// first calibrates the cost model, after which trials run side by side), then
// works for a second.
std::string RecordingCommand(const std::string& dir) {
  const std::string script = dir + "/trial.sh";
  REQUIRE(WriteFileAtomic(script,
                          "#!/bin/sh\n"
                          "echo \"$CARBONSWEEP_TRIAL_ID ${CUDA_VISIBLE_DEVICES-unset}\" >> " + dir + "/devices.log\n"
                          "sleep 0.3\n"
                          "echo '@cs {\"event\":\"epoch\",\"epoch\":1,\"val_accuracy\":0.5,\"examples\":100}'\n"
                          "sleep 1.2\n",
                          0755)
              .ok());
  return script + " --lr {learning_rate}";
}

std::vector<std::string> GpuSweepArgs(const std::string& dir, const std::string& name) {
  return {"run", "--name", name, "--db", dir + "/sweeps.db", "--space", SourceDir() + "/examples/python/space.json",
          "--budget", "1kg", "--trials", "4", "--sample-interval", "0.2", "--quiet", "--command",
          RecordingCommand(dir)};
}

double GpuJoulesOf(const std::string& db, const std::string& sweep, const TrialRecord& trial) {
  auto [store, sweep_id] = OpenSweep(db, sweep);
  double joules = 0;
  for (const EnergyTotal& total : store->TrialEnergy(trial.id).value()) {
    if (total.component == "gpu") joules += total.joules;
  }
  return joules;
}

}  // namespace

TEST_CASE("--gpus all --gpus-per-trial 1: two trials at once, each on its own device and billed for it alone") {
  FakeGpus gpus(2);
  TempDir dir;
  std::string output;
  std::vector<std::string> args =
      Concat(GpuSweepArgs(dir.path(), "gpu"), {"--gpus", "all", "--gpus-per-trial", "1", "--parallel", "2"});
  REQUIRE_MESSAGE(RunCarbonsweep(args, &output) == 0, output);

  Result<std::string> log = ReadFile(dir.File("devices.log"));
  REQUIRE(log.ok());
  std::map<std::string, int> trials_per_device;
  std::istringstream lines(*log);
  std::string trial, device;
  while (lines >> trial >> device) ++trials_per_device[device];
  CHECK(trials_per_device.size() == 2);  // "0" and "1", never "unset" or "0,1".
  CHECK(trials_per_device["0"] + trials_per_device["1"] == 4);

  const std::string db = dir.File("sweeps.db");
  for (const TrialRecord& record : StoredTrials(db, "gpu")) {
    CAPTURE(record.index);
    CHECK(record.state == TrialState::kFinished);
    // One device at 100 W while the trial ran (~1.5 s): not 0, and not both devices' 200 W.
    REQUIRE(record.started_at_unix.has_value());
    REQUIRE(record.ended_at_unix.has_value());
    const double wall_seconds = *record.ended_at_unix - *record.started_at_unix;
    const double gpu_joules = GpuJoulesOf(db, "gpu", record);
    CAPTURE(wall_seconds);
    CHECK(gpu_joules > 100 * wall_seconds * 0.6);
    CHECK(gpu_joules < 100 * wall_seconds * 1.4);
  }
}

TEST_CASE("a CPU-only sweep on a machine with GPUs is billed none of their energy") {
  FakeGpus gpus(2);
  TempDir dir;
  std::string output;
  REQUIRE_MESSAGE(RunCarbonsweep(GpuSweepArgs(dir.path(), "cpu-only"), &output) == 0, output);
  const std::string db = dir.File("sweeps.db");
  for (const TrialRecord& record : StoredTrials(db, "cpu-only")) CHECK(GpuJoulesOf(db, "cpu-only", record) == 0);
}

TEST_CASE("--gpus naming a device the machine lacks is refused before any sweep exists") {
  FakeGpus gpus(2);
  TempDir dir;
  std::string output;
  CHECK(RunCarbonsweep(Concat(GpuSweepArgs(dir.path(), "seven"), {"--gpus", "7"}), &output) == 2);
  CHECK(output.find("--gpus: this machine has no GPU 7 (NVML sees 2 device(s), 0 to 1)") != std::string::npos);
  CHECK(!SweepExists(dir.File("sweeps.db"), "seven"));
  CHECK(RunCarbonsweep(Concat(GpuSweepArgs(dir.path(), "pairs"), {"--gpus", "0,1", "--gpus-per-trial", "2", "--parallel", "2"}),
                       &output) == 2);
  CHECK(output.find("--gpus 0,1 with --gpus-per-trial 2 runs at most 1 trial(s) at once") != std::string::npos);
}

TEST_CASE("--gpus on a machine without an NVIDIA driver says so") {
  ::setenv("CARBONSWEEP_NVML_LIBRARY", "libno-such-nvml.so", 1);
  TempDir dir;
  std::string output;
  CHECK(RunCarbonsweep(Concat(GpuSweepArgs(dir.path(), "none"), {"--gpus", "0"}), &output) == 2);
  CHECK(output.find("--gpus: cannot load libno-such-nvml.so (no NVIDIA driver?)") != std::string::npos);
  ::unsetenv("CARBONSWEEP_NVML_LIBRARY");
}

}  // namespace cs
