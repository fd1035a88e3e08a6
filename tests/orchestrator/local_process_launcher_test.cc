// LocalProcessLauncher against real child processes: small shell scripts
// stand in for `carbonsweep trial`, so these tests need no libtorch.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <map>
#include <sstream>

#include "carbon/power_source.h"
#include "common/files.h"
#include "orchestrator/local_process_launcher.h"
#include "tests/testing/temp_dir.h"
#include "trials/exit_usage.h"

namespace cs {

namespace {

// A launcher that runs `sh -c SCRIPT` instead of `carbonsweep trial`.
LocalProcessLauncher ShellLauncher(double grace_seconds = 5) {
  LocalLauncherOptions options;
  options.binary = "/bin/sh";
  options.leading_args = {"-c"};
  options.leaves_exit_usage = false;
  options.stop_grace_seconds = grace_seconds;
  return LocalProcessLauncher(options);
}

LaunchRequest ShellRequest(int64_t trial_id, const std::string& script, const testing::TempDir& dir) {
  LaunchRequest request;
  request.trial_id = trial_id;
  request.args = {script};
  request.work_dir = dir.File("trial-" + std::to_string(trial_id));
  return request;
}

// Waits until every started trial has exited; returns all events in order.
std::vector<LauncherEvent> WaitForAll(TrialLauncher& launcher) {
  std::vector<LauncherEvent> events;
  for (int rounds = 0; launcher.Running() > 0 && rounds < 2000; ++rounds) launcher.Wait(0.05, &events);
  return events;
}

const LauncherEvent* FindExit(const std::vector<LauncherEvent>& events, int64_t trial_id) {
  for (const LauncherEvent& event : events) {
    if (event.kind == LauncherEvent::Kind::kExit && event.trial_id == trial_id) return &event;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("event lines are parsed, other output ignored, exit reported last") {
  testing::TempDir dir;
  LocalProcessLauncher launcher = ShellLauncher();
  auto started = launcher.Start(ShellRequest(
      7,
      "echo 'loading data'; echo '@cs {\"event\":\"epoch\",\"epoch\":1,\"val_accuracy\":0.5}';"
      "printf '@cs {\"event\":\"end\",\"state\":\"finished\"}'; exit 0",
      dir));
  REQUIRE(started.ok());
  CHECK(started->pid > 0);
  std::vector<LauncherEvent> events = WaitForAll(launcher);
  REQUIRE(events.size() == 3);
  CHECK(events[0].event["event"] == "epoch");
  CHECK(events[0].event["val_accuracy"] == 0.5);
  CHECK(events[1].event["state"] == "finished");  // a last line without newline still counts.
  CHECK(events[2].kind == LauncherEvent::Kind::kExit);
  CHECK(events[2].trial_id == 7);
  CHECK(events[2].exit.how == TrialExit::How::kExited);
  CHECK(events[2].exit.exit_code == 0);
}

TEST_CASE("a crash is reported with its signal and the tail of stderr") {
  testing::TempDir dir;
  LocalProcessLauncher launcher = ShellLauncher();
  REQUIRE(launcher.Start(ShellRequest(1, "echo 'CUDA out of memory' >&2; kill -SEGV $$", dir)).ok());
  REQUIRE(launcher.Start(ShellRequest(2, "echo 'bad flag' >&2; exit 2", dir)).ok());
  std::vector<LauncherEvent> events = WaitForAll(launcher);
  const LauncherEvent* crash = FindExit(events, 1);
  REQUIRE(crash != nullptr);
  CHECK(crash->exit.how == TrialExit::How::kSignaled);
  CHECK(crash->exit.signal == SIGSEGV);
  CHECK(crash->exit.Describe() == "killed by SIGSEGV");
  CHECK(crash->exit.stderr_tail.find("CUDA out of memory") != std::string::npos);
  const LauncherEvent* failed = FindExit(events, 2);
  REQUIRE(failed != nullptr);
  CHECK(failed->exit.exit_code == 2);
  CHECK(failed->exit.stderr_tail == "bad flag\n");
}

TEST_CASE("the stderr tail keeps only the end") {
  testing::TempDir dir;
  LocalLauncherOptions options;
  options.binary = "/bin/sh";
  options.leading_args = {"-c"};
  options.leaves_exit_usage = false;
  options.stderr_tail_bytes = 16;
  LocalProcessLauncher launcher(options);
  REQUIRE(launcher.Start(ShellRequest(1, "i=0; while [ $i -lt 500 ]; do echo line$i >&2; i=$((i+1)); done; exit 3", dir)).ok());
  std::vector<LauncherEvent> events = WaitForAll(launcher);
  REQUIRE(FindExit(events, 1) != nullptr);
  CHECK(FindExit(events, 1)->exit.stderr_tail == "line498\nline499\n");
}

TEST_CASE("a graceful stop sends SIGTERM; a trial that ignores it is killed after the grace period") {
  testing::TempDir dir;
  LocalProcessLauncher launcher = ShellLauncher(/*grace_seconds=*/0.3);
  // The first prints an end event on SIGTERM, as `carbonsweep trial` does.
  REQUIRE(launcher.Start(ShellRequest(
      1, "trap 'echo \"@cs {\\\"event\\\":\\\"end\\\",\\\"state\\\":\\\"interrupted\\\"}\"; exit 4' TERM;"
         "echo '@cs {\"event\":\"start\"}'; while true; do sleep 0.01; done", dir)).ok());
  REQUIRE(launcher.Start(ShellRequest(2, "trap '' TERM; echo '@cs {\"event\":\"start\"}'; while true; do sleep 0.01; done", dir)).ok());
  std::vector<LauncherEvent> events;
  while (events.size() < 2) launcher.Wait(1.0, &events);  // both have set their traps.
  launcher.Stop(1, StopMode::kGraceful);
  launcher.Stop(2, StopMode::kGraceful);
  std::vector<LauncherEvent> rest = WaitForAll(launcher);
  const LauncherEvent* polite = FindExit(rest, 1);
  REQUIRE(polite != nullptr);
  CHECK(polite->exit.exit_code == 4);
  bool saw_end = false;
  for (const LauncherEvent& event : rest) saw_end |= event.kind == LauncherEvent::Kind::kEvent && event.trial_id == 1 &&
                                            event.event.value("state", "") == "interrupted";
  CHECK(saw_end);
  const LauncherEvent* stubborn = FindExit(rest, 2);
  REQUIRE(stubborn != nullptr);
  CHECK(stubborn->exit.how == TrialExit::How::kSignaled);
  CHECK(stubborn->exit.signal == SIGKILL);
}

TEST_CASE("a kill stops a trial at once and its CPU time is reported") {
  testing::TempDir dir;
  LocalProcessLauncher launcher = ShellLauncher();
  REQUIRE(launcher.Start(ShellRequest(1, "echo '@cs {\"event\":\"start\"}'; while true; do :; done", dir)).ok());
  std::vector<LauncherEvent> events;
  while (events.empty()) launcher.Wait(1.0, &events);
  launcher.Wait(0.2, &events);  // let it burn some CPU.
  launcher.Stop(1, StopMode::kKill);
  std::vector<LauncherEvent> rest = WaitForAll(launcher);
  REQUIRE(FindExit(rest, 1) != nullptr);
  CHECK(FindExit(rest, 1)->exit.signal == SIGKILL);
  CHECK(FindExit(rest, 1)->exit.cpu_seconds > 0);  // wait4 rusage of a busy loop.
}

TEST_CASE("a trial's work dir is made 0700 whatever the umask; one others may write to is refused") {
  testing::TempDir dir;
  LocalProcessLauncher launcher = ShellLauncher();
  const mode_t old_umask = ::umask(0);
  LaunchRequest request = ShellRequest(1, "exit 0", dir);
  request.work_dir = dir.File("work/trial-1");
  auto started = launcher.Start(request);
  ::umask(old_umask);
  REQUIRE(started.ok());
  WaitForAll(launcher);
  struct stat info;
  REQUIRE(::stat(request.work_dir.c_str(), &info) == 0);
  CHECK((info.st_mode & 07777) == 0700);
  REQUIRE(::stat(dir.File("work").c_str(), &info) == 0);
  CHECK((info.st_mode & 07777) == 0700);

  // A planted dir anyone may write to: nothing is started in it.
  LaunchRequest planted = ShellRequest(2, "touch ran", dir);
  REQUIRE(::mkdir(planted.work_dir.c_str(), 0700) == 0);
  REQUIRE(::chmod(planted.work_dir.c_str(), 0777) == 0);
  auto refused = launcher.Start(planted);
  CHECK(refused.status().code() == Status::Code::kInvalidArgument);
  CHECK(refused.status().message().find(planted.work_dir) != std::string::npos);
  CHECK(launcher.Running() == 0);
}

TEST_CASE("stderr is also kept in the trial's work dir") {
  testing::TempDir dir;
  LocalProcessLauncher launcher = ShellLauncher();
  REQUIRE(launcher.Start(ShellRequest(3, "echo warning >&2", dir)).ok());
  WaitForAll(launcher);
  std::string log;
  CHECK(testing::RunShell("cat " + dir.File("trial-3/stderr.log"), &log) == 0);
  CHECK(log == "warning\n");
  struct stat info;
  REQUIRE(::stat(dir.File("trial-3/stderr.log").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);  // the trial's words are this user's alone.
}

namespace {

// A child of a trial: burns CPU until its own process_time() reaches
// argv[2] seconds, then writes "<pid> <process_time>" to argv[1]; with a
// third argument it then stays alive, idle, as a leftover worker would.
constexpr char kBurnScript[] = R"(import os, sys, time
limit = float(sys.argv[2])
while time.process_time() < limit:
    pass
with open(sys.argv[1] + ".tmp", "w") as out:
    out.write("%d %r" % (os.getpid(), time.process_time()))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
if len(sys.argv) > 3:
    time.sleep(60)
)";

// The shell command that runs kBurnScript (written to `dir`); "" when there
// is no python3, and the test says it is skipped.
std::string BurnCommand(const testing::TempDir& dir) {
  if (::access("/usr/bin/python3", X_OK) != 0) {
    MESSAGE("skipped: no /usr/bin/python3 to burn CPU with");
    return "";
  }
  return "/usr/bin/python3 " + dir.Write("burn.py", kBurnScript);
}

struct BurnReport {
  pid_t pid = 0;
  double cpu_seconds = 0;
};

BurnReport ReadBurnReport(const std::string& path) {
  BurnReport report;
  auto text = ReadFile(path);
  REQUIRE_MESSAGE(text.ok(), path);
  std::istringstream fields(*text);
  fields >> report.pid >> report.cpu_seconds;
  return report;
}

// Alive = in /proc and not a zombie (where no init reaps, a killed orphan stays one).
bool Alive(pid_t pid) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return false;
  size_t close = stat->rfind(')');
  return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] != 'Z';
}

}  // namespace

TEST_CASE("a trial is billed for its whole process tree while it runs; a concurrent trial is not") {
  testing::TempDir dir;
  std::string burn = BurnCommand(dir);
  if (burn.empty()) return;
  LocalProcessLauncher launcher = ShellLauncher();
  // A wrapping shell starts three workers of 1 s CPU each; once all have
  // burnt theirs they idle, unreaped, for a second, then the shell ends them.
  std::vector<std::string> reports;
  std::string script, all_reported = "true", pids;
  for (int n = 1; n <= 3; ++n) {
    reports.push_back(dir.File("worker" + std::to_string(n)));
    script += burn + " " + reports.back() + " 1.0 stay & p" + std::to_string(n) + "=$!; ";
    all_reported += " && [ -e " + reports.back() + " ]";
    pids += " $p" + std::to_string(n);
  }
  script += "until " + all_reported + "; do sleep 0.1; done; sleep 1; kill" + pids + "; wait";
  auto busy = launcher.Start(ShellRequest(1, script, dir));
  REQUIRE(busy.ok());
  auto sleepy = launcher.Start(ShellRequest(2, "exec sleep 60", dir));  // killed once the first is done.
  REQUIRE(sleepy.ok());

  // Read as the sampler does, once the workers have reported and while they
  // are still alive: a reading of the leader alone would be ~0 here.
  auto reader = MakeProcCpuTimeReader("/proc");
  std::map<pid_t, Result<double>> while_running;
  std::vector<LauncherEvent> events;
  for (int rounds = 0; launcher.Running() > 0 && rounds < 2000; ++rounds) {
    launcher.Wait(0.05, &events);
    bool reported = std::all_of(reports.begin(), reports.end(), [](const std::string& path) { return ::access(path.c_str(), F_OK) == 0; });
    if (reported && while_running.empty()) while_running = reader->ProcessGroupCpuSeconds({busy->pid, sleepy->pid});
    if (FindExit(events, 1) != nullptr) launcher.Stop(2, StopMode::kKill);
  }
  double workers_cpu = 0;
  for (const std::string& report : reports) workers_cpu += ReadBurnReport(report).cpu_seconds;
  REQUIRE(FindExit(events, 1) != nullptr);
  REQUIRE(FindExit(events, 2) != nullptr);
  REQUIRE(while_running.size() == 2);
  REQUIRE(while_running.at(busy->pid).ok());
  REQUIRE_MESSAGE(while_running.at(sleepy->pid).ok(), while_running.at(sleepy->pid).status().message());
  MESSAGE("3 workers used " << workers_cpu << " s; read while running " << *while_running.at(busy->pid)
          << " s, at exit " << FindExit(events, 1)->exit.cpu_seconds << " s; the sleeping trial "
          << *while_running.at(sleepy->pid) << " s");
  CHECK(*while_running.at(busy->pid) == doctest::Approx(workers_cpu).epsilon(0.05));
  CHECK(FindExit(events, 1)->exit.cpu_seconds == doctest::Approx(workers_cpu).epsilon(0.05));
  CHECK(*while_running.at(sleepy->pid) < 0.05);
  CHECK(FindExit(events, 2)->exit.cpu_seconds < 0.05);
}

TEST_CASE("workers a trial leaves running are ended with it, and their CPU time is billed") {
  testing::TempDir dir;
  std::string burn = BurnCommand(dir);
  if (burn.empty()) return;
  LocalProcessLauncher launcher = ShellLauncher();
  // Two workers burn 0.6 s each and stay; the shell exits once both have.
  std::string left1 = dir.File("left1"), left2 = dir.File("left2");
  auto started = launcher.Start(ShellRequest(
      1, burn + " " + left1 + " 0.6 stay & " + burn + " " + left2 +
             " 0.6 stay & while [ ! -e " + left1 + " ] || [ ! -e " + left2 + " ]; do sleep 0.1; done; exit 0",
      dir));
  REQUIRE(started.ok());
  std::vector<LauncherEvent> events = WaitForAll(launcher);
  REQUIRE(FindExit(events, 1) != nullptr);
  BurnReport first = ReadBurnReport(left1), second = ReadBurnReport(left2);
  double workers_cpu = first.cpu_seconds + second.cpu_seconds;
  MESSAGE("2 leftover workers used " << workers_cpu << " s; at exit " << FindExit(events, 1)->exit.cpu_seconds << " s");
  CHECK(FindExit(events, 1)->exit.cpu_seconds == doctest::Approx(workers_cpu).epsilon(0.05));
  for (int waited = 0; (Alive(first.pid) || Alive(second.pid)) && waited < 200; ++waited) ::usleep(10000);
  CHECK(!Alive(first.pid));
  CHECK(!Alive(second.pid));
}

}  // namespace cs

namespace cs {

TEST_CASE("a trial gets its launcher's pid, and the launcher's entries replace inherited ones of the same name") {
  testing::TempDir dir;
  ::setenv("CARBONSWEEP_TEST_SETTING", "inherited", 1);
  ::setenv(kOrchestratorPidVariable, "1", 1);  // as if this process were itself a trial.
  LocalLauncherOptions options;
  options.binary = "/bin/sh";
  options.leading_args = {"-c"};
  options.environment = {"CARBONSWEEP_TEST_SETTING=ours"};
  LocalProcessLauncher launcher(options);
  auto started = launcher.Start(ShellRequest(
      1, "printf '@cs {\"event\":\"env\",\"setting\":\"%s\",\"orchestrator\":\"%s\"}\\n' \"$CARBONSWEEP_TEST_SETTING\" "
         "\"$" + std::string(kOrchestratorPidVariable) + "\"",
      dir));
  REQUIRE(started.ok());
  std::vector<LauncherEvent> events = WaitForAll(launcher);
  ::unsetenv("CARBONSWEEP_TEST_SETTING");
  ::unsetenv(kOrchestratorPidVariable);
  REQUIRE(events.size() == 2);
  CHECK(events[0].event["setting"] == "ours");
  CHECK(events[0].event["orchestrator"] == std::to_string(::getpid()));
}

}  // namespace cs
