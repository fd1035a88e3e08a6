// RunCommandJob (what `carbonsweep job` runs on a Slurm node for a user's
// command) on real child processes: event lines copied to events.log, the
// process tree metered into energy.log, the command's exit code kept,
// leftovers of its group ended. Signals passed on are tested end to end
// (tests/e2e/command_test.cc), where a separate process can receive them.
#include <doctest/doctest.h>

#include <signal.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "orchestrator/command_job.h"
#include "tests/testing/temp_dir.h"

namespace cs {

namespace {

CommandJobOptions ShellJob(const testing::TempDir& dir, const std::string& script) {
  CommandJobOptions job;
  job.work_dir = dir.path();
  job.argv = {"/bin/sh", "-c", script};
  job.sample_interval_seconds = 0.2;
  job.grace_seconds = 0.5;
  return job;
}

std::string FileText(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  return text.ok() ? *text : "";
}

// The joules energy.log holds for `component`.
double LoggedJoules(const std::string& work_dir, const std::string& component) {
  std::istringstream lines(FileText(work_dir + "/energy.log"));
  double joules = 0;
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_object() && record.value("component", "") == component) joules += record.value("joules", 0.0);
  }
  return joules;
}

}  // namespace

TEST_CASE("a command's event lines reach events.log alone; its exit code is the job's") {
  testing::TempDir dir;
  Result<int> code = RunCommandJob(ShellJob(dir, R"(
      echo "loading data"
      echo '@cs {"event":"epoch","epoch":1,"loss":0.5}'
      printf '@cs {"event":"epoch","epoch":2,'        # a line in two writes is still one line.
      sleep 0.1
      echo '"loss":0.25}'
      echo 'not @cs at the start'
      printf '@cs {"event":"end"'                      # torn: no newline, never copied.
      exit 3)"));
  REQUIRE(code.ok());
  CHECK(*code == 3);
  CHECK(FileText(dir.File("events.log")) ==
        "@cs {\"event\":\"epoch\",\"epoch\":1,\"loss\":0.5}\n@cs {\"event\":\"epoch\",\"epoch\":2,\"loss\":0.25}\n");
}

TEST_CASE("every process of the command's tree is metered, also children that exit before it") {
  testing::TempDir dir;
  // Three workers busy for a while each, as a DataLoader's would be.
  Result<int> code = RunCommandJob(ShellJob(dir, R"(
      burn() { i=0; while [ $i -lt 200000 ]; do i=$((i + 1)); done; }
      burn & burn & burn &
      wait)"));
  REQUIRE(code.ok());
  CHECK(*code == 0);
  CHECK(LoggedJoules(dir.path(), "cpu") > 0);
  CHECK(LoggedJoules(dir.path(), "ram") > 0);
}

TEST_CASE("what the command leaves running is ended with it") {
  testing::TempDir dir;
  const std::string pid_file = dir.File("leftover.pid");
  Result<int> code = RunCommandJob(ShellJob(dir, "sleep 300 & echo $! > '" + pid_file + "'; exit 0"));
  REQUIRE(code.ok());
  CHECK(*code == 0);
  const int leftover = std::stoi(FileText(pid_file));
  // Gone, or at most a zombie waiting for init: never running on.
  std::string state = FileText("/proc/" + std::to_string(leftover) + "/stat");
  const size_t close = state.rfind(')');
  CHECK((state.empty() || (close != std::string::npos && state.substr(close + 2, 1) == "Z")));
}

TEST_CASE("a command that cannot be executed ends 127, as in a shell; a missing work dir is an error") {
  testing::TempDir dir;
  CommandJobOptions job = ShellJob(dir, "");
  job.argv = {dir.File("no-such-program")};
  Result<int> code = RunCommandJob(job);
  REQUIRE(code.ok());
  CHECK(*code == 127);

  job.work_dir = dir.File("missing");
  Result<int> refused = RunCommandJob(job);
  CHECK(refused.status().code() == Status::Code::kInvalidArgument);
  CHECK(refused.status().message().find("missing: not a directory") != std::string::npos);
}

TEST_CASE("a command killed by a signal ends the job with 128 + that signal") {
  testing::TempDir dir;
  Result<int> code = RunCommandJob(ShellJob(dir, "kill -KILL $$"));
  REQUIRE(code.ok());
  CHECK(*code == 128 + SIGKILL);
}

}  // namespace cs
