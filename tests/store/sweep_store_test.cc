// SweepStore: the file's life (create, reopen, refuse), every table's writes
// and reads, the energy ledger's sums, leases, and the 10,000-trial listing.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "common/files.h"
#include "store/sweep_store.h"
#include "tests/testing/temp_dir.h"

namespace cs {
namespace {

constexpr double kT0 = 1.7e9;  // a fixed "now" (2023-11-14 22:13:20 UTC).

std::unique_ptr<SweepStore> OpenOrDie(const std::string& path, StoreOptions options = {}) {
  Result<std::unique_ptr<SweepStore>> store = SweepStore::Open(path, options);
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(*store);
}

SweepRecord MakeSweep(const std::string& name) {
  SweepRecord sweep;
  sweep.name = name;
  sweep.created_at_unix = kT0;
  sweep.host = "node1";
  sweep.strategy = "grid";
  sweep.seed = 7;
  sweep.budget_grams_co2e = 50;
  sweep.on_budget = OnBudget::kFinish;
  sweep.region = "DE";
  sweep.intensity_g_per_kwh = 380;
  sweep.intensity_source = "Ember 2023";
  sweep.intensity_year = 2023;
  sweep.pue = 1.2;
  sweep.power_json = R"({"cpu":"rapl"})";
  sweep.task_json = R"({"task":"imdb","data_sha256":"ab12"})";
  sweep.task_checksum = "ab12";
  sweep.space_json = R"({"learning_rate":[1e-4,3e-4]})";
  sweep.config_json = R"({"parallel":2})";
  sweep.grid_order_json = "[2,0,1]";
  sweep.launcher = "slurm";
  return sweep;
}

int64_t CreateOrDie(SweepStore& store, const SweepRecord& sweep) {
  Result<int64_t> id = store.CreateSweep(sweep);
  INFO(id.status().ToString());
  REQUIRE(id.ok());
  return *id;
}

int64_t InsertOrDie(SweepStore& store, int64_t sweep_id, int64_t k, double reserved_grams = 0) {
  NewTrial trial;
  trial.sweep_id = sweep_id;
  trial.index = k;
  trial.params_json = R"({"learning_rate":0.001})";
  trial.reserved_grams_co2e = reserved_grams;
  Result<int64_t> id = store.InsertTrial(trial, kT0 + k);
  INFO(id.status().ToString());
  REQUIRE(id.ok());
  return *id;
}

PowerSampleRow Sample(int64_t sweep_id, std::optional<int64_t> trial_id, double at, const std::string& component,
                      double joules, double grams) {
  PowerSampleRow row;
  row.sweep_id = sweep_id;
  row.trial_id = trial_id;
  row.unix_seconds = at;
  row.interval_seconds = 1;
  row.component = component;
  row.method = component == "gpu" ? "nvml-energy" : "rapl";
  row.joules = joules;
  row.watts = joules;
  row.grams_co2e = grams;
  row.intensity_g_per_kwh = 400;
  return row;
}

// Runs raw SQL on the file through a second connection (a "other process").
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  INFO((error ? error : ""));
  sqlite3_free(error);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

bool Mentions(const Status& status, const std::string& text) {
  return status.message().find(text) != std::string::npos;
}
bool OneLine(const Status& status) { return status.message().find('\n') == std::string::npos; }

// Runs `body` as an unprivileged user (root ignores file permissions) in a
// child process; returns the Status code it got, or -1 when it could not run.
int AsUnprivilegedUser(const std::function<Status::Code()>& body) {
  if (::geteuid() != 0) return static_cast<int>(body());
  pid_t child = ::fork();
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(200);
    ::_exit(static_cast<int>(body()));
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) != 200 ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("a store is created, then reopened with everything kept") {
  testing::TempDir dir;
  std::string path = dir.File("carbonsweep.db");
  SweepRecord written = MakeSweep("lr-grid");
  {
    auto store = OpenOrDie(path);
    CreateOrDie(*store, written);
  }
  auto store = OpenOrDie(path);
  Result<SweepRecord> read = store->GetSweep("lr-grid");
  REQUIRE(read.ok());
  CHECK(read->id > 0);
  CHECK(read->created_at_unix == kT0);
  CHECK(read->updated_at_unix == kT0);
  CHECK(read->host == "node1");
  CHECK(read->strategy == "grid");
  CHECK(read->seed == 7);
  CHECK(read->budget_grams_co2e == 50);
  CHECK(read->on_budget == OnBudget::kFinish);
  CHECK(read->region == "DE");
  CHECK(read->intensity_g_per_kwh == 380);
  CHECK(read->intensity_source == "Ember 2023");
  CHECK(read->intensity_year == 2023);
  CHECK(read->pue == 1.2);
  CHECK(read->power_json == written.power_json);
  CHECK(read->task_json == written.task_json);
  CHECK(read->task_checksum == "ab12");
  CHECK(read->space_json == written.space_json);
  CHECK(read->config_json == written.config_json);
  CHECK(read->grid_order_json == "[2,0,1]");
  CHECK(read->launcher == "slurm");
  CHECK(read->state == SweepState::kRunning);

  CHECK(store->SetSweepState(read->id, SweepState::kBudgetSpent, kT0 + 60).ok());
  CHECK(store->SetSweepBudget(read->id, 80, kT0 + 61).ok());
  Result<SweepRecord> changed = store->GetSweepById(read->id);
  REQUIRE(changed.ok());
  CHECK(changed->state == SweepState::kBudgetSpent);
  CHECK(changed->budget_grams_co2e == 80);
  CHECK(changed->updated_at_unix == kT0 + 61);

  CHECK(store->GetSweep("nope").status().code() == Status::Code::kNotFound);
  CHECK(Mentions(store->GetSweep("nope").status(), "'nope'"));
}

TEST_CASE("enum names round-trip and keep their stored numbers") {
  CHECK(static_cast<int>(TrialState::kPaused) == 9);
  CHECK(static_cast<int>(SweepState::kFailed) == 4);
  for (int i = 0; i < kTrialStateCount; ++i) {
    TrialState state = static_cast<TrialState>(i);
    CHECK(ParseTrialState(TrialStateName(state)) == state);
  }
  CHECK(std::string(TrialStateName(TrialState::kStoppedBudget)) == "stopped_budget");
  CHECK(ParseSweepState("budget_spent") == SweepState::kBudgetSpent);
  CHECK(ParseOnBudget("finish") == OnBudget::kFinish);
  CHECK(!ParseTrialState("bogus").has_value());
}

TEST_CASE("a missing file is NotFound unless creation is allowed") {
  testing::TempDir dir;
  StoreOptions options;
  options.create_if_missing = false;
  Result<std::unique_ptr<SweepStore>> store = SweepStore::Open(dir.File("absent.db"), options);
  CHECK(store.status().code() == Status::Code::kNotFound);
  CHECK(Mentions(store.status(), dir.File("absent.db")));
  CHECK(!FileExists(dir.File("absent.db")));
}

TEST_CASE("a store from a newer carbonsweep is refused with both versions named") {
  testing::TempDir dir;
  std::string path = dir.File("carbonsweep.db");
  OpenOrDie(path);
  RawExec(path, "PRAGMA user_version = 9");
  Result<std::unique_ptr<SweepStore>> store = SweepStore::Open(path, {});
  CHECK(store.status().code() == Status::Code::kUnsupported);
  CHECK(Mentions(store.status(), path));
  CHECK(Mentions(store.status(), "version 9"));
  CHECK(Mentions(store.status(), "version " + std::to_string(kSchemaVersion)));
  CHECK(OneLine(store.status()));
}

TEST_CASE("a store with a negative format version is refused, not migrated") {
  testing::TempDir dir;
  std::string path = dir.File("carbonsweep.db");
  {
    auto store = OpenOrDie(path);
    CreateOrDie(*store, MakeSweep("a"));
  }
  RawExec(path, "PRAGMA user_version = -1");
  for (bool read_only : {false, true}) {
    StoreOptions options;
    options.read_only = read_only;
    Result<std::unique_ptr<SweepStore>> store = SweepStore::Open(path, options);
    CHECK(store.status().code() == Status::Code::kCorruption);
    CHECK(Mentions(store.status(), path));
    CHECK(Mentions(store.status(), "version -1"));
    CHECK(OneLine(store.status()));
  }
}

TEST_CASE("a --db that is a FIFO or a device is refused at once, not opened") {
  testing::TempDir dir;
  std::string fifo = dir.File("store.fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Opening the FIFO for reading would block for ever: the check must come first.
  Result<std::unique_ptr<SweepStore>> store = SweepStore::Open(fifo, {});
  CHECK(store.status().code() == Status::Code::kInvalidArgument);
  CHECK(Mentions(store.status(), fifo));
  CHECK(Mentions(store.status(), "FIFO"));
  StoreOptions read_only;
  read_only.read_only = true;
  read_only.create_if_missing = false;
  CHECK(SweepStore::Open(fifo, read_only).status().code() == Status::Code::kInvalidArgument);
  Result<std::unique_ptr<SweepStore>> device = SweepStore::Open("/dev/null", read_only);
  CHECK(device.status().code() == Status::Code::kInvalidArgument);
  CHECK(Mentions(device.status(), "/dev/null: is a device"));
}

TEST_CASE("a file that is not SQLite is reported as corrupt and left byte-identical") {
  testing::TempDir dir;
  std::string garbage;
  for (int i = 0; i < 5000; ++i) garbage += static_cast<char>((i * 7919) % 251);
  std::string path = dir.Write("carbonsweep.db", garbage);
  Result<std::unique_ptr<SweepStore>> store = SweepStore::Open(path, {});
  CHECK(store.status().code() == Status::Code::kCorruption);
  CHECK(Mentions(store.status(), path));
  CHECK(OneLine(store.status()));
  CHECK(ReadFile(path).value() == garbage);
  CHECK(!FileExists(path + "-wal"));
}

TEST_CASE("a damaged SQLite file is reported as corrupt and left byte-identical") {
  testing::TempDir dir;
  std::string path = dir.File("carbonsweep.db");
  {
    auto store = OpenOrDie(path);
    CreateOrDie(*store, MakeSweep("a"));
  }
  std::string bytes = ReadFile(path).value();
  REQUIRE(bytes.size() > 200);
  for (size_t i = 100; i < bytes.size(); ++i) bytes[i] = static_cast<char>(0xA5);  // keep the magic header
  REQUIRE(WriteFileAtomic(path, bytes).ok());
  Result<std::unique_ptr<SweepStore>> store = SweepStore::Open(path, {});
  CHECK(store.status().code() == Status::Code::kCorruption);
  CHECK(Mentions(store.status(), path));
  CHECK(ReadFile(path).value() == bytes);
}

TEST_CASE("a SQLite database that is not a carbonsweep store is refused untouched") {
  testing::TempDir dir;
  std::string path = dir.File("other.db");
  RawExec(path, "CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine')");
  std::string before = ReadFile(path).value();
  Result<std::unique_ptr<SweepStore>> store = SweepStore::Open(path, {});
  CHECK(store.status().code() == Status::Code::kCorruption);
  CHECK(Mentions(store.status(), "not a carbonsweep store"));
  CHECK(ReadFile(path).value() == before);
}

TEST_CASE("a write while another process holds the write lock is Busy; reads go on") {
  testing::TempDir dir;
  std::string path = dir.File("carbonsweep.db");
  StoreOptions options;
  options.busy_timeout_ms = 50;
  auto store = OpenOrDie(path, options);
  int64_t sweep_id = CreateOrDie(*store, MakeSweep("a"));

  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  Result<int64_t> blocked = store->CreateSweep(MakeSweep("b"));
  CHECK(blocked.status().code() == Status::Code::kBusy);
  CHECK(Mentions(blocked.status(), path));
  CHECK(store->GetSweepById(sweep_id).ok());  // WAL: readers are not blocked.
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);

  CHECK(store->CreateSweep(MakeSweep("b")).ok());
}

TEST_CASE("opening a store another process holds exclusively is Busy") {
  testing::TempDir dir;
  std::string path = dir.File("carbonsweep.db");
  OpenOrDie(path);
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; PRAGMA user_version;",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  StoreOptions options;
  options.busy_timeout_ms = 50;
  Result<std::unique_ptr<SweepStore>> store = SweepStore::Open(path, options);
  CHECK(store.status().code() == Status::Code::kBusy);
  CHECK(Mentions(store.status(), path));
  sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(other);
}

TEST_CASE("a store in a read-only directory is an IoError") {
  testing::TempDir dir;
  std::string locked_dir = dir.File("ro");
  REQUIRE(MakeDirs(locked_dir).ok());
  std::string existing = locked_dir + "/existing.db";
  {
    auto store = OpenOrDie(existing);
    CreateOrDie(*store, MakeSweep("a"));
  }
  ::chmod(dir.path().c_str(), 0755);
  ::chmod(locked_dir.c_str(), 0555);
  ::chmod(existing.c_str(), 0444);
  int new_store = AsUnprivilegedUser([&] { return SweepStore::Open(locked_dir + "/new.db", {}).status().code(); });
  int old_store = AsUnprivilegedUser([&] {
    Result<std::unique_ptr<SweepStore>> store = SweepStore::Open(existing, {});
    if (!store.ok()) return store.status().code();
    return (*store)->CreateSweep(MakeSweep("b")).status().code();
  });
  ::chmod(locked_dir.c_str(), 0755);
  ::chmod(existing.c_str(), 0644);
  CHECK(new_store == static_cast<int>(Status::Code::kIoError));
  CHECK(old_store == static_cast<int>(Status::Code::kIoError));
  auto store = OpenOrDie(existing);
  CHECK(store->GetSweep("a").ok());
  CHECK(store->GetSweep("b").status().code() == Status::Code::kNotFound);
}

TEST_CASE("a full disk fails the write whole and leaves the ledger consistent") {
  testing::TempDir dir;
  std::string path = dir.File("carbonsweep.db");
  int64_t sweep_id = 0;
  int64_t trial_id = 0;
  {
    auto store = OpenOrDie(path);
    sweep_id = CreateOrDie(*store, MakeSweep("a"));
    trial_id = InsertOrDie(*store, sweep_id, 0);
  }
  StoreOptions options;
  options.max_file_bytes = 256 * 1024;
  auto store = OpenOrDie(path, options);
  Status failure;
  int batches_written = 0;
  for (int batch = 0; batch < 1000 && failure.ok(); ++batch) {
    std::vector<PowerSampleRow> rows;
    for (int i = 0; i < 100; ++i) rows.push_back(Sample(sweep_id, trial_id, kT0 + batch * 100 + i, "cpu", 1, 0.5));
    Result<int64_t> appended = store->AppendPowerSamples(rows);
    if (appended.ok()) {
      ++batches_written;
    } else {
      failure = appended.status();
    }
  }
  CHECK(failure.code() == Status::Code::kIoError);
  CHECK(Mentions(failure, "disk full"));
  CHECK(Mentions(failure, path));
  REQUIRE(batches_written > 0);
  store.reset();

  auto reopened = OpenOrDie(path);
  Result<SweepSpend> spend = reopened->GetSweepSpend(sweep_id);
  REQUIRE(spend.ok());
  CHECK(spend->total.joules == doctest::Approx(batches_written * 100.0));
  CHECK(reopened->ListPowerSamples(sweep_id)->size() == static_cast<size_t>(batches_written * 100));
}

TEST_CASE("a sweep name can be used once") {
  testing::TempDir dir;
  auto store = OpenOrDie(dir.File("carbonsweep.db"));
  CreateOrDie(*store, MakeSweep("lr-grid"));
  Result<int64_t> again = store->CreateSweep(MakeSweep("lr-grid"));
  CHECK(again.status().code() == Status::Code::kInvalidArgument);
  CHECK(Mentions(again.status(), "'lr-grid' already exists"));
  CHECK(store->CreateSweep(MakeSweep("")).status().code() == Status::Code::kInvalidArgument);
  CHECK(store->ListSweeps()->size() == 1);
}

TEST_CASE("a trial goes from reserved to running to finished, and is relaunched on resume") {
  testing::TempDir dir;
  auto store = OpenOrDie(dir.File("carbonsweep.db"));
  int64_t sweep_id = CreateOrDie(*store, MakeSweep("a"));
  int64_t trial_id = InsertOrDie(*store, sweep_id, 0, /*reserved_grams=*/2.5);

  NewTrial duplicate;
  duplicate.sweep_id = sweep_id;
  duplicate.index = 0;
  CHECK(store->InsertTrial(duplicate, kT0).status().code() == Status::Code::kInvalidArgument);
  duplicate.sweep_id = 999;
  CHECK(store->InsertTrial(duplicate, kT0).status().code() == Status::Code::kNotFound);

  TrialRecord reserved = store->GetTrial(trial_id).value();
  CHECK(reserved.state == TrialState::kReserved);
  CHECK(reserved.reserved_grams_co2e == 2.5);
  CHECK(reserved.attempts == 0);
  CHECK(!reserved.started_at_unix.has_value());

  TrialLaunch launch;
  launch.pid = 4242;
  launch.work_dir = "/runs/a/trial-0";
  REQUIRE(store->MarkTrialRunning(trial_id, launch, kT0 + 10).ok());
  TrialOutcome interrupted;
  interrupted.state = TrialState::kInterrupted;
  interrupted.reason = "SIGINT";
  REQUIRE(store->FinishTrial(trial_id, interrupted, kT0 + 20).ok());
  CHECK(store->GetTrial(trial_id)->state == TrialState::kInterrupted);

  launch.pid = std::nullopt;
  launch.job_id = "1234_5";
  REQUIRE(store->MarkTrialRunning(trial_id, launch, kT0 + 30).ok());
  TrialRecord running = store->GetTrial(trial_id).value();
  CHECK(running.state == TrialState::kRunning);
  CHECK(running.attempts == 2);
  CHECK(running.started_at_unix == kT0 + 10);
  CHECK(!running.ended_at_unix.has_value());
  CHECK(!running.pid.has_value());
  CHECK(running.job_id == "1234_5");
  CHECK(running.work_dir == "/runs/a/trial-0");
  CHECK(running.reason.empty());

  TrialOutcome finished;
  finished.best_epoch = 2;
  finished.val_accuracy = 0.81;
  finished.metric = 0.81;  // the sweep ranks by val_accuracy (the default objective).
  finished.test_accuracy = 0.79;
  finished.seconds = 95;
  finished.steps = 375;
  finished.examples = 12000;
  finished.exit_status = 0;
  REQUIRE(store->FinishTrial(trial_id, finished, kT0 + 125).ok());
  TrialRecord done = store->GetTrialByIndex(sweep_id, 0).value();
  CHECK(done.state == TrialState::kFinished);
  CHECK(done.best_epoch == 2);
  CHECK(done.val_accuracy == 0.81);
  CHECK(done.test_accuracy == 0.79);
  CHECK(done.seconds == 95);
  CHECK(done.steps == 375);
  CHECK(done.examples == 12000);
  CHECK(done.exit_status == 0);
  CHECK(done.ended_at_unix == kT0 + 125);

  int64_t failed_id = InsertOrDie(*store, sweep_id, 1);
  TrialOutcome failed;
  failed.state = TrialState::kFailed;
  failed.exit_status = 139;
  failed.stderr_tail = "Segmentation fault";
  failed.reason = "killed by SIGSEGV";
  REQUIRE(store->FinishTrial(failed_id, failed, kT0 + 130).ok());
  CHECK(store->GetTrial(failed_id)->stderr_tail == "Segmentation fault");
  TrialOutcome still_running;
  still_running.state = TrialState::kRunning;
  CHECK(store->FinishTrial(failed_id, still_running, kT0).code() == Status::Code::kInvalidArgument);
  CHECK(store->FinishTrial(999, finished, kT0).code() == Status::Code::kNotFound);
  CHECK(store->MarkTrialRunning(999, launch, kT0).code() == Status::Code::kNotFound);

  SweepSummary summary = store->GetSweepSummary(sweep_id).value();
  CHECK(summary.trial_count == 2);
  CHECK(summary.trials_by_state[static_cast<int>(TrialState::kFinished)] == 1);
  CHECK(summary.trials_by_state[static_cast<int>(TrialState::kFailed)] == 1);
  CHECK(summary.best_metric == 0.81);
  CHECK(summary.best_trial_index == 0);
}

TEST_CASE("recording the same epoch twice keeps one row with the latest figures") {
  testing::TempDir dir;
  auto store = OpenOrDie(dir.File("carbonsweep.db"));
  int64_t sweep_id = CreateOrDie(*store, MakeSweep("a"));
  int64_t trial_id = InsertOrDie(*store, sweep_id, 0);
  EpochRecord epoch{trial_id, 1, 0.61, 0.52, 0.74, 31.2, 125, 4000, kT0};
  REQUIRE(store->RecordEpoch(epoch).ok());
  epoch.val_accuracy = 0.75;
  REQUIRE(store->RecordEpoch(epoch).ok());
  epoch.epoch = 2;
  epoch.val_accuracy = 0.8;
  REQUIRE(store->RecordEpoch(epoch).ok());
  std::vector<EpochRecord> epochs = store->ListEpochs(trial_id).value();
  REQUIRE(epochs.size() == 2);
  CHECK(epochs[0].epoch == 1);
  CHECK(epochs[0].val_accuracy == 0.75);
  CHECK(epochs[0].steps == 125);
  CHECK(epochs[1].val_accuracy == 0.8);
  CHECK(store->ListSweepEpochs(sweep_id)->size() == 2);
  epoch.trial_id = 999;
  CHECK(store->RecordEpoch(epoch).code() == Status::Code::kNotFound);
}

TEST_CASE("an epoch a trial could not have had is refused by field and value, and nothing is written") {
  testing::TempDir dir;
  auto store = OpenOrDie(dir.File("carbonsweep.db"));
  int64_t sweep_id = CreateOrDie(*store, MakeSweep("a"));
  int64_t trial_id = InsertOrDie(*store, sweep_id, 0);
  const EpochRecord good{trial_id, 1, 0.61, 0.52, 0.74, 31.2, 125, 4000, kT0};
  const double nan = std::nan("");
  const double inf = HUGE_VAL;
  struct Bad {
    const char* field;
    std::function<void(EpochRecord&)> spoil;
  };
  const std::vector<Bad> bad = {
      {"epoch 0", [](EpochRecord& e) { e.epoch = 0; }},
      {"epoch -3", [](EpochRecord& e) { e.epoch = -3; }},
      {"epoch 100001", [](EpochRecord& e) { e.epoch = 100001; }},
      {"val_accuracy 1.5", [](EpochRecord& e) { e.val_accuracy = 1.5; }},
      {"val_accuracy -0.25", [](EpochRecord& e) { e.val_accuracy = -0.25; }},
      {"val_accuracy nan", [&](EpochRecord& e) { e.val_accuracy = nan; }},
      {"train_loss -1", [](EpochRecord& e) { e.train_loss = -1; }},
      {"train_loss nan", [&](EpochRecord& e) { e.train_loss = nan; }},
      {"val_loss inf", [&](EpochRecord& e) { e.val_loss = inf; }},
      {"seconds -2", [](EpochRecord& e) { e.seconds = -2; }},
      {"seconds nan", [&](EpochRecord& e) { e.seconds = nan; }},
      {"steps -1", [](EpochRecord& e) { e.steps = -1; }},
      {"examples -5", [](EpochRecord& e) { e.examples = -5; }},
  };
  for (const Bad& one : bad) {
    EpochRecord epoch = good;
    one.spoil(epoch);
    Status refused = store->RecordEpoch(epoch);
    INFO(one.field, " -> ", refused.message());
    CHECK(refused.code() == Status::Code::kInvalidArgument);
    CHECK(Mentions(refused, one.field));
    CHECK(OneLine(refused));
  }
  CHECK(store->ListEpochs(trial_id)->empty());
  // The edges are allowed: the last epoch, a zero loss, a perfect score.
  EpochRecord edge = good;
  edge.epoch = 100000;
  edge.train_loss = 0;
  edge.val_accuracy = 1;
  CHECK(store->RecordEpoch(edge).ok());
}

TEST_CASE("an outcome with an accuracy outside [0, 1] is refused and the trial stays as it was") {
  testing::TempDir dir;
  auto store = OpenOrDie(dir.File("carbonsweep.db"));
  int64_t sweep_id = CreateOrDie(*store, MakeSweep("a"));
  int64_t trial_id = InsertOrDie(*store, sweep_id, 0);
  TrialOutcome outcome;
  outcome.val_accuracy = 1.01;
  Status refused = store->FinishTrial(trial_id, outcome, kT0);
  CHECK(refused.code() == Status::Code::kInvalidArgument);
  CHECK(Mentions(refused, "val_accuracy 1.01"));
  outcome.val_accuracy = 0.8;
  outcome.test_accuracy = std::nan("");
  CHECK(Mentions(store->FinishTrial(trial_id, outcome, kT0), "test_accuracy nan"));
  outcome.test_accuracy = 0.7;
  outcome.seconds = -1;
  CHECK(Mentions(store->FinishTrial(trial_id, outcome, kT0), "seconds -1"));
  CHECK(store->GetTrial(trial_id)->state == TrialState::kReserved);
  outcome.seconds = 10;
  CHECK(store->FinishTrial(trial_id, outcome, kT0).ok());
  CHECK(store->GetTrial(trial_id)->state == TrialState::kFinished);
}

TEST_CASE("a power sample with a negative or non-finite figure is refused by field, and the batch with it") {
  testing::TempDir dir;
  auto store = OpenOrDie(dir.File("carbonsweep.db"));
  int64_t sweep_id = CreateOrDie(*store, MakeSweep("a"));
  int64_t trial_id = InsertOrDie(*store, sweep_id, 0);
  const PowerSampleRow good = Sample(sweep_id, trial_id, kT0 + 1, "cpu", 10, 0.001);
  struct Bad {
    const char* field;
    std::function<void(PowerSampleRow&)> spoil;
  };
  const std::vector<Bad> bad = {
      {"joules -1", [](PowerSampleRow& r) { r.joules = -1; }},
      {"joules nan", [](PowerSampleRow& r) { r.joules = std::nan(""); }},
      {"watts -3", [](PowerSampleRow& r) { r.watts = -3; }},
      {"watts inf", [](PowerSampleRow& r) { r.watts = HUGE_VAL; }},
      {"grams_co2e -0.5", [](PowerSampleRow& r) { r.grams_co2e = -0.5; }},
      {"cpu_seconds -2", [](PowerSampleRow& r) { r.cpu_seconds = -2; }},
      {"cpu_seconds nan", [](PowerSampleRow& r) { r.cpu_seconds = std::nan(""); }},
      {"interval_seconds -1", [](PowerSampleRow& r) { r.interval_seconds = -1; }},
      {"interval_seconds inf", [](PowerSampleRow& r) { r.interval_seconds = HUGE_VAL; }},
  };
  for (const Bad& one : bad) {
    PowerSampleRow row = good;
    one.spoil(row);
    Result<int64_t> refused = store->AppendPowerSamples({good, row});  // the good row is not written either.
    INFO(one.field, " -> ", refused.status().message());
    CHECK(refused.status().code() == Status::Code::kInvalidArgument);
    CHECK(Mentions(refused.status(), one.field));
  }
  CHECK(store->ListPowerSamples(sweep_id)->empty());
  CHECK(store->AppendPowerSamples({good}).value() == 1);
}

TEST_CASE("the energy ledger sums samples per trial, component and method, once each") {
  testing::TempDir dir;
  auto store = OpenOrDie(dir.File("carbonsweep.db"));
  int64_t sweep_id = CreateOrDie(*store, MakeSweep("a"));
  int64_t other_sweep = CreateOrDie(*store, MakeSweep("b"));
  int64_t t0 = InsertOrDie(*store, sweep_id, 0, /*reserved_grams=*/10);
  int64_t t1 = InsertOrDie(*store, sweep_id, 1, /*reserved_grams=*/4);
  int64_t stranger = InsertOrDie(*store, other_sweep, 0);
  REQUIRE(store->MarkTrialRunning(t1, TrialLaunch{}, kT0).ok());

  std::vector<PowerSampleRow> batch = {
      Sample(sweep_id, t0, kT0 + 1, "cpu", 30, 3),  Sample(sweep_id, t0, kT0 + 2, "cpu", 20, 2),
      Sample(sweep_id, t0, kT0 + 1, "gpu", 100, 5), Sample(sweep_id, t1, kT0 + 1, "cpu", 10, 1),
      Sample(sweep_id, std::nullopt, kT0 + 1, "cpu", 7, 0.7),
  };
  Result<int64_t> appended = store->AppendPowerSamples(batch);
  REQUIRE(appended.ok());
  CHECK(*appended == 5);
  CHECK(*store->AppendPowerSamples(batch) == 0);  // re-ingested: nothing counted twice.

  // A batch naming another sweep's trial is refused whole.
  std::vector<PowerSampleRow> bad = {Sample(sweep_id, t0, kT0 + 3, "cpu", 1000, 100),
                                     Sample(sweep_id, stranger, kT0 + 3, "cpu", 1, 1)};
  CHECK(store->AppendPowerSamples(bad).status().code() == Status::Code::kInvalidArgument);
  CHECK(store->AppendPowerSamples({Sample(sweep_id, t0, kT0, "", 1, 1)}).status().code() ==
        Status::Code::kInvalidArgument);

  SweepSpend spend = store->GetSweepSpend(sweep_id).value();
  CHECK(spend.total.joules == doctest::Approx(30 + 20 + 100 + 10 + 7));
  CHECK(spend.total.grams_co2e == doctest::Approx(3 + 2 + 5 + 1 + 0.7));
  CHECK(spend.unattributed.joules == doctest::Approx(7));
  // Open trials: t0 reserved 10 g (10 g measured), t1 running 4 g (1 g measured).
  CHECK(spend.reserved_grams_co2e == doctest::Approx(14));
  CHECK(spend.outstanding_reserved_grams_co2e == doctest::Approx(0 + 3));
  CHECK(store->GetSweepSpend(other_sweep)->total.joules == 0);

  std::vector<EnergyTotal> t0_energy = store->TrialEnergy(t0).value();
  REQUIRE(t0_energy.size() == 2);
  CHECK(t0_energy[0].component == "cpu");
  CHECK(t0_energy[0].method == "rapl");
  CHECK(t0_energy[0].joules == doctest::Approx(50));
  CHECK(t0_energy[0].samples == 2);
  CHECK(t0_energy[0].seconds == doctest::Approx(2));
  CHECK(t0_energy[1].component == "gpu");
  CHECK(t0_energy[1].method == "nvml-energy");
  CHECK(t0_energy[1].grams_co2e == doctest::Approx(5));

  std::vector<EnergyTotal> ledger = store->SweepEnergy(sweep_id).value();
  REQUIRE(ledger.size() == 4);
  CHECK(!ledger[0].trial_id.has_value());
  CHECK(ledger[1].trial_id == t0);
  CHECK(ledger[3].trial_id == t1);

  std::vector<TrialRecord> trials = store->ListTrials(sweep_id).value();
  REQUIRE(trials.size() == 2);
  CHECK(trials[0].energy.joules == doctest::Approx(150));
  CHECK(trials[1].energy.grams_co2e == doctest::Approx(1));
  CHECK(store->ListPowerSamples(sweep_id)->size() == 5);

  // The ledger's totals agree with a scan of the samples themselves.
  double scanned_joules = 0;
  std::vector<PowerSampleRow> samples = store->ListPowerSamples(sweep_id).value();
  for (const PowerSampleRow& row : samples) scanned_joules += row.joules;
  CHECK(scanned_joules == doctest::Approx(spend.total.joules));

  TrialOutcome finished;
  REQUIRE(store->FinishTrial(t1, finished, kT0 + 5).ok());
  REQUIRE(store->SetTrialReservation(t0, 12).ok());
  spend = store->GetSweepSpend(sweep_id).value();
  CHECK(spend.reserved_grams_co2e == doctest::Approx(12));
  CHECK(spend.outstanding_reserved_grams_co2e == doctest::Approx(2));
}

TEST_CASE("CPU seconds ride with the samples: per trial and component, and per attempt until the next launch") {
  testing::TempDir dir;
  auto store = OpenOrDie(dir.File("carbonsweep.db"));
  int64_t sweep_id = CreateOrDie(*store, MakeSweep("a"));
  int64_t trial = InsertOrDie(*store, sweep_id, 0);
  REQUIRE(store->MarkTrialRunning(trial, TrialLaunch{}, kT0).ok());
  auto with_cpu = [](PowerSampleRow row, double cpu_seconds) {
    row.cpu_seconds = cpu_seconds;
    return row;
  };
  REQUIRE(store->AppendPowerSamples({with_cpu(Sample(sweep_id, trial, kT0 + 1, "cpu", 8, 1), 2),
                                     with_cpu(Sample(sweep_id, trial, kT0 + 1, "ram", 4, 0.5), 2),
                                     with_cpu(Sample(sweep_id, trial, kT0 + 2, "cpu", 4, 0.5), 1)})
              .ok());
  CHECK(store->GetTrial(trial)->attempt_cpu_seconds == doctest::Approx(3));  // the cpu rows only.
  std::vector<EnergyTotal> energy = store->TrialEnergy(trial).value();
  REQUIRE(energy.size() == 2);
  CHECK(energy[0].cpu_seconds == doctest::Approx(3));  // cpu: 12 J for 3 CPU s.
  CHECK(energy[1].cpu_seconds == doctest::Approx(2));  // ram: 4 J for 2 CPU s.
  CHECK(store->ListPowerSamples(sweep_id)->at(0).cpu_seconds == doctest::Approx(2));

  // Re-ingesting counts nothing twice; a new attempt starts from zero.
  REQUIRE(store->AppendPowerSamples({with_cpu(Sample(sweep_id, trial, kT0 + 2, "cpu", 4, 0.5), 1)}).ok());
  CHECK(store->GetTrial(trial)->attempt_cpu_seconds == doctest::Approx(3));
  REQUIRE(store->MarkTrialRunning(trial, TrialLaunch{}, kT0 + 10).ok());
  CHECK(store->GetTrial(trial)->attempt_cpu_seconds == 0);
  CHECK(store->TrialEnergy(trial)->at(0).cpu_seconds == doctest::Approx(3));  // the trial's history stays.
}

// What version 4 added, taken away again (the epochs' val_accuracy stays
// nullable, which older versions read the same).
constexpr const char* kUndoVersion4 =
    "DROP INDEX trials_by_sweep_metric; ALTER TABLE trials DROP COLUMN metric; ALTER TABLE epochs DROP COLUMN metric; "
    "ALTER TABLE sweeps DROP COLUMN metric; ALTER TABLE sweeps DROP COLUMN metric_mode; ";

TEST_CASE("a version 3 store ranks by val_accuracy after the upgrade: trials and epochs get it as their metric") {
  testing::TempDir dir;
  std::string path = dir.File("carbonsweep.db");
  int64_t trial = 0;
  {
    auto store = OpenOrDie(path);
    int64_t sweep_id = CreateOrDie(*store, MakeSweep("old"));
    trial = InsertOrDie(*store, sweep_id, 0);
    EpochRecord epoch;
    epoch.trial_id = trial;
    epoch.epoch = 1;
    epoch.val_accuracy = 0.74;
    REQUIRE(store->RecordEpoch(epoch).ok());
    TrialOutcome outcome;
    outcome.val_accuracy = 0.74;
    REQUIRE(store->FinishTrial(trial, outcome, kT0).ok());
  }
  RawExec(path, std::string(kUndoVersion4) + "PRAGMA user_version = 3;");

  auto store = OpenOrDie(path);
  SweepRecord upgraded = store->GetSweep("old").value();
  CHECK(upgraded.objective.metric == "val_accuracy");
  CHECK(upgraded.objective.mode == MetricMode::kMax);
  CHECK(store->GetTrial(trial)->metric == 0.74);
  CHECK(store->ListEpochs(trial)->at(0).metric == 0.74);
  CHECK(store->GetSweepSummary(upgraded.id)->best_metric == 0.74);
}

TEST_CASE("a sweep that minimises its metric finds its best at the lowest value; epochs need no accuracy") {
  testing::TempDir dir;
  auto store = OpenOrDie(dir.File("carbonsweep.db"));
  SweepRecord sweep = MakeSweep("loss");
  sweep.objective = Objective{"eval_loss", MetricMode::kMin};
  int64_t sweep_id = CreateOrDie(*store, sweep);
  CHECK(store->GetSweep("loss")->objective.metric == "eval_loss");
  CHECK(store->GetSweep("loss")->objective.mode == MetricMode::kMin);
  for (int k = 0; k < 3; ++k) {
    int64_t trial = InsertOrDie(*store, sweep_id, k);
    EpochRecord epoch;
    epoch.trial_id = trial;
    epoch.epoch = 1;
    epoch.metric = 2.5 - k;  // no val_accuracy: a command's job may report only its loss.
    REQUIRE(store->RecordEpoch(epoch).ok());
    CHECK(!store->ListEpochs(trial)->at(0).val_accuracy);
    TrialOutcome outcome;
    outcome.metric = k == 1 ? 0.25 : 2.5 - k;
    REQUIRE(store->FinishTrial(trial, outcome, kT0).ok());
  }
  SweepSummary summary = store->GetSweepSummary(sweep_id).value();
  CHECK(summary.best_metric == 0.25);
  CHECK(summary.best_trial_index == 1);

  TrialOutcome infinite;
  infinite.metric = std::numeric_limits<double>::infinity();
  Status refused = store->FinishTrial(1, infinite, kT0);
  CHECK(refused.code() == Status::Code::kInvalidArgument);
  CHECK(Mentions(refused, "metric inf must be finite"));
}

TEST_CASE("a version 1 store is upgraded in place: everything kept, CPU seconds 0 where nothing measured them") {
  testing::TempDir dir;
  std::string path = dir.File("carbonsweep.db");
  int64_t sweep_id = 0, trial = 0;
  {
    auto store = OpenOrDie(path);
    sweep_id = CreateOrDie(*store, MakeSweep("old"));
    trial = InsertOrDie(*store, sweep_id, 0);
    REQUIRE(store->AppendPowerSamples({Sample(sweep_id, trial, kT0 + 1, "cpu", 30, 3)}).ok());
  }
  // Make the file exactly what version 1 wrote.
  RawExec(path,
          std::string(kUndoVersion4) +
              "ALTER TABLE power_samples DROP COLUMN cpu_seconds; ALTER TABLE trial_energy DROP COLUMN cpu_seconds; "
              "ALTER TABLE trials DROP COLUMN attempt_cpu_seconds; DROP TABLE holds; PRAGMA user_version = 1;");
  StoreOptions read_only;
  read_only.create_if_missing = false;
  read_only.read_only = true;
  CHECK(SweepStore::Open(path, read_only).status().code() == Status::Code::kUnsupported);  // never upgraded by a reader.

  auto store = OpenOrDie(path);
  CHECK(store->GetSweep("old").ok());
  CHECK(store->GetTrial(trial)->energy.joules == doctest::Approx(30));
  CHECK(store->TrialEnergy(trial)->at(0).cpu_seconds == 0);
  PowerSampleRow row = Sample(sweep_id, trial, kT0 + 2, "cpu", 10, 1);
  row.cpu_seconds = 2.5;
  REQUIRE(store->AppendPowerSamples({row}).ok());
  CHECK(store->TrialEnergy(trial)->at(0).cpu_seconds == doctest::Approx(2.5));
  HoldRecord hold;
  hold.sweep_id = sweep_id;
  hold.started_at_unix = kT0 + 3;
  Result<int64_t> held = store->BeginHold(hold);
  REQUIRE(held.ok());
  REQUIRE(store->EndHold(*held, kT0 + 4).ok());
  CHECK(store->ListHolds(sweep_id)->size() == 1);
}

TEST_CASE("a version 2 store keeps its budget in the sweeps row alone after the upgrade") {
  testing::TempDir dir;
  std::string path = dir.File("carbonsweep.db");
  {
    auto store = OpenOrDie(path);
    SweepRecord sweep = MakeSweep("old");
    sweep.budget_grams_co2e = 50;
    sweep.config_json = R"({"parallel":2,"budget_grams_co2e":10,"on_budget":"finish"})";
    CreateOrDie(*store, sweep);
    SweepRecord broken = MakeSweep("broken");
    broken.config_json = "{not json";
    CreateOrDie(*store, broken);
  }
  RawExec(path, std::string(kUndoVersion4) + "PRAGMA user_version = 2;");  // what version 2 left: the copy in config_json.

  auto store = OpenOrDie(path);
  SweepRecord upgraded = store->GetSweep("old").value();
  CHECK(upgraded.config_json == R"({"parallel":2})");
  CHECK(upgraded.budget_grams_co2e == 50);
  CHECK(store->GetSweep("broken")->config_json == "{not json");  // left for resume to refuse.
}

TEST_CASE("a lease is exclusive until its holder goes quiet") {
  testing::TempDir dir;
  auto store = OpenOrDie(dir.File("carbonsweep.db"));
  int64_t sweep_id = CreateOrDie(*store, MakeSweep("lr-grid"));
  constexpr double kStaleAfter = 30;

  CHECK(!store->GetLease(sweep_id)->has_value());
  REQUIRE(store->AcquireLease(sweep_id, "node1:100", kT0, kStaleAfter).ok());
  CHECK(store->AcquireLease(sweep_id, "node1:100", kT0 + 1, kStaleAfter).ok());  // re-entrant

  REQUIRE(store->Heartbeat(sweep_id, "node1:100", kT0 + 10).ok());
  Status busy = store->AcquireLease(sweep_id, "node2:200", kT0 + 22, kStaleAfter);
  CHECK(busy.code() == Status::Code::kBusy);
  CHECK(Mentions(busy, "'lr-grid' is held by node1:100 since 2023-11-14 22:13:20 UTC, last heartbeat 12 s ago"));
  CHECK(OneLine(busy));

  // Silent for more than 30 s: taken over; the old owner learns it lost it.
  REQUIRE(store->AcquireLease(sweep_id, "node2:200", kT0 + 41, kStaleAfter).ok());
  LeaseRecord lease = store->GetLease(sweep_id)->value();
  CHECK(lease.owner == "node2:200");
  CHECK(lease.acquired_at_unix == kT0 + 41);
  Status lost = store->Heartbeat(sweep_id, "node1:100", kT0 + 42);
  CHECK(lost.code() == Status::Code::kBusy);
  CHECK(Mentions(lost, "now held by node2:200"));

  CHECK(store->ReleaseLease(sweep_id, "node1:100").ok());  // not its lease: nothing happens
  CHECK(store->GetLease(sweep_id)->has_value());
  REQUIRE(store->ReleaseLease(sweep_id, "node2:200").ok());
  CHECK(!store->GetLease(sweep_id)->has_value());
  CHECK(store->AcquireLease(sweep_id, "node3:300", kT0 + 43, kStaleAfter).ok());
  CHECK(store->AcquireLease(999, "node3:300", kT0, kStaleAfter).code() == Status::Code::kNotFound);
}

TEST_CASE("baselines are listed by task checksum, newest first") {
  testing::TempDir dir;
  auto store = OpenOrDie(dir.File("carbonsweep.db"));
  BaselineRecord baseline;
  baseline.task_json = R"({"task":"imdb"})";
  baseline.task_checksum = "ab12";
  baseline.method = "linear-bow";
  baseline.val_accuracy = 0.85;
  baseline.test_accuracy = 0.84;
  baseline.seconds = 12;
  baseline.joules = 300;
  baseline.grams_co2e = 0.03;
  baseline.created_at_unix = kT0;
  REQUIRE(store->InsertBaseline(baseline).ok());
  baseline.created_at_unix = kT0 + 100;
  baseline.val_accuracy = 0.86;
  REQUIRE(store->InsertBaseline(baseline).ok());
  baseline.task_checksum = "cd34";
  REQUIRE(store->InsertBaseline(baseline).ok());

  std::vector<BaselineRecord> same_task = store->ListBaselines("ab12").value();
  REQUIRE(same_task.size() == 2);
  CHECK(same_task[0].val_accuracy == 0.86);
  CHECK(same_task[1].joules == 300);
  CHECK(same_task[1].method == "linear-bow");
  CHECK(store->ListBaselines("").value().size() == 3);
}

TEST_CASE("status and resume reads over 10,000 trials are quick and complete") {
  testing::TempDir dir;
  std::string path = dir.File("carbonsweep.db");
  int64_t sweep_id = 0;
  {
    auto store = OpenOrDie(path);
    sweep_id = CreateOrDie(*store, MakeSweep("big"));
    for (int k = 0; k < 10000; ++k) {
      int64_t id = InsertOrDie(*store, sweep_id, k, /*reserved_grams=*/1);
      if (k % 2 == 0) {
        TrialOutcome outcome;
        outcome.val_accuracy = 0.5 + k * 1e-5;
        outcome.metric = outcome.val_accuracy;
        REQUIRE(store->FinishTrial(id, outcome, kT0).ok());
      }
    }
  }
  auto start = std::chrono::steady_clock::now();
  auto store = OpenOrDie(path);
  std::vector<TrialRecord> trials = store->ListTrials(sweep_id).value();
  std::vector<SweepSummary> sweeps = store->ListSweeps().value();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  REQUIRE(trials.size() == 10000);
  CHECK(trials.front().index == 0);
  CHECK(trials.back().index == 9999);
  REQUIRE(sweeps.size() == 1);
  CHECK(sweeps[0].trial_count == 10000);
  CHECK(sweeps[0].trials_by_state[static_cast<int>(TrialState::kFinished)] == 5000);
  CHECK(sweeps[0].spend.reserved_grams_co2e == doctest::Approx(5000));
  CHECK(sweeps[0].best_trial_index == 9998);
  // Milliseconds with the indexes; a table scan per trial would take far longer.
  CHECK(seconds < 2.0);
}

TEST_CASE("a sweep whose spend reached its budget, with nothing open, has nothing to resume") {
  SweepSummary summary;
  summary.sweep.name = "lr-search";
  summary.sweep.budget_grams_co2e = 10;
  summary.spend.total.grams_co2e = 10.4;
  REQUIRE(BudgetSpentReason(summary).has_value());
  CHECK(*BudgetSpentReason(summary) ==
        "budget spent: pass --budget to extend (sweep 'lr-search' spent 10.4 g of its 10 g CO2e budget)");

  summary.trials_by_state[static_cast<int>(TrialState::kRunning)] = 1;  // recovery must settle it first.
  CHECK(!BudgetSpentReason(summary));
  summary.trials_by_state[static_cast<int>(TrialState::kRunning)] = 0;
  summary.spend.total.grams_co2e = 9.9;  // under the budget: resume goes on.
  CHECK(!BudgetSpentReason(summary));
  summary.sweep.budget_grams_co2e = 0;  // no budget to have spent.
  CHECK(!BudgetSpentReason(summary));
}

}  // namespace cs
