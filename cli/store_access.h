// What the commands that read a store share (report, compare, estimate,
// status, list): opening it read-only, and where the committed backbone is
// for the pre-training line of reports. cli/ only; main thread.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "store/sweep_store.h"

namespace cs {

// Opens the store read-only (it works while a sweep runs); a missing file is
// NotFound naming it, never a new empty store.
Result<std::unique_ptr<SweepStore>> OpenStoreForReading(const std::string& path);

// The default backbone, for its pre-training footprint: where a trial would
// find it (ResolveBackboneDir: $CARBONSWEEP_BACKBONE, the installed tree, the
// build tree, the source tree), or "" when there is none.
std::string DefaultBackboneDirForReports();

}  // namespace cs
