// The resume acceptance test: a small real sweep, its orchestrator killed
// with SIGKILL at 10 random moments and resumed each time, ends with the same
// trials (params and accuracies) as an uninterrupted run with the same seed,
// and with at least that run's recorded energy (nothing lost).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <random>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "common/files.h"

#include "tests/e2e/e2e_helpers.h"
#include "tests/testing/temp_dir.h"

namespace cs {

using namespace cs::testing;

namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("a sweep killed with SIGKILL ten times and resumed equals an uninterrupted one") {
  TempDir dir;
  std::string db = dir.File("sweeps.db");
  std::vector<std::string> flags = SmallSweepFlags(dir.path());
  flags.insert(flags.end(), {"--trials", "4", "--seed", "11", "--budget", "1kg", "--db", db, "--quiet"});

  std::vector<std::string> reference_args = {"run", "--name", "reference"};
  reference_args.insert(reference_args.end(), flags.begin(), flags.end());
  auto start = std::chrono::steady_clock::now();
  std::string output;
  REQUIRE_MESSAGE(RunCarbonsweep(reference_args, &output) == 0, output);
  double reference_seconds = SecondsSince(start);
  std::vector<TrialRecord> reference = StoredTrials(db, "reference");
  REQUIRE(FinishedResults(reference).size() == 4);

  // Kill moments spread over the sweep's length (seeded: the test is reproducible).
  std::mt19937 rng(20260101);
  std::uniform_real_distribution<double> moment(0.05, std::max(0.3, reference_seconds / 8));
  std::vector<std::string> run_args = {"run", "--name", "killed"};
  run_args.insert(run_args.end(), flags.begin(), flags.end());
  std::vector<std::string> resume_args = {"resume", "killed", "--db", db, "--quiet"};
  int kills = 0;
  int finished_early = 0;
  for (int round = 0; round < 10; ++round) {
    // Killed before it recorded the sweep, `run` left nothing to resume: the user runs it again.
    bool recorded = SweepExists(db, "killed");
    pid_t pid = StartCarbonsweep(recorded ? resume_args : run_args, dir.File("killed.log"));
    std::this_thread::sleep_for(std::chrono::duration<double>(moment(rng)));
    ::kill(pid, SIGKILL);
    int code = WaitForChild(pid);  // reaped: its lease now names a dead process.
    if (code == 128 + SIGKILL) {
      ++kills;
    } else {
      CHECK_MESSAGE(code == 0, "round " << round << " exited " << code);
      ++finished_early;
    }
  }
  CHECK(kills >= 8);
  int last = RunCarbonsweep(SweepExists(db, "killed") ? resume_args : run_args, &output);
  CHECK_MESSAGE((last == 0), output);

  std::vector<TrialRecord> killed = StoredTrials(db, "killed");
  CHECK(killed.size() == 4);  // no trial index twice, none lost.
  int relaunches = 0;
  for (const TrialRecord& trial : killed) relaunches += trial.attempts - 1;
  CHECK(relaunches >= 1);  // some kill landed mid-trial, and that trial continued from its checkpoint.
  CHECK(FinishedResults(killed) == FinishedResults(reference));
  // Compared on the CPU component: on a machine with no energy counter it is the
  // trials' own CPU seconds x watts, while the RAM share follows how busy the
  // rest of the machine happened to be during each run.
  double reference_joules = ComponentJoules(db, "reference", "cpu");
  double killed_joules = ComponentJoules(db, "killed", "cpu");
  CHECK(reference_joules > 0);
  // Nothing lost: each killed trial left its CPU time (trials/exit_usage.h) and
  // resume priced what the ledger lacked. The killed run also trained more
  // (partial epochs again, start-ups), which outweighs the few % by which the
  // CPU time of identical work jitters between two runs.
  CHECK(killed_joules >= reference_joules);
  for (const TrialRecord& trial : killed) CHECK(trial.energy.joules > 0);
  MESSAGE("reference " << reference_seconds << " s, " << reference_joules << " J of CPU; killed " << kills
                       << " times, " << relaunches << " relaunches, " << killed_joules << " J of CPU");
}

// Runs a one-trial sweep sampled every `sample_interval` seconds, kills its
// orchestrator with SIGKILL once `ready` holds for the stored trial (then one
// second later), checks the trial's last words, resumes, and checks that every
// CPU second of the killed attempt is in the ledger and that a second resume
// adds nothing.
void KillMidTrialAndResume(const std::string& sample_interval, const std::function<bool(const TrialRecord&)>& ready) {
  TempDir dir;
  std::string db = dir.File("sweeps.db");
  std::vector<std::string> run_args = Concat({"run", "--name", "orphan", "--trials", "1", "--seed", "3", "--budget",
                                              "1kg", "--db", db, "--quiet"},
                                             SmallSweepFlags(dir.path()));
  for (size_t i = 0; i + 1 < run_args.size(); ++i) {
    if (run_args[i] == "--train-size") run_args[i + 1] = "960";  // a trial of several seconds.
    if (run_args[i] == "--sample-interval") run_args[i + 1] = sample_interval;
  }
  pid_t pid = StartCarbonsweep(run_args, dir.File("orphan.log"));
  std::string work_dir;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < deadline) {
    if (SweepExists(db, "orphan")) {
      std::vector<TrialRecord> trials = StoredTrials(db, "orphan");
      if (!trials.empty() && !trials[0].work_dir.empty() && ready(trials[0])) {
        work_dir = trials[0].work_dir;
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(!work_dir.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  ::kill(pid, SIGKILL);
  CHECK(WaitForChild(pid) == 128 + SIGKILL);

  // The trial wrote its last words and exited at once.
  Result<std::string> usage_text = Status::NotFound("not yet");
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline && !usage_text.ok()) {
    usage_text = ReadFile(work_dir + "/exit_usage.json");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE_MESSAGE(usage_text.ok(), usage_text.status().message());
  nlohmann::json usage = nlohmann::json::parse(*usage_text);
  const double trial_cpu_seconds = usage["cpu_microseconds"].get<double>() * 1e-6;
  CHECK(trial_cpu_seconds > 0.5);
  std::vector<TrialRecord> before = StoredTrials(db, "orphan");
  REQUIRE(before.size() == 1);
  CHECK(before[0].job_id == "pid:" + std::to_string(usage["pid"].get<int64_t>()));
  CHECK(before[0].attempt_cpu_seconds < trial_cpu_seconds);  // the ledger lacked some of it.

  std::string output;
  CHECK(RunCarbonsweep({"resume", "orphan", "--db", db, "--json"}, &output) == 0);
  CHECK_MESSAGE(output.find("\"event\":\"energy_recovered\"") != std::string::npos, output);
  // Every CPU second of the killed attempt is in the ledger, and the second attempt's on top.
  auto [store, sweep_id] = OpenSweep(db, "orphan");
  Result<std::vector<EnergyTotal>> energy = store->TrialEnergy(before[0].id);
  REQUIRE(energy.ok());
  double ledger_cpu_seconds = 0;
  for (const EnergyTotal& total : *energy) ledger_cpu_seconds += total.component == "cpu" ? total.cpu_seconds : 0;
  CHECK(ledger_cpu_seconds >= trial_cpu_seconds);
  // A second resume counts nothing twice.
  CHECK(RunCarbonsweep({"resume", "orphan", "--db", db, "--json"}, &output) == 0);
  CHECK(output.find("energy_recovered") == std::string::npos);
}

TEST_CASE("a trial outliving its SIGKILLed orchestrator leaves its CPU time, and resume counts all of it") {
  // Killed between two samples, after the first: priced at the trial's own joules per CPU second.
  KillMidTrialAndResume("2", [](const TrialRecord& trial) { return trial.attempt_cpu_seconds > 0; });
}

TEST_CASE("a trial killed before any sample of its sweep is priced by the CPU-time model where there is one") {
  // One sample an hour: nothing is in the ledger when the orchestrator dies. This machine (and CI)
  // has no energy counter, so the CPU-time model prices the recovered seconds.
  KillMidTrialAndResume("3600", [](const TrialRecord& trial) { return trial.state == TrialState::kRunning; });
}

}  // namespace cs
