#include "cli/store_access.h"

#include "trials/backbone_dir.h"

namespace cs {

Result<std::unique_ptr<SweepStore>> OpenStoreForReading(const std::string& path) {
  StoreOptions options;
  options.create_if_missing = false;
  options.read_only = true;
  return SweepStore::Open(path, options);
}

std::string DefaultBackboneDirForReports() {
  Result<std::string> dir = ResolveBackboneDir("");
  return dir.ok() ? *dir : "";
}

}  // namespace cs
