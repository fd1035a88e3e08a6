#include "cli/store_access.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>

namespace cs {

Result<std::unique_ptr<SweepStore>> OpenStoreForReading(const std::string& path) {
  StoreOptions options;
  options.create_if_missing = false;
  options.read_only = true;
  return SweepStore::Open(path, options);
}

std::string DefaultBackboneDirForReports() {
  if (const char* env = std::getenv("CARBONSWEEP_BACKBONE"); env != nullptr && *env != '\0') return env;
  char exe[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return "";
  std::string path(exe, n);
  for (int up = 0; up < 3 && path.find('/') != std::string::npos; ++up) path.erase(path.rfind('/'));
  return path + "/models/backbone";
}

}  // namespace cs
