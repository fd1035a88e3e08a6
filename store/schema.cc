#include "store/schema.h"

#include <string>

#include "store/sweep_store.h"

namespace cs {

namespace {

// Version 0 -> 1: the first format. Column meanings and units are in
// docs/store-format.md; keep the two in step.
Status CreateVersion1(SqliteDb& db) {
  return db.Exec(R"sql(
    CREATE TABLE sweeps (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      created_at REAL NOT NULL,
      updated_at REAL NOT NULL,
      host TEXT NOT NULL,
      strategy TEXT NOT NULL,
      seed INTEGER NOT NULL,
      budget_grams_co2e REAL NOT NULL,
      on_budget INTEGER NOT NULL,
      region TEXT NOT NULL,
      intensity_g_per_kwh REAL NOT NULL,
      intensity_source TEXT NOT NULL,
      intensity_year INTEGER NOT NULL,
      pue REAL NOT NULL,
      power_json TEXT NOT NULL,
      task_json TEXT NOT NULL,
      task_checksum TEXT NOT NULL,
      space_json TEXT NOT NULL,
      config_json TEXT NOT NULL,
      grid_order_json TEXT NOT NULL,
      launcher TEXT NOT NULL,
      state INTEGER NOT NULL
    );
    CREATE TABLE trials (
      id INTEGER PRIMARY KEY,
      sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
      k INTEGER NOT NULL,
      params_json TEXT NOT NULL,
      state INTEGER NOT NULL,
      reserved_grams_co2e REAL NOT NULL,
      created_at REAL NOT NULL,
      started_at REAL,
      ended_at REAL,
      pid INTEGER,
      job_id TEXT NOT NULL DEFAULT '',
      work_dir TEXT NOT NULL DEFAULT '',
      best_epoch INTEGER,
      val_accuracy REAL,
      test_accuracy REAL,
      seconds REAL NOT NULL DEFAULT 0,
      steps INTEGER NOT NULL DEFAULT 0,
      examples INTEGER NOT NULL DEFAULT 0,
      exit_status INTEGER,
      stderr_tail TEXT NOT NULL DEFAULT '',
      reason TEXT NOT NULL DEFAULT '',
      attempts INTEGER NOT NULL DEFAULT 0,
      UNIQUE (sweep_id, k)
    );
    CREATE INDEX trials_by_sweep_state ON trials(sweep_id, state);
    CREATE INDEX trials_by_sweep_accuracy ON trials(sweep_id, val_accuracy);
    CREATE TABLE epochs (
      trial_id INTEGER NOT NULL REFERENCES trials(id),
      epoch INTEGER NOT NULL,
      train_loss REAL NOT NULL,
      val_loss REAL NOT NULL,
      val_accuracy REAL NOT NULL,
      seconds REAL NOT NULL,
      steps INTEGER NOT NULL,
      examples INTEGER NOT NULL,
      recorded_at REAL NOT NULL,
      PRIMARY KEY (trial_id, epoch)
    ) WITHOUT ROWID;
    CREATE TABLE power_samples (
      id INTEGER PRIMARY KEY,
      sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
      trial_id INTEGER REFERENCES trials(id),
      unix_seconds REAL NOT NULL,
      interval_seconds REAL NOT NULL,
      component TEXT NOT NULL,
      method TEXT NOT NULL,
      joules REAL NOT NULL,
      watts REAL NOT NULL,
      grams_co2e REAL NOT NULL,
      intensity_g_per_kwh REAL NOT NULL
    );
    -- One sample per (sweep, trial or none, component, method, time): makes
    -- re-ingesting a worker's file harmless. Unattributed rows use 0 here.
    CREATE UNIQUE INDEX power_samples_unique
      ON power_samples(sweep_id, ifnull(trial_id, 0), component, method, unix_seconds);
    CREATE TABLE trial_energy (
      trial_id INTEGER NOT NULL REFERENCES trials(id),
      component TEXT NOT NULL,
      method TEXT NOT NULL,
      sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
      joules REAL NOT NULL,
      grams_co2e REAL NOT NULL,
      seconds REAL NOT NULL,
      samples INTEGER NOT NULL,
      PRIMARY KEY (trial_id, component, method)
    ) WITHOUT ROWID;
    -- Covering: a sweep's spend is summed from the index alone.
    CREATE INDEX trial_energy_by_sweep ON trial_energy(sweep_id, trial_id, joules, grams_co2e);
    CREATE TABLE unattributed_energy (
      sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
      component TEXT NOT NULL,
      method TEXT NOT NULL,
      joules REAL NOT NULL,
      grams_co2e REAL NOT NULL,
      seconds REAL NOT NULL,
      samples INTEGER NOT NULL,
      PRIMARY KEY (sweep_id, component, method)
    ) WITHOUT ROWID;
    CREATE TABLE leases (
      sweep_id INTEGER PRIMARY KEY REFERENCES sweeps(id),
      owner TEXT NOT NULL,
      acquired_at REAL NOT NULL,
      heartbeat_at REAL NOT NULL
    );
    CREATE TABLE baselines (
      id INTEGER PRIMARY KEY,
      task_checksum TEXT NOT NULL,
      task_json TEXT NOT NULL,
      method TEXT NOT NULL,
      val_accuracy REAL NOT NULL,
      test_accuracy REAL NOT NULL,
      seconds REAL NOT NULL,
      joules REAL NOT NULL,
      grams_co2e REAL NOT NULL,
      details_json TEXT NOT NULL,
      created_at REAL NOT NULL
    );
    CREATE INDEX baselines_by_task ON baselines(task_checksum, created_at);
  )sql",
                 "creating the schema (version 1)");
}

// Version 1 -> 2: the CPU seconds behind each sample, so the energy a trial
// burnt after the orchestrator's last sample (a kill -9 of the orchestrator)
// can be priced at resume from the trial's own rusage (old rows get 0); and
// the carbon-aware holds, so reports can show the delay and the CO2 avoided.
Status AddCpuSecondsVersion2(SqliteDb& db) {
  return db.Exec(R"sql(
    ALTER TABLE power_samples ADD COLUMN cpu_seconds REAL NOT NULL DEFAULT 0;
    ALTER TABLE trial_energy ADD COLUMN cpu_seconds REAL NOT NULL DEFAULT 0;
    ALTER TABLE trials ADD COLUMN attempt_cpu_seconds REAL NOT NULL DEFAULT 0;
    CREATE TABLE holds (
      id INTEGER PRIMARY KEY,
      sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
      started_at REAL NOT NULL,
      ended_at REAL,
      intensity_g_per_kwh REAL NOT NULL,
      threshold_g_per_kwh REAL NOT NULL
    );
    CREATE INDEX holds_by_sweep ON holds(sweep_id, started_at);
  )sql",
                 "adding CPU seconds to samples and trials, and carbon-aware holds (version 2)");
}

// Version 2 -> 3: the budget is kept in the sweeps row alone. config_json
// held a copy that `resume --budget` never updated, so reports showed two
// budgets; the copy is removed (config_json that is not valid JSON is left
// as it is: resume refuses it with its own message).
Status BudgetOnceVersion3(SqliteDb& db) {
  return db.Exec(R"sql(
    UPDATE sweeps SET config_json = json_remove(config_json, '$.budget_grams_co2e', '$.on_budget')
      WHERE json_valid(config_json);
  )sql",
                 "removing the budget's copy from sweeps.config_json (version 3)");
}

// Version 3 -> 4: a sweep ranks its trials by a metric of the user's choice
// (`run --metric NAME --mode max|min`), not always val_accuracy. The sweep
// keeps the metric's name and direction; trials and epochs keep its value
// beside val_accuracy (copied from it in older sweeps, whose metric it was).
// A user's command may report no accuracy at all, so epochs.val_accuracy
// becomes nullable: SQLite cannot drop NOT NULL in place, so the table is
// rebuilt (inside this migration's transaction) with the same rows.
Status ObjectiveVersion4(SqliteDb& db) {
  return db.Exec(R"sql(
    ALTER TABLE sweeps ADD COLUMN metric TEXT NOT NULL DEFAULT 'val_accuracy';
    ALTER TABLE sweeps ADD COLUMN metric_mode INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE trials ADD COLUMN metric REAL;
    UPDATE trials SET metric = val_accuracy;
    CREATE INDEX trials_by_sweep_metric ON trials(sweep_id, metric);
    CREATE TABLE epochs_v4 (
      trial_id INTEGER NOT NULL REFERENCES trials(id),
      epoch INTEGER NOT NULL,
      train_loss REAL NOT NULL,
      val_loss REAL NOT NULL,
      val_accuracy REAL,
      seconds REAL NOT NULL,
      steps INTEGER NOT NULL,
      examples INTEGER NOT NULL,
      recorded_at REAL NOT NULL,
      metric REAL,
      PRIMARY KEY (trial_id, epoch)
    ) WITHOUT ROWID;
    INSERT INTO epochs_v4 (trial_id, epoch, train_loss, val_loss, val_accuracy, seconds, steps, examples,
                           recorded_at, metric)
      SELECT trial_id, epoch, train_loss, val_loss, val_accuracy, seconds, steps, examples, recorded_at,
             val_accuracy FROM epochs;
    DROP TABLE epochs;
    ALTER TABLE epochs_v4 RENAME TO epochs;
  )sql",
                 "adding the sweep's metric to sweeps, trials and epochs (version 4)");
}

}  // namespace

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> migrations = {&CreateVersion1, &AddCpuSecondsVersion2, &BudgetOnceVersion3,
                                                    &ObjectiveVersion4};
  return migrations;
}

Result<StoreFileInfo> ReadStoreFileInfo(SqliteDb& db) {
  StoreFileInfo info;
  // Reading sqlite_master is what makes SQLite look at the file header: a
  // file that is not a database fails here, before anything is written.
  Result<int64_t> objects = db.QueryInt("SELECT COUNT(*) FROM sqlite_master", "reading the schema");
  if (!objects.ok()) return objects.status();
  Result<int64_t> version = db.QueryInt("PRAGMA user_version", "reading the format version");
  if (!version.ok()) return version.status();
  Result<int64_t> application = db.QueryInt("PRAGMA application_id", "reading the application id");
  if (!application.ok()) return application.status();
  info.schema_objects = *objects;
  info.user_version = *version;
  info.application_id = *application;
  return info;
}

Status CheckStoreFile(const std::string& path, const StoreFileInfo& info) {
  bool ours_or_unmarked = info.application_id == 0 || info.application_id == kStoreApplicationId;
  bool empty = info.schema_objects == 0 && info.user_version == 0 && ours_or_unmarked;
  if (empty) return Status::Ok();
  if (info.application_id != kStoreApplicationId) {
    return Status::Corruption(path + ": a SQLite database but not a carbonsweep store (application_id " +
                              std::to_string(info.application_id) + "); the file was not modified");
  }
  if (info.user_version < 0) {
    return Status::Corruption(path + ": store format version " + std::to_string(info.user_version) +
                              " is not a version any carbonsweep writes; the file was not modified");
  }
  if (info.user_version > kSchemaVersion) {
    return Status::Unsupported(path + ": store format version " + std::to_string(info.user_version) +
                               " is newer than this carbonsweep supports (version " +
                               std::to_string(kSchemaVersion) + "); use a newer carbonsweep");
  }
  return Status::Ok();
}

Status MigrateToCurrent(SqliteDb& db) {
  const std::vector<Migration>& migrations = Migrations();
  while (true) {
    bool done = false;
    Status status = db.InTransaction(TransactionKind::kWrite, "upgrading the store format", [&]() -> Status {
      // Read again under the write lock: another process may have upgraded
      // the file since we looked.
      Result<int64_t> version = db.QueryInt("PRAGMA user_version", "reading the format version");
      if (!version.ok()) return version.status();
      if (*version < 0) {  // changed by another process since CheckStoreFile looked.
        return Status::Corruption(db.path() + ": store format version " + std::to_string(*version) +
                                  " is not a version any carbonsweep writes");
      }
      if (*version >= static_cast<int64_t>(migrations.size())) {
        done = true;
        return Status::Ok();
      }
      CS_RETURN_IF_ERROR(migrations[*version](db));
      CS_RETURN_IF_ERROR(db.Exec("PRAGMA application_id = " + std::to_string(kStoreApplicationId),
                                 "marking the file as a carbonsweep store"));
      return db.Exec("PRAGMA user_version = " + std::to_string(*version + 1), "setting the format version");
    });
    CS_RETURN_IF_ERROR(status);
    if (done) return Status::Ok();
  }
}

}  // namespace cs
