// RAPL energy counters through Linux powercap (Intel, and AMD since Linux 5.8).
#include <dirent.h>

#include <algorithm>
#include <map>

#include "carbon/power_source.h"
#include "carbon/text_util.h"

namespace cs {
namespace {

struct RaplDomain {
  std::string directory;  // e.g. <root>/intel-rapl:0
  std::string name;       // contents of `name`: package-0, dram, core, uncore, psys.
  Component component;
  double max_range_uj = 0;  // where energy_uj wraps to 0.
  double last_uj = -1;      // -1 until the first read.
};

std::vector<std::string> ListDirectory(const std::string& path) {
  std::vector<std::string> names;
  DIR* dir = opendir(path.c_str());
  if (!dir) return names;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

class RaplCounter : public EnergyCounter {
 public:
  RaplCounter(std::vector<RaplDomain> domains, std::vector<std::string> skipped, FileReader reader)
      : domains_(std::move(domains)), skipped_(std::move(skipped)), reader_(std::move(reader)) {}

  Result<std::vector<DeviceEnergy>> Read(double interval_seconds) override {
    std::map<Component, double> joules;
    for (RaplDomain& domain : domains_) {
      auto now = ReadMicrojoules(domain.directory + "/energy_uj");
      if (!now.ok()) return now.status();
      double delta = domain.last_uj < 0 ? 0 : *now - domain.last_uj;
      // The counter wrapped: it restarted from 0 after max_energy_range_uj.
      if (delta < 0) delta += domain.max_range_uj;
      domain.last_uj = *now;
      joules[domain.component] += delta / 1e6;
    }
    std::vector<DeviceEnergy> energies;
    for (const auto& [component, value] : joules) {
      energies.push_back({component, -1, EnergyMethod::kRapl, value});
    }
    return energies;
  }

  nlohmann::json Describe() const override {
    nlohmann::json domains = nlohmann::json::array();
    int packages = 0;
    bool has_dram = false;
    for (const RaplDomain& domain : domains_) {
      domains.push_back({{"path", domain.directory}, {"name", domain.name},
                         {"component", ComponentName(domain.component)},
                         {"max_energy_range_uj", domain.max_range_uj}});
      packages += domain.component == Component::kCpu;
      has_dram |= domain.component == Component::kRam;
    }
    std::string summary = std::to_string(packages) + " package domain(s)" +
                          (has_dram ? " + dram as RAM" : ", no dram domain (RAM by rule)");
    if (!skipped_.empty()) summary += "; skipped to avoid double counting: " + Join(skipped_, ", ");
    return {{"method", "rapl"}, {"domains", domains}, {"skipped", skipped_},
            {"has_dram", has_dram}, {"summary", summary}};
  }

  Result<double> ReadMicrojoules(const std::string& path) {
    auto text = reader_(path);
    if (!text.ok()) return text.status();
    auto value = ParseDouble(*text);
    if (!value.ok()) return Status::Corruption(path + ": " + value.status().message());
    return *value;
  }

 private:
  std::vector<RaplDomain> domains_;
  std::vector<std::string> skipped_;
  FileReader reader_;
};

}  // namespace

Result<std::unique_ptr<EnergyCounter>> OpenRapl(const std::string& powercap_root, FileReader reader) {
  std::vector<std::string> entries = ListDirectory(powercap_root);
  if (entries.empty()) {
    return Status::NotFound("no powercap tree at " + powercap_root +
                            " (usual in VMs and containers; containers can mount it with "
                            "-v /sys/class/powercap:/sys/class/powercap:ro)");
  }
  // Both the MSR (intel-rapl:N) and MMIO (intel-rapl-mmio:N) interfaces may
  // report the same package; MMIO wins, as in codecarbon.
  std::map<std::string, RaplDomain> by_name;
  std::vector<std::string> skipped;
  for (const std::string& entry : entries) {
    bool mmio = entry.rfind("intel-rapl-mmio:", 0) == 0;
    if (entry.rfind("intel-rapl:", 0) != 0 && !mmio) continue;
    std::string directory = powercap_root + "/" + entry;
    auto name = reader(directory + "/name");
    if (!name.ok()) continue;
    std::string domain_name = Trim(*name);
    RaplDomain domain{directory, domain_name, Component::kCpu};
    if (domain_name.rfind("package", 0) == 0) {
      domain.component = Component::kCpu;
    } else if (domain_name == "dram") {
      domain.component = Component::kRam;
    } else {
      // core and uncore lie inside the package; psys covers the whole SoC.
      skipped.push_back(entry + " (" + domain_name + ")");
      continue;
    }
    // dram domains of different sockets share the name "dram": key by the
    // socket number, the first number after the prefix (intel-rapl:1:2 -> 1).
    std::string numbers = entry.substr(entry.find(':') + 1);
    std::string key = domain_name + "@" + numbers.substr(0, numbers.find(':'));
    if (by_name.count(key) && !mmio) continue;
    by_name[key] = domain;
  }
  if (by_name.empty()) {
    return Status::NotFound("no RAPL package domain under " + powercap_root);
  }
  std::vector<RaplDomain> domains;
  for (auto& [key, domain] : by_name) {
    auto range = reader(domain.directory + "/max_energy_range_uj");
    auto energy = reader(domain.directory + "/energy_uj");
    for (const auto* result : {&energy, &range}) {
      if (!result->ok()) {
        std::string message = result->status().message();
        if (message.find("permission") != std::string::npos) {
          return Status::IoError(message + ": RAPL is root-only since CVE-2020-8694; to meter with it run "
                                 "'sudo chmod -R a+r /sys/class/powercap/intel-rapl*' (or a udev rule "
                                 "doing the same at boot); using the CPU-time model meanwhile");
        }
        return result->status();
      }
    }
    auto max_range = ParseDouble(*range);
    if (!max_range.ok() || *max_range <= 0) {
      return Status::Corruption(domain.directory + "/max_energy_range_uj: not a positive number");
    }
    domain.max_range_uj = *max_range;
    domains.push_back(domain);
  }
  auto counter = std::make_unique<RaplCounter>(std::move(domains), std::move(skipped), std::move(reader));
  auto baseline = counter->Read(0);
  if (!baseline.ok()) return baseline.status();
  return std::unique_ptr<EnergyCounter>(std::move(counter));
}

}  // namespace cs
