// `carbonsweep run --launcher slurm` end to end: the REAL binary submits real
// trials (`carbonsweep trial --meter-self` on the fortunes task) to the REAL
// one-node Slurm of the `slurm_cluster` fixture (SLURM_CONF points at it),
// two at a time; then an orchestrator killed with SIGKILL mid-sweep and
// `resume` follows the jobs it left running instead of submitting them again.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

#include "tests/e2e/e2e_helpers.h"
#include "tests/testing/temp_dir.h"

namespace cs {

namespace {

using testing::RunCarbonsweep;
using testing::StoredTrials;

std::vector<std::string> SlurmSweepFlags(const testing::TempDir& dir, const std::string& name, int trials) {
  std::vector<std::string> args = {"run", "--launcher", "slurm", "--parallel", "2", "--trials", std::to_string(trials),
                                   "--name", name, "--db", dir.File("sweeps.db"), "--budget", "1kg",
                                   "--intensity", "400", "--json"};
  std::vector<std::string> small = testing::SmallSweepFlags(dir.path());
  args.insert(args.end(), small.begin(), small.end());
  return args;
}

// The job ids Slurm still lists (pending or running) for this sweep's jobs.
std::set<std::string> QueuedJobIds(const std::set<std::string>& job_ids) {
  std::string output;
  testing::RunShell("squeue --noheader --format=%i", &output);
  std::set<std::string> queued;
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    std::string id = output.substr(start, end - start);
    if (job_ids.count(id)) queued.insert(id);
    start = end + 1;
  }
  return queued;
}

}  // namespace

TEST_CASE("a sweep through Slurm: trials finish as jobs, their own energy is recorded") {
  testing::TempDir dir;
  std::string output;
  int code = RunCarbonsweep(SlurmSweepFlags(dir, "cluster", 3), &output);
  INFO(output);
  REQUIRE(code == 0);

  std::vector<TrialRecord> trials = StoredTrials(dir.File("sweeps.db"), "cluster");
  REQUIRE(trials.size() == 3);
  std::set<std::string> job_ids;
  for (const TrialRecord& trial : trials) {
    CHECK(trial.state == TrialState::kFinished);
    CHECK(trial.val_accuracy.has_value());
    CHECK(!trial.job_id.empty());
    CHECK(trial.job_id.rfind("pid:", 0) != 0);
    job_ids.insert(trial.job_id);
    // Metered on the "compute node" by the trial itself and handed over through energy.log.
    CHECK(trial.energy.joules > 0);
    CHECK(trial.energy.grams_co2e > 0);
  }
  CHECK(job_ids.size() == 3);
  StoreOptions options;
  options.create_if_missing = false;
  options.read_only = true;
  auto store = SweepStore::Open(dir.File("sweeps.db"), options);
  REQUIRE(store.ok());
  auto sweep = (*store)->GetSweep("cluster");
  REQUIRE(sweep.ok());
  CHECK(sweep->launcher == "slurm");
  auto energy = (*store)->SweepEnergy(sweep->id);
  REQUIRE(energy.ok());
  // Every trial's joules came from its own meter (this node has no RAPL for
  // us: the CPU-time model), none from the orchestrator's sampler.
  for (const TrialRecord& trial : trials) {
    double self_metered_joules = 0;
    for (const EnergyTotal& total : *energy) {
      if (total.trial_id == trial.id && (total.method == "cpu-time-model" || total.method == "rapl")) {
        self_metered_joules += total.joules;
      }
    }
    CHECK(self_metered_joules > 0);
  }
}

TEST_CASE("the orchestrator killed mid-sweep: resume follows the queued and running jobs, submits none again") {
  testing::TempDir dir;
  std::vector<std::string> run_args = SlurmSweepFlags(dir, "killed", 2);
  pid_t pid = testing::StartCarbonsweep(run_args, dir.File("run.log"));
  // Wait until both trials are submitted (their job ids are in the store)
  // and one still runs, then kill the orchestrator.
  std::vector<TrialRecord> trials;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    trials = StoredTrials(dir.File("sweeps.db"), "killed");
    int submitted = 0;
    bool one_runs = false;
    for (const TrialRecord& trial : trials) {
      submitted += !trial.job_id.empty();
      one_runs = one_runs || (trial.state == TrialState::kRunning && !trial.job_id.empty());
    }
    if (submitted == 2 && one_runs) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling the store, not timing.
  }
  ::kill(pid, SIGKILL);
  CHECK(testing::WaitForChild(pid) == 128 + SIGKILL);
  REQUIRE(trials.size() == 2);
  std::set<std::string> job_ids;
  for (const TrialRecord& trial : trials) job_ids.insert(trial.job_id);
  REQUIRE(job_ids.size() == 2);
  // The jobs outlive their orchestrator (at least one is still queued or running).
  CHECK(!QueuedJobIds(job_ids).empty());

  std::string output;
  int code = RunCarbonsweep({"resume", "killed", "--db", dir.File("sweeps.db"), "--json"}, &output);
  INFO(output);
  REQUIRE(code == 0);
  CHECK(output.find("\"trial_adopt\"") != std::string::npos);
  std::vector<TrialRecord> after = StoredTrials(dir.File("sweeps.db"), "killed");
  REQUIRE(after.size() == 2);
  for (const TrialRecord& trial : after) {
    CHECK(trial.state == TrialState::kFinished);
    CHECK(job_ids.count(trial.job_id) == 1);  // the same job: nothing was submitted again.
    CHECK(trial.energy.joules > 0);
  }
}

}  // namespace cs
