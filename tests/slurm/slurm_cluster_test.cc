// SlurmLauncher against a REAL one-node Slurm (started by scripts/slurm-up.sh
// as the CTest fixture `slurm_cluster`; SLURM_CONF points at it). The trial
// is tests/slurm/trial_standin.sh, which speaks the trial protocol through
// its work dir as `carbonsweep trial` does on a compute node. Two CPUs: two
// trials run at once.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>

#include <unistd.h>

#include "orchestrator/slurm_launcher.h"
#include "tests/testing/temp_dir.h"

namespace cs {

namespace {

SlurmLauncherOptions StandInOptions() {
  SlurmLauncherOptions options;
  options.binary = "/bin/sh";
  options.leading_args = {testing::SourceDir() + "/tests/slurm/trial_standin.sh"};
  options.poll_interval_seconds = 0.5;
  options.stop_grace_seconds = 10;
  // Unique per run: finished jobs of earlier runs stay visible for MinJobAge.
  options.job_name_prefix = "cs-test-" + std::to_string(::getpid());
  return options;
}

LaunchRequest StandInRequest(const testing::TempDir& dir, int64_t trial_id, std::vector<std::string> flags) {
  LaunchRequest request;
  request.trial_id = trial_id;
  request.work_dir = dir.File("trial-" + std::to_string(trial_id));
  request.args = {"--work-dir", request.work_dir};
  request.args.insert(request.args.end(), flags.begin(), flags.end());
  request.threads = 1;
  return request;
}

// Waits (at most `limit_seconds`) until `done` holds for the events so far.
template <typename Done>
std::vector<LauncherEvent> WaitUntil(TrialLauncher& launcher, std::vector<LauncherEvent> events, Done done,
                                     double limit_seconds = 60) {
  for (double waited = 0; !done(events) && waited < limit_seconds; waited += 0.25) launcher.Wait(0.25, &events);
  return events;
}

std::vector<LauncherEvent> WaitForAll(TrialLauncher& launcher, std::vector<LauncherEvent> events = {}) {
  return WaitUntil(launcher, std::move(events), [&](const auto&) { return launcher.Running() == 0; });
}

// "exit", or the event's name ("start", "epoch", "energy", "requeue", ...).
std::string Name(const LauncherEvent& event) {
  return event.kind == LauncherEvent::Kind::kExit ? "exit" : event.event.value("event", "?");
}

// The trial's events in order; energy records (read from their own file) are counted apart.
std::vector<std::string> Kinds(const std::vector<LauncherEvent>& events, int64_t trial_id, int* energy_records) {
  std::vector<std::string> kinds;
  *energy_records = 0;
  for (const LauncherEvent& event : events) {
    if (event.trial_id != trial_id) continue;
    if (Name(event) == "energy") {
      ++*energy_records;
    } else {
      kinds.push_back(Name(event));
    }
  }
  return kinds;
}

int Count(const std::vector<LauncherEvent>& events, int64_t trial_id, const std::string& kind) {
  int count = 0;
  for (const LauncherEvent& event : events) count += event.trial_id == trial_id && Name(event) == kind;
  return count;
}

// The last event of that kind.
const LauncherEvent* Find(const std::vector<LauncherEvent>& events, int64_t trial_id, const std::string& kind) {
  const LauncherEvent* found = nullptr;
  for (const LauncherEvent& event : events) {
    if (event.trial_id == trial_id && Name(event) == kind) found = &event;
  }
  return found;
}

bool Has(const std::vector<LauncherEvent>& events, int64_t trial_id, const std::string& kind) {
  return Find(events, trial_id, kind) != nullptr;
}

// Jobs with this name Slurm knows of, in any state.
int JobsNamed(const std::string& name) {
  std::string output;
  testing::RunShell("squeue --noheader --states=all --name=" + name + " --format=%i", &output);
  return static_cast<int>(std::count(output.begin(), output.end(), '\n'));
}

struct ClusterCheck {
  ClusterCheck() {
    std::string output;
    int status = testing::RunShell("sinfo --noheader --format=%T", &output);
    REQUIRE_MESSAGE(status == 0, "no Slurm cluster answers (SLURM_CONF=" << (std::getenv("SLURM_CONF") ? std::getenv("SLURM_CONF") : "")
                                                                          << "): " << output);
  }
};

}  // namespace

TEST_CASE("two trials run at once as Slurm jobs; events, energy and exits arrive in order") {
  ClusterCheck cluster;
  testing::TempDir dir;
  SlurmLauncher launcher(StandInOptions(), MakeRealSlurmClient());
  for (int64_t id : {1, 2}) {
    auto started = launcher.Start(StandInRequest(dir, id, {"--epochs", "2", "--epoch-seconds", "1"}));
    REQUIRE_MESSAGE(started.ok(), started.status().message());
    CHECK(started->pid == 0);
    CHECK_FALSE(started->job_id.empty());
  }
  // Both run at the same time: each prints "start" before either ends.
  std::vector<LauncherEvent> events =
      WaitUntil(launcher, {}, [](const auto& events) { return Has(events, 1, "start") && Has(events, 2, "start"); });
  CHECK_FALSE(Has(events, 1, "end"));
  CHECK_FALSE(Has(events, 2, "end"));
  events = WaitForAll(launcher, events);
  for (int64_t id : {1, 2}) {
    CAPTURE(id);
    int energy_records = 0;
    CHECK(Kinds(events, id, &energy_records) == std::vector<std::string>{"start", "epoch", "epoch", "end", "exit"});
    CHECK(energy_records == 2);
    const LauncherEvent* exit = Find(events, id, "exit");
    REQUIRE(exit != nullptr);
    CHECK(exit->exit.how == TrialExit::How::kExited);
    CHECK(exit->exit.exit_code == 0);
  }
}

TEST_CASE("a job killed with scancel mid-trial is recorded and requeued; it resumes from its checkpoint") {
  ClusterCheck cluster;
  testing::TempDir dir;
  SlurmLauncher launcher(StandInOptions(), MakeRealSlurmClient());
  auto started = launcher.Start(StandInRequest(dir, 3, {"--epochs", "3", "--epoch-seconds", "1"}));
  REQUIRE(started.ok());
  std::vector<LauncherEvent> events = WaitUntil(launcher, {}, [](const auto& events) { return Has(events, 3, "epoch"); });
  REQUIRE(Has(events, 3, "epoch"));
  std::string output;
  REQUIRE(testing::RunShell("scancel " + started->job_id, &output) == 0);

  events = WaitForAll(launcher, events);
  const LauncherEvent* requeue = Find(events, 3, "requeue");
  REQUIRE(requeue != nullptr);
  CHECK(requeue->event["previous_job_id"] == started->job_id);
  CHECK(requeue->event["state"] == "CANCELLED");
  CHECK(requeue->event["job_id"] != started->job_id);
  CHECK(launcher.submitted_job_ids().size() == 2);
  // The second attempt started from the checkpoint and finished.
  CHECK(Count(events, 3, "start") == 2);
  CHECK(Find(events, 3, "start")->event["resumed_from_epoch"].get<int>() >= 1);
  CHECK(Find(events, 3, "end")->event["state"] == "finished");
  CHECK(Find(events, 3, "exit")->exit.exit_code == 0);
}

TEST_CASE("a restarted orchestrator adopts the running job instead of submitting it again") {
  ClusterCheck cluster;
  testing::TempDir dir;
  std::string job_id;
  LaunchRequest request = StandInRequest(dir, 4, {"--epochs", "3", "--epoch-seconds", "1"});
  {
    SlurmLauncher first(StandInOptions(), MakeRealSlurmClient());
    auto started = first.Start(request);
    REQUIRE(started.ok());
    job_id = started->job_id;
    std::vector<LauncherEvent> events = WaitUntil(first, {}, [](const auto& events) { return Has(events, 4, "epoch"); });
    REQUIRE(Has(events, 4, "epoch"));
  }  // the orchestrator is gone; the job runs on.

  SlurmLauncher second(StandInOptions(), MakeRealSlurmClient());
  auto adopted = second.Adopt(4, job_id, request.work_dir);
  REQUIRE(adopted.ok());
  std::vector<LauncherEvent> events = WaitForAll(second);
  CHECK(second.submitted_job_ids().empty());
  CHECK(JobsNamed(StandInOptions().job_name_prefix + "-trial-4") == 1);
  CHECK(Find(events, 4, "end")->event["state"] == "finished");
  CHECK(Find(events, 4, "exit")->exit.exit_code == 0);
  // Every epoch of the attempt arrives (the store ignores the ones it had).
  CHECK(Count(events, 4, "epoch") == 3);
}

TEST_CASE("stops: graceful lets the trial checkpoint and exit 4, kill cancels the job; neither is requeued") {
  ClusterCheck cluster;
  testing::TempDir dir;
  SlurmLauncher launcher(StandInOptions(), MakeRealSlurmClient());
  REQUIRE(launcher.Start(StandInRequest(dir, 5, {"--epochs", "30", "--epoch-seconds", "1"})).ok());
  REQUIRE(launcher.Start(StandInRequest(dir, 6, {"--epochs", "30", "--epoch-seconds", "1"})).ok());
  std::vector<LauncherEvent> events =
      WaitUntil(launcher, {}, [](const auto& events) { return Has(events, 5, "start") && Has(events, 6, "start"); });
  launcher.Stop(5, StopMode::kGraceful);
  launcher.Stop(6, StopMode::kKill);
  events = WaitForAll(launcher, events);

  const LauncherEvent* graceful = Find(events, 5, "exit");
  REQUIRE(graceful != nullptr);
  CHECK(Find(events, 5, "end")->event["state"] == "interrupted");
  CHECK(graceful->exit.how == TrialExit::How::kExited);
  CHECK(graceful->exit.exit_code == 4);

  const LauncherEvent* killed = Find(events, 6, "exit");
  REQUIRE(killed != nullptr);
  CHECK(killed->exit.stderr_tail.find("CANCELLED") != std::string::npos);
  CHECK_FALSE(Has(events, 5, "requeue"));
  CHECK_FALSE(Has(events, 6, "requeue"));
  CHECK(launcher.submitted_job_ids().size() == 2);
}

TEST_CASE("a trial that fails reports its exit code, its stderr and the Slurm state") {
  ClusterCheck cluster;
  testing::TempDir dir;
  SlurmLauncher launcher(StandInOptions(), MakeRealSlurmClient());
  REQUIRE(launcher.Start(StandInRequest(dir, 7, {"--epochs", "3", "--epoch-seconds", "0.2", "--fail-after-epoch", "1"}))
              .ok());
  std::vector<LauncherEvent> events = WaitForAll(launcher);
  const LauncherEvent* exit = Find(events, 7, "exit");
  REQUIRE(exit != nullptr);
  CHECK(exit->exit.how == TrialExit::How::kExited);
  CHECK(exit->exit.exit_code == 7);
  CHECK(exit->exit.stderr_tail.find("failing after epoch 1 as asked") != std::string::npos);
  CHECK(exit->exit.stderr_tail.find("FAILED") != std::string::npos);
}

}  // namespace cs
