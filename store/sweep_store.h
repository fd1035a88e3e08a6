// SweepStore keeps everything a carbonsweep sweep knows in one SQLite file:
// sweeps, trials, per-epoch metrics, power samples with their per-trial
// energy totals, baselines, and the lease that says which orchestrator owns a
// sweep. The file format (tables, columns, units, enum numbers, versions) is
// described in docs/store-format.md.
//
// Who calls it: the orchestrator (the only writer of a sweep, holding its
// lease), `status`/`list`/`report`/`compare` (readers, often while a sweep
// runs in another process: WAL lets them read without blocking the writer),
// and `baseline`.
//
// Durability: every method that writes does so in ONE transaction that is
// committed before it returns, so a fact is on disk the moment it exists and
// a crash loses nothing that a method reported as written. A failed write
// (disk full, read-only file, lock held too long) is rolled back whole: the
// store stays as it was before the call. The destructor never commits
// anything; it only closes the connection.
//
// Times are always passed in by the caller as Unix seconds (double), so tests
// can use fake clocks; the store never reads the clock. Energy is joules, CO2
// is grams CO2e, intensity is grams CO2e per kWh, durations are seconds.
// JSON columns are stored as the caller's text (the store does not parse
// them); `*_json` fields must hold a valid JSON document (or be empty).
//
// Thread safety: all methods may be called from any thread; one internal
// mutex serialises them (one SQLite connection per SweepStore). Several
// processes may open the same file; writers then wait up to
// StoreOptions::busy_timeout_ms for each other and report Busy after that.
//
// Errors: every Status message is one line that starts with the file path.
//   NotFound      the file (create_if_missing=false), a sweep, trial or baseline.
//   InvalidArgument  a duplicate sweep name or trial index, a bad field.
//   Corruption    the file is not a SQLite database, is damaged, or is a SQLite
//                 database that is not a carbonsweep store. Such a file is
//                 never written to.
//   Unsupported   the file was written by a newer carbonsweep (user_version
//                 above kSchemaVersion), or needs an upgrade but was opened
//                 read-only.
//   Busy          another process holds the database lock past the timeout,
//                 or another orchestrator holds the sweep's lease.
//   IoError       the OS refused: read-only file or directory, disk full.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace cs {

// The format version this build writes, kept in `PRAGMA user_version`.
// History and the migration rule: docs/store-format.md.
constexpr int kSchemaVersion = 4;

// ---------------------------------------------------------------------------
// Stored enums. Their NUMBERS are written to the file: never renumber or
// reuse one; add new values at the end (and to docs/store-format.md).
// ---------------------------------------------------------------------------

// Where a sweep stands.
enum class SweepState : int {
  kRunning = 0,      // an orchestrator is (or was, until it died) running it.
  kInterrupted = 1,  // stopped by a signal; `resume` continues it.
  kBudgetSpent = 2,  // stopped because its CO2 budget is spent.
  kDone = 3,         // every planned trial ran (grid exhausted / trial limit).
  kFailed = 4,       // stopped by an error that is not the budget.
  kTrialsFailing = 5,  // stopped because its trials keep failing before their first epoch (or all failed).
};

// Where a trial stands. kReserved and kRunning are "open" (their reserved
// grams count against the budget); the rest are ends, except kInterrupted and
// kPaused which `resume` continues.
enum class TrialState : int {
  kReserved = 0,       // parameters chosen and CO2 reserved; not launched yet.
  kRunning = 1,        // launched (a local process or a Slurm job).
  kFinished = 2,       // all epochs ran.
  kDiverged = 3,       // NaN/inf loss; ended early, metrics so far kept.
  kFailed = 4,         // crashed, OOM, nonzero exit, Slurm failure; see reason.
  kPruned = 5,         // stopped early by the search (not the budget).
  kStoppedBudget = 6,  // stopped mid-run because the budget was spent or would be.
  kSkippedBudget = 7,  // never launched: its predicted CO2 did not fit.
  kInterrupted = 8,    // stopped by a signal / orchestrator death; resumable.
  kPaused = 9,         // stopped after an epoch as asked; resumable.
};
constexpr int kTrialStateCount = 10;

// What happens to running trials when measured spend reaches the budget.
enum class OnBudget : int {
  kStop = 0,    // stop them at once (default).
  kFinish = 1,  // let them finish; the overshoot is reported.
};

// Whether a sweep's metric is better higher (accuracy, F1) or lower (a loss).
enum class MetricMode : int {
  kMax = 0,
  kMin = 1,
};

// What "best" means in a sweep: the event field each trial reports (epoch and
// end events) and its direction. Halving, pruning, the best trial, compare
// and the reports all rank by it. Stored with the sweep (sweeps.metric,
// sweeps.metric_mode); the default is the bundled trial's val_accuracy.
struct Objective {
  std::string metric = "val_accuracy";
  MetricMode mode = MetricMode::kMax;

  // True when `a` is strictly better than `b` in this direction.
  bool Better(double a, double b) const { return mode == MetricMode::kMax ? a > b : a < b; }
  // Higher is better: the value itself, or its negation for kMin (what
  // rankers that only maximise are given).
  double Score(double value) const { return mode == MetricMode::kMax ? value : -value; }
};

// Lower-case names as users see them ("running", "budget_spent",
// "stopped_budget", ...), and the reverse (nullopt for an unknown name).
const char* SweepStateName(SweepState state);
const char* TrialStateName(TrialState state);
const char* OnBudgetName(OnBudget on_budget);
const char* MetricModeName(MetricMode mode);  // "max" | "min".
// How a metric is named to users: "val acc" for the default, else its own name.
std::string MetricLabel(const Objective& objective);
// "val acc 0.8125" for the default metric, else "<name> <value, 4 significant digits>".
std::string FormatMetric(const Objective& objective, double value);
std::optional<MetricMode> ParseMetricMode(const std::string& name);
std::optional<SweepState> ParseSweepState(const std::string& name);
std::optional<TrialState> ParseTrialState(const std::string& name);
std::optional<OnBudget> ParseOnBudget(const std::string& name);
// True for kReserved and kRunning (their reservation is outstanding).
bool IsOpenTrialState(TrialState state);

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

struct StoreOptions {
  // Create the file (and its schema) when it does not exist; otherwise a
  // missing file is NotFound.
  bool create_if_missing = true;
  // Open without ever writing (status, report). A store that would need a
  // migration is then refused as Unsupported instead of upgraded.
  bool read_only = false;
  // How long a statement waits for another process's lock before Busy.
  int busy_timeout_ms = 5000;
  // 0: no limit. Otherwise writes that would grow the file beyond this many
  // bytes fail exactly like a full disk (IoError, nothing written). Lets
  // tests prove the store stays consistent when the disk fills.
  int64_t max_file_bytes = 0;
};

// ---------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------

// One sweep: everything needed to show, report and resume it.
struct SweepRecord {
  int64_t id = 0;                  // assigned by CreateSweep; ignored on input.
  std::string name;                // unique in the store; non-empty.
  double created_at_unix = 0;      // when `run` created it.
  double updated_at_unix = 0;      // last state change; set by the store.
  std::string host;                // hostname of the orchestrator that created it.
  std::string strategy;            // "random" | "grid".
  int64_t seed = 0;                // the sweep's seed (trial k depends on seed and k).
  double budget_grams_co2e = 0;    // the CO2 budget.
  OnBudget on_budget = OnBudget::kStop;
  std::string region;              // carbon-intensity region name, e.g. "DE", "FR".
  double intensity_g_per_kwh = 0;  // the intensity used for the budget.
  std::string intensity_source;    // where that figure comes from (dataset/URL).
  int intensity_year = 0;          // the year of that figure.
  double pue = 1.0;                // power usage effectiveness applied (>= 1).
  std::string power_json;          // how power is measured (sources, methods), JSON.
  std::string task_json;           // task name, data checksum, split sizes and checksum, JSON.
  std::string task_checksum;       // identifies the task (data + splits); compare/baselines match on it.
  std::string space_json;          // the full search space, JSON.
  std::string config_json;         // the full config: everything `resume` needs, JSON.
  std::string grid_order_json;     // the stored grid permutation (JSON array); "" for random.
  std::string launcher = "local";  // "local" | "slurm".
  SweepState state = SweepState::kRunning;
  Objective objective;             // what ranks its trials (--metric, --mode).
};

// Energy and CO2 of some part of a sweep.
struct EnergySpend {
  double joules = 0;
  double grams_co2e = 0;
};

// What the budget sees for one sweep, all computed by SQL from the store.
struct SweepSpend {
  EnergySpend total;         // every joule recorded for the sweep: its trials + unattributed.
  EnergySpend unattributed;  // the part with no trial (idle, orchestrator, shared).
  // Sum of reserved_grams_co2e over the sweep's open (reserved/running) trials.
  double reserved_grams_co2e = 0;
  // Sum over open trials of max(0, reserved - grams already measured for that
  // trial): what may still come on top of `total`. Budget check:
  //   total.grams_co2e + outstanding_reserved_grams_co2e + next_prediction <= budget.
  double outstanding_reserved_grams_co2e = 0;
};

// A sweep with the figures `status` and `list` show.
struct SweepSummary {
  SweepRecord sweep;
  int64_t trial_count = 0;
  // Indexed by static_cast<int>(TrialState).
  int64_t trials_by_state[kTrialStateCount] = {};
  SweepSpend spend;
  // The best value of the sweep's objective over trials that reported it.
  std::optional<double> best_metric;
  std::optional<int64_t> best_trial_index;  // k of that trial.
};

// Why resuming `summary`'s sweep without a new budget could do nothing: its
// recorded spend has reached its (positive) budget and no trial is open
// (reserved or running trials are left for recovery to settle). One line
// naming the sweep and the figures; nullopt when resuming may go on.
std::optional<std::string> BudgetSpentReason(const SweepSummary& summary);

// One trial of a sweep. Nullable columns are std::optional.
struct TrialRecord {
  int64_t id = 0;        // store-wide trial id.
  int64_t sweep_id = 0;
  int64_t index = 0;     // k: its position in the sweep's sequence (unique per sweep).
  std::string params_json;
  TrialState state = TrialState::kReserved;
  double reserved_grams_co2e = 0;  // kept after the trial ends, for history.
  double created_at_unix = 0;
  std::optional<double> started_at_unix;  // first launch.
  std::optional<double> ended_at_unix;    // last FinishTrial; unset while running.
  std::optional<int64_t> pid;             // local launcher: the child's pid (last attempt).
  std::string job_id;                     // Slurm launcher: the job id (last attempt).
  std::string work_dir;                   // the trial's --work-dir (checkpoints, events, result).
  std::optional<int> best_epoch;
  std::optional<double> val_accuracy;     // at best_epoch.
  std::optional<double> test_accuracy;    // at best_epoch.
  std::optional<double> metric;           // the sweep's objective at best_epoch (= val_accuracy by default).
  double seconds = 0;                     // training seconds reported by the trial.
  int64_t steps = 0;
  int64_t examples = 0;
  std::optional<int> exit_status;         // process exit code (or 128+signal).
  std::string stderr_tail;                // last lines of stderr of a failed trial.
  std::string reason;                     // why it ended this way (one line), or "".
  int attempts = 0;                       // launches so far (resumes, requeues).
  // CPU seconds of the current attempt already in the ledger (its "cpu"
  // rows); MarkTrialRunning resets it. What the trial process used beyond
  // this when it died is what a resume recovers.
  double attempt_cpu_seconds = 0;
  // Filled by reads from the energy ledger (sum over components and methods).
  EnergySpend energy;
};

// What the orchestrator knows when it reserves a trial.
struct NewTrial {
  int64_t sweep_id = 0;
  int64_t index = 0;
  std::string params_json;
  double reserved_grams_co2e = 0;
  // kReserved normally; kSkippedBudget records a trial that did not fit.
  TrialState state = TrialState::kReserved;
  std::string reason;  // e.g. why it was skipped.
};

// One launch of a trial.
struct TrialLaunch {
  std::optional<int64_t> pid;  // local process id.
  std::string job_id;          // Slurm job id ("" locally).
  std::string work_dir;
};

// How a trial ended (or stopped for now). Every field is written as given:
// an unset optional stores NULL.
struct TrialOutcome {
  TrialState state = TrialState::kFinished;
  std::optional<int> best_epoch;
  std::optional<double> val_accuracy;
  std::optional<double> test_accuracy;
  std::optional<double> metric;  // the sweep's objective at best_epoch.
  double seconds = 0;
  int64_t steps = 0;
  int64_t examples = 0;
  std::optional<int> exit_status;
  std::string stderr_tail;
  std::string reason;
};

// One epoch of one trial, as the trial's "epoch" event reports it.
struct EpochRecord {
  int64_t trial_id = 0;
  int epoch = 0;  // 1-based.
  double train_loss = 0;
  double val_loss = 0;
  std::optional<double> val_accuracy;  // a command's job may report none.
  double seconds = 0;     // cumulative training seconds at the end of this epoch.
  int64_t steps = 0;      // cumulative optimizer steps.
  int64_t examples = 0;   // cumulative training examples.
  double recorded_at_unix = 0;
  std::optional<double> metric;        // the sweep's objective, when the event had it.
};

// One energy measurement over one interval for one component.
struct PowerSampleRow {
  int64_t sweep_id = 0;            // required, also for unattributed rows.
  std::optional<int64_t> trial_id; // nullopt: unattributed (idle, orchestrator).
  double unix_seconds = 0;         // end of the interval.
  double interval_seconds = 0;
  std::string component;           // "cpu" | "gpu" | "ram" (or "node" for whole-node meters).
  std::string method;              // "rapl", "nvml-energy", "nvml-power", "hwmon",
                                   // "cpu-time-model", "user-set", "slurm", ...
  double joules = 0;               // energy in the interval (PUE already applied by the caller).
  double watts = 0;                // mean power in the interval.
  double grams_co2e = 0;           // CO2 of those joules.
  double intensity_g_per_kwh = 0;  // the intensity used for grams_co2e.
  // The trial's own CPU seconds in the interval (the same on each of its
  // component rows); 0 on unattributed rows and where nothing measured it.
  double cpu_seconds = 0;
};

// Energy totals for one (trial or unattributed, component, method).
struct EnergyTotal {
  std::optional<int64_t> trial_id;  // nullopt: the sweep's unattributed energy.
  std::string component;
  std::string method;
  double joules = 0;
  double grams_co2e = 0;
  double seconds = 0;    // sum of interval_seconds.
  int64_t samples = 0;   // how many sample rows.
  double cpu_seconds = 0;  // sum of the rows' cpu_seconds: joules / cpu_seconds prices CPU time.
};

// Who owns a sweep right now.
struct LeaseRecord {
  int64_t sweep_id = 0;
  std::string owner;  // e.g. "host:pid"; compared as text.
  double acquired_at_unix = 0;
  double heartbeat_at_unix = 0;
};

// One carbon-aware hold: no trial ran (new ones held, running ones paused at
// an epoch boundary) because the grid was dirtier than the threshold.
struct HoldRecord {
  int64_t id = 0;                      // assigned by BeginHold.
  int64_t sweep_id = 0;
  double started_at_unix = 0;
  std::optional<double> ended_at_unix;  // unset while holding (or when the orchestrator died holding).
  double intensity_g_per_kwh = 0;      // what started it.
  double threshold_g_per_kwh = 0;      // --max-intensity.
};

// One `carbonsweep baseline` result.
struct BaselineRecord {
  int64_t id = 0;               // assigned by InsertBaseline; ignored on input.
  std::string task_json;
  std::string task_checksum;
  std::string method;           // e.g. "linear-bow"; what kind of baseline.
  double val_accuracy = 0;
  double test_accuracy = 0;
  double seconds = 0;
  double joules = 0;
  double grams_co2e = 0;
  std::string details_json;     // anything else (parameters, host), JSON or "".
  double created_at_unix = 0;
};

// ---------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------

class SweepStore {
 public:
  // Opens (or creates) the store at `path`. Upgrades an older format step by
  // step, each step in its own transaction. Never writes to a file it refuses.
  static Result<std::unique_ptr<SweepStore>> Open(const std::string& path, const StoreOptions& options);

  ~SweepStore();  // closes the connection; commits nothing.
  SweepStore(const SweepStore&) = delete;
  SweepStore& operator=(const SweepStore&) = delete;

  const std::string& path() const { return path_; }

  // --- sweeps ---------------------------------------------------------------

  // Inserts `sweep` (its id and updated_at are ignored) and returns its id.
  // InvalidArgument naming the sweep when the name exists or is empty.
  Result<int64_t> CreateSweep(const SweepRecord& sweep);
  // NotFound naming the sweep when there is none.
  Result<SweepRecord> GetSweep(const std::string& name);
  Result<SweepRecord> GetSweepById(int64_t sweep_id);
  Status SetSweepState(int64_t sweep_id, SweepState state, double now_unix);
  // Replaces the budget (e.g. `resume --budget` raising it).
  Status SetSweepBudget(int64_t sweep_id, double budget_grams_co2e, double now_unix);
  // Every sweep, oldest first, with counts and spend.
  Result<std::vector<SweepSummary>> ListSweeps();
  Result<SweepSummary> GetSweepSummary(int64_t sweep_id);

  // --- trials ---------------------------------------------------------------

  // Inserts a trial and returns its id. InvalidArgument when (sweep, index)
  // exists; NotFound when the sweep does not.
  Result<int64_t> InsertTrial(const NewTrial& trial, double now_unix);
  // State -> running, records pid/job id/work dir, attempts += 1; the first
  // launch sets started_at. Clears the previous attempt's ended_at,
  // exit_status, stderr_tail and reason (metrics are kept until the next
  // FinishTrial). Allowed from any state (resume, requeue).
  Status MarkTrialRunning(int64_t trial_id, const TrialLaunch& launch, double now_unix);
  // Changes the trial's reservation (the orchestrator re-predicts after epochs).
  Status SetTrialReservation(int64_t trial_id, double reserved_grams_co2e);
  // Writes one epoch; writing the same (trial, epoch) again replaces it
  // (idempotent, so re-ingesting an events file is harmless).
  Status RecordEpoch(const EpochRecord& epoch);
  // Writes the outcome and ended_at (see TrialOutcome). Also for kInterrupted
  // and kPaused, which `resume` later relaunches with MarkTrialRunning.
  Status FinishTrial(int64_t trial_id, const TrialOutcome& outcome, double now_unix);
  // The sweep's trials ordered by index, each with its energy totals.
  Result<std::vector<TrialRecord>> ListTrials(int64_t sweep_id);
  Result<TrialRecord> GetTrial(int64_t trial_id);
  // NotFound when the sweep has no trial with that index.
  Result<TrialRecord> GetTrialByIndex(int64_t sweep_id, int64_t index);
  // One trial's epochs, by epoch.
  Result<std::vector<EpochRecord>> ListEpochs(int64_t trial_id);
  // All epochs of a sweep's trials, by trial index then epoch (learning curves).
  Result<std::vector<EpochRecord>> ListSweepEpochs(int64_t sweep_id);

  // --- energy ledger ----------------------------------------------------------

  // Appends a batch of samples and updates the per-trial (and per-sweep
  // unattributed) energy totals, all in ONE transaction. A row identical in
  // (sweep, trial, component, method, unix_seconds) to one already stored is
  // skipped, so re-ingesting a worker's file never counts energy twice.
  // InvalidArgument (nothing written) when a row names a trial of another
  // sweep, an unknown sweep, an empty component/method or negative joules.
  // Returns how many rows were new.
  Result<int64_t> AppendPowerSamples(const std::vector<PowerSampleRow>& rows);
  // Spend and reservations of one sweep (see SweepSpend).
  Result<SweepSpend> GetSweepSpend(int64_t sweep_id);
  // One trial's energy by component and method.
  Result<std::vector<EnergyTotal>> TrialEnergy(int64_t trial_id);
  // The whole sweep's energy by trial (unattributed first), component, method.
  Result<std::vector<EnergyTotal>> SweepEnergy(int64_t sweep_id);
  // Every sample of a sweep ordered by time (for time-series reports).
  Result<std::vector<PowerSampleRow>> ListPowerSamples(int64_t sweep_id);

  // --- leases ----------------------------------------------------------------

  // Makes `owner` the sweep's owner. Ok when the lease is free, already
  // `owner`'s (refreshed), or stale (last heartbeat more than
  // `stale_after_seconds` before `now_unix`: taken over). Otherwise Busy:
  // "<path>: sweep '<name>' is held by <owner> since <UTC time>, last
  // heartbeat <n> s ago".
  Status AcquireLease(int64_t sweep_id, const std::string& owner, double now_unix,
                      double stale_after_seconds);
  // Refreshes the heartbeat. Busy when the lease is no longer `owner`'s (it
  // was taken over as stale, or released).
  Status Heartbeat(int64_t sweep_id, const std::string& owner, double now_unix);
  // Drops the lease if `owner` holds it; Ok (nothing done) otherwise.
  Status ReleaseLease(int64_t sweep_id, const std::string& owner);
  // The current lease, nullopt when none.
  Result<std::optional<LeaseRecord>> GetLease(int64_t sweep_id);

  // --- carbon-aware holds ------------------------------------------------------

  Result<int64_t> BeginHold(const HoldRecord& hold);
  Status EndHold(int64_t hold_id, double ended_at_unix);
  // The sweep's holds by start time.
  Result<std::vector<HoldRecord>> ListHolds(int64_t sweep_id);

  // --- baselines -------------------------------------------------------------

  Result<int64_t> InsertBaseline(const BaselineRecord& baseline);
  // Baselines of the task with that checksum, newest first ("" lists all).
  Result<std::vector<BaselineRecord>> ListBaselines(const std::string& task_checksum);

  // The implementation's connection and cached statements (sweep_store.cc).
  class Impl;

 private:
  SweepStore(std::string path, std::unique_ptr<Impl> impl);
  std::string path_;
  std::unique_ptr<Impl> impl_;  // owns the sqlite3 handle; guarded by its own mutex.
};

}  // namespace cs
