// store_bench: how long `status` and `resume` spend in the store when a sweep
// holds 10,000 trials. Builds a store (trials, 3 epochs each, a power sample
// per component per trial-second plus idle samples), then times, from a cold
// SweepStore::Open: the open itself, ListSweeps (status of all sweeps),
// ListTrials (resume's view of the sweep), GetSweepSpend (the budget check)
// and GetLease. Also times the writes a sweep makes per trial.
//
//   store_bench [--trials N] [--samples-per-trial S] [--repeat R] [--db PATH]
//
// Prints one line per figure (median over R cold opens). Figures go to
// BENCHMARKS.md with the command that produced them.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <unistd.h>
#include <string>
#include <vector>

#include "store/sweep_store.h"

namespace cs {
namespace {

struct BenchOptions {
  int trials = 10000;          // trials in the sweep.
  int samples_per_trial = 10;  // seconds of samples per trial (x3 components).
  int repeat = 5;              // cold opens timed; the median is printed.
  std::string db;              // "" = a fresh file under the temp directory.
};

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds of this process (user + system): robust on a shared machine.
double CpuNow() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

template <typename T>
T Check(Result<T> result, const char* what) {
  if (!result.ok()) {
    std::fprintf(stderr, "store_bench: %s: %s\n", what, result.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*result);
}
void Check(const Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "store_bench: %s: %s\n", what, status.ToString().c_str());
    std::exit(1);
  }
}

// Fills the store the way a sweep would, one fact per transaction (samples
// in batches of one trial-second, as the sampler flushes them). Returns the
// sweep id and prints the per-write costs.
int64_t BuildStore(SweepStore& store, const BenchOptions& options) {
  constexpr double kT0 = 1.7e9;
  SweepRecord sweep;
  sweep.name = "bench";
  sweep.created_at_unix = kT0;
  sweep.host = "bench-host";
  sweep.strategy = "random";
  sweep.budget_grams_co2e = 1e9;
  sweep.region = "DE";
  sweep.intensity_g_per_kwh = 380;
  sweep.config_json = R"({"parallel":1})";
  sweep.space_json = R"({"learning_rate":{"type":"log-uniform","min":1e-5,"max":1e-3}})";
  int64_t sweep_id = Check(store.CreateSweep(sweep), "create sweep");

  double trial_seconds = 0, epoch_seconds = 0, sample_seconds = 0;
  int64_t sample_batches = 0, epochs = 0;
  const char* components[] = {"cpu", "gpu", "ram"};
  double t = kT0;
  for (int k = 0; k < options.trials; ++k) {
    double start = Now();
    NewTrial trial;
    trial.sweep_id = sweep_id;
    trial.index = k;
    trial.params_json = R"({"learning_rate":0.0003,"batch_size":32,"epochs":3})";
    trial.reserved_grams_co2e = 0.5;
    int64_t trial_id = Check(store.InsertTrial(trial, t), "insert trial");
    TrialLaunch launch;
    launch.pid = 1000 + k;
    launch.work_dir = "/tmp/bench/trial-" + std::to_string(k);
    Check(store.MarkTrialRunning(trial_id, launch, t), "mark running");
    trial_seconds += Now() - start;

    for (int second = 0; second < options.samples_per_trial; ++second) {
      t += 1;
      std::vector<PowerSampleRow> rows;
      for (const char* component : components) {
        PowerSampleRow row;
        row.sweep_id = sweep_id;
        row.trial_id = trial_id;
        row.unix_seconds = t;
        row.interval_seconds = 1;
        row.component = component;
        row.method = "rapl";
        row.joules = 20;
        row.watts = 20;
        row.grams_co2e = 20 / 3.6e6 * 380;
        row.intensity_g_per_kwh = 380;
        rows.push_back(row);
      }
      if (second % 10 == 0) {  // some idle energy between trials
        PowerSampleRow idle = rows[0];
        idle.trial_id = std::nullopt;
        rows.push_back(idle);
      }
      start = Now();
      Check(store.AppendPowerSamples(rows), "append samples");
      sample_seconds += Now() - start;
      ++sample_batches;
      if ((second + 1) % std::max(1, options.samples_per_trial / 3) == 0 && epochs < 3LL * (k + 1)) {
        EpochRecord epoch{trial_id, static_cast<int>(epochs % 3) + 1, 0.5, 0.45, 0.8, 10.0 * second, 100, 3200, t};
        start = Now();
        Check(store.RecordEpoch(epoch), "record epoch");
        epoch_seconds += Now() - start;
        ++epochs;
      }
    }
    start = Now();
    TrialOutcome outcome;
    outcome.best_epoch = 3;
    outcome.val_accuracy = 0.7 + (k % 100) * 1e-3;
    outcome.test_accuracy = 0.7;
    outcome.seconds = options.samples_per_trial;
    Check(store.FinishTrial(trial_id, outcome, t), "finish trial");
    trial_seconds += Now() - start;
  }
  std::printf("write: insert+running+finish per trial   %8.1f us\n", 1e6 * trial_seconds / options.trials);
  std::printf("write: record epoch                      %8.1f us  (%lld epochs)\n",
              1e6 * epoch_seconds / std::max<int64_t>(1, epochs), static_cast<long long>(epochs));
  std::printf("write: append one sampler batch (3-4 rows) %6.1f us  (%lld batches)\n",
              1e6 * sample_seconds / std::max<int64_t>(1, sample_batches), static_cast<long long>(sample_batches));
  return sweep_id;
}

int Main(int argc, char** argv) {
  BenchOptions options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--trials") options.trials = std::atoi(argv[i + 1]);
    else if (flag == "--samples-per-trial") options.samples_per_trial = std::atoi(argv[i + 1]);
    else if (flag == "--repeat") options.repeat = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--db") options.db = argv[i + 1];
    else {
      std::fprintf(stderr, "store_bench: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  std::string path = options.db;
  if (path.empty()) {
    path = (std::filesystem::temp_directory_path() / ("store_bench-" + std::to_string(::getpid()) + ".db")).string();
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);

  std::printf("store_bench: %d trials, %d samples/trial x 3 components, file %s\n", options.trials,
              options.samples_per_trial, path.c_str());
  int64_t sweep_id = 0;
  double build_start = Now();
  {
    auto store = Check(SweepStore::Open(path, {}), "open");
    sweep_id = BuildStore(*store, options);
  }
  std::printf("build: %.1f s, file %.1f MiB\n", Now() - build_start,
              std::filesystem::file_size(path) / (1024.0 * 1024.0));

  // Wall and CPU milliseconds of each read phase, per cold open.
  enum Phase { kOpen, kStatus, kList, kSpend, kTotal, kPhases };
  std::vector<double> wall_ms[kPhases], cpu_ms[kPhases];
  size_t trials_listed = 0;
  double grams = 0;
  for (int r = 0; r < options.repeat; ++r) {
    double wall[kPhases + 1], cpu[kPhases + 1];
    auto mark = [&](int phase) {
      wall[phase] = Now();
      cpu[phase] = CpuNow();
    };
    mark(0);
    auto store = Check(SweepStore::Open(path, {}), "open");
    mark(1);
    std::vector<SweepSummary> sweeps = Check(store->ListSweeps(), "list sweeps");
    mark(2);
    std::vector<TrialRecord> trials = Check(store->ListTrials(sweep_id), "list trials");
    mark(3);
    SweepSpend spend = Check(store->GetSweepSpend(sweep_id), "spend");
    Check(store->GetLease(sweep_id), "lease");
    mark(4);
    for (int phase = kOpen; phase < kTotal; ++phase) {
      wall_ms[phase].push_back(1e3 * (wall[phase + 1] - wall[phase]));
      cpu_ms[phase].push_back(1e3 * (cpu[phase + 1] - cpu[phase]));
    }
    wall_ms[kTotal].push_back(1e3 * (wall[4] - wall[0]));
    cpu_ms[kTotal].push_back(1e3 * (cpu[4] - cpu[0]));
    trials_listed = trials.size();
    grams = spend.total.grams_co2e;
    if (sweeps.size() != 1 || sweeps[0].trial_count != options.trials) {
      std::fprintf(stderr, "store_bench: status saw the wrong trial count\n");
      return 1;
    }
  }
  const char* names[kPhases] = {"open (version check, pragmas)", "ListSweeps (status: counts, spend, best)",
                                "ListTrials (resume: every trial + energy)", "GetSweepSpend + GetLease",
                                "open + status + resume reads"};
  std::printf("read, median of %d cold opens (%zu trials listed, %.3f g CO2e):\n", options.repeat, trials_listed,
              grams);
  for (int phase = kOpen; phase < kPhases; ++phase) {
    std::printf("  %-42s wall %8.2f ms   cpu %8.2f ms\n", names[phase], Median(wall_ms[phase]),
                Median(cpu_ms[phase]));
  }
  if (options.db.empty()) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  }
  return 0;
}

}  // namespace
}  // namespace cs

int main(int argc, char** argv) { return cs::Main(argc, argv); }
