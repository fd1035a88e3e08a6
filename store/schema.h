// The store's schema history: one migration function per version step, and
// the check that decides whether an existing file may be opened at all.
// Internal to store/; the format is documented in docs/store-format.md.
//
// Migration rule: migration i takes a file from user_version i to i + 1. A
// new format appends one function to Migrations() and bumps kSchemaVersion;
// a released migration is never edited. Each step runs in its own write
// transaction that also sets user_version, so a crash mid-upgrade leaves the
// file at the last completed version.
#pragma once

#include <vector>

#include "common/status.h"
#include "store/sqlite_db.h"

namespace cs {

// Written to `PRAGMA application_id` so a carbonsweep store is recognised
// (and any other SQLite database refused): "CSWP".
constexpr int32_t kStoreApplicationId = 0x43535750;

using Migration = Status (*)(SqliteDb& db);

// Migrations()[i] upgrades version i to i + 1; size() == kSchemaVersion.
const std::vector<Migration>& Migrations();

// What Open found in the file before touching it.
struct StoreFileInfo {
  int64_t user_version = 0;
  int64_t application_id = 0;
  int64_t schema_objects = 0;  // rows in sqlite_master.
};

// Reads the version, the application id and whether there is any schema,
// without writing. Corruption when the file is not a SQLite database.
Result<StoreFileInfo> ReadStoreFileInfo(SqliteDb& db);

// Ok when a file with `info` may be used by this build (possibly after
// migrating); otherwise Corruption (not ours, or a negative version) or
// Unsupported (newer).
Status CheckStoreFile(const std::string& path, const StoreFileInfo& info);

// Brings the file to kSchemaVersion, one transaction per step.
Status MigrateToCurrent(SqliteDb& db);

}  // namespace cs
