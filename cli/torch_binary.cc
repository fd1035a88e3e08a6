#include "cli/torch_binary.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "cli/command.h"

namespace cs {

namespace {

std::string SelfPath() {
  char buffer[PATH_MAX];
  ssize_t length = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  return length > 0 ? std::string(buffer, length) : "";
}

bool IsExecutableFile(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error) && ::access(path.c_str(), X_OK) == 0;
}

bool IsSelf(const std::string& path) {
  std::error_code error;
  std::string self = SelfPath();
  return !self.empty() && std::filesystem::equivalent(path, self, error);
}

}  // namespace

std::vector<std::string> TorchBinaryCandidates(const std::string& exe_dir) {
  std::vector<std::string> candidates = {exe_dir + "/" + kTorchBinaryName,
                                         exe_dir + "/../libexec/carbonsweep/" + kTorchBinaryName};
  for (std::string& path : candidates) path = std::filesystem::path(path).lexically_normal().string();
  return candidates;
}

Result<std::string> FindTorchBinary() {
  if (const char* env = std::getenv(kTorchBinaryEnvVar); env != nullptr && *env != '\0') {
    if (!IsExecutableFile(env)) {
      return Status::NotFound(std::string(env) + " (from $" + kTorchBinaryEnvVar + "): not an executable file");
    }
    if (IsSelf(env)) {
      return Status::NotFound(std::string(env) + " (from $" + kTorchBinaryEnvVar + ") is carbonsweep itself, not " +
                              kTorchBinaryName);
    }
    return std::string(env);
  }
  std::string self = SelfPath();
  if (self.empty()) return Status::NotFound("cannot find this program's path (/proc/self/exe)");
  std::vector<std::string> tried = TorchBinaryCandidates(std::filesystem::path(self).parent_path().string());
  for (const std::string& path : tried) {
    if (IsExecutableFile(path) && !IsSelf(path)) return path;
  }
  std::string places;
  for (const std::string& path : tried) places += (places.empty() ? "" : ", ") + path;
  return Status::NotFound(std::string(kTorchBinaryName) + " not found (tried " + places + "); reinstall carbonsweep or name it with $" +
                          kTorchBinaryEnvVar);
}

int ExecTorchBinary(const std::string& command, char** argv) {
  Result<std::string> path = FindTorchBinary();
  if (!path.ok()) {
    return ReportError(command, ExitCode::kInternalError,
                       "this command needs the libtorch executable: " + path.status().message());
  }
  ::execv(path->c_str(), argv);
  return ReportError(command, ExitCode::kInternalError, "cannot run " + *path + ": " + std::strerror(errno));
}

}  // namespace cs
