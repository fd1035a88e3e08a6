// Power sources: where the joules that carbonsweep reports come from.
//
// Each source sits behind one small interface with a real implementation
// (RAPL powercap, NVML through dlopen, AMD hwmon, /proc CPU time) and fakes
// in tests/carbon. DetectPowerSources() probes the machine once and says, one
// line per method, what it found and why not the others; the PowerSampler
// (carbon/sampler.h) then reads the sources it was given. Every joule carries
// the EnergyMethod that produced it, so no fallback is ever silent.
//
// Thread safety: a source is used by one thread at a time (the sampler's);
// the free functions are safe from any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace cs {

// Persisted in the store: numbers never change meaning; append only.
enum class Component { kCpu = 0, kGpu = 1, kRam = 2 };
// Persisted in the store: numbers never change meaning; append only.
enum class EnergyMethod {
  kRapl = 0,          // powercap package (CPU) or dram (RAM) energy counters.
  kNvmlEnergy = 1,    // nvmlDeviceGetTotalEnergyConsumption deltas.
  kNvmlPower = 2,     // nvmlDeviceGetPowerUsage samples integrated over time.
  kHwmon = 3,         // AMD GPU hwmon energy1_input, or power1_average integrated.
  kCpuTimeModel = 4,  // the trial's CPU seconds x watts per thread (or a RAM rule).
  kUserSet = 5,       // watts the user gave (--cpu-watts, --ram-watts).
  kSlurm = 6,         // energy Slurm accounted for the job (sacct ConsumedEnergy).
};

// "cpu", "gpu", "ram".
const char* ComponentName(Component component);
// "rapl", "nvml-energy", "nvml-power", "hwmon", "cpu-time-model", "user-set", "slurm".
const char* EnergyMethodName(EnergyMethod method);
Result<Component> ParseComponent(const std::string& name);
Result<EnergyMethod> ParseEnergyMethod(const std::string& name);

// How RAM power is estimated when no RAPL dram domain is read.
enum class RamRule {
  kDimmV3 = 0,    // codecarbon v3: 5 W per estimated DIMM, at least 10 W.
  kPerGbV2 = 1,   // codecarbon v2 / Eco2AI: 0.375 W per GB of installed RAM.
  kUserSet = 2,   // MeterOptions::ram_watts.
  kNone = 3,      // RAM not counted.
};

// What happens to machine-level energy that no tracked trial used
// (idle baseline, other processes, time with no trial running).
enum class IdleShare {
  kExclude = 0,            // dropped; trials pay only their CPU-time share. Describe() says so.
  kSplitAmongTrials = 1,   // charged to the running trials by CPU-time share (nothing when none runs).
  kEmitUnattributed = 2,   // emitted as samples with trial_id -1.
};

// The NVML library to load: $CARBONSWEEP_NVML_LIBRARY when set (tests point
// it at their fake; also for drivers installed off the loader's path), else
// "libnvidia-ml.so.1".
std::string DefaultNvmlLibrary();

// Where to look and what to assume. Paths are overridable so tests can point
// at fake trees; every field has a default that is right on a real machine.
struct MeterOptions {
  std::string powercap_root = "/sys/class/powercap";  // RAPL domains (intel-rapl:N[:M]).
  std::string drm_root = "/sys/class/drm";            // AMD GPUs: card*/device/hwmon/hwmon*.
  std::string proc_root = "/proc";                    // <pid>/stat, stat, cpuinfo, meminfo.
  std::string nvml_library = DefaultNvmlLibrary();    // dlopen name or path; "" disables NVML.
  // NVML device indices to meter; empty = parse CUDA_VISIBLE_DEVICES (unset = all devices).
  std::vector<int> gpu_indices;
  bool use_rapl = true;   // false forces the CPU-time model even where RAPL is readable.
  double cpu_watts = -1;  // -1 = the model; else the whole CPU at full load (method user-set), see CheckCpuWatts.
  std::string cpu_model;  // "" = read "model name" from <proc_root>/cpuinfo.
  RamRule ram_rule = RamRule::kDimmV3;
  double ram_watts = -1;  // with RamRule::kUserSet: constant RAM watts for the machine.
  IdleShare idle_share = IdleShare::kExclude;
  double pue = 1.0;       // power usage effectiveness: described with the samples; EnergyPricing applies it.
};

// Energy one counter saw on one device since its previous read.
struct DeviceEnergy {
  Component component = Component::kCpu;
  int device_index = -1;  // NVML index / AMD card order for GPUs; -1 for machine-wide.
  EnergyMethod method = EnergyMethod::kRapl;
  double joules = 0;
};

// A hardware energy counter (RAPL, NVML, hwmon). Read() returns the energy
// since the previous Read(); the first call sets the baseline and returns
// zero joules. `interval_seconds` is the time since the previous call, for
// sources that integrate sampled power.
class EnergyCounter {
 public:
  virtual ~EnergyCounter() = default;
  virtual Result<std::vector<DeviceEnergy>> Read(double interval_seconds) = 0;
  // {"method": ..., "devices": [...], "notes": [...]}.
  virtual nlohmann::json Describe() const = 0;
};

// Reads a whole small file; tests inject one that refuses some paths (tests
// may run as root, where chmod 000 does not stop a read).
using FileReader = std::function<Result<std::string>(const std::string& path)>;
FileReader RealFileReader();

// RAPL through powercap: package domains' energy_uj deltas (one per socket,
// wrap handled with max_energy_range_uj) as CPU, dram domains as RAM;
// core/uncore/psys skipped (they overlap the package). NotFound when there
// is no powercap tree; IoError naming the file and the fix when energy_uj
// exists but cannot be read (root-only since CVE-2020-8694).
Result<std::unique_ptr<EnergyCounter>> OpenRapl(const std::string& powercap_root,
                                                FileReader reader = RealFileReader());

// NVIDIA GPUs through NVML loaded with dlopen(library). Uses the total
// energy counter where the device supports it, else integrates power samples
// (trapezoid) — never a silent 0 J. `gpu_indices` empty = every device.
Result<std::unique_ptr<EnergyCounter>> OpenNvml(const std::string& library,
                                                const std::vector<int>& gpu_indices);

// How many devices NVML sees through `library`; NotFound when it cannot be
// loaded (no NVIDIA driver), Unsupported when it does not initialise.
Result<int> NvmlDeviceCount(const std::string& library);

// AMD GPUs (vendor 0x1002) through hwmon under drm_root: energy1_input (uJ)
// where present, else power1_average (uW) integrated. Device index = order
// of the card number among AMD cards. NotFound when there is none.
Result<std::unique_ptr<EnergyCounter>> OpenAmdHwmon(const std::string& drm_root,
                                                    const std::vector<int>& gpu_indices);

// CPU seconds from /proc, for the CPU-time model and for attribution.
class CpuTimeReader {
 public:
  virtual ~CpuTimeReader() = default;
  // utime+stime+cutime+cstime of `pid` in seconds (a zombie still answers).
  virtual Result<double> ProcessCpuSeconds(pid_t pid) = 0;
  // CPU seconds of each trial in `leaders`, one entry per leader: the sum of
  // utime+stime+cutime+cstime over every live process whose process group is
  // the leader's pid (the launcher makes each trial lead its own group, so
  // its DataLoader workers, torchrun ranks or wrapping shell count while they
  // run; a reaped member is in its reaper's cutime), plus the leader itself
  // where it leads no group (a trial metering itself). NotFound for a leader
  // of which nothing is alive. The figure goes down when a member is reaped
  // outside the group (an orphan reaped by init): callers keep a high-water
  // mark. The /proc reader scans /proc once for all leaders; the default asks
  // ProcessCpuSeconds for each leader alone (fakes that know no groups).
  virtual std::map<pid_t, Result<double>> ProcessGroupCpuSeconds(const std::vector<pid_t>& leaders);
  // Busy CPU seconds of the whole machine (all of /proc/stat's "cpu" line but idle and iowait).
  virtual Result<double> MachineBusyCpuSeconds() = 0;
};
std::unique_ptr<CpuTimeReader> MakeProcCpuTimeReader(const std::string& proc_root);

// The machine as the models see it.
struct MachineInfo {
  std::string cpu_model;    // "model name" of the first processor, e.g. "AMD EPYC".
  int logical_threads = 0;  // processors in cpuinfo.
  int sockets = 1;          // distinct "physical id" values (1 when absent).
  double ram_gb = 0;        // MemTotal.
};
Result<MachineInfo> ReadMachineInfo(const std::string& proc_root);

// The CPU power model used where no CPU counter is readable.
struct CpuPowerModel {
  EnergyMethod method = EnergyMethod::kCpuTimeModel;  // or kUserSet.
  double watts_per_thread = 0;  // joules per CPU second of a trial.
  double machine_watts = 0;     // TDP x sockets (or the user's watts): full-load power.
  double idle_watts = 0;        // floor drawn when idle (IdleShare decides who pays it).
  std::string basis;            // one line: how the numbers were chosen, with the source.
};
// TDP from cpu_power.csv when the model matches, else 4 W per thread
// (codecarbon's DEFAULT_POWER_PER_CORE), or the user's watts.
CpuPowerModel ChooseCpuPowerModel(const MachineInfo& machine, const MeterOptions& options);
// The machine's RAM watts under options.ram_rule, with one line saying how.
struct RamPowerModel {
  EnergyMethod method = EnergyMethod::kCpuTimeModel;  // or kUserSet.
  double watts = 0;
  std::string basis;
};
RamPowerModel ChooseRamPowerModel(const MachineInfo& machine, const MeterOptions& options);

// TDP in watts per socket of `cpu_model` from the embedded cpu_power.csv,
// matched as codecarbon does (exact, then without "(R)", "(TM)", " CPU @ ...",
// " CPU", then a unique token-set match); NotFound otherwise.
Result<double> LookUpCpuTdpWatts(const std::string& cpu_model);
// Board power in watts of `gpu_name` (e.g. "A100 PCIe", "Tesla V100-SXM2-16GB")
// from the embedded mlco2/impact gpus.csv (V100 TDPs corrected); NotFound otherwise.
Result<double> LookUpGpuTdpWatts(const std::string& gpu_name);

// Everything the sampler meters with, and why.
struct PowerSetup {
  MeterOptions options;
  std::vector<std::unique_ptr<EnergyCounter>> counters;  // RAPL, NVML, hwmon as found.
  std::unique_ptr<CpuTimeReader> cpu_time;               // always present.
  bool cpu_counted_by_counter = false;  // RAPL package found: the model is not used for CPU.
  bool ram_counted_by_counter = false;  // RAPL dram found: the RAM rule is not used.
  CpuPowerModel cpu_model;
  RamPowerModel ram_model;
  MachineInfo machine;
  std::vector<std::string> notes;  // one line per method: found, or why not.
};
// The one check of a power usage effectiveness: finite, in [1, 5]. Every
// command and module that takes a PUE calls it; InvalidArgument naming --pue
// and the value otherwise.
Status CheckPue(double pue);
// A user-set whole-CPU power at full load: finite, in (0, 5000] W.
Status CheckCpuWatts(double watts);

// Probes RAPL, NVML, hwmon and /proc under `options`. Fails only when /proc
// itself cannot be read or an option is invalid (pue < 1, negative watts).
Result<PowerSetup> DetectPowerSources(const MeterOptions& options);

// NVML indices from CUDA_VISIBLE_DEVICES ("0,2"); empty when unset or empty.
// UUID entries ("GPU-...") are refused with a message.
Result<std::vector<int>> ParseCudaVisibleDevices(const std::string& value);

}  // namespace cs
