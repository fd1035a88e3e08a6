#include "store/sweep_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <limits>
#include <mutex>
#include <unordered_map>

#include "common/files.h"
#include "common/text.h"
#include "common/units.h"
#include "store/schema.h"
#include "store/sqlite_db.h"

namespace cs {

// ---------------------------------------------------------------------------
// Enum names
// ---------------------------------------------------------------------------

namespace {

constexpr const char* kSweepStateNames[] = {"running", "interrupted", "budget_spent", "done", "failed",
                                                "trials_failing"};
constexpr const char* kTrialStateNames[] = {"reserved", "running",        "finished",       "diverged",    "failed",
                                            "pruned",   "stopped_budget", "skipped_budget", "interrupted", "paused"};
constexpr const char* kOnBudgetNames[] = {"stop", "finish"};
constexpr const char* kMetricModeNames[] = {"max", "min"};
static_assert(sizeof(kTrialStateNames) / sizeof(kTrialStateNames[0]) == kTrialStateCount);

template <typename Enum, size_t N>
std::optional<Enum> ParseName(const char* const (&names)[N], const std::string& name) {
  for (size_t i = 0; i < N; ++i) {
    if (name == names[i]) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

template <size_t N>
bool InRange(const char* const (&)[N], int value) {
  return value >= 0 && static_cast<size_t>(value) < N;
}

}  // namespace

const char* SweepStateName(SweepState state) {
  int i = static_cast<int>(state);
  return InRange(kSweepStateNames, i) ? kSweepStateNames[i] : "unknown";
}
const char* TrialStateName(TrialState state) {
  int i = static_cast<int>(state);
  return InRange(kTrialStateNames, i) ? kTrialStateNames[i] : "unknown";
}
const char* OnBudgetName(OnBudget on_budget) {
  int i = static_cast<int>(on_budget);
  return InRange(kOnBudgetNames, i) ? kOnBudgetNames[i] : "unknown";
}
std::optional<SweepState> ParseSweepState(const std::string& name) {
  return ParseName<SweepState>(kSweepStateNames, name);
}
std::optional<TrialState> ParseTrialState(const std::string& name) {
  return ParseName<TrialState>(kTrialStateNames, name);
}
std::optional<OnBudget> ParseOnBudget(const std::string& name) { return ParseName<OnBudget>(kOnBudgetNames, name); }
const char* MetricModeName(MetricMode mode) {
  int i = static_cast<int>(mode);
  return InRange(kMetricModeNames, i) ? kMetricModeNames[i] : "unknown";
}
std::string MetricLabel(const Objective& objective) {
  return objective.metric == "val_accuracy" ? "val acc" : objective.metric;
}

std::string FormatMetric(const Objective& objective, double value) {
  return MetricLabel(objective) + " " + StringPrintf(objective.metric == "val_accuracy" ? "%.4f" : "%.4g", value);
}
std::optional<MetricMode> ParseMetricMode(const std::string& name) {
  return ParseName<MetricMode>(kMetricModeNames, name);
}
bool IsOpenTrialState(TrialState state) { return state == TrialState::kReserved || state == TrialState::kRunning; }

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

namespace {

std::string Quoted(const std::string& name) { return "'" + name + "'"; }

constexpr double kUnbounded = std::numeric_limits<double>::max();
constexpr int kMaxEpoch = 100000;

// `value` as short as it reads back exactly ("0.1", "nan", "-inf").
std::string FormatExactNumber(double value) {
  std::string text = StringPrintf("%.15g", value);
  if (std::isfinite(value) && std::strtod(text.c_str(), nullptr) != value) text = StringPrintf("%.17g", value);
  return text;
}

// InvalidArgument "<where>: <field> <value> must be ..." when `value` is not
// finite or lies outside [min, max] (kUnbounded: no limit); Ok otherwise.
Status CheckField(const std::string& where, const char* field, double value, double min, double max) {
  if (std::isfinite(value) && value >= min && value <= max) return Status::Ok();
  std::string rule = "must be finite";
  if (max != kUnbounded) {
    rule = "must be in [" + FormatExactNumber(min) + ", " + FormatExactNumber(max) + "]";
  } else if (min != -kUnbounded) {
    rule += " and at least " + FormatExactNumber(min);
  }
  return Status::InvalidArgument(where + ": " + field + " " + FormatExactNumber(value) + " " + rule);
}

// Refuses a file that is not SQLite by its first bytes, before SQLite sees
// it: then nothing can ever be written to it. Only a regular file is read:
// a FIFO would block the read (and the command) for ever.
Status CheckSqliteHeader(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) return Status::IoError(path + ": cannot stat the store file");
  if (S_ISDIR(info.st_mode)) return Status::InvalidArgument(path + ": is a directory, not a carbonsweep store");
  if (!S_ISREG(info.st_mode)) {
    std::string kind = "a special file";
    if (S_ISFIFO(info.st_mode)) kind = "a FIFO";
    if (S_ISCHR(info.st_mode) || S_ISBLK(info.st_mode)) kind = "a device";
    if (S_ISSOCK(info.st_mode)) kind = "a socket";
    return Status::InvalidArgument(path + ": is " + kind + ", not a carbonsweep store (a store is a regular file)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError(path + ": cannot read the store file");
  char header[16] = {};
  in.read(header, sizeof(header));
  std::streamsize read = in.gcount();
  if (read == 0) return Status::Ok();  // an empty file: SQLite makes a new database of it.
  static const char kMagic[16] = {'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f', 'o', 'r', 'm', 'a', 't', ' ', '3', '\0'};
  if (read < 16 || std::string(header, 16) != std::string(kMagic, 16)) {
    return Status::Corruption(path + ": not a carbonsweep store (not a SQLite database); the file was not modified");
  }
  return Status::Ok();
}

bool ValidTrialState(TrialState state) { return InRange(kTrialStateNames, static_cast<int>(state)); }

constexpr const char* kSweepColumns =
    "id, name, created_at, updated_at, host, strategy, seed, budget_grams_co2e, on_budget, region, "
    "intensity_g_per_kwh, intensity_source, intensity_year, pue, power_json, task_json, task_checksum, "
    "space_json, config_json, grid_order_json, launcher, state, metric, metric_mode";

SweepRecord ReadSweep(const SqliteStatement& row) {
  SweepRecord sweep;
  sweep.id = row.Int(0);
  sweep.name = row.Text(1);
  sweep.created_at_unix = row.Double(2);
  sweep.updated_at_unix = row.Double(3);
  sweep.host = row.Text(4);
  sweep.strategy = row.Text(5);
  sweep.seed = row.Int(6);
  sweep.budget_grams_co2e = row.Double(7);
  sweep.on_budget = static_cast<OnBudget>(row.Int(8));
  sweep.region = row.Text(9);
  sweep.intensity_g_per_kwh = row.Double(10);
  sweep.intensity_source = row.Text(11);
  sweep.intensity_year = static_cast<int>(row.Int(12));
  sweep.pue = row.Double(13);
  sweep.power_json = row.Text(14);
  sweep.task_json = row.Text(15);
  sweep.task_checksum = row.Text(16);
  sweep.space_json = row.Text(17);
  sweep.config_json = row.Text(18);
  sweep.grid_order_json = row.Text(19);
  sweep.launcher = row.Text(20);
  sweep.state = static_cast<SweepState>(row.Int(21));
  sweep.objective.metric = row.Text(22);
  sweep.objective.mode = row.Int(23) == static_cast<int>(MetricMode::kMin) ? MetricMode::kMin : MetricMode::kMax;
  return sweep;
}

// The trial's columns and its energy totals (two correlated sums over the
// trial_energy primary key: one index probe each).
constexpr const char* kTrialColumns =
    "t.id, t.sweep_id, t.k, t.params_json, t.state, t.reserved_grams_co2e, t.created_at, t.started_at, "
    "t.ended_at, t.pid, t.job_id, t.work_dir, t.best_epoch, t.val_accuracy, t.test_accuracy, t.seconds, "
    "t.steps, t.examples, t.exit_status, t.stderr_tail, t.reason, t.attempts, "
    "(SELECT TOTAL(e.joules) FROM trial_energy e WHERE e.trial_id = t.id), "
    "(SELECT TOTAL(e.grams_co2e) FROM trial_energy e WHERE e.trial_id = t.id), t.attempt_cpu_seconds, t.metric";

TrialRecord ReadTrial(const SqliteStatement& row) {
  TrialRecord trial;
  trial.id = row.Int(0);
  trial.sweep_id = row.Int(1);
  trial.index = row.Int(2);
  trial.params_json = row.Text(3);
  trial.state = static_cast<TrialState>(row.Int(4));
  trial.reserved_grams_co2e = row.Double(5);
  trial.created_at_unix = row.Double(6);
  trial.started_at_unix = row.OptionalDouble(7);
  trial.ended_at_unix = row.OptionalDouble(8);
  trial.pid = row.OptionalInt(9);
  trial.job_id = row.Text(10);
  trial.work_dir = row.Text(11);
  if (!row.IsNull(12)) trial.best_epoch = static_cast<int>(row.Int(12));
  trial.val_accuracy = row.OptionalDouble(13);
  trial.test_accuracy = row.OptionalDouble(14);
  trial.seconds = row.Double(15);
  trial.steps = row.Int(16);
  trial.examples = row.Int(17);
  if (!row.IsNull(18)) trial.exit_status = static_cast<int>(row.Int(18));
  trial.stderr_tail = row.Text(19);
  trial.reason = row.Text(20);
  trial.attempts = static_cast<int>(row.Int(21));
  trial.energy.joules = row.Double(22);
  trial.energy.grams_co2e = row.Double(23);
  trial.attempt_cpu_seconds = row.Double(24);
  trial.metric = row.OptionalDouble(25);
  return trial;
}

constexpr const char* kEpochColumns =
    "e.trial_id, e.epoch, e.train_loss, e.val_loss, e.val_accuracy, e.seconds, e.steps, e.examples, e.recorded_at, "
    "e.metric";

EpochRecord ReadEpoch(const SqliteStatement& row) {
  EpochRecord epoch;
  epoch.trial_id = row.Int(0);
  epoch.epoch = static_cast<int>(row.Int(1));
  epoch.train_loss = row.Double(2);
  epoch.val_loss = row.Double(3);
  epoch.val_accuracy = row.OptionalDouble(4);
  epoch.seconds = row.Double(5);
  epoch.steps = row.Int(6);
  epoch.examples = row.Int(7);
  epoch.recorded_at_unix = row.Double(8);
  epoch.metric = row.OptionalDouble(9);
  return epoch;
}

EnergyTotal ReadEnergyTotal(const SqliteStatement& row) {
  EnergyTotal total;
  total.trial_id = row.OptionalInt(0);
  total.component = row.Text(1);
  total.method = row.Text(2);
  total.joules = row.Double(3);
  total.grams_co2e = row.Double(4);
  total.seconds = row.Double(5);
  total.samples = row.Int(6);
  total.cpu_seconds = row.Double(7);
  return total;
}

PowerSampleRow ReadPowerSample(const SqliteStatement& row) {
  PowerSampleRow sample;
  sample.sweep_id = row.Int(0);
  sample.trial_id = row.OptionalInt(1);
  sample.unix_seconds = row.Double(2);
  sample.interval_seconds = row.Double(3);
  sample.component = row.Text(4);
  sample.method = row.Text(5);
  sample.joules = row.Double(6);
  sample.watts = row.Double(7);
  sample.grams_co2e = row.Double(8);
  sample.intensity_g_per_kwh = row.Double(9);
  sample.cpu_seconds = row.Double(10);
  return sample;
}

HoldRecord ReadHold(const SqliteStatement& row) {
  HoldRecord hold;
  hold.id = row.Int(0);
  hold.sweep_id = row.Int(1);
  hold.started_at_unix = row.Double(2);
  hold.ended_at_unix = row.OptionalDouble(3);
  hold.intensity_g_per_kwh = row.Double(4);
  hold.threshold_g_per_kwh = row.Double(5);
  return hold;
}

constexpr const char* kBaselineColumns =
    "id, task_json, task_checksum, method, val_accuracy, test_accuracy, seconds, joules, grams_co2e, "
    "details_json, created_at";

BaselineRecord ReadBaseline(const SqliteStatement& row) {
  BaselineRecord baseline;
  baseline.id = row.Int(0);
  baseline.task_json = row.Text(1);
  baseline.task_checksum = row.Text(2);
  baseline.method = row.Text(3);
  baseline.val_accuracy = row.Double(4);
  baseline.test_accuracy = row.Double(5);
  baseline.seconds = row.Double(6);
  baseline.joules = row.Double(7);
  baseline.grams_co2e = row.Double(8);
  baseline.details_json = row.Text(9);
  baseline.created_at_unix = row.Double(10);
  return baseline;
}

}  // namespace

namespace {

// The NotFound message for a missing row.
Status Missing(const SqliteDb& db, const std::string& what) {
  return Status::NotFound(db.path() + ": no " + what + " in this store");
}

Result<SweepRecord> LoadSweepById(SqliteDb& db, int64_t sweep_id) {
  Result<SqliteStatement> stmt = db.Prepare(std::string("SELECT ") + kSweepColumns + " FROM sweeps WHERE id = ?");
  if (!stmt.ok()) return stmt.status();
  stmt->BindAll(sweep_id);
  Result<bool> row = stmt->Step("reading sweep " + std::to_string(sweep_id));
  if (!row.ok()) return row.status();
  if (!*row) return Missing(db, "sweep with id " + std::to_string(sweep_id));
  return ReadSweep(*stmt);
}

Result<SweepSpend> LoadSpend(SqliteDb& db, int64_t sweep_id) {
  SweepSpend spend;
  std::string doing = "summing the spend of sweep " + std::to_string(sweep_id);
  {
    Result<SqliteStatement> stmt =
        db.Prepare("SELECT TOTAL(joules), TOTAL(grams_co2e) FROM trial_energy WHERE sweep_id = ?");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(sweep_id);
    Result<bool> row = stmt->Step(doing);
    if (!row.ok()) return row.status();
    spend.total.joules = stmt->Double(0);
    spend.total.grams_co2e = stmt->Double(1);
  }
  {
    Result<SqliteStatement> stmt =
        db.Prepare("SELECT TOTAL(joules), TOTAL(grams_co2e) FROM unattributed_energy WHERE sweep_id = ?");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(sweep_id);
    Result<bool> row = stmt->Step(doing);
    if (!row.ok()) return row.status();
    spend.unattributed.joules = stmt->Double(0);
    spend.unattributed.grams_co2e = stmt->Double(1);
    spend.total.joules += spend.unattributed.joules;
    spend.total.grams_co2e += spend.unattributed.grams_co2e;
  }
  {
    // Open trials: reserved (0) and running (1).
    Result<SqliteStatement> stmt = db.Prepare(
        "SELECT TOTAL(t.reserved_grams_co2e), "
        "TOTAL(MAX(0.0, t.reserved_grams_co2e - "
        "(SELECT TOTAL(e.grams_co2e) FROM trial_energy e WHERE e.trial_id = t.id))) "
        "FROM trials t WHERE t.sweep_id = ? AND t.state IN (0, 1)");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(sweep_id);
    Result<bool> row = stmt->Step(doing);
    if (!row.ok()) return row.status();
    spend.reserved_grams_co2e = stmt->Double(0);
    spend.outstanding_reserved_grams_co2e = stmt->Double(1);
  }
  return spend;
}

Result<SweepSummary> LoadSummary(SqliteDb& db, SweepRecord sweep) {
  SweepSummary summary;
  std::string doing = "summarising sweep " + Quoted(sweep.name);
  {
    Result<SqliteStatement> stmt = db.Prepare("SELECT state, COUNT(*) FROM trials WHERE sweep_id = ? GROUP BY state");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(sweep.id);
    while (true) {
      Result<bool> row = stmt->Step(doing);
      if (!row.ok()) return row.status();
      if (!*row) break;
      int64_t state = stmt->Int(0);
      if (state >= 0 && state < kTrialStateCount) summary.trials_by_state[state] = stmt->Int(1);
      summary.trial_count += stmt->Int(1);
    }
  }
  {
    // The order is one of two literals, never text from the record.
    const bool lower_is_better = sweep.objective.mode == MetricMode::kMin;
    Result<SqliteStatement> stmt = db.Prepare(
        std::string("SELECT k, metric FROM trials WHERE sweep_id = ? AND metric IS NOT NULL ORDER BY metric ") +
        (lower_is_better ? "ASC" : "DESC") + ", k LIMIT 1");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(sweep.id);
    Result<bool> row = stmt->Step(doing);
    if (!row.ok()) return row.status();
    if (*row) {
      summary.best_trial_index = stmt->Int(0);
      summary.best_metric = stmt->Double(1);
    }
  }
  Result<SweepSpend> spend = LoadSpend(db, sweep.id);
  if (!spend.ok()) return spend.status();
  summary.spend = *spend;
  summary.sweep = std::move(sweep);
  return summary;
}

Result<std::optional<LeaseRecord>> LoadLease(SqliteDb& db, int64_t sweep_id) {
  Result<SqliteStatement> stmt =
      db.Prepare("SELECT sweep_id, owner, acquired_at, heartbeat_at FROM leases WHERE sweep_id = ?");
  if (!stmt.ok()) return stmt.status();
  stmt->BindAll(sweep_id);
  Result<bool> row = stmt->Step("reading the lease of sweep " + std::to_string(sweep_id));
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<LeaseRecord>();
  LeaseRecord lease;
  lease.sweep_id = stmt->Int(0);
  lease.owner = stmt->Text(1);
  lease.acquired_at_unix = stmt->Double(2);
  lease.heartbeat_at_unix = stmt->Double(3);
  return std::optional<LeaseRecord>(lease);
}

// Runs `stmt` (already bound) and collects every row through `read`.
template <typename T, typename ReadRow>
Result<std::vector<T>> CollectRows(SqliteStatement& stmt, const std::string& doing, ReadRow read) {
  std::vector<T> rows;
  while (true) {
    Result<bool> row = stmt.Step(doing);
    if (!row.ok()) return row.status();
    if (!*row) return rows;
    rows.push_back(read(stmt));
  }
}

// A write that must change exactly one row; NotFound naming `what` otherwise.
Status RunUpdate(SqliteDb& db, SqliteStatement& stmt, const std::string& doing, const std::string& what) {
  CS_RETURN_IF_ERROR(stmt.Run(doing));
  if (db.Changes() == 0) return Missing(db, what);
  return Status::Ok();
}

std::string TrialName(int64_t trial_id) { return "trial with id " + std::to_string(trial_id); }

}  // namespace

// ---------------------------------------------------------------------------
// Impl: the connection, its mutex, and the shapes every query takes.
// ---------------------------------------------------------------------------

class SweepStore::Impl {
 public:
  explicit Impl(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  // Runs `body` in one write transaction with the mutex held.
  Status Write(const std::string& doing, const std::function<Status(SqliteDb&)>& body) {
    std::lock_guard<std::mutex> lock(mu_);
    return db_->InTransaction(TransactionKind::kWrite, doing, [&] { return body(*db_); });
  }
  // Runs `body` in one read transaction (one consistent snapshot).
  Status Read(const std::string& doing, const std::function<Status(SqliteDb&)>& body) {
    std::lock_guard<std::mutex> lock(mu_);
    return db_->InTransaction(TransactionKind::kRead, doing, [&] { return body(*db_); });
  }

  // Every row of `sql` (bound to `params`), each converted by `read`.
  template <typename T, typename ReadRow, typename... Params>
  Result<std::vector<T>> ReadRows(const std::string& doing, const std::string& sql, ReadRow read,
                                  const Params&... params) {
    std::vector<T> rows;
    Status status = Read(doing, [&](SqliteDb& db) -> Status {
      Result<SqliteStatement> stmt = db.Prepare(sql);
      if (!stmt.ok()) return stmt.status();
      stmt->BindAll(params...);
      Result<std::vector<T>> collected = CollectRows<T>(*stmt, doing, read);
      if (!collected.ok()) return collected.status();
      rows = std::move(*collected);
      return Status::Ok();
    });
    if (!status.ok()) return status;
    return rows;
  }

  // The one row of `sql`; NotFound naming `what` when there is none.
  template <typename T, typename ReadRow, typename... Params>
  Result<T> ReadOne(const std::string& what, const std::string& sql, ReadRow read, const Params&... params) {
    Result<std::vector<T>> rows = ReadRows<T>("reading " + what, sql, read, params...);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return Missing(*db_, what);
    return std::move(rows->front());
  }

 private:
  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;  // guarded by mu_
};

// ---------------------------------------------------------------------------
// Open
// ---------------------------------------------------------------------------

SweepStore::SweepStore(std::string path, std::unique_ptr<Impl> impl)
    : path_(std::move(path)), impl_(std::move(impl)) {}

SweepStore::~SweepStore() = default;

Result<std::unique_ptr<SweepStore>> SweepStore::Open(const std::string& path, const StoreOptions& options) {
  if (Migrations().size() != static_cast<size_t>(kSchemaVersion)) {
    return Status::Internal("store: " + std::to_string(Migrations().size()) + " migrations for schema version " +
                            std::to_string(kSchemaVersion));
  }
  bool exists = FileExists(path);
  if (!exists && (!options.create_if_missing || options.read_only)) {
    return Status::NotFound(path + ": no carbonsweep store here");
  }
  if (exists) CS_RETURN_IF_ERROR(CheckSqliteHeader(path));

  int flags = SQLITE_OPEN_NOMUTEX;  // SweepStore's mutex serialises use.
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE | (options.create_if_missing ? SQLITE_OPEN_CREATE : 0);
  }
  Result<std::unique_ptr<SqliteDb>> opened = SqliteDb::Open(path, flags, options.busy_timeout_ms);
  if (!opened.ok()) return opened.status();
  SqliteDb& db = **opened;

  // Look before touching: a foreign, damaged or newer file is refused here,
  // before the first statement that could write (journal_mode).
  Result<StoreFileInfo> info = ReadStoreFileInfo(db);
  if (!info.ok()) return info.status();
  CS_RETURN_IF_ERROR(CheckStoreFile(path, *info));

  CS_RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys = ON", "enabling foreign keys"));
  if (options.read_only) {
    if (info->user_version < kSchemaVersion) {
      return Status::Unsupported(path + ": store format version " + std::to_string(info->user_version) +
                                 " needs an upgrade to version " + std::to_string(kSchemaVersion) +
                                 ", which a read-only open cannot do");
    }
  } else {
    CS_RETURN_IF_ERROR(db.Exec("PRAGMA journal_mode = WAL", "switching to write-ahead logging"));
    CS_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous = NORMAL", "setting synchronous mode"));
    if (options.max_file_bytes > 0) {
      Result<int64_t> page_bytes = db.QueryInt("PRAGMA page_size", "reading the page size");
      if (!page_bytes.ok()) return page_bytes.status();
      int64_t pages = std::max<int64_t>(1, options.max_file_bytes / *page_bytes);
      CS_RETURN_IF_ERROR(db.Exec("PRAGMA max_page_count = " + std::to_string(pages), "limiting the file size"));
    }
    CS_RETURN_IF_ERROR(MigrateToCurrent(db));
  }
  return std::unique_ptr<SweepStore>(new SweepStore(path, std::make_unique<Impl>(std::move(*opened))));
}

// ---------------------------------------------------------------------------
// Sweeps
// ---------------------------------------------------------------------------

Result<int64_t> SweepStore::CreateSweep(const SweepRecord& sweep) {
  if (sweep.name.empty()) return Status::InvalidArgument(path_ + ": a sweep needs a name");
  if (!InRange(kOnBudgetNames, static_cast<int>(sweep.on_budget)) ||
      !InRange(kSweepStateNames, static_cast<int>(sweep.state)) ||
      !InRange(kMetricModeNames, static_cast<int>(sweep.objective.mode))) {
    return Status::InvalidArgument(path_ + ": sweep " + Quoted(sweep.name) +
                                   " has an unknown state, on_budget or metric mode");
  }
  if (sweep.objective.metric.empty()) {
    return Status::InvalidArgument(path_ + ": sweep " + Quoted(sweep.name) + " needs a metric name");
  }
  int64_t id = 0;
  Status status = impl_->Write("creating sweep " + Quoted(sweep.name), [&](SqliteDb& db) -> Status {
    Result<SqliteStatement> exists = db.Prepare("SELECT id FROM sweeps WHERE name = ?");
    if (!exists.ok()) return exists.status();
    exists->BindAll(sweep.name);
    Result<bool> row = exists->Step("looking up sweep " + Quoted(sweep.name));
    if (!row.ok()) return row.status();
    if (*row) return Status::InvalidArgument(path_ + ": a sweep named " + Quoted(sweep.name) + " already exists");

    Result<SqliteStatement> insert = db.Prepare(
        "INSERT INTO sweeps (name, created_at, updated_at, host, strategy, seed, budget_grams_co2e, on_budget, "
        "region, intensity_g_per_kwh, intensity_source, intensity_year, pue, power_json, task_json, "
        "task_checksum, space_json, config_json, grid_order_json, launcher, state, metric, metric_mode) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!insert.ok()) return insert.status();
    insert->BindAll(sweep.name, sweep.created_at_unix, sweep.created_at_unix, sweep.host, sweep.strategy, sweep.seed,
                    sweep.budget_grams_co2e, static_cast<int>(sweep.on_budget), sweep.region,
                    sweep.intensity_g_per_kwh, sweep.intensity_source, sweep.intensity_year, sweep.pue,
                    sweep.power_json, sweep.task_json, sweep.task_checksum, sweep.space_json, sweep.config_json,
                    sweep.grid_order_json, sweep.launcher, static_cast<int>(sweep.state), sweep.objective.metric,
                    static_cast<int>(sweep.objective.mode));
    CS_RETURN_IF_ERROR(insert->Run("creating sweep " + Quoted(sweep.name)));
    id = db.LastInsertRowId();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return id;
}

Result<SweepRecord> SweepStore::GetSweep(const std::string& name) {
  return impl_->ReadOne<SweepRecord>("sweep named " + Quoted(name),
                                     std::string("SELECT ") + kSweepColumns + " FROM sweeps WHERE name = ?",
                                     ReadSweep, name);
}

Result<SweepRecord> SweepStore::GetSweepById(int64_t sweep_id) {
  Result<SweepRecord> sweep = Status::Internal("unset");
  Status status = impl_->Read("reading sweep " + std::to_string(sweep_id), [&](SqliteDb& db) -> Status {
    sweep = LoadSweepById(db, sweep_id);
    return sweep.status();
  });
  if (!status.ok()) return status;
  return sweep;
}

Status SweepStore::SetSweepState(int64_t sweep_id, SweepState state, double now_unix) {
  if (!InRange(kSweepStateNames, static_cast<int>(state))) {
    return Status::InvalidArgument(path_ + ": unknown sweep state " + std::to_string(static_cast<int>(state)));
  }
  std::string doing = std::string("setting sweep ") + std::to_string(sweep_id) + " " + SweepStateName(state);
  return impl_->Write(doing, [&](SqliteDb& db) -> Status {
    Result<SqliteStatement> stmt = db.Prepare("UPDATE sweeps SET state = ?, updated_at = ? WHERE id = ?");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(static_cast<int>(state), now_unix, sweep_id);
    return RunUpdate(db, *stmt, doing, "sweep with id " + std::to_string(sweep_id));
  });
}

Status SweepStore::SetSweepBudget(int64_t sweep_id, double budget_grams_co2e, double now_unix) {
  if (!(budget_grams_co2e > 0) || !std::isfinite(budget_grams_co2e)) {
    return Status::InvalidArgument(path_ + ": a budget must be a positive number of grams");
  }
  std::string doing = "setting the budget of sweep " + std::to_string(sweep_id);
  return impl_->Write(doing, [&](SqliteDb& db) -> Status {
    Result<SqliteStatement> stmt =
        db.Prepare("UPDATE sweeps SET budget_grams_co2e = ?, updated_at = ? WHERE id = ?");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(budget_grams_co2e, now_unix, sweep_id);
    return RunUpdate(db, *stmt, doing, "sweep with id " + std::to_string(sweep_id));
  });
}

Result<std::vector<SweepSummary>> SweepStore::ListSweeps() {
  std::vector<SweepSummary> summaries;
  Status status = impl_->Read("listing sweeps", [&](SqliteDb& db) -> Status {
    Result<SqliteStatement> stmt = db.Prepare(std::string("SELECT ") + kSweepColumns + " FROM sweeps ORDER BY id");
    if (!stmt.ok()) return stmt.status();
    Result<std::vector<SweepRecord>> sweeps = CollectRows<SweepRecord>(*stmt, "listing sweeps", ReadSweep);
    if (!sweeps.ok()) return sweeps.status();
    for (SweepRecord& sweep : *sweeps) {
      Result<SweepSummary> summary = LoadSummary(db, std::move(sweep));
      if (!summary.ok()) return summary.status();
      summaries.push_back(std::move(*summary));
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return summaries;
}

Result<SweepSummary> SweepStore::GetSweepSummary(int64_t sweep_id) {
  Result<SweepSummary> summary = Status::Internal("unset");
  Status status = impl_->Read("summarising sweep " + std::to_string(sweep_id), [&](SqliteDb& db) -> Status {
    Result<SweepRecord> sweep = LoadSweepById(db, sweep_id);
    if (!sweep.ok()) return sweep.status();
    summary = LoadSummary(db, std::move(*sweep));
    return summary.status();
  });
  if (!status.ok()) return status;
  return summary;
}

// ---------------------------------------------------------------------------
// Trials
// ---------------------------------------------------------------------------

Result<int64_t> SweepStore::InsertTrial(const NewTrial& trial, double now_unix) {
  if (!ValidTrialState(trial.state)) {
    return Status::InvalidArgument(path_ + ": unknown trial state " + std::to_string(static_cast<int>(trial.state)));
  }
  std::string doing = "recording trial k=" + std::to_string(trial.index) + " of sweep " + std::to_string(trial.sweep_id);
  int64_t id = 0;
  Status status = impl_->Write(doing, [&](SqliteDb& db) -> Status {
    Result<SweepRecord> sweep = LoadSweepById(db, trial.sweep_id);
    if (!sweep.ok()) return sweep.status();
    Result<SqliteStatement> exists = db.Prepare("SELECT id FROM trials WHERE sweep_id = ? AND k = ?");
    if (!exists.ok()) return exists.status();
    exists->BindAll(trial.sweep_id, trial.index);
    Result<bool> row = exists->Step(doing);
    if (!row.ok()) return row.status();
    if (*row) {
      return Status::InvalidArgument(path_ + ": sweep " + Quoted(sweep->name) + " already has trial k=" +
                                     std::to_string(trial.index));
    }
    Result<SqliteStatement> insert = db.Prepare(
        "INSERT INTO trials (sweep_id, k, params_json, state, reserved_grams_co2e, created_at, reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!insert.ok()) return insert.status();
    insert->BindAll(trial.sweep_id, trial.index, trial.params_json, static_cast<int>(trial.state),
                    trial.reserved_grams_co2e, now_unix, trial.reason);
    CS_RETURN_IF_ERROR(insert->Run(doing));
    id = db.LastInsertRowId();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return id;
}

Status SweepStore::MarkTrialRunning(int64_t trial_id, const TrialLaunch& launch, double now_unix) {
  std::string doing = "marking trial " + std::to_string(trial_id) + " running";
  return impl_->Write(doing, [&](SqliteDb& db) -> Status {
    // A running trial has no outcome yet: the previous attempt's is cleared.
    Result<SqliteStatement> stmt = db.Prepare(
        "UPDATE trials SET state = 1, pid = ?, job_id = ?, work_dir = ?, attempts = attempts + 1, "
        "started_at = COALESCE(started_at, ?), ended_at = NULL, exit_status = NULL, stderr_tail = '', "
        "reason = '', attempt_cpu_seconds = 0 WHERE id = ?");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(launch.pid, launch.job_id, launch.work_dir, now_unix, trial_id);
    return RunUpdate(db, *stmt, doing, TrialName(trial_id));
  });
}

Status SweepStore::SetTrialReservation(int64_t trial_id, double reserved_grams_co2e) {
  std::string doing = "changing the reservation of trial " + std::to_string(trial_id);
  return impl_->Write(doing, [&](SqliteDb& db) -> Status {
    Result<SqliteStatement> stmt = db.Prepare("UPDATE trials SET reserved_grams_co2e = ? WHERE id = ?");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(reserved_grams_co2e, trial_id);
    return RunUpdate(db, *stmt, doing, TrialName(trial_id));
  });
}

Status SweepStore::RecordEpoch(const EpochRecord& epoch) {
  std::string doing = "recording epoch " + std::to_string(epoch.epoch) + " of trial " + std::to_string(epoch.trial_id);
  // A trial's events are not trusted: what it reports is checked here. A
  // diverged trial writes no epoch for the step whose loss was not finite.
  const std::string where = path_ + ": trial " + std::to_string(epoch.trial_id) + " epoch";
  CS_RETURN_IF_ERROR(CheckField(where, "epoch", epoch.epoch, 1, kMaxEpoch));
  CS_RETURN_IF_ERROR(CheckField(where, "train_loss", epoch.train_loss, 0, kUnbounded));
  CS_RETURN_IF_ERROR(CheckField(where, "val_loss", epoch.val_loss, 0, kUnbounded));
  if (epoch.val_accuracy) CS_RETURN_IF_ERROR(CheckField(where, "val_accuracy", *epoch.val_accuracy, 0, 1));
  if (epoch.metric) CS_RETURN_IF_ERROR(CheckField(where, "metric", *epoch.metric, -kUnbounded, kUnbounded));
  CS_RETURN_IF_ERROR(CheckField(where, "seconds", epoch.seconds, 0, kUnbounded));
  CS_RETURN_IF_ERROR(CheckField(where, "steps", static_cast<double>(epoch.steps), 0, kUnbounded));
  CS_RETURN_IF_ERROR(CheckField(where, "examples", static_cast<double>(epoch.examples), 0, kUnbounded));
  return impl_->Write(doing, [&](SqliteDb& db) -> Status {
    Result<SqliteStatement> exists = db.Prepare("SELECT 1 FROM trials WHERE id = ?");
    if (!exists.ok()) return exists.status();
    exists->BindAll(epoch.trial_id);
    Result<bool> row = exists->Step(doing);
    if (!row.ok()) return row.status();
    if (!*row) return Missing(db, TrialName(epoch.trial_id));
    Result<SqliteStatement> stmt = db.Prepare(
        "INSERT INTO epochs (trial_id, epoch, train_loss, val_loss, val_accuracy, seconds, steps, examples, "
        "recorded_at, metric) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (trial_id, epoch) DO UPDATE SET train_loss = excluded.train_loss, "
        "val_loss = excluded.val_loss, val_accuracy = excluded.val_accuracy, seconds = excluded.seconds, "
        "steps = excluded.steps, examples = excluded.examples, recorded_at = excluded.recorded_at, "
        "metric = excluded.metric");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(epoch.trial_id, epoch.epoch, epoch.train_loss, epoch.val_loss, epoch.val_accuracy, epoch.seconds,
                  epoch.steps, epoch.examples, epoch.recorded_at_unix, epoch.metric);
    return stmt->Run(doing);
  });
}

Status SweepStore::FinishTrial(int64_t trial_id, const TrialOutcome& outcome, double now_unix) {
  if (!ValidTrialState(outcome.state) || IsOpenTrialState(outcome.state)) {
    return Status::InvalidArgument(path_ + ": trial " + std::to_string(trial_id) + " cannot finish as " +
                                   TrialStateName(outcome.state));
  }
  const std::string where = path_ + ": trial " + std::to_string(trial_id) + " outcome";
  if (outcome.val_accuracy) CS_RETURN_IF_ERROR(CheckField(where, "val_accuracy", *outcome.val_accuracy, 0, 1));
  if (outcome.test_accuracy) CS_RETURN_IF_ERROR(CheckField(where, "test_accuracy", *outcome.test_accuracy, 0, 1));
  if (outcome.metric) CS_RETURN_IF_ERROR(CheckField(where, "metric", *outcome.metric, -kUnbounded, kUnbounded));
  CS_RETURN_IF_ERROR(CheckField(where, "seconds", outcome.seconds, 0, kUnbounded));
  CS_RETURN_IF_ERROR(CheckField(where, "steps", static_cast<double>(outcome.steps), 0, kUnbounded));
  CS_RETURN_IF_ERROR(CheckField(where, "examples", static_cast<double>(outcome.examples), 0, kUnbounded));
  std::string doing = std::string("recording trial ") + std::to_string(trial_id) + " " + TrialStateName(outcome.state);
  return impl_->Write(doing, [&](SqliteDb& db) -> Status {
    Result<SqliteStatement> stmt = db.Prepare(
        "UPDATE trials SET state = ?, best_epoch = ?, val_accuracy = ?, test_accuracy = ?, metric = ?, seconds = ?, "
        "steps = ?, examples = ?, exit_status = ?, stderr_tail = ?, reason = ?, ended_at = ? WHERE id = ?");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(static_cast<int>(outcome.state), outcome.best_epoch, outcome.val_accuracy, outcome.test_accuracy,
                  outcome.metric, outcome.seconds, outcome.steps, outcome.examples, outcome.exit_status, outcome.stderr_tail,
                  outcome.reason, now_unix, trial_id);
    return RunUpdate(db, *stmt, doing, TrialName(trial_id));
  });
}

Result<std::vector<TrialRecord>> SweepStore::ListTrials(int64_t sweep_id) {
  return impl_->ReadRows<TrialRecord>(
      "listing the trials of sweep " + std::to_string(sweep_id),
      std::string("SELECT ") + kTrialColumns + " FROM trials t WHERE t.sweep_id = ? ORDER BY t.k", ReadTrial,
      sweep_id);
}

Result<TrialRecord> SweepStore::GetTrial(int64_t trial_id) {
  return impl_->ReadOne<TrialRecord>(TrialName(trial_id),
                                     std::string("SELECT ") + kTrialColumns + " FROM trials t WHERE t.id = ?",
                                     ReadTrial, trial_id);
}

Result<TrialRecord> SweepStore::GetTrialByIndex(int64_t sweep_id, int64_t index) {
  return impl_->ReadOne<TrialRecord>(
      "trial k=" + std::to_string(index) + " of sweep " + std::to_string(sweep_id),
      std::string("SELECT ") + kTrialColumns + " FROM trials t WHERE t.sweep_id = ? AND t.k = ?", ReadTrial,
      sweep_id, index);
}

Result<std::vector<EpochRecord>> SweepStore::ListEpochs(int64_t trial_id) {
  return impl_->ReadRows<EpochRecord>(
      "listing the epochs of trial " + std::to_string(trial_id),
      std::string("SELECT ") + kEpochColumns + " FROM epochs e WHERE e.trial_id = ? ORDER BY e.epoch", ReadEpoch,
      trial_id);
}

Result<std::vector<EpochRecord>> SweepStore::ListSweepEpochs(int64_t sweep_id) {
  return impl_->ReadRows<EpochRecord>("listing the epochs of sweep " + std::to_string(sweep_id),
                                      std::string("SELECT ") + kEpochColumns +
                                          " FROM trials t JOIN epochs e ON e.trial_id = t.id "
                                          "WHERE t.sweep_id = ? ORDER BY t.k, e.epoch",
                                      ReadEpoch, sweep_id);
}

// ---------------------------------------------------------------------------
// Energy ledger
// ---------------------------------------------------------------------------

Result<int64_t> SweepStore::AppendPowerSamples(const std::vector<PowerSampleRow>& rows) {
  for (size_t i = 0; i < rows.size(); ++i) {
    const PowerSampleRow& row = rows[i];
    std::string where = path_ + ": power sample " + std::to_string(i) + " of " + std::to_string(rows.size());
    if (row.component.empty() || row.method.empty()) {
      return Status::InvalidArgument(where + " has an empty component or method");
    }
    CS_RETURN_IF_ERROR(CheckField(where, "joules", row.joules, 0, kUnbounded));
    CS_RETURN_IF_ERROR(CheckField(where, "watts", row.watts, 0, kUnbounded));
    CS_RETURN_IF_ERROR(CheckField(where, "grams_co2e", row.grams_co2e, 0, kUnbounded));
    CS_RETURN_IF_ERROR(CheckField(where, "cpu_seconds", row.cpu_seconds, 0, kUnbounded));
    CS_RETURN_IF_ERROR(CheckField(where, "interval_seconds", row.interval_seconds, 0, kUnbounded));
    CS_RETURN_IF_ERROR(CheckField(where, "intensity_g_per_kwh", row.intensity_g_per_kwh, 0, kUnbounded));
    CS_RETURN_IF_ERROR(CheckField(where, "unix_seconds", row.unix_seconds, -kUnbounded, kUnbounded));
  }
  if (rows.empty()) return int64_t{0};
  int64_t inserted = 0;
  std::string doing = "appending " + std::to_string(rows.size()) + " power samples";
  Status status = impl_->Write(doing, [&](SqliteDb& db) -> Status {
    inserted = 0;
    // Which sweep each named trial belongs to; which sweeps exist.
    std::unordered_map<int64_t, int64_t> sweep_of_trial;
    std::unordered_map<int64_t, bool> sweep_exists;
    for (const PowerSampleRow& row : rows) {
      if (sweep_exists.count(row.sweep_id) == 0) {
        Result<SqliteStatement> stmt = db.Prepare("SELECT 1 FROM sweeps WHERE id = ?");
        if (!stmt.ok()) return stmt.status();
        stmt->BindAll(row.sweep_id);
        Result<bool> found = stmt->Step(doing);
        if (!found.ok()) return found.status();
        sweep_exists[row.sweep_id] = *found;
      }
      if (!sweep_exists[row.sweep_id]) {
        return Status::InvalidArgument(path_ + ": power sample names sweep " + std::to_string(row.sweep_id) +
                                       ", which does not exist");
      }
      if (!row.trial_id) continue;
      auto known = sweep_of_trial.find(*row.trial_id);
      if (known == sweep_of_trial.end()) {
        Result<SqliteStatement> stmt = db.Prepare("SELECT sweep_id FROM trials WHERE id = ?");
        if (!stmt.ok()) return stmt.status();
        stmt->BindAll(*row.trial_id);
        Result<bool> found = stmt->Step(doing);
        if (!found.ok()) return found.status();
        known = sweep_of_trial.emplace(*row.trial_id, *found ? stmt->Int(0) : int64_t{-1}).first;
      }
      if (known->second != row.sweep_id) {
        return Status::InvalidArgument(path_ + ": power sample names trial " + std::to_string(*row.trial_id) +
                                       ", which is not a trial of sweep " + std::to_string(row.sweep_id));
      }
    }

    for (const PowerSampleRow& row : rows) {
      Result<SqliteStatement> insert = db.Prepare(
          "INSERT OR IGNORE INTO power_samples (sweep_id, trial_id, unix_seconds, interval_seconds, component, "
          "method, joules, watts, grams_co2e, intensity_g_per_kwh, cpu_seconds) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      if (!insert.ok()) return insert.status();
      insert->BindAll(row.sweep_id, row.trial_id, row.unix_seconds, row.interval_seconds, row.component, row.method,
                      row.joules, row.watts, row.grams_co2e, row.intensity_g_per_kwh, row.cpu_seconds);
      CS_RETURN_IF_ERROR(insert->Run(doing));
      if (db.Changes() == 0) continue;  // already stored: counted once.
      ++inserted;
      if (row.trial_id) {
        Result<SqliteStatement> total = db.Prepare(
            "INSERT INTO trial_energy (trial_id, component, method, sweep_id, joules, grams_co2e, seconds, samples, "
            "cpu_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT (trial_id, component, method) DO UPDATE SET "
            "joules = joules + excluded.joules, grams_co2e = grams_co2e + excluded.grams_co2e, "
            "seconds = seconds + excluded.seconds, samples = samples + 1, "
            "cpu_seconds = cpu_seconds + excluded.cpu_seconds");
        if (!total.ok()) return total.status();
        total->BindAll(*row.trial_id, row.component, row.method, row.sweep_id, row.joules, row.grams_co2e,
                       row.interval_seconds, row.cpu_seconds);
        CS_RETURN_IF_ERROR(total->Run(doing));
        if (row.component == "cpu" && row.cpu_seconds > 0) {
          Result<SqliteStatement> attempt =
              db.Prepare("UPDATE trials SET attempt_cpu_seconds = attempt_cpu_seconds + ? WHERE id = ?");
          if (!attempt.ok()) return attempt.status();
          attempt->BindAll(row.cpu_seconds, *row.trial_id);
          CS_RETURN_IF_ERROR(attempt->Run(doing));
        }
      } else {
        Result<SqliteStatement> total = db.Prepare(
            "INSERT INTO unattributed_energy (sweep_id, component, method, joules, grams_co2e, seconds, samples) "
            "VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT (sweep_id, component, method) DO UPDATE SET "
            "joules = joules + excluded.joules, grams_co2e = grams_co2e + excluded.grams_co2e, "
            "seconds = seconds + excluded.seconds, samples = samples + 1");
        if (!total.ok()) return total.status();
        total->BindAll(row.sweep_id, row.component, row.method, row.joules, row.grams_co2e, row.interval_seconds);
        CS_RETURN_IF_ERROR(total->Run(doing));
      }
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return inserted;
}

Result<SweepSpend> SweepStore::GetSweepSpend(int64_t sweep_id) {
  Result<SweepSpend> spend = Status::Internal("unset");
  Status status = impl_->Read("summing the spend of sweep " + std::to_string(sweep_id), [&](SqliteDb& db) -> Status {
    Result<SweepRecord> sweep = LoadSweepById(db, sweep_id);
    if (!sweep.ok()) return sweep.status();
    spend = LoadSpend(db, sweep_id);
    return spend.status();
  });
  if (!status.ok()) return status;
  return spend;
}

Result<std::vector<EnergyTotal>> SweepStore::TrialEnergy(int64_t trial_id) {
  return impl_->ReadRows<EnergyTotal>(
      "reading the energy of trial " + std::to_string(trial_id),
      "SELECT trial_id, component, method, joules, grams_co2e, seconds, samples, cpu_seconds FROM trial_energy "
      "WHERE trial_id = ? ORDER BY component, method",
      ReadEnergyTotal, trial_id);
}

Result<std::vector<EnergyTotal>> SweepStore::SweepEnergy(int64_t sweep_id) {
  // Unattributed rows sort first (k = -1), then trials by k.
  return impl_->ReadRows<EnergyTotal>(
      "reading the energy of sweep " + std::to_string(sweep_id),
      "SELECT NULL, component, method, joules, grams_co2e, seconds, samples, 0, -1 AS k FROM unattributed_energy "
      "WHERE sweep_id = ?1 "
      "UNION ALL "
      "SELECT e.trial_id, e.component, e.method, e.joules, e.grams_co2e, e.seconds, e.samples, e.cpu_seconds, t.k "
      "FROM trial_energy e JOIN trials t ON t.id = e.trial_id WHERE e.sweep_id = ?1 "
      "ORDER BY 9, 2, 3",
      ReadEnergyTotal, sweep_id);
}

Result<std::vector<PowerSampleRow>> SweepStore::ListPowerSamples(int64_t sweep_id) {
  return impl_->ReadRows<PowerSampleRow>(
      "listing the power samples of sweep " + std::to_string(sweep_id),
      "SELECT sweep_id, trial_id, unix_seconds, interval_seconds, component, method, joules, watts, grams_co2e, "
      "intensity_g_per_kwh, cpu_seconds FROM power_samples WHERE sweep_id = ? ORDER BY unix_seconds, id",
      ReadPowerSample, sweep_id);
}

// ---------------------------------------------------------------------------
// Leases
// ---------------------------------------------------------------------------

Status SweepStore::AcquireLease(int64_t sweep_id, const std::string& owner, double now_unix,
                                double stale_after_seconds) {
  if (owner.empty()) return Status::InvalidArgument(path_ + ": a lease needs an owner");
  std::string doing = "taking the lease of sweep " + std::to_string(sweep_id);
  return impl_->Write(doing, [&](SqliteDb& db) -> Status {
    Result<SweepRecord> sweep = LoadSweepById(db, sweep_id);
    if (!sweep.ok()) return sweep.status();
    Result<std::optional<LeaseRecord>> lease = LoadLease(db, sweep_id);
    if (!lease.ok()) return lease.status();
    if (lease->has_value()) {
      const LeaseRecord& held = **lease;
      double silent_seconds = now_unix - held.heartbeat_at_unix;
      bool stale = silent_seconds > stale_after_seconds;
      if (held.owner != owner && !stale) {
        return Status::Busy(path_ + ": sweep " + Quoted(sweep->name) + " is held by " + held.owner + " since " +
                            FormatUtc(held.acquired_at_unix, "%Y-%m-%d %H:%M:%S UTC") + ", last heartbeat " +
                            std::to_string(static_cast<int64_t>(std::floor(std::max(0.0, silent_seconds)))) +
                            " s ago");
      }
    }
    // A new owner starts a new lease; the same owner keeps its start time.
    Result<SqliteStatement> stmt = db.Prepare(
        "INSERT INTO leases (sweep_id, owner, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (sweep_id) DO UPDATE SET "
        "acquired_at = CASE WHEN owner = excluded.owner THEN acquired_at ELSE excluded.acquired_at END, "
        "owner = excluded.owner, heartbeat_at = excluded.heartbeat_at");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(sweep_id, owner, now_unix, now_unix);
    return stmt->Run(doing);
  });
}

Status SweepStore::Heartbeat(int64_t sweep_id, const std::string& owner, double now_unix) {
  std::string doing = "renewing the lease of sweep " + std::to_string(sweep_id);
  return impl_->Write(doing, [&](SqliteDb& db) -> Status {
    Result<SqliteStatement> stmt = db.Prepare("UPDATE leases SET heartbeat_at = ? WHERE sweep_id = ? AND owner = ?");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(now_unix, sweep_id, owner);
    CS_RETURN_IF_ERROR(stmt->Run(doing));
    if (db.Changes() == 1) return Status::Ok();
    Result<std::optional<LeaseRecord>> lease = LoadLease(db, sweep_id);
    if (!lease.ok()) return lease.status();
    std::string now_held = lease->has_value() ? "now held by " + (*lease)->owner : "released";
    return Status::Busy(path_ + ": the lease of sweep " + std::to_string(sweep_id) + " is no longer held by " +
                        owner + " (" + now_held + ")");
  });
}

Status SweepStore::ReleaseLease(int64_t sweep_id, const std::string& owner) {
  std::string doing = "releasing the lease of sweep " + std::to_string(sweep_id);
  return impl_->Write(doing, [&](SqliteDb& db) -> Status {
    Result<SqliteStatement> stmt = db.Prepare("DELETE FROM leases WHERE sweep_id = ? AND owner = ?");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(sweep_id, owner);
    return stmt->Run(doing);
  });
}

Result<std::optional<LeaseRecord>> SweepStore::GetLease(int64_t sweep_id) {
  Result<std::optional<LeaseRecord>> lease = Status::Internal("unset");
  Status status = impl_->Read("reading the lease of sweep " + std::to_string(sweep_id), [&](SqliteDb& db) {
    lease = LoadLease(db, sweep_id);
    return lease.status();
  });
  if (!status.ok()) return status;
  return lease;
}

// ---------------------------------------------------------------------------
// Baselines
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Carbon-aware holds
// ---------------------------------------------------------------------------

Result<int64_t> SweepStore::BeginHold(const HoldRecord& hold) {
  int64_t id = 0;
  std::string doing = "recording a carbon-aware hold of sweep " + std::to_string(hold.sweep_id);
  Status status = impl_->Write(doing, [&](SqliteDb& db) -> Status {
    Result<SweepRecord> sweep = LoadSweepById(db, hold.sweep_id);
    if (!sweep.ok()) return sweep.status();
    Result<SqliteStatement> stmt = db.Prepare(
        "INSERT INTO holds (sweep_id, started_at, ended_at, intensity_g_per_kwh, threshold_g_per_kwh) "
        "VALUES (?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(hold.sweep_id, hold.started_at_unix, hold.ended_at_unix, hold.intensity_g_per_kwh,
                  hold.threshold_g_per_kwh);
    CS_RETURN_IF_ERROR(stmt->Run(doing));
    id = db.LastInsertRowId();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return id;
}

Status SweepStore::EndHold(int64_t hold_id, double ended_at_unix) {
  std::string doing = "ending carbon-aware hold " + std::to_string(hold_id);
  return impl_->Write(doing, [&](SqliteDb& db) -> Status {
    Result<SqliteStatement> stmt = db.Prepare("UPDATE holds SET ended_at = ? WHERE id = ?");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(ended_at_unix, hold_id);
    return RunUpdate(db, *stmt, doing, "hold " + std::to_string(hold_id));
  });
}

Result<std::vector<HoldRecord>> SweepStore::ListHolds(int64_t sweep_id) {
  return impl_->ReadRows<HoldRecord>(
      "listing the holds of sweep " + std::to_string(sweep_id),
      "SELECT id, sweep_id, started_at, ended_at, intensity_g_per_kwh, threshold_g_per_kwh FROM holds "
      "WHERE sweep_id = ? ORDER BY started_at, id",
      ReadHold, sweep_id);
}

Result<int64_t> SweepStore::InsertBaseline(const BaselineRecord& baseline) {
  int64_t id = 0;
  std::string doing = "recording a " + baseline.method + " baseline";
  Status status = impl_->Write(doing, [&](SqliteDb& db) -> Status {
    Result<SqliteStatement> stmt = db.Prepare(
        "INSERT INTO baselines (task_json, task_checksum, method, val_accuracy, test_accuracy, seconds, joules, "
        "grams_co2e, details_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.status();
    stmt->BindAll(baseline.task_json, baseline.task_checksum, baseline.method, baseline.val_accuracy,
                  baseline.test_accuracy, baseline.seconds, baseline.joules, baseline.grams_co2e,
                  baseline.details_json, baseline.created_at_unix);
    CS_RETURN_IF_ERROR(stmt->Run(doing));
    id = db.LastInsertRowId();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return id;
}

Result<std::vector<BaselineRecord>> SweepStore::ListBaselines(const std::string& task_checksum) {
  return impl_->ReadRows<BaselineRecord>("listing baselines",
                                         std::string("SELECT ") + kBaselineColumns +
                                             " FROM baselines WHERE ?1 = '' OR task_checksum = ?1 "
                                             "ORDER BY created_at DESC, id DESC",
                                         ReadBaseline, task_checksum);
}

std::optional<std::string> BudgetSpentReason(const SweepSummary& summary) {
  const double budget = summary.sweep.budget_grams_co2e;
  const double spent = summary.spend.total.grams_co2e;
  const int64_t open = summary.trials_by_state[static_cast<int>(TrialState::kReserved)] +
                       summary.trials_by_state[static_cast<int>(TrialState::kRunning)];
  if (!(budget > 0) || spent < budget || open > 0) return std::nullopt;
  return "budget spent: pass --budget to extend (sweep '" + summary.sweep.name + "' spent " + FormatGrams(spent) +
         " of its " + FormatGrams(budget) + " CO2e budget)";
}

}  // namespace cs
