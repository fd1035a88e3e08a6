// orchestrator_bench: what the orchestrator itself costs.
//
//   orchestrator_bench overhead BINARY [--trials N] [--vocab FILE] [--epochs E]
//                      [--train-size N] [--sample-interval S] [--parallel P] [--threads T]
//     Runs a real sweep in this process (RunNewSweep: the real launcher
//     executing BINARY's `trial`, the real sampler, the real store) and
//     reports the orchestrator's own CPU time (main loop + sampler thread,
//     getrusage SELF) against the trials' (getrusage CHILDREN), per trial and
//     as a share; also the cost of one process start of BINARY (fork, exec,
//     dynamic loading, exit: `BINARY version`), timed through the launcher.
//
//   orchestrator_bench store10k BINARY [--trials N]
//     Fills a store with one sweep of N (default 10,000) finished trials
//     (3 epochs and one power sample each) and times `status NAME`, `status`,
//     `list` and `resume NAME` (which loads every trial, finds nothing left to
//     run and ends) as separate processes of BINARY, best of 3.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "carbon/intensity.h"
#include "common/clock.h"
#include "orchestrator/local_process_launcher.h"
#include "orchestrator/session.h"
#include "orchestrator/sweep_runner.h"
#include "search_spaces/search_space.h"
#include "search_spaces/strategy.h"
#include "store/sweep_store.h"

namespace cs {
namespace {

double Now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

double CpuSeconds(int who) {
  struct rusage usage {};
  ::getrusage(who, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec * 1e-6;
}

std::string MakeTempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "orchestrator-bench-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return pattern;
}

// Mean wall seconds of `BINARY version` as a launcher child (fork to reaped exit).
double ProcessStartSeconds(const std::string& binary, const std::string& dir, int runs) {
  LocalLauncherOptions options;
  options.binary = binary;
  options.leading_args = {"version"};
  LocalProcessLauncher launcher(options);
  double start = Now();
  for (int i = 0; i < runs; ++i) {
    LaunchRequest request;
    request.trial_id = i;
    request.work_dir = dir + "/start-" + std::to_string(i);
    if (!launcher.Start(request).ok()) std::exit(1);
    std::vector<LauncherEvent> events;
    while (launcher.Running() > 0) launcher.Wait(1.0, &events);
  }
  return (Now() - start) / runs;
}

int Overhead(const std::string& binary, int64_t trials, const std::vector<std::string>& extra) {
  std::string dir = MakeTempDir();
  SweepConfig config;
  config.name = "overhead";
  config.budget_grams_co2e = 1e6;
  config.space = "ci-tiny";
  config.max_trials = trials;
  config.task.task = "fortunes";
  config.task.train_size = 256;
  config.task.val_size = 64;
  config.task.test_size = 64;
  config.task.init = TrialInit::kFromScratch;
  config.total_threads = 1;
  int epochs = 0;
  for (size_t i = 0; i + 1 < extra.size(); i += 2) {
    if (extra[i] == "--train-size") config.task.train_size = std::stoll(extra[i + 1]);
    if (extra[i] == "--sample-interval") config.carbon.sample_interval_seconds = std::stod(extra[i + 1]);
    if (extra[i] == "--parallel") config.parallel = std::stoi(extra[i + 1]);
    if (extra[i] == "--threads") config.total_threads = std::stoi(extra[i + 1]);
    if (extra[i] == "--vocab") config.task.vocab = std::filesystem::absolute(extra[i + 1]).string();
    if (extra[i] == "--epochs") epochs = std::stoi(extra[i + 1]);
  }
  if (epochs > 0) {
    // A space file like ci-tiny with more epochs per trial (longer trials, same start-up).
    auto space = LoadSearchSpace("ci-tiny");
    nlohmann::json json = space->ToJson();
    json["fixed"]["epochs"]["value"] = epochs;
    config.space = dir + "/space.json";
    std::ofstream(config.space) << json.dump();
  }
  std::ostringstream sink;
  ProgressReporter progress(ProgressMode::kQuiet, &sink, &sink, false);
  SessionOptions session;
  session.db_path = dir + "/bench.db";
  session.progress = &progress;
  session.trial_binary = binary;
  double self_before = CpuSeconds(RUSAGE_SELF), children_before = CpuSeconds(RUSAGE_CHILDREN);
  double wall_start = Now();
  auto outcome = RunNewSweep(config, session);
  double wall = Now() - wall_start;
  double self = CpuSeconds(RUSAGE_SELF) - self_before, children = CpuSeconds(RUSAGE_CHILDREN) - children_before;
  if (!outcome.ok()) {
    std::cerr << "sweep failed: " << outcome.status().message() << "\n";
    return 1;
  }
  double start_cpu_before = CpuSeconds(RUSAGE_CHILDREN);
  double start_seconds = ProcessStartSeconds(binary, dir, 10);
  double start_cpu = (CpuSeconds(RUSAGE_CHILDREN) - start_cpu_before) / 10;
  int64_t finished = 0;
  if (auto store = SweepStore::Open(session.db_path, StoreOptions{}); store.ok()) {
    if (auto sweep = (*store)->GetSweep(config.name); sweep.ok()) {
      if (auto summary = (*store)->GetSweepSummary(sweep->id); summary.ok()) {
        finished = summary->trials_by_state[static_cast<int>(TrialState::kFinished)];
      }
    }
  }
  std::printf("trials %lld (finished %lld), wall %.2f s, sample interval %.2f s, parallel %d\n",
              static_cast<long long>(trials), static_cast<long long>(finished), wall,
              config.carbon.sample_interval_seconds, config.parallel);
  std::printf("trials' CPU (children)        %8.3f s  (%.3f s per trial)\n", children, children / trials);
  std::printf("orchestrator CPU (self)       %8.3f s  (%.1f ms per trial, %.3f%% of the trials' CPU)\n", self,
              1000 * self / trials, 100 * self / children);
  std::printf("process start of the binary   %8.1f ms wall, %.1f ms CPU per trial (fork+exec+load+exit of `version`;\n"
              "                              %.2f%% of a trial's wall time, %.2f%% of its CPU)\n",
              1000 * start_seconds, 1000 * start_cpu, 100 * start_seconds / (wall / trials * config.parallel),
              100 * start_cpu / (children / trials));
  std::filesystem::remove_all(dir);
  return 0;
}

// Seconds of the best of `runs` runs of `BINARY args...` (output discarded).
double TimeCommand(const std::string& binary, const std::vector<std::string>& args, int runs, int* exit_code) {
  double best = 1e9;
  for (int run = 0; run < runs; ++run) {
    double start = Now();
    std::fflush(stdout);  // or the child inherits (and prints) our buffered output.
    pid_t pid = ::fork();
    if (pid == 0) {
      std::vector<std::string> strings = {binary};
      strings.insert(strings.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (std::string& s : strings) argv.push_back(s.data());
      argv.push_back(nullptr);
      FILE* null = std::freopen("/dev/null", "w", stdout);
      (void)null;
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    best = std::min(best, Now() - start);
  }
  return best;
}

int Store10k(const std::string& binary, int64_t trials) {
  std::string dir = MakeTempDir();
  std::string db = dir + "/bench.db";
  auto store = SweepStore::Open(db, StoreOptions{});
  if (!store.ok()) return std::cerr << store.status().message() << "\n", 1;
  SweepConfig config;
  config.name = "big";
  config.budget_grams_co2e = 1e6;
  config.space = "carbonsweep-small";
  config.max_trials = trials;
  config.work_root = dir + "/work";
  auto space = LoadSearchSpace(config.space);
  auto strategy = MakeStrategy(*space, config.strategy);
  ConstantIntensity intensity(WorldAverage(), true);
  double now = RealClock::Get()->NowUnixSeconds();
  auto sweep_id = CreateSweepRecord(**store, config, *space, **strategy, nlohmann::json::object(), intensity, now);
  if (!sweep_id.ok()) return std::cerr << sweep_id.status().message() << "\n", 1;
  double fill_start = Now();
  for (int64_t k = 0; k < trials; ++k) {
    NewTrial trial{*sweep_id, k, (*strategy)->Point(k)->dump(), 1.0, TrialState::kReserved, ""};
    auto id = (*store)->InsertTrial(trial, now);
    if (!id.ok()) return std::cerr << id.status().message() << "\n", 1;
    (void)(*store)->MarkTrialRunning(*id, TrialLaunch{std::nullopt, "", config.work_root + "/trial-" + std::to_string(k)}, now);
    for (int epoch = 1; epoch <= 3; ++epoch) {
      (void)(*store)->RecordEpoch(EpochRecord{*id, epoch, 0.5, 0.5, 0.6 + 0.0001 * (k % 100), 10.0 * epoch, 10 * epoch, 100 * epoch, now});
    }
    PowerSampleRow row;
    row.sweep_id = *sweep_id;
    row.trial_id = *id;
    row.unix_seconds = now + k;
    row.interval_seconds = 30;
    row.component = "cpu";
    row.method = "cpu-time-model";
    row.joules = 3000;
    row.watts = 100;
    row.grams_co2e = 0.4;
    row.intensity_g_per_kwh = 475;
    (void)(*store)->AppendPowerSamples({row});
    TrialOutcome outcome;
    outcome.best_epoch = 3;
    outcome.val_accuracy = 0.6 + 0.0001 * (k % 100);
    outcome.test_accuracy = 0.6;
    (void)(*store)->FinishTrial(*id, outcome, now);
  }
  (void)(*store)->SetSweepState(*sweep_id, SweepState::kInterrupted, now);
  double fill = Now() - fill_start;
  store->reset();
  std::printf("store with %lld finished trials (3 epochs, 1 sample each) filled in %.1f s, %.1f MB\n",
              static_cast<long long>(trials), fill, std::filesystem::file_size(db) / 1e6);
  std::filesystem::copy_file(db, db + ".resume");  // `resume` ends the sweep: it gets its own copy.
  int code = 0;
  struct Case {
    const char* label;
    std::vector<std::string> args;
    int runs;
  } cases[] = {
      {"version (process start only)", {"version"}, 3},
      {"status big", {"status", "big", "--db", db}, 3},
      {"status (all sweeps)", {"status", "--db", db}, 3},
      {"list", {"list", "--db", db}, 3},
      {"resume big", {"resume", "big", "--db", db + ".resume", "--quiet"}, 1},
  };
  for (const Case& c : cases) {
    double seconds = TimeCommand(binary, c.args, c.runs, &code);
    std::printf("%-30s %8.1f ms (best of %d, exit %d)\n", c.label, 1000 * seconds, c.runs, code);
  }
  // The commands' own work, in this process (no process start).
  double best_status = 1e9;
  for (int run = 0; run < 3; ++run) {
    double start = Now();
    StoreOptions read_only;
    read_only.read_only = true;
    read_only.create_if_missing = false;
    auto reader = SweepStore::Open(db, read_only);
    if (!reader.ok()) return 1;
    auto sweep = (*reader)->GetSweep("big");
    auto summary = (*reader)->GetSweepSummary(sweep->id);
    auto lease = (*reader)->GetLease(sweep->id);
    if (!summary.ok() || !lease.ok()) return 1;
    best_status = std::min(best_status, Now() - start);
  }
  std::printf("%-30s %8.1f ms (best of 3, in process: open + summary + lease)\n", "status work", 1000 * best_status);
  std::ostringstream sink;
  ProgressReporter progress(ProgressMode::kQuiet, &sink, &sink, false);
  SessionOptions session;
  session.db_path = db;
  session.progress = &progress;
  session.trial_binary = binary;
  double start = Now();
  auto outcome = ResumeSweep("big", ResumeOverrides{}, session);
  std::printf("%-30s %8.1f ms (in process: loads %lld trials and their epochs, nothing left to run, ends %s)\n",
              "resume work", 1000 * (Now() - start), static_cast<long long>(trials),
              outcome.ok() ? SweepStateName(outcome->state) : outcome.status().message().c_str());
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace cs

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 2 || (args[0] != "overhead" && args[0] != "store10k")) {
    std::cerr << "usage: orchestrator_bench overhead|store10k BINARY [--trials N] [extra flags]\n";
    return 2;
  }
  int64_t trials = args[0] == "overhead" ? 8 : 10000;
  std::vector<std::string> extra;
  for (size_t i = 2; i < args.size(); ++i) {
    if (args[i] == "--trials" && i + 1 < args.size()) {
      trials = std::stoll(args[++i]);
    } else {
      extra.push_back(args[i]);
    }
  }
  return args[0] == "overhead" ? cs::Overhead(args[1], trials, extra) : cs::Store10k(args[1], trials);
}
