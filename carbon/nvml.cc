// NVIDIA GPUs through NVML, loaded at run time with dlopen so the build has
// no CUDA dependency and machines without a driver simply report "not found".
#include <dlfcn.h>

#include <cstdlib>
#include <sstream>

#include "carbon/power_source.h"

namespace cs {
namespace {

// The few NVML declarations used (nvml.h, stable C ABI since CUDA 10).
using NvmlReturn = int;
using NvmlDevice = struct NvmlDeviceOpaque*;
constexpr NvmlReturn kNvmlSuccess = 0;

struct NvmlApi {
  NvmlReturn (*init)();
  NvmlReturn (*shutdown)();
  NvmlReturn (*device_count)(unsigned int*);
  NvmlReturn (*handle_by_index)(unsigned int, NvmlDevice*);
  NvmlReturn (*total_energy_mj)(NvmlDevice, unsigned long long*);
  NvmlReturn (*power_mw)(NvmlDevice, unsigned int*);
  NvmlReturn (*name)(NvmlDevice, char*, unsigned int);
  const char* (*error_string)(NvmlReturn);
};

struct NvmlGpu {
  int index;
  NvmlDevice handle;
  std::string name;
  EnergyMethod method;              // kNvmlEnergy or kNvmlPower.
  unsigned long long last_mj = 0;   // energy counter at the previous read.
  double last_watts = -1;           // power at the previous read; -1 before the first.
  std::string why_power;            // why the energy counter is not used.
};

class NvmlCounter : public EnergyCounter {
 public:
  NvmlCounter(void* library, std::string library_name, NvmlApi api)
      : library_(library), library_name_(std::move(library_name)), api_(api) {}
  ~NvmlCounter() override {
    api_.shutdown();
    dlclose(library_);
  }

  std::string ErrorText(NvmlReturn code) const {
    const char* text = api_.error_string ? api_.error_string(code) : nullptr;
    return text ? std::string(text) + " (" + std::to_string(code) + ")" : "NVML error " + std::to_string(code);
  }

  // Opens the devices; a device with neither energy nor power goes to notes.
  Status OpenDevices(const std::vector<int>& wanted) {
    unsigned int count = 0;
    NvmlReturn code = api_.device_count(&count);
    if (code != kNvmlSuccess) return Status::Unsupported("nvmlDeviceGetCount: " + ErrorText(code));
    std::vector<int> indices = wanted;
    if (indices.empty()) {
      for (unsigned int i = 0; i < count; ++i) indices.push_back(static_cast<int>(i));
    }
    for (int index : indices) {
      if (index < 0 || static_cast<unsigned int>(index) >= count) {
        notes_.push_back("GPU " + std::to_string(index) + " was asked for but NVML sees " +
                         std::to_string(count) + " device(s)");
        continue;
      }
      NvmlGpu gpu{index, nullptr, "", EnergyMethod::kNvmlEnergy};
      code = api_.handle_by_index(static_cast<unsigned int>(index), &gpu.handle);
      if (code != kNvmlSuccess) {
        notes_.push_back("GPU " + std::to_string(index) + ": nvmlDeviceGetHandleByIndex: " + ErrorText(code));
        continue;
      }
      char name[96] = {0};
      if (api_.name(gpu.handle, name, sizeof(name)) == kNvmlSuccess) gpu.name = name;
      code = api_.total_energy_mj(gpu.handle, &gpu.last_mj);
      if (code != kNvmlSuccess) {
        // Pre-Volta GPUs and vGPUs: integrate power instead (codecarbon
        // reports 0 J here, issue #1316).
        gpu.method = EnergyMethod::kNvmlPower;
        gpu.why_power = "nvmlDeviceGetTotalEnergyConsumption: " + ErrorText(code);
        unsigned int milliwatts = 0;
        NvmlReturn power = api_.power_mw(gpu.handle, &milliwatts);
        if (power != kNvmlSuccess) {
          notes_.push_back("GPU " + std::to_string(index) + " (" + gpu.name + ") is NOT metered: " + gpu.why_power +
                           " and nvmlDeviceGetPowerUsage: " + ErrorText(power));
          continue;
        }
        gpu.last_watts = milliwatts / 1000.0;
      }
      gpus_.push_back(gpu);
    }
    if (gpus_.empty()) {
      return Status::Unsupported("NVML (" + library_name_ + ") sees " + std::to_string(count) +
                                 " device(s) but none of those asked for reports energy or power" +
                                 (notes_.empty() ? "" : ": " + notes_.front()));
    }
    return Status::Ok();
  }

  Result<std::vector<DeviceEnergy>> Read(double interval_seconds) override {
    std::vector<DeviceEnergy> energies;
    for (NvmlGpu& gpu : gpus_) {
      double joules = 0;
      if (gpu.method == EnergyMethod::kNvmlEnergy) {
        unsigned long long now_mj = 0;
        NvmlReturn code = api_.total_energy_mj(gpu.handle, &now_mj);
        if (code != kNvmlSuccess) {
          return Status::IoError("GPU " + std::to_string(gpu.index) + ": nvmlDeviceGetTotalEnergyConsumption: " +
                                 ErrorText(code));
        }
        joules = now_mj >= gpu.last_mj ? (now_mj - gpu.last_mj) / 1000.0 : 0;
        gpu.last_mj = now_mj;
      } else {
        unsigned int milliwatts = 0;
        NvmlReturn code = api_.power_mw(gpu.handle, &milliwatts);
        if (code != kNvmlSuccess) {
          return Status::IoError("GPU " + std::to_string(gpu.index) + ": nvmlDeviceGetPowerUsage: " + ErrorText(code));
        }
        double watts = milliwatts / 1000.0;
        // Trapezoid between the previous and this sample.
        joules = gpu.last_watts < 0 ? 0 : (gpu.last_watts + watts) / 2 * interval_seconds;
        gpu.last_watts = watts;
      }
      energies.push_back({Component::kGpu, gpu.index, gpu.method, joules});
    }
    return energies;
  }

  nlohmann::json Describe() const override {
    nlohmann::json devices = nlohmann::json::array();
    std::ostringstream summary;
    summary << gpus_.size() << " GPU(s) via " << library_name_ << ":";
    for (const NvmlGpu& gpu : gpus_) {
      nlohmann::json device = {{"index", gpu.index}, {"name", gpu.name}, {"method", EnergyMethodName(gpu.method)}};
      if (!gpu.why_power.empty()) device["why_not_energy_counter"] = gpu.why_power;
      devices.push_back(device);
      summary << " " << gpu.index << " (" << gpu.name << ", " << EnergyMethodName(gpu.method) << ")";
    }
    for (const std::string& note : notes_) summary << "; " << note;
    return {{"method", "nvml"}, {"library", library_name_}, {"devices", devices}, {"notes", notes_},
            {"summary", summary.str()}};
  }

 private:
  void* library_;
  std::string library_name_;
  NvmlApi api_;
  std::vector<NvmlGpu> gpus_;
  std::vector<std::string> notes_;
};

template <typename Function>
bool Bind(void* library, const char* symbol, Function* function) {
  *function = reinterpret_cast<Function>(dlsym(library, symbol));
  return *function != nullptr;
}

}  // namespace

std::string DefaultNvmlLibrary() {
  const char* library = std::getenv("CARBONSWEEP_NVML_LIBRARY");
  return library != nullptr && *library != '\0' ? library : "libnvidia-ml.so.1";
}

Result<int> NvmlDeviceCount(const std::string& library) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* error = dlerror();
    return Status::NotFound("cannot load " + library + " (no NVIDIA driver?): " + (error ? error : "dlopen failed"));
  }
  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*shutdown)() = nullptr;
  NvmlReturn (*device_count)(unsigned int*) = nullptr;
  unsigned int count = 0;
  Status status = Status::Ok();
  if (!Bind(handle, "nvmlInit_v2", &init) || !Bind(handle, "nvmlShutdown", &shutdown) ||
      !Bind(handle, "nvmlDeviceGetCount_v2", &device_count)) {
    status = Status::Unsupported(library + " lacks an NVML function carbonsweep needs (driver too old?)");
  } else if (NvmlReturn code = init(); code != kNvmlSuccess) {
    status = Status::Unsupported("nvmlInit: NVML error " + std::to_string(code));
  } else {
    if (NvmlReturn counted = device_count(&count); counted != kNvmlSuccess) {
      status = Status::Unsupported("nvmlDeviceGetCount: NVML error " + std::to_string(counted));
    }
    shutdown();
  }
  dlclose(handle);
  if (!status.ok()) return status;
  return static_cast<int>(count);
}

Result<std::unique_ptr<EnergyCounter>> OpenNvml(const std::string& library, const std::vector<int>& gpu_indices) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* error = dlerror();
    return Status::NotFound("cannot load " + library + " (no NVIDIA driver?): " + (error ? error : "dlopen failed"));
  }
  NvmlApi api{};
  bool bound = Bind(handle, "nvmlInit_v2", &api.init) && Bind(handle, "nvmlShutdown", &api.shutdown) &&
               Bind(handle, "nvmlDeviceGetCount_v2", &api.device_count) &&
               Bind(handle, "nvmlDeviceGetHandleByIndex_v2", &api.handle_by_index) &&
               Bind(handle, "nvmlDeviceGetTotalEnergyConsumption", &api.total_energy_mj) &&
               Bind(handle, "nvmlDeviceGetPowerUsage", &api.power_mw) &&
               Bind(handle, "nvmlDeviceGetName", &api.name);
  Bind(handle, "nvmlErrorString", &api.error_string);  // optional: messages only.
  if (!bound) {
    dlclose(handle);
    return Status::Unsupported(library + " lacks an NVML function carbonsweep needs (driver too old?)");
  }
  NvmlReturn code = api.init();
  if (code != kNvmlSuccess) {
    std::string text = api.error_string && api.error_string(code) ? api.error_string(code) : std::to_string(code);
    dlclose(handle);
    return Status::Unsupported("nvmlInit: " + text);
  }
  auto counter = std::make_unique<NvmlCounter>(handle, library, api);
  Status opened = counter->OpenDevices(gpu_indices);
  if (!opened.ok()) return opened;
  return std::unique_ptr<EnergyCounter>(std::move(counter));
}

}  // namespace cs
