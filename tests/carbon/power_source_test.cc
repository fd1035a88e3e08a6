#include <dlfcn.h>
#include <sys/stat.h>

#include <cmath>

#include <doctest/doctest.h>

#include "carbon/power_source.h"
#include "tests/carbon/carbon_test_util.h"

namespace cs {
namespace {

// A powercap tree with `packages` sockets, each with core (and optionally dram) subdomains.
void WriteRaplTree(const std::string& root, int packages, bool dram, double max_range_uj = 262143328850.0) {
  std::map<std::string, std::string> files;
  for (int p = 0; p < packages; ++p) {
    std::string package = "intel-rapl:" + std::to_string(p);
    files[package + "/name"] = "package-" + std::to_string(p) + "\n";
    files[package + "/energy_uj"] = "1000000\n";
    files[package + "/max_energy_range_uj"] = std::to_string(static_cast<long long>(max_range_uj)) + "\n";
    files[package + ":0/name"] = "core\n";
    files[package + ":0/energy_uj"] = "500\n";
    files[package + ":0/max_energy_range_uj"] = "262143328850\n";
    if (dram) {
      files[package + ":1/name"] = "dram\n";
      files[package + ":1/energy_uj"] = "0\n";
      files[package + ":1/max_energy_range_uj"] = "262143328850\n";
    }
  }
  testing::WriteTree(root, files);
}

void SetEnergy(const std::string& root, const std::string& domain, double microjoules) {
  WriteFileAtomic(root + "/" + domain + "/energy_uj", std::to_string(static_cast<long long>(microjoules)) + "\n");
}

double JoulesOf(const std::vector<DeviceEnergy>& energies, Component component) {
  double joules = 0;
  for (const DeviceEnergy& energy : energies) {
    if (energy.component == component) joules += energy.joules;
  }
  return joules;
}

}  // namespace

TEST_CASE("method and component names are the stored strings") {
  CHECK(std::string(EnergyMethodName(EnergyMethod::kRapl)) == "rapl");
  CHECK(std::string(EnergyMethodName(EnergyMethod::kNvmlEnergy)) == "nvml-energy");
  CHECK(std::string(EnergyMethodName(EnergyMethod::kNvmlPower)) == "nvml-power");
  CHECK(std::string(EnergyMethodName(EnergyMethod::kHwmon)) == "hwmon");
  CHECK(std::string(EnergyMethodName(EnergyMethod::kCpuTimeModel)) == "cpu-time-model");
  CHECK(std::string(EnergyMethodName(EnergyMethod::kUserSet)) == "user-set");
  CHECK(std::string(EnergyMethodName(EnergyMethod::kSlurm)) == "slurm");
  CHECK(static_cast<int>(EnergyMethod::kSlurm) == 6);
  CHECK(ParseEnergyMethod("nvml-power").value() == EnergyMethod::kNvmlPower);
  CHECK(!ParseEnergyMethod("guess").ok());
  CHECK(ParseComponent("ram").value() == Component::kRam);
}

TEST_CASE("RAPL sums two packages, reads dram as RAM and skips core") {
  testing::TempDir dir;
  WriteRaplTree(dir.path(), /*packages=*/2, /*dram=*/true);
  auto rapl = OpenRapl(dir.path());
  REQUIRE(rapl.ok());
  nlohmann::json description = (*rapl)->Describe();
  CHECK(description["has_dram"] == true);
  CHECK(description["summary"].get<std::string>().find("intel-rapl:0:0 (core)") != std::string::npos);

  SetEnergy(dir.path(), "intel-rapl:0", 1000000 + 30e6);     // +30 J
  SetEnergy(dir.path(), "intel-rapl:1", 1000000 + 12.5e6);   // +12.5 J
  SetEnergy(dir.path(), "intel-rapl:0:0", 500 + 99e6);       // core: inside the package, ignored
  SetEnergy(dir.path(), "intel-rapl:0:1", 4e6);              // dram socket 0: +4 J
  SetEnergy(dir.path(), "intel-rapl:1:1", 1e6);              // dram socket 1: +1 J
  auto read = (*rapl)->Read(1.0);
  REQUIRE(read.ok());
  CHECK(JoulesOf(*read, Component::kCpu) == doctest::Approx(42.5));
  CHECK(JoulesOf(*read, Component::kRam) == doctest::Approx(5.0));
  for (const DeviceEnergy& energy : *read) CHECK(energy.method == EnergyMethod::kRapl);
}

TEST_CASE("RAPL handles the counter wrapping at max_energy_range_uj") {
  testing::TempDir dir;
  WriteRaplTree(dir.path(), 1, /*dram=*/false, /*max_range_uj=*/10e6);
  SetEnergy(dir.path(), "intel-rapl:0", 9e6);
  auto rapl = OpenRapl(dir.path());
  REQUIRE(rapl.ok());
  CHECK((*rapl)->Describe()["has_dram"] == false);
  SetEnergy(dir.path(), "intel-rapl:0", 2e6);  // 9 -> 10 (wrap) -> 2: 3 J
  auto read = (*rapl)->Read(1.0);
  REQUIRE(read.ok());
  CHECK(JoulesOf(*read, Component::kCpu) == doctest::Approx(3.0));
}

TEST_CASE("RAPL files that cannot be read give the CVE-2020-8694 fix") {
  testing::TempDir dir;
  WriteRaplTree(dir.path(), 1, false);
  // Tests may run as root, where chmod 000 does not stop a read: the
  // permission error is injected through the reader.
  FileReader refusing = [real = RealFileReader()](const std::string& path) -> Result<std::string> {
    if (path.find("energy_uj") != std::string::npos) return Status::IoError(path + ": permission denied");
    return real(path);
  };
  auto rapl = OpenRapl(dir.path(), refusing);
  REQUIRE(!rapl.ok());
  CHECK(rapl.status().code() == Status::Code::kIoError);
  CHECK(rapl.status().message().find("CVE-2020-8694") != std::string::npos);
  CHECK(rapl.status().message().find("chmod") != std::string::npos);
  CHECK(rapl.status().message().find(dir.path() + "/intel-rapl:0/energy_uj") != std::string::npos);

  if (geteuid() != 0) {  // the real reader, where chmod does bite.
    chmod((dir.path() + "/intel-rapl:0/energy_uj").c_str(), 0);
    auto real = OpenRapl(dir.path());
    REQUIRE(!real.ok());
    CHECK(real.status().message().find("CVE-2020-8694") != std::string::npos);
  } else {
    MESSAGE("running as root: chmod 000 does not block reads, only the injected refusal was checked");
  }
}

TEST_CASE("no powercap tree is reported as not found, not as zero joules") {
  testing::TempDir dir;
  auto rapl = OpenRapl(dir.path() + "/missing");
  CHECK(rapl.status().code() == Status::Code::kNotFound);
  CHECK(rapl.status().message().find("no powercap tree") != std::string::npos);
}

TEST_CASE("AMD hwmon: energy counter, integrated power, other vendors ignored") {
  testing::TempDir dir;
  testing::WriteTree(dir.path(), {
      {"card0/device/vendor", "0x1002\n"},
      {"card0/device/hwmon/hwmon3/energy1_input", "5000000\n"},
      {"card1/device/vendor", "0x10de\n"},  // NVIDIA: NVML's job.
      {"card1/device/hwmon/hwmon4/power1_average", "100000000\n"},
      {"card2/device/vendor", "0x1002\n"},
      {"card2/device/hwmon/hwmon5/power1_average", "200000000\n"},  // 200 W
      {"card0-DP-1/status", "connected\n"},
  });
  auto hwmon = OpenAmdHwmon(dir.path(), {});
  REQUIRE(hwmon.ok());
  CHECK((*hwmon)->Describe()["devices"].size() == 2);
  testing::WriteTree(dir.path(), {{"card0/device/hwmon/hwmon3/energy1_input", "8000000\n"},
                                  {"card2/device/hwmon/hwmon5/power1_average", "100000000\n"}});
  auto read = (*hwmon)->Read(2.0);
  REQUIRE(read.ok());
  REQUIRE(read->size() == 2);
  CHECK((*read)[0].device_index == 0);
  CHECK((*read)[0].joules == doctest::Approx(3.0));
  CHECK((*read)[1].device_index == 1);
  CHECK((*read)[1].joules == doctest::Approx((200 + 100) / 2.0 * 2.0));  // trapezoid over 2 s
  CHECK((*read)[1].method == EnergyMethod::kHwmon);

  auto only_second = OpenAmdHwmon(dir.path(), {1});
  REQUIRE(only_second.ok());
  CHECK((*only_second)->Describe()["devices"].size() == 1);
  CHECK(OpenAmdHwmon(dir.path() + "/none", {}).status().code() == Status::Code::kNotFound);
}

TEST_CASE("NVML through dlopen: energy counter, power integration, device filter") {
  void* fake = dlopen(FAKE_NVML_PATH, RTLD_NOW);
  REQUIRE(fake != nullptr);
  auto reset = reinterpret_cast<void (*)(unsigned)>(dlsym(fake, "fake_nvml_reset"));
  auto set = reinterpret_cast<void (*)(unsigned, int, int, unsigned long long, unsigned)>(dlsym(fake, "fake_nvml_set"));
  REQUIRE(static_cast<bool>(reset));
  REQUIRE(static_cast<bool>(set));
  reset(3);
  set(0, /*energy=*/1, /*power=*/1, 1000000, 300000);
  set(1, /*energy=*/0, /*power=*/1, 0, 150000);  // pre-Volta: no energy counter
  set(2, /*energy=*/1, /*power=*/1, 5000, 50000);

  SUBCASE("counter where supported, power samples where not") {
    auto nvml = OpenNvml(FAKE_NVML_PATH, {});
    REQUIRE(nvml.ok());
    nlohmann::json description = (*nvml)->Describe();
    REQUIRE(description["devices"].size() == 3);
    CHECK(description["devices"][0]["method"] == "nvml-energy");
    CHECK(description["devices"][1]["method"] == "nvml-power");
    CHECK(description["devices"][1]["why_not_energy_counter"].get<std::string>().find("Not Supported") !=
          std::string::npos);
    set(0, 1, 1, 1000000 + 250000, 300000);  // +250 J
    set(1, 0, 1, 0, 250000);                 // 150 W -> 250 W
    auto read = (*nvml)->Read(2.0);
    REQUIRE(read.ok());
    CHECK((*read)[0].joules == doctest::Approx(250.0));
    CHECK((*read)[0].method == EnergyMethod::kNvmlEnergy);
    CHECK((*read)[1].joules == doctest::Approx((150 + 250) / 2.0 * 2.0));  // never a silent 0 J
    CHECK((*read)[1].method == EnergyMethod::kNvmlPower);
    CHECK((*read)[2].joules == doctest::Approx(0.0));
  }
  SUBCASE("only the devices asked for (CUDA_VISIBLE_DEVICES)") {
    auto nvml = OpenNvml(FAKE_NVML_PATH, ParseCudaVisibleDevices("2").value());
    REQUIRE(nvml.ok());
    auto devices = (*nvml)->Describe()["devices"];
    REQUIRE(devices.size() == 1);
    CHECK(devices[0]["index"] == 2);
    auto beyond = OpenNvml(FAKE_NVML_PATH, {7});
    CHECK(!beyond.ok());
    CHECK(beyond.status().message().find("GPU 7 was asked for but NVML sees 3") != std::string::npos);
  }
  SUBCASE("a device with neither counter nor power is reported, not read as 0") {
    reset(1);
    set(0, 0, 0, 0, 0);
    auto nvml = OpenNvml(FAKE_NVML_PATH, {});
    REQUIRE(!nvml.ok());
    CHECK(nvml.status().message().find("NOT metered") != std::string::npos);
  }
  dlclose(fake);
  CHECK(OpenNvml("/nonexistent/libnvidia-ml.so.1", {}).status().code() == Status::Code::kNotFound);
}

TEST_CASE("CUDA_VISIBLE_DEVICES parsing") {
  CHECK(ParseCudaVisibleDevices("0,2").value() == std::vector<int>{0, 2});
  CHECK(ParseCudaVisibleDevices("").value().empty());
  auto uuid = ParseCudaVisibleDevices("GPU-1234");
  CHECK(!uuid.ok());
  CHECK(uuid.status().message().find("GPU-1234") != std::string::npos);
}

TEST_CASE("CPU TDP lookup follows codecarbon's matching and the file's quirks") {
  CHECK(LookUpCpuTdpWatts("AMD EPYC 7763").value() == doctest::Approx(280));
  CHECK(LookUpCpuTdpWatts("AMD EPYC 7763 64-Core Processor").value() == doctest::Approx(280));
  CHECK(LookUpCpuTdpWatts("Intel(R) Celeron(R) 1000A").value() == doctest::Approx(29.5));  // "27.29.5"
  auto plain = LookUpCpuTdpWatts("AMD EPYC");  // this machine's KVM model name
  CHECK(!plain.ok());
  CHECK(plain.status().message().find("matches") != std::string::npos);
  CHECK(!LookUpCpuTdpWatts("Intel Quark D1000").ok());  // the 0.0 row is dropped
}

TEST_CASE("GPU TDPs with the swapped V100 rows corrected") {
  CHECK(LookUpGpuTdpWatts("Tesla V100-SXM2-16GB").value() == doctest::Approx(300));
  CHECK(LookUpGpuTdpWatts("Tesla V100-PCIE-16GB").value() == doctest::Approx(250));
  CHECK(LookUpGpuTdpWatts("H100 SXM").value() == doctest::Approx(700));
  CHECK(!LookUpGpuTdpWatts("GTX 750").ok());
}

TEST_CASE("a GPU by a unique prefix, any case; an ambiguous name lists its candidates") {
  CHECK(LookUpGpuTdpWatts("a100 pcie").value() == doctest::Approx(250));
  CHECK(LookUpGpuTdpWatts("h100 nvl").value() == doctest::Approx(400));
  CHECK(LookUpGpuTdpWatts("L4").value() == doctest::Approx(72));  // exact beats the prefix of L40S

  auto h100 = LookUpGpuTdpWatts("H100");
  REQUIRE(!h100.ok());
  CHECK(h100.status().message() == "GPU 'H100' is ambiguous in mlco2/impact gpus.csv: 'H100 SXM', 'H100 NVL'");

  auto v100 = LookUpGpuTdpWatts("V100");  // inside three names, the start of none
  REQUIRE(!v100.ok());
  CHECK(v100.status().message().find("'Tesla V100-SXM2-32GB'") != std::string::npos);

  auto unknown = LookUpGpuTdpWatts("B200");
  REQUIRE(!unknown.ok());
  CHECK(unknown.status().message() == "GPU 'B200' is not in mlco2/impact gpus.csv");
}

TEST_CASE("machine info, CPU and RAM models from a fake /proc") {
  testing::TempDir dir;
  testing::WriteTree(dir.path(), {
      {"cpuinfo", "processor\t: 0\nmodel name\t: AMD EPYC\nphysical id\t: 0\n\n"
                  "processor\t: 1\nmodel name\t: AMD EPYC\nphysical id\t: 0\n"},
      {"meminfo", "MemTotal:       33554432 kB\nMemFree:  1 kB\n"},  // 32 GiB
  });
  auto machine = ReadMachineInfo(dir.path());
  REQUIRE(machine.ok());
  CHECK(machine->cpu_model == "AMD EPYC");
  CHECK(machine->logical_threads == 2);
  CHECK(machine->sockets == 1);
  CHECK(machine->ram_gb == doctest::Approx(32.0));

  MeterOptions options;
  CpuPowerModel cpu = ChooseCpuPowerModel(*machine, options);
  CHECK(cpu.method == EnergyMethod::kCpuTimeModel);
  CHECK(cpu.watts_per_thread == doctest::Approx(4.0));  // unknown model: 4 W per thread
  CHECK(cpu.machine_watts == doctest::Approx(8.0));
  CHECK(cpu.idle_watts == doctest::Approx(0.8));
  CHECK(cpu.basis.find("DEFAULT_POWER_PER_CORE") != std::string::npos);

  options.cpu_model = "AMD EPYC 7763";  // 280 W over 2 threads
  CHECK(ChooseCpuPowerModel(*machine, options).watts_per_thread == doctest::Approx(140.0));
  options.cpu_watts = 50;
  CpuPowerModel user = ChooseCpuPowerModel(*machine, options);
  CHECK(user.method == EnergyMethod::kUserSet);
  CHECK(user.watts_per_thread == doctest::Approx(25.0));

  MeterOptions ram;
  CHECK(ChooseRamPowerModel(*machine, ram).watts == doctest::Approx(20.0));  // 32 GiB ~ 4 DIMMs x 5 W
  machine->ram_gb = 128;
  CHECK(ChooseRamPowerModel(*machine, ram).watts == doctest::Approx(5 * 4 + 4.5 * 4));  // 8 DIMMs, tapered
  machine->ram_gb = 8;
  CHECK(ChooseRamPowerModel(*machine, ram).watts == doctest::Approx(10.0));  // at least 2 DIMMs
  ram.ram_rule = RamRule::kPerGbV2;
  CHECK(ChooseRamPowerModel(*machine, ram).watts == doctest::Approx(3.0));  // 8 GiB x 0.375
  ram.ram_rule = RamRule::kUserSet;
  ram.ram_watts = 7;
  CHECK(ChooseRamPowerModel(*machine, ram).method == EnergyMethod::kUserSet);
}

TEST_CASE("/proc CPU time of a child that burned a known amount") {
  auto reader = MakeProcCpuTimeReader("/proc");
  pid_t child = testing::StartBusyChild(0.3);
  REQUIRE(child > 0);
  testing::WaitExitedNotReaped(child);
  auto from_proc = reader->ProcessCpuSeconds(child);
  double from_wait4 = testing::ReapCpuSeconds(child);
  REQUIRE(from_proc.ok());
  CHECK(*from_proc == doctest::Approx(0.3).epsilon(0.15));
  CHECK(*from_proc == doctest::Approx(from_wait4).epsilon(0.1));
  CHECK(reader->MachineBusyCpuSeconds().ok());
  CHECK(!reader->ProcessCpuSeconds(child).ok());  // reaped: /proc no longer knows it
}

TEST_CASE("detection on this kind of machine says what it found and why not the rest") {
  testing::TempDir dir;
  MeterOptions options;
  options.powercap_root = dir.path() + "/powercap";
  options.drm_root = dir.path() + "/drm";
  options.nvml_library = dir.path() + "/libnvidia-ml.so.1";
  options.gpu_indices = {0};
  auto setup = DetectPowerSources(options);
  REQUIRE(setup.ok());
  CHECK(setup->counters.empty());
  CHECK(!setup->cpu_counted_by_counter);
  std::string notes;
  for (const std::string& note : setup->notes) notes += note + "\n";
  CHECK(notes.find("rapl: no powercap tree") != std::string::npos);
  CHECK(notes.find("nvml: cannot load") != std::string::npos);
  CHECK(notes.find("hwmon: no AMD GPU") != std::string::npos);
  CHECK(notes.find("cpu-time-model: ") != std::string::npos);

  options.pue = 0.9;
  CHECK(DetectPowerSources(options).status().message().find("pue") != std::string::npos);
}

TEST_CASE("PUE and CPU watts are checked the one way every caller uses, NaN included") {
  for (double pue : {0.9, 5.5, std::nan("")}) {
    MeterOptions options;
    options.pue = pue;
    CHECK_MESSAGE(DetectPowerSources(options).status().code() == Status::Code::kInvalidArgument, pue);
    CHECK(CheckPue(pue).message().rfind("--pue ", 0) == 0);
  }
  for (double watts : {0.0, -5.0, 1e308, std::nan("")}) {
    MeterOptions options;
    options.cpu_watts = watts;
    CHECK_MESSAGE(DetectPowerSources(options).status().code() == Status::Code::kInvalidArgument, watts);
    CHECK(CheckCpuWatts(watts).message().rfind("--cpu-watts ", 0) == 0);
  }
  CHECK(CheckPue(1).ok());
  CHECK(CheckPue(5).ok());
  CHECK(CheckCpuWatts(5000).ok());
}

TEST_CASE("detection picks RAPL and NVML from fake trees") {
  testing::TempDir dir;
  WriteRaplTree(dir.path() + "/powercap", 1, /*dram=*/true);
  void* fake = dlopen(FAKE_NVML_PATH, RTLD_NOW);
  REQUIRE(fake);
  reinterpret_cast<void (*)(unsigned)>(dlsym(fake, "fake_nvml_reset"))(1);
  reinterpret_cast<void (*)(unsigned, int, int, unsigned long long, unsigned)>(dlsym(fake, "fake_nvml_set"))(
      0, 1, 1, 0, 0);
  MeterOptions options;
  options.powercap_root = dir.path() + "/powercap";
  options.drm_root = dir.path() + "/drm";
  options.nvml_library = FAKE_NVML_PATH;
  options.gpu_indices = {0};
  auto setup = DetectPowerSources(options);
  REQUIRE(setup.ok());
  CHECK(setup->counters.size() == 2);
  CHECK(setup->cpu_counted_by_counter);
  CHECK(setup->ram_counted_by_counter);
  setup = Result<PowerSetup>(Status::Internal("released"));  // closes NVML before the handle
  dlclose(fake);
}

}  // namespace cs

namespace cs {

TEST_CASE("an empty CUDA_VISIBLE_DEVICES means no GPU, not every GPU") {
  testing::TempDir dir;
  MeterOptions options;
  options.powercap_root = dir.path() + "/powercap";
  options.nvml_library = FAKE_NVML_PATH;
  setenv("CUDA_VISIBLE_DEVICES", "", 1);
  auto setup = DetectPowerSources(options);
  unsetenv("CUDA_VISIBLE_DEVICES");
  REQUIRE(setup.ok());
  CHECK(setup->counters.empty());
  bool said = false;
  for (const std::string& note : setup->notes) said |= note == "nvml: not used (CUDA_VISIBLE_DEVICES is empty: no GPU given)";
  CHECK(said);
}

}  // namespace cs
