// The machine as /proc describes it, CPU seconds from /proc, the TDP table,
// and the CPU and RAM power models used where no counter is readable.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cstring>
#include <cmath>
#include <optional>
#include <set>
#include <sstream>

#include "carbon/embedded_data.h"
#include "carbon/power_source.h"
#include "carbon/text_util.h"

namespace cs {
namespace {

// codecarbon's DEFAULT_POWER_PER_CORE (codecarbon/core/cpu.py): watts per
// logical thread when the CPU model is not in cpu_power.csv.
constexpr double kDefaultWattsPerThread = 4.0;
// codecarbon's cpu_load model floor: P = TDP x (0.1 + 0.9 x load^3), so an
// idle CPU draws 10 % of its TDP.
constexpr double kIdleShareOfTdp = 0.1;
// codecarbon v3 RAM_SLOT_POWER_X86 (codecarbon/external/ram.py).
constexpr double kWattsPerDimm = 5.0;
// codecarbon v2 / Eco2AI: 3 W per 8 GB (Crucial's DDR3/DDR4 figure).
constexpr double kWattsPerGb = 3.0 / 8.0;

// Reads a small /proc file with one open/read/close into a stack buffer:
// the sampler does this for every trial every interval, so no iostreams.
Result<std::string> ReadProcFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno == ENOENT ? Status::NotFound(path + ": no such file") : Status::IoError(path + ": " + std::strerror(errno));
  }
  char buffer[4096];
  ssize_t length = ::read(fd, buffer, sizeof(buffer));
  ::close(fd);
  if (length < 0) return Status::IoError(path + ": read failed");
  return std::string(buffer, static_cast<size_t>(length));
}

// What the CPU time of a process needs from its <pid>/stat.
struct ProcStat {
  pid_t pgrp = 0;      // field 5.
  double ticks = 0;    // utime+stime+cutime+cstime, fields 14..17, in clock ticks.
};

// Parses <pid>/stat without iostreams (the group scan reads every process's).
// The command name (field 2) may hold spaces and parentheses: fields are
// counted from the last ')'.
Result<ProcStat> ParseProcStat(const std::string& text, const std::string& path) {
  size_t close = text.rfind(')');
  if (close == std::string::npos) return Status::Corruption(path + ": no ')' after the command name");
  // fields[0] is field 3 (state).
  std::vector<std::string> fields;
  size_t at = close + 1;
  while (fields.size() < 15) {
    at = text.find_first_not_of(" \n", at);
    if (at == std::string::npos) break;
    size_t end = text.find_first_of(" \n", at);
    if (end == std::string::npos) end = text.size();
    fields.push_back(text.substr(at, end - at));
    at = end;
  }
  if (fields.size() < 15) return Status::Corruption(path + ": fewer than 17 fields");
  ProcStat stat;
  auto pgrp = ParseDouble(fields[2]);
  if (!pgrp.ok()) return Status::Corruption(path + ": field 5 is not a number");
  stat.pgrp = static_cast<pid_t>(*pgrp);
  for (int i = 11; i <= 14; ++i) {
    auto value = ParseDouble(fields[i]);
    if (!value.ok()) return Status::Corruption(path + ": field " + std::to_string(i + 3) + " is not a number");
    stat.ticks += *value;
  }
  return stat;
}

// "1234" -> 1234; anything else (self, cpuinfo, ...) -> 0.
pid_t PidOfEntry(const char* name) {
  pid_t pid = 0;
  for (const char* c = name; *c != '\0'; ++c) {
    if (*c < '0' || *c > '9') return 0;
    pid = pid * 10 + (*c - '0');
  }
  return pid;
}

class ProcCpuTimeReader : public CpuTimeReader {
 public:
  explicit ProcCpuTimeReader(std::string proc_root)
      : proc_root_(std::move(proc_root)), ticks_per_second_(static_cast<double>(sysconf(_SC_CLK_TCK))) {}

  Result<double> ProcessCpuSeconds(pid_t pid) override {
    std::string path = proc_root_ + "/" + std::to_string(pid) + "/stat";
    auto text = ReadProcFile(path);
    if (!text.ok()) return text.status();
    auto stat = ParseProcStat(*text, path);
    if (!stat.ok()) return stat.status();
    return stat->ticks / ticks_per_second_;
  }

  // One pass over <proc_root>/*/stat for all leaders: the group is only
  // known from each process's own stat, so every process is read anyway.
  std::map<pid_t, Result<double>> ProcessGroupCpuSeconds(const std::vector<pid_t>& leaders) override {
    // Each tick, a walk down from each live leader (a handful of files per
    // trial) instead of a read of every process on the machine; the whole
    // scan only where the walk cannot go: a kernel without
    // task/<tid>/children, or a leader already reaped (its leftovers at exit).
    std::map<pid_t, Result<double>> seconds;
    std::vector<pid_t> scan;
    for (pid_t leader : leaders) {
      std::optional<double> walked = WalkGroup(leader);
      if (walked) {
        seconds.emplace(leader, *walked / ticks_per_second_);
      } else {
        scan.push_back(leader);
      }
    }
    for (auto& [leader, result] : ScanGroups(scan)) seconds.emplace(leader, std::move(result));
    return seconds;
  }

 private:
  // The ticks of `leader` and its descendants still in its process group,
  // found through <pid>/task/<tid>/children; nullopt when `leader` is gone or
  // the kernel lacks those files (CONFIG_PROC_CHILDREN).
  std::optional<double> WalkGroup(pid_t leader) {
    std::vector<pid_t> pending = {leader};
    std::set<pid_t> seen;
    double ticks = 0;
    while (!pending.empty()) {
      const pid_t pid = pending.back();
      pending.pop_back();
      if (!seen.insert(pid).second) continue;
      const std::string base = proc_root_ + "/" + std::to_string(pid);
      auto text = ReadProcFile(base + "/stat");
      if (!text.ok()) {
        if (pid == leader) return std::nullopt;
        continue;  // ended since its parent listed it: its reaper's cutime holds it.
      }
      auto stat = ParseProcStat(*text, base + "/stat");
      if (!stat.ok()) {
        if (pid == leader) return std::nullopt;
        continue;
      }
      if (pid == leader || stat->pgrp == leader) ticks += stat->ticks;
      DIR* tasks = ::opendir((base + "/task").c_str());
      if (tasks == nullptr) {
        if (pid == leader) return std::nullopt;
        continue;
      }
      bool has_children_file = false;
      while (const dirent* task = ::readdir(tasks)) {
        if (PidOfEntry(task->d_name) <= 0) continue;
        auto children = ReadProcFile(base + "/task/" + task->d_name + "/children");
        if (!children.ok()) continue;
        has_children_file = true;
        std::istringstream list(*children);
        long child = 0;
        while (list >> child) {
          if (child > 0) pending.push_back(static_cast<pid_t>(child));
        }
      }
      ::closedir(tasks);
      if (pid == leader && !has_children_file) return std::nullopt;
    }
    return ticks;
  }

  // Every process on the machine read once; each counted for the leader whose group it is in.
  std::map<pid_t, Result<double>> ScanGroups(const std::vector<pid_t>& leaders) {
    std::map<pid_t, Result<double>> seconds;
    if (leaders.empty()) return seconds;
    DIR* dir = ::opendir(proc_root_.c_str());
    if (dir == nullptr) {
      Status error = Status::IoError(proc_root_ + ": " + std::strerror(errno));
      for (pid_t leader : leaders) seconds.emplace(leader, error);
      return seconds;
    }
    std::set<pid_t> wanted(leaders.begin(), leaders.end());
    std::map<pid_t, double> ticks;  // by leader, only where something of it is alive.
    while (const dirent* entry = ::readdir(dir)) {
      pid_t pid = PidOfEntry(entry->d_name);
      if (pid <= 0) continue;
      std::string path = proc_root_ + "/" + entry->d_name + "/stat";
      // A process that ended since readdir, or a stat we cannot parse, is
      // skipped: its reaper's cutime (or the caller's high-water mark) holds
      // what it used.
      auto text = ReadProcFile(path);
      if (!text.ok()) continue;
      auto stat = ParseProcStat(*text, path);
      if (!stat.ok()) continue;
      pid_t leader = wanted.count(stat->pgrp) ? stat->pgrp : wanted.count(pid) ? pid : 0;
      if (leader != 0) ticks[leader] += stat->ticks;
    }
    ::closedir(dir);
    for (pid_t leader : leaders) {
      auto found = ticks.find(leader);
      if (found != ticks.end()) {
        seconds.emplace(leader, found->second / ticks_per_second_);
      } else {
        seconds.emplace(leader, Status::NotFound("process group " + std::to_string(leader) + ": no live process in " +
                                                 proc_root_));
      }
    }
    return seconds;
  }

 public:
  Result<double> MachineBusyCpuSeconds() override {
    std::string path = proc_root_ + "/stat";
    auto text = ReadProcFile(path);  // the "cpu" total is on the first line.
    if (!text.ok()) return text.status();
    std::istringstream lines(*text);
    std::string label;
    lines >> label;
    if (label != "cpu") return Status::Corruption(path + ": line 1 is not the 'cpu' total");
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    double values[8] = {0};
    for (double& value : values) {
      if (!(lines >> value)) return Status::Corruption(path + ": line 1 has fewer than 8 counters");
    }
    double busy = values[0] + values[1] + values[2] + values[5] + values[6] + values[7];
    return busy / ticks_per_second_;
  }

 private:
  std::string proc_root_;
  double ticks_per_second_;
};

struct TdpRow {
  std::string name;        // as in the file.
  std::string normalized;  // NormalizeCpuName(name).
  double watts;
};

// Lower case, without "(r)", "(tm)", " cpu @ 2.20ghz", " cpu", " processor",
// "n-core": the same clean-up as codecarbon's matching, plus the core count
// suffix AMD puts in /proc/cpuinfo ("AMD EPYC 7763 64-Core Processor").
std::string NormalizeCpuName(std::string name) {
  name = ToLower(name);
  for (const char* noise : {"(r)", "(tm)"}) {
    for (size_t at; (at = name.find(noise)) != std::string::npos;) name.erase(at, std::strlen(noise));
  }
  size_t at = name.find(" @ ");
  if (at != std::string::npos) name.erase(at);
  std::vector<std::string> kept;
  for (const std::string& token : SplitWords(name)) {
    if (token == "cpu" || token == "processor") continue;
    if (token.size() > 5 && token.compare(token.size() - 5, 5, "-core") == 0) continue;
    kept.push_back(token);
  }
  return Join(kept, " ");
}

// "27.29.5" in cpu_power.csv means 27-29.5 W: the upper bound.
Result<double> ParseTdp(const std::string& text) {
  if (std::count(text.begin(), text.end(), '.') == 2) return ParseDouble(text.substr(text.find('.') + 1));
  return ParseDouble(text);
}

const std::vector<TdpRow>& CpuTdpTable() {
  static const std::vector<TdpRow> table = [] {
    std::vector<TdpRow> rows;
    auto file = EmbeddedDataFile("codecarbon/cpu_power.csv");
    if (!file) return rows;
    auto csv = ParseCsv(std::string(*file));
    for (size_t i = 1; i < csv.size(); ++i) {
      if (csv[i].size() < 2) continue;
      auto watts = ParseTdp(Trim(csv[i][1]));
      if (!watts.ok() || *watts <= 0) continue;  // the 0.0 row (Intel Quark D1000).
      rows.push_back({csv[i][0], NormalizeCpuName(csv[i][0]), *watts});
    }
    return rows;
  }();
  return table;
}

bool IsSubset(const std::set<std::string>& small, const std::set<std::string>& large) {
  return std::includes(large.begin(), large.end(), small.begin(), small.end());
}

}  // namespace

std::map<pid_t, Result<double>> CpuTimeReader::ProcessGroupCpuSeconds(const std::vector<pid_t>& leaders) {
  std::map<pid_t, Result<double>> seconds;
  for (pid_t leader : leaders) seconds.emplace(leader, ProcessCpuSeconds(leader));
  return seconds;
}

std::unique_ptr<CpuTimeReader> MakeProcCpuTimeReader(const std::string& proc_root) {
  return std::make_unique<ProcCpuTimeReader>(proc_root);
}

Result<MachineInfo> ReadMachineInfo(const std::string& proc_root) {
  MachineInfo info;
  auto cpuinfo = RealFileReader()(proc_root + "/cpuinfo");
  if (!cpuinfo.ok()) return cpuinfo.status();
  std::set<std::string> physical_ids;
  std::istringstream lines(*cpuinfo);
  std::string line;
  while (std::getline(lines, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = Trim(line.substr(0, colon));
    std::string value = Trim(line.substr(colon + 1));
    if (key == "processor") ++info.logical_threads;
    if (key == "model name" && info.cpu_model.empty()) info.cpu_model = value;
    if (key == "physical id") physical_ids.insert(value);
  }
  if (info.logical_threads == 0) info.logical_threads = 1;
  info.sockets = std::max<int>(1, static_cast<int>(physical_ids.size()));
  auto meminfo = RealFileReader()(proc_root + "/meminfo");
  if (!meminfo.ok()) return meminfo.status();
  std::istringstream mem(*meminfo);
  while (std::getline(mem, line)) {
    if (line.rfind("MemTotal:", 0) == 0) {
      auto kib = ParseDouble(SplitWords(line.substr(9)).at(0));
      if (kib.ok()) info.ram_gb = *kib / (1024.0 * 1024.0);  // GiB, as codecarbon's B_TO_GB.
    }
  }
  return info;
}

Result<double> LookUpCpuTdpWatts(const std::string& cpu_model) {
  std::string wanted = NormalizeCpuName(cpu_model);
  if (wanted.empty()) return Status::NotFound("CPU model is empty");
  const auto& table = CpuTdpTable();
  for (const TdpRow& row : table) {
    if (row.normalized == wanted) return row.watts;
  }
  // codecarbon's token_set_ratio == 100: one name's words contain the
  // other's; accepted only when exactly one row matches.
  auto words = SplitWords(wanted);
  std::set<std::string> wanted_words(words.begin(), words.end());
  const TdpRow* match = nullptr;
  int matches = 0;
  for (const TdpRow& row : table) {
    auto row_words_list = SplitWords(row.normalized);
    std::set<std::string> row_words(row_words_list.begin(), row_words_list.end());
    if (IsSubset(wanted_words, row_words) || IsSubset(row_words, wanted_words)) {
      match = &row;
      ++matches;
    }
  }
  if (matches == 1) return match->watts;
  if (matches > 1) {
    return Status::NotFound("CPU model '" + cpu_model + "' matches " + std::to_string(matches) +
                            " rows of cpu_power.csv, none exactly");
  }
  return Status::NotFound("CPU model '" + cpu_model + "' is not in cpu_power.csv");
}

Result<double> LookUpGpuTdpWatts(const std::string& gpu_name) {
  auto file = EmbeddedDataFile("mlco2-impact/gpus.csv");
  if (!file) return Status::Internal("gpus.csv was not embedded");
  auto csv = ParseCsv(std::string(*file));
  std::string wanted = ToLower(Trim(gpu_name));
  std::vector<std::pair<std::string, double>> rows;
  for (size_t i = 1; i < csv.size(); ++i) {
    if (csv[i].size() < 3 || Trim(csv[i][1]) != "gpu") continue;
    std::string name = Trim(csv[i][0]);
    auto watts = ParseDouble(Trim(csv[i][2]));
    if (!watts.ok()) continue;
    // Fixes of known errors in the file (carbon/data/SOURCES.md).
    if (name == "Tesla V100-SXM2-16GB") *watts = 300;  // NVIDIA datasheet; the file says 250.
    if (name == "Tesla V100-PCIE-16GB") *watts = 250;  // NVIDIA datasheet; the file says 300.
    if (name == "GTX 750") continue;                   // 250 W in the file; the card is ~55 W.
    rows.emplace_back(name, *watts);
  }
  for (const auto& [name, watts] : rows) {
    if (ToLower(name) == wanted) return watts;
  }
  if (wanted.empty()) return Status::NotFound("GPU name is empty");
  // A unique prefix ("a100 sxm"), else a unique part of a name ("v100-pcie");
  // several candidates are listed so the user can pick one.
  for (bool prefix_only : {true, false}) {
    std::vector<const std::pair<std::string, double>*> candidates;
    for (const auto& row : rows) {
      size_t at = ToLower(row.first).find(wanted);
      if (prefix_only ? at == 0 : at != std::string::npos) candidates.push_back(&row);
    }
    if (candidates.size() == 1) return candidates[0]->second;
    if (candidates.size() > 1) {
      std::vector<std::string> names;
      for (const auto* row : candidates) names.push_back("'" + row->first + "'");
      return Status::NotFound("GPU '" + gpu_name + "' is ambiguous in mlco2/impact gpus.csv: " + Join(names, ", "));
    }
  }
  return Status::NotFound("GPU '" + gpu_name + "' is not in mlco2/impact gpus.csv");
}

CpuPowerModel ChooseCpuPowerModel(const MachineInfo& machine, const MeterOptions& options) {
  CpuPowerModel model;
  int threads = std::max(1, machine.logical_threads);
  std::ostringstream basis;
  if (options.cpu_watts > 0) {
    model.method = EnergyMethod::kUserSet;
    model.machine_watts = options.cpu_watts;
    basis << "--cpu-watts " << options.cpu_watts << " W over " << threads << " threads";
  } else {
    model.method = EnergyMethod::kCpuTimeModel;
    std::string name = options.cpu_model.empty() ? machine.cpu_model : options.cpu_model;
    auto tdp = LookUpCpuTdpWatts(name);
    if (tdp.ok()) {
      model.machine_watts = *tdp * machine.sockets;
      basis << "'" << name << "' TDP " << *tdp << " W x " << machine.sockets
            << " socket(s) (codecarbon cpu_power.csv) over " << threads << " threads";
    } else {
      model.machine_watts = kDefaultWattsPerThread * threads;
      basis << tdp.status().message() << ": default " << kDefaultWattsPerThread
            << " W per thread (codecarbon DEFAULT_POWER_PER_CORE) x " << threads << " threads";
    }
  }
  model.watts_per_thread = model.machine_watts / threads;
  model.idle_watts = kIdleShareOfTdp * model.machine_watts;
  basis << " = " << model.watts_per_thread << " J per CPU second; idle floor " << model.idle_watts
        << " W (10 % of TDP, codecarbon cpu_load model)";
  model.basis = basis.str();
  return model;
}

// codecarbon v3 RAM._estimate_dimm_count.
int EstimateDimmCount(double total_gb) {
  if (total_gb <= 2) return 1;
  if (total_gb <= 16) return 2;
  if (total_gb <= 32) return 4;
  if (total_gb <= 64) return 4;
  if (total_gb <= 128) return 8;
  for (double dimm_gb : {128.0, 64.0, 32.0, 16.0, 8.0, 4.0}) {
    if (dimm_gb <= total_gb / 8) return std::min(32, static_cast<int>(std::ceil(total_gb / dimm_gb)));
  }
  return 8;
}

// codecarbon v3 RAM._calculate_ram_power (x86): full power for the first 4
// DIMMs, 90 % for the next 4, 80 % up to 16, 70 % beyond; at least 2 DIMMs.
double DimmRuleWatts(int dimms) {
  double watts = kWattsPerDimm * std::min(dimms, 4) + kWattsPerDimm * 0.9 * std::clamp(dimms - 4, 0, 4) +
                 kWattsPerDimm * 0.8 * std::clamp(dimms - 8, 0, 8) + kWattsPerDimm * 0.7 * std::max(0, dimms - 16);
  return std::max(2 * kWattsPerDimm, watts);
}

RamPowerModel ChooseRamPowerModel(const MachineInfo& machine, const MeterOptions& options) {
  RamPowerModel model;
  std::ostringstream basis;
  switch (options.ram_rule) {
    case RamRule::kDimmV3: {
      int dimms = EstimateDimmCount(machine.ram_gb);
      model.watts = DimmRuleWatts(dimms);
      basis << "codecarbon v3 rule: " << machine.ram_gb << " GiB ~ " << dimms << " DIMMs x " << kWattsPerDimm
            << " W (tapered, at least 10 W) = " << model.watts << " W";
      break;
    }
    case RamRule::kPerGbV2:
      model.watts = kWattsPerGb * machine.ram_gb;
      basis << "codecarbon v2 rule: 0.375 W/GiB x " << machine.ram_gb << " GiB = " << model.watts << " W";
      break;
    case RamRule::kUserSet:
      model.method = EnergyMethod::kUserSet;
      model.watts = options.ram_watts;
      basis << "--ram-watts " << model.watts << " W";
      break;
    case RamRule::kNone:
      model.watts = 0;
      basis << "RAM not counted (by option)";
      break;
  }
  basis << ", split among trials by CPU-time share";
  model.basis = basis.str();
  return model;
}

}  // namespace cs
