// AMD GPUs through the amdgpu driver's hwmon files under /sys/class/drm.
#include <dirent.h>

#include <algorithm>
#include <sstream>

#include "carbon/power_source.h"
#include "carbon/text_util.h"

namespace cs {
namespace {

std::vector<std::string> ListMatching(const std::string& path, const std::string& prefix) {
  std::vector<std::string> names;
  DIR* dir = opendir(path.c_str());
  if (!dir) return names;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name.rfind(prefix, 0) == 0) names.push_back(name);
  }
  closedir(dir);
  return names;
}

// "card12" -> 12; -1 for connectors such as "card0-DP-1".
int CardNumber(const std::string& name) {
  std::string digits = name.substr(4);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::stoi(digits);
}

struct AmdGpu {
  int index;                   // order among AMD cards.
  std::string hwmon;           // the hwmon directory.
  bool has_energy;             // energy1_input (uJ) rather than power1_average (uW).
  double last = -1;            // previous uJ or W reading.
};

class HwmonCounter : public EnergyCounter {
 public:
  explicit HwmonCounter(std::vector<AmdGpu> gpus) : gpus_(std::move(gpus)) {}

  Result<std::vector<DeviceEnergy>> Read(double interval_seconds) override {
    std::vector<DeviceEnergy> energies;
    for (AmdGpu& gpu : gpus_) {
      std::string path = gpu.hwmon + (gpu.has_energy ? "/energy1_input" : "/power1_average");
      auto text = RealFileReader()(path);
      if (!text.ok()) return text.status();
      auto value = ParseDouble(*text);
      if (!value.ok()) return Status::Corruption(path + ": " + value.status().message());
      double joules = 0;
      if (gpu.has_energy) {
        joules = gpu.last < 0 || *value < gpu.last ? 0 : (*value - gpu.last) / 1e6;
        gpu.last = *value;
      } else {
        double watts = *value / 1e6;
        joules = gpu.last < 0 ? 0 : (gpu.last + watts) / 2 * interval_seconds;
        gpu.last = watts;
      }
      energies.push_back({Component::kGpu, gpu.index, EnergyMethod::kHwmon, joules});
    }
    return energies;
  }

  nlohmann::json Describe() const override {
    nlohmann::json devices = nlohmann::json::array();
    std::ostringstream summary;
    summary << gpus_.size() << " AMD GPU(s):";
    for (const AmdGpu& gpu : gpus_) {
      const char* file = gpu.has_energy ? "energy1_input" : "power1_average (integrated)";
      devices.push_back({{"index", gpu.index}, {"path", gpu.hwmon}, {"reads", file}});
      summary << " " << gpu.index << " (" << file << ")";
    }
    return {{"method", "hwmon"}, {"devices", devices}, {"summary", summary.str()}};
  }

 private:
  std::vector<AmdGpu> gpus_;
};

}  // namespace

Result<std::unique_ptr<EnergyCounter>> OpenAmdHwmon(const std::string& drm_root, const std::vector<int>& gpu_indices) {
  std::vector<std::pair<int, std::string>> cards;
  for (const std::string& name : ListMatching(drm_root, "card")) {
    int number = CardNumber(name);
    if (number < 0) continue;
    auto vendor = RealFileReader()(drm_root + "/" + name + "/device/vendor");
    // 0x1002 is AMD; NVIDIA (0x10de) is metered through NVML, Intel is not here.
    if (vendor.ok() && Trim(*vendor) == "0x1002") cards.emplace_back(number, name);
  }
  if (cards.empty()) return Status::NotFound("no AMD GPU under " + drm_root);
  std::sort(cards.begin(), cards.end());
  std::vector<AmdGpu> gpus;
  std::vector<std::string> unreadable;
  for (size_t i = 0; i < cards.size(); ++i) {
    int index = static_cast<int>(i);
    if (!gpu_indices.empty() && std::find(gpu_indices.begin(), gpu_indices.end(), index) == gpu_indices.end()) {
      continue;
    }
    std::string base = drm_root + "/" + cards[i].second + "/device/hwmon";
    auto hwmons = ListMatching(base, "hwmon");
    std::sort(hwmons.begin(), hwmons.end());
    bool found = false;
    for (const std::string& hwmon : hwmons) {
      std::string directory = base + "/" + hwmon;
      for (bool energy : {true, false}) {
        if (found) break;
        auto probe = RealFileReader()(directory + (energy ? "/energy1_input" : "/power1_average"));
        if (probe.ok() && ParseDouble(*probe).ok()) {
          gpus.push_back({index, directory, energy});
          found = true;
        }
      }
    }
    if (!found) unreadable.push_back(cards[i].second);
  }
  if (gpus.empty()) {
    return Status::NotFound("AMD GPU(s) " + Join(unreadable, ", ") +
                            " expose no readable energy1_input or power1_average");
  }
  auto counter = std::make_unique<HwmonCounter>(std::move(gpus));
  auto baseline = counter->Read(0);
  if (!baseline.ok()) return baseline.status();
  return std::unique_ptr<EnergyCounter>(std::move(counter));
}

}  // namespace cs
