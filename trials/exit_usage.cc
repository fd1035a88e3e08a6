#include "trials/exit_usage.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/json.h"

namespace cs {

namespace {

// Set once before the handler is installed; read only by the handler.
char g_usage_path[4096];
char g_usage_temp_path[4096];

char* AppendText(char* out, const char* text) {
  while (*text != '\0') *out++ = *text++;
  return out;
}

char* AppendUnsigned(char* out, uint64_t value) {
  char digits[24];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (count > 0) *out++ = digits[--count];
  return out;
}

extern "C" void WriteExitUsageAndExit(int signal_number) {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const uint64_t cpu_microseconds =
      static_cast<uint64_t>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000u +
      static_cast<uint64_t>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const uint64_t unix_milliseconds =
      static_cast<uint64_t>(now.tv_sec) * 1000u + static_cast<uint64_t>(now.tv_nsec) / 1000000u;
  char text[192];
  char* end = AppendText(text, "{\"pid\":");
  end = AppendUnsigned(end, static_cast<uint64_t>(::getpid()));
  end = AppendText(end, ",\"cpu_microseconds\":");
  end = AppendUnsigned(end, cpu_microseconds);
  end = AppendText(end, ",\"unix_milliseconds\":");
  end = AppendUnsigned(end, unix_milliseconds);
  end = AppendText(end, "}\n");
  // O_EXCL | O_NOFOLLOW: a file or link planted at the temp name is never written through.
  ::unlink(g_usage_temp_path);
  int fd = ::open(g_usage_temp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ssize_t written = ::write(fd, text, static_cast<size_t>(end - text));
    ::close(fd);
    if (written == end - text) ::rename(g_usage_temp_path, g_usage_path);
  }
  ::_exit(128 + signal_number);
}

}  // namespace

void InstallOrchestratorDeathHandler(const std::string& work_dir) {
  const std::string path = work_dir + "/" + kTrialExitUsageFile;
  const std::string temp_path = path + ".tmp." + std::to_string(::getpid());
  if (temp_path.size() >= sizeof g_usage_temp_path) return;  // keeps the default action: exit.
  std::memcpy(g_usage_path, path.c_str(), path.size() + 1);
  std::memcpy(g_usage_temp_path, temp_path.c_str(), temp_path.size() + 1);
  struct sigaction action {};
  action.sa_handler = WriteExitUsageAndExit;
  sigfillset(&action.sa_mask);  // nothing interrupts the last words.
  ::sigaction(kOrchestratorDeathSignal, &action, nullptr);
  const char* orchestrator = std::getenv(kOrchestratorPidVariable);
  if (orchestrator != nullptr && std::to_string(::getppid()) != orchestrator) {
    WriteExitUsageAndExit(kOrchestratorDeathSignal);  // it died during our start-up.
  }
}

bool TrialProcessAlive(int64_t pid, const std::string& work_dir) {
  if (pid <= 0) return false;
  Result<std::string> command_line = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  if (!command_line.ok()) return false;
  // Arguments are NUL-separated; a zombie's is empty.
  return command_line->find(work_dir) != std::string::npos;
}

std::optional<TrialExitUsage> ReadTrialExitUsage(const std::string& work_dir) {
  // Anyone who can write the work dir can write this file: bounded, and
  // every field checked before it prices a single joule.
  Result<std::string> text = ReadFileUpTo(work_dir + "/" + kTrialExitUsageFile, /*max_bytes=*/4096);
  if (!text.ok()) return std::nullopt;
  nlohmann::json object = ParseJsonOrDiscarded(*text);
  if (!object.is_object()) return std::nullopt;
  constexpr uint64_t kMaxPid = uint64_t{1} << 22;              // Linux's PID_MAX_LIMIT.
  constexpr uint64_t kMaxCpuMicroseconds = uint64_t{1} << 50;  // about 35 years of CPU.
  constexpr uint64_t kMaxUnixMilliseconds = uint64_t{1} << 50; // the year 37648.
  const std::pair<const char*, uint64_t> fields[] = {
      {"pid", kMaxPid}, {"cpu_microseconds", kMaxCpuMicroseconds}, {"unix_milliseconds", kMaxUnixMilliseconds}};
  for (const auto& [field, max] : fields) {
    auto it = object.find(field);
    if (it == object.end() || !it->is_number_unsigned() || it->get<uint64_t>() > max) return std::nullopt;
  }
  TrialExitUsage usage;
  usage.pid = static_cast<int64_t>(object["pid"].get<uint64_t>());
  if (usage.pid == 0) return std::nullopt;
  usage.cpu_seconds = static_cast<double>(object["cpu_microseconds"].get<uint64_t>()) * 1e-6;
  usage.unix_seconds = static_cast<double>(object["unix_milliseconds"].get<uint64_t>()) * 1e-3;
  return usage;
}

}  // namespace cs
