// `carbonsweep run --launcher slurm` end to end: the REAL binary submits real
// trials (`carbonsweep trial --meter-self` on the fortunes task) to the REAL
// one-node Slurm of the `slurm_cluster` fixture (SLURM_CONF points at it),
// two at a time. Then what a cluster does to a sweep: a job cancelled with
// scancel behind the orchestrator's back is requeued from its checkpoint; an
// orchestrator killed with SIGKILL mid-sweep is resumed and follows the jobs
// it left (even one it submitted but never recorded) instead of submitting
// them again; a tiny budget cancels every job.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "tests/e2e/e2e_helpers.h"
#include "tests/testing/temp_dir.h"

namespace cs {

namespace {

using testing::RunCarbonsweep;
using testing::StoredTrials;

// `run --launcher slurm` of the small fortunes sweep, two jobs at a time.
std::vector<std::string> SlurmSweepFlags(const testing::TempDir& dir, const std::string& name, int trials,
                                         const std::string& budget = "1kg") {
  std::vector<std::string> args = {"run", "--launcher", "slurm", "--parallel", "2", "--trials", std::to_string(trials),
                                   "--name", name, "--db", dir.File("sweeps.db"), "--budget", budget,
                                   "--intensity", "400", "--json"};
  std::vector<std::string> small = testing::SmallSweepFlags(dir.path());
  args.insert(args.end(), small.begin(), small.end());
  return args;
}

// Replaces the value after `flag` (the small sweep's flags each appear once).
void SetFlag(std::vector<std::string>& args, const std::string& flag, const std::string& value) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag) args[i + 1] = value;
  }
}

// The job ids Slurm still lists (pending, running or completing) of these.
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

// Polls the store of a sweep started in the background until `done` holds
// for its trials (at most `limit_seconds`); returns the last trials read.
// The store may not exist yet right after the start.
std::vector<TrialRecord> WaitForTrials(const std::string& db, const std::string& sweep,
                                       const std::function<bool(const std::vector<TrialRecord>&)>& done,
                                       double limit_seconds = 120) {
  std::vector<TrialRecord> trials;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit_seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (testing::SweepExists(db, sweep)) {
      trials = StoredTrials(db, sweep);
      if (done(trials)) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling the store, not timing.
  }
  return trials;
}

// The "@cs" events the trial wrote into its work dir, in order.
std::vector<nlohmann::json> WorkDirEvents(const std::string& work_dir) {
  std::vector<nlohmann::json> events;
  std::ifstream file(work_dir + "/events.log");
  std::string line;
  while (std::getline(file, line)) {
    if (line.rfind("@cs ", 0) != 0) continue;
    nlohmann::json event = nlohmann::json::parse(line.substr(4), nullptr, /*allow_exceptions=*/false);
    if (event.is_object()) events.push_back(event);
  }
  return events;
}

int CountEvents(const std::vector<nlohmann::json>& events, const std::string& kind) {
  int count = 0;
  for (const nlohmann::json& event : events) count += event.value("event", "") == kind;
  return count;
}

// Joules the trial metered itself, as it wrote them to energy.log.
double EnergyLogJoules(const std::string& work_dir) {
  double joules = 0;
  std::ifstream file(work_dir + "/energy.log");
  std::string line;
  while (std::getline(file, line)) {
    nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_object()) joules += record.value("joules", 0.0);
  }
  return joules;
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

TEST_CASE("a user's command as Slurm jobs: metered on the node, ranked by its own metric") {
  testing::TempDir dir;
  const std::string space = dir.File("space.json");
  REQUIRE(WriteFileAtomic(space, R"({"name": "standin", "dimensions": [
      {"name": "learning_rate", "type": "log-uniform", "range": [0.0001, 0.01], "source": "a test"}],
      "fixed": {"epochs": {"value": 2, "source": "a test"}}})", 0600).ok());
  std::string output;
  int code = RunCarbonsweep({"run", "--launcher", "slurm", "--parallel", "2", "--trials", "3", "--name", "command",
                             "--db", dir.File("sweeps.db"), "--budget", "1kg", "--intensity", "400", "--json",
                             "--space", space, "--metric", "loss", "--mode", "min", "--command",
                             "/bin/sh " + testing::SourceDir() + "/tests/slurm/command_standin.sh {learning_rate}"},
                            &output);
  INFO(output);
  REQUIRE(code == 0);
  std::vector<TrialRecord> trials = StoredTrials(dir.File("sweeps.db"), "command");
  REQUIRE(trials.size() == 3);
  std::optional<double> lowest;
  for (const TrialRecord& trial : trials) {
    CHECK(trial.state == TrialState::kFinished);
    CHECK(trial.job_id.rfind("pid:", 0) != 0);  // a Slurm job, not a local child.
    REQUIRE(trial.metric.has_value());
    if (!lowest || *trial.metric < *lowest) lowest = trial.metric;
    // Metered by `carbonsweep job` on the node, through energy.log.
    CHECK(trial.energy.joules > 0);
    CHECK(EnergyLogJoules(trial.work_dir) > 0);
    // Its events went to events.log; what it printed for humans to the job's output.
    std::vector<nlohmann::json> events = WorkDirEvents(trial.work_dir);
    CHECK(CountEvents(events, "epoch") == 2);
    CHECK(CountEvents(events, "end") == 1);
    CHECK(ReadFile(trial.work_dir + "/events.log")->find("training with") == std::string::npos);
  }
  SweepSummary summary = testing::StoredSummary(dir.File("sweeps.db"), "command");
  CHECK(summary.best_metric == lowest);
  CHECK(summary.sweep.objective.metric == "loss");
}

TEST_CASE("a job cancelled with scancel mid-trial is recorded and requeued; the trial resumes from its checkpoint") {
  testing::TempDir dir;
  std::vector<std::string> run_args = SlurmSweepFlags(dir, "cancelled", 1);
  // Five times the examples: an epoch lasts long enough to cancel the job inside the second one.
  SetFlag(run_args, "--train-size", "480");
  pid_t pid = testing::StartCarbonsweep(run_args, dir.File("run.log"));
  // Cancel it once its first epoch is checkpointed (the epoch line follows the checkpoint).
  std::vector<TrialRecord> trials = WaitForTrials(dir.File("sweeps.db"), "cancelled", [](const auto& trials) {
    if (trials.size() != 1 || trials[0].job_id.empty() || trials[0].work_dir.empty()) return false;
    std::vector<nlohmann::json> events = WorkDirEvents(trials[0].work_dir);
    return CountEvents(events, "epoch") >= 1;
  });
  REQUIRE(trials.size() == 1);
  const std::string cancelled_job = trials[0].job_id;
  REQUIRE_FALSE(cancelled_job.empty());
  std::string output;
  REQUIRE(testing::RunShell("scancel " + cancelled_job, &output) == 0);

  int code = testing::WaitForChild(pid);
  testing::RunShell("cat '" + dir.File("run.log") + "'", &output);
  INFO(output);
  REQUIRE(code == 0);
  CHECK(output.find("\"event\":\"trial_requeue\"") != std::string::npos);
  CHECK(output.find("\"previous_job_id\":\"" + cancelled_job + "\"") != std::string::npos);
  trials = StoredTrials(dir.File("sweeps.db"), "cancelled");
  REQUIRE(trials.size() == 1);
  CHECK(trials[0].state == TrialState::kFinished);
  CHECK(trials[0].job_id != cancelled_job);  // the store names the job that finished it.
  // The cancelled attempt stopped as interrupted; the second started from its checkpoint.
  std::vector<nlohmann::json> events = WorkDirEvents(trials[0].work_dir);
  REQUIRE(CountEvents(events, "start") == 2);
  std::vector<nlohmann::json> starts;
  for (const nlohmann::json& event : events) {
    if (event.value("event", "") == "start") starts.push_back(event);
  }
  CHECK(starts[1].value("resumed_from_epoch", 0) >= 1);
  CHECK(trials[0].energy.joules > 0);
}

TEST_CASE("the orchestrator killed mid-sweep: resume follows the queued, running, ended and unrecorded jobs, submits none again") {
  testing::TempDir dir;
  std::vector<std::string> run_args = SlurmSweepFlags(dir, "killed", 2);
  pid_t pid = testing::StartCarbonsweep(run_args, dir.File("run.log"));
  // Kill the orchestrator once both trials are submitted (their job ids are
  // in the store) and one runs. The second starts after the first's first
  // epoch (the cost model's calibration), so the first is still training.
  std::vector<TrialRecord> trials = WaitForTrials(dir.File("sweeps.db"), "killed", [](const auto& trials) {
    int submitted = 0;
    bool one_runs = false;
    for (const TrialRecord& trial : trials) {
      submitted += !trial.job_id.empty();
      one_runs = one_runs || (trial.state == TrialState::kRunning && !trial.job_id.empty());
    }
    return submitted == 2 && one_runs;
  });
  ::kill(pid, SIGKILL);
  CHECK(testing::WaitForChild(pid) == 128 + SIGKILL);
  REQUIRE(trials.size() == 2);
  std::set<std::string> job_ids;
  for (const TrialRecord& trial : trials) job_ids.insert(trial.job_id);
  REQUIRE(job_ids.size() == 2);
  // The jobs outlive their orchestrator.
  CHECK(!QueuedJobIds(job_ids).empty());
  // Let the first job end while no orchestrator watches: what it wrote
  // meanwhile (its last epoch, its end, its energy) is in its work dir only.
  for (int i = 0; i < 600 && QueuedJobIds({trials[0].job_id}).size() == 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling squeue, not timing.
  }
  // And make the second one a job the store never heard of, as when the
  // orchestrator dies while sbatch runs: its row goes back to how it was
  // before the launch, and its slurm-job.json (written once sbatch answers) is
  // gone. Only Slurm knows the job, by its name and script (squeue %o).
  REQUIRE(std::remove((trials[1].work_dir + "/slurm-job.json").c_str()) == 0);
  const std::string forget_launch = "UPDATE trials SET state = 0, job_id = '', work_dir = '', attempts = attempts - 1 "
                                    "WHERE id = " + std::to_string(trials[1].id);
  REQUIRE(std::system(("sqlite3 " + dir.File("sweeps.db") + " \"" + forget_launch + "\"").c_str()) == 0);

  std::string output;
  int code = RunCarbonsweep({"resume", "killed", "--db", dir.File("sweeps.db"), "--json"}, &output);
  INFO(output);
  REQUIRE(code == 0);
  CHECK(output.find("{\"event\":\"trial_unrecorded_job\",\"job_id\":\"" + trials[1].job_id + "\"") !=
        std::string::npos);
  std::vector<TrialRecord> after = StoredTrials(dir.File("sweeps.db"), "killed");
  REQUIRE(after.size() == 2);
  for (const TrialRecord& trial : after) {
    CAPTURE(trial.index);
    CHECK(trial.state == TrialState::kFinished);
    CHECK(job_ids.count(trial.job_id) == 1);  // the same job: nothing was submitted again.
    CHECK(output.find("{\"event\":\"trial_adopt\",\"job_id\":\"" + trial.job_id + "\"") != std::string::npos);
    CHECK(trial.attempts == 1);
    // Every joule it metered, once: energy.log read again from its start, the records already stored skipped.
    CHECK(trial.energy.joules == doctest::Approx(EnergyLogJoules(trial.work_dir)).epsilon(1e-6));
  }
}

TEST_CASE("a tiny budget cancels the sweep's jobs: none is left in the queue, the overshoot bounded") {
  testing::TempDir dir;
  std::string output;
  // 1 mg: about a third of one trial's spend, so the budget runs out while the first job runs.
  int code = RunCarbonsweep(SlurmSweepFlags(dir, "tiny", 4, "1mg"), &output);
  INFO(output);
  CHECK(code == 3);
  CHECK(output.find("\"event\":\"budget_reached\"") != std::string::npos);
  SweepSummary summary = testing::StoredSummary(dir.File("sweeps.db"), "tiny");
  CHECK(summary.sweep.state == SweepState::kBudgetSpent);
  std::vector<TrialRecord> trials = StoredTrials(dir.File("sweeps.db"), "tiny");
  std::set<std::string> job_ids;
  for (const TrialRecord& trial : trials) {
    if (trial.job_id.empty()) continue;
    job_ids.insert(trial.job_id);
    CHECK(trial.state == TrialState::kStoppedBudget);  // it was running: cancelled, not finished.
  }
  CHECK_FALSE(job_ids.empty());
  CHECK(QueuedJobIds(job_ids).empty());
  // On Slurm the orchestrator sees a node's energy one worker meter interval
  // late (energy.log), and a cancelled job ends after Slurm delivers the signal
  // and the trial ends its step (docs/cluster.md): the bound is the node's full
  // power for the local bound's 0.2 s interval, the worker's 0.2 s interval and
  // 0.5 s of cancelling. Measured in CI: 0.80 mg over a 1 mg budget.
  nlohmann::json power = nlohmann::json::parse(summary.sweep.power_json);
  double machine_watts = power["components"]["cpu"].value("machine_watts", 100.0) + 20;
  double overshoot_grams = machine_watts * (0.2 + 0.2 + 0.5) * 400 / 3.6e6;
  CHECK(summary.spend.total.grams_co2e <= 0.001 + overshoot_grams);
}

}  // namespace cs
