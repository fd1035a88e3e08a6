#include "trials/backbone_dir.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>

#include "common/files.h"

#ifndef CARBONSWEEP_SOURCE_DIR
#define CARBONSWEEP_SOURCE_DIR ""
#endif

namespace cs {

namespace {

std::string ExecutableDir() {
  char buffer[PATH_MAX];
  ssize_t length = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (length <= 0) return "";
  return std::filesystem::path(std::string(buffer, length)).parent_path().string();
}

bool HasBackbone(const std::string& dir) { return FileExists(dir + "/" + kBackboneInfoFile); }

}  // namespace

std::vector<std::string> DefaultBackboneDirs(const std::string& exe_dir, const std::string& source_dir) {
  std::vector<std::string> dirs;
  if (!exe_dir.empty()) {
    dirs.push_back(exe_dir + "/../share/carbonsweep/models/backbone");     // PREFIX/bin/carbonsweep
    dirs.push_back(exe_dir + "/../../share/carbonsweep/models/backbone");  // PREFIX/libexec/carbonsweep/
    dirs.push_back(exe_dir + "/../../models/backbone");                    // SOURCE/build/cli/
  }
  if (!source_dir.empty()) dirs.push_back(source_dir + "/models/backbone");
  for (std::string& dir : dirs) dir = std::filesystem::path(dir).lexically_normal().string();
  return dirs;
}

Result<std::string> ResolveBackboneDir(const std::string& flag_dir) {
  if (!flag_dir.empty()) {
    if (!HasBackbone(flag_dir)) {
      return Status::NotFound(flag_dir + ": not a backbone directory (no " + kBackboneInfoFile + ")");
    }
    return flag_dir;
  }
  if (const char* env = std::getenv(kBackboneEnvVar); env != nullptr && *env != '\0') {
    if (!HasBackbone(env)) {
      return Status::NotFound(std::string(env) + " (from $" + kBackboneEnvVar + "): not a backbone directory (no " +
                              kBackboneInfoFile + ")");
    }
    return std::string(env);
  }
  std::vector<std::string> tried = DefaultBackboneDirs(ExecutableDir(), CARBONSWEEP_SOURCE_DIR);
  for (const std::string& dir : tried) {
    if (HasBackbone(dir)) return dir;
  }
  std::string places;
  for (const std::string& dir : tried) places += (places.empty() ? "" : ", ") + dir;
  return Status::NotFound("no pre-trained backbone found (tried " + places +
                          "); build one with `carbonsweep pretrain`, name one with --backbone DIR or $" +
                          kBackboneEnvVar + ", or train from random weights with --from-scratch --vocab vocab.txt");
}

}  // namespace cs
