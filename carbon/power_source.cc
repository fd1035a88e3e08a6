// Names of components and methods, file reading, CUDA_VISIBLE_DEVICES, and
// DetectPowerSources: the probe that decides what the sampler meters with.
#include "carbon/power_source.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/text.h"

namespace cs {

const char* ComponentName(Component component) {
  switch (component) {
    case Component::kCpu: return "cpu";
    case Component::kGpu: return "gpu";
    case Component::kRam: return "ram";
  }
  return "unknown";
}

const char* EnergyMethodName(EnergyMethod method) {
  switch (method) {
    case EnergyMethod::kRapl: return "rapl";
    case EnergyMethod::kNvmlEnergy: return "nvml-energy";
    case EnergyMethod::kNvmlPower: return "nvml-power";
    case EnergyMethod::kHwmon: return "hwmon";
    case EnergyMethod::kCpuTimeModel: return "cpu-time-model";
    case EnergyMethod::kUserSet: return "user-set";
    case EnergyMethod::kSlurm: return "slurm";
  }
  return "unknown";
}

Result<Component> ParseComponent(const std::string& name) {
  for (Component c : {Component::kCpu, Component::kGpu, Component::kRam}) {
    if (name == ComponentName(c)) return c;
  }
  return Status::InvalidArgument("unknown component '" + name + "' (expected cpu, gpu or ram)");
}

Result<EnergyMethod> ParseEnergyMethod(const std::string& name) {
  for (int i = 0; i <= static_cast<int>(EnergyMethod::kSlurm); ++i) {
    auto method = static_cast<EnergyMethod>(i);
    if (name == EnergyMethodName(method)) return method;
  }
  return Status::InvalidArgument("unknown energy method '" + name + "'");
}

FileReader RealFileReader() {
  return [](const std::string& path) -> Result<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      int error = errno;
      if (error == EACCES || error == EPERM) return Status::IoError(path + ": permission denied");
      if (error == ENOENT) return Status::NotFound(path + ": no such file");
      return Status::IoError(path + ": " + std::strerror(error));
    }
    std::ostringstream content;
    content << in.rdbuf();
    if (in.bad()) return Status::IoError(path + ": read failed");
    return content.str();
  };
}

Result<std::vector<int>> ParseCudaVisibleDevices(const std::string& value) {
  std::vector<int> indices;
  std::stringstream in(value);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    size_t used = 0;
    int index = -1;
    try {
      index = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || index < 0) {
      return Status::InvalidArgument("CUDA_VISIBLE_DEVICES: '" + item +
                                     "' is not a device index (UUIDs are not supported; use indices)");
    }
    indices.push_back(index);
  }
  return indices;
}

Status CheckPue(double pue) {
  if (pue >= 1 && pue <= 5) return Status::Ok();  // false for NaN.
  return Status::InvalidArgument("--pue " + FormatNumber(pue) +
                                 ": must be in [1, 5] (a data centre's power usage effectiveness; 1 = none)");
}

Status CheckCpuWatts(double watts) {
  if (watts > 0 && watts <= 5000) return Status::Ok();  // false for NaN.
  return Status::InvalidArgument("--cpu-watts " + FormatNumber(watts) +
                                 ": must be in (0, 5000] W (the whole CPU at full load)");
}

namespace {

Status CheckOptions(const MeterOptions& options) {
  CS_RETURN_IF_ERROR(CheckPue(options.pue));
  if (options.cpu_watts != -1) CS_RETURN_IF_ERROR(CheckCpuWatts(options.cpu_watts));
  if (options.ram_rule == RamRule::kUserSet && !(options.ram_watts >= 0)) {
    return Status::InvalidArgument("ram watts: must be set (>= 0) with the user-set RAM rule");
  }
  return Status::Ok();
}

}  // namespace

Result<PowerSetup> DetectPowerSources(const MeterOptions& options) {
  CS_RETURN_IF_ERROR(CheckOptions(options));
  PowerSetup setup;
  setup.options = options;
  auto machine = ReadMachineInfo(options.proc_root);
  if (!machine.ok()) return machine.status();
  setup.machine = *machine;
  setup.cpu_time = MakeProcCpuTimeReader(options.proc_root);

  std::vector<int> gpus = options.gpu_indices;
  bool no_gpu_visible = false;  // CUDA_VISIBLE_DEVICES set but empty: no GPU at all.
  if (gpus.empty()) {
    if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES")) {
      auto parsed = ParseCudaVisibleDevices(visible);
      if (!parsed.ok()) return parsed.status();
      gpus = *parsed;
      no_gpu_visible = gpus.empty();
    }
  }

  // RAPL: the preferred CPU counter; the user's --cpu-watts wins over it.
  if (!options.use_rapl) {
    setup.notes.push_back("rapl: not used (disabled by option)");
  } else if (options.cpu_watts > 0) {
    setup.notes.push_back("rapl: not used (--cpu-watts given)");
  } else {
    auto rapl = OpenRapl(options.powercap_root);
    if (rapl.ok()) {
      nlohmann::json description = (*rapl)->Describe();
      setup.cpu_counted_by_counter = true;
      setup.ram_counted_by_counter = description.value("has_dram", false);
      setup.notes.push_back("rapl: " + description.value("summary", std::string("found")));
      setup.counters.push_back(std::move(*rapl));
    } else {
      setup.notes.push_back("rapl: " + rapl.status().message());
    }
  }

  if (options.nvml_library.empty()) {
    setup.notes.push_back("nvml: not used (disabled by option)");
  } else if (no_gpu_visible) {
    setup.notes.push_back("nvml: not used (CUDA_VISIBLE_DEVICES is empty: no GPU given)");
  } else {
    auto nvml = OpenNvml(options.nvml_library, gpus);
    if (nvml.ok()) {
      setup.notes.push_back("nvml: " + (*nvml)->Describe().value("summary", std::string("found")));
      setup.counters.push_back(std::move(*nvml));
    } else {
      setup.notes.push_back("nvml: " + nvml.status().message());
    }
  }

  auto hwmon = no_gpu_visible ? Result<std::unique_ptr<EnergyCounter>>(Status::NotFound(
                                   "not used (CUDA_VISIBLE_DEVICES is empty: no GPU given)"))
                             : OpenAmdHwmon(options.drm_root, gpus);
  if (hwmon.ok()) {
    setup.notes.push_back("hwmon: " + (*hwmon)->Describe().value("summary", std::string("found")));
    setup.counters.push_back(std::move(*hwmon));
  } else {
    setup.notes.push_back("hwmon: " + hwmon.status().message());
  }

  setup.cpu_model = ChooseCpuPowerModel(setup.machine, options);
  setup.ram_model = ChooseRamPowerModel(setup.machine, options);
  if (setup.cpu_counted_by_counter) {
    setup.notes.push_back("cpu-time-model: not used for CPU (RAPL counts it); CPU time still splits RAPL among trials");
  } else {
    setup.notes.push_back(std::string(EnergyMethodName(setup.cpu_model.method)) + ": " + setup.cpu_model.basis);
  }
  if (setup.ram_counted_by_counter) {
    setup.notes.push_back("ram: RAPL dram domain");
  } else {
    setup.notes.push_back("ram: " + setup.ram_model.basis);
  }
  setup.notes.push_back("slurm: not used (per-job energy comes from sacct after the job, not by this sampler)");
  return setup;
}

}  // namespace cs
