// `carbonsweep run/resume/status/list` end to end: bad input, a live lease,
// Ctrl-C and resume, failing trials, a tiny budget — with real trials on the
// small fortunes task.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "tests/e2e/e2e_helpers.h"
#include "tests/testing/temp_dir.h"

namespace cs {

using namespace cs::testing;

namespace {

// Polls `status NAME --json` until `predicate` holds (or 60 s pass).
nlohmann::json WaitForStatus(const std::string& db, const std::string& name,
                             const std::function<bool(const nlohmann::json&)>& predicate) {
  nlohmann::json status;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string output;
    if (RunCarbonsweep({"status", name, "--db", db, "--json"}, &output) == 0) {
      status = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
      if (!status.is_discarded() && predicate(status)) return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL("status of " << name << " never reached the expected state: " << status.dump());
  return status;
}

}  // namespace

TEST_CASE("a budget is required, positive and has a known unit; nothing is written otherwise") {
  TempDir dir;
  std::string db = dir.File("sweeps.db");
  struct Case {
    std::vector<std::string> budget;
    const char* message;
  } cases[] = {
      {{}, "--budget is required"},
      {{"--budget", "0g"}, "greater than zero"},
      {{"--budget", "-1kg"}, "greater than zero"},
      {{"--budget", "5"}, "has no unit"},
      {{"--budget", "5lb"}, "unknown unit 'lb'"},
  };
  for (const Case& c : cases) {
    std::string output;
    int code = RunCarbonsweep(Concat({"run", "--name", "x", "--db", db}, c.budget), &output);
    CHECK_MESSAGE(code == 2, output);
    CHECK_MESSAGE(output.find(c.message) != std::string::npos, output);
    CHECK(output.find('\n') == output.size() - 1);  // one line.
  }
  CHECK(!FileExists(db));
  std::string output;
  CHECK(RunCarbonsweep({"resume", "nope", "--db", db}, &output) == 2);
  CHECK(RunCarbonsweep({"status", "--db", db}, &output) == 2);
}

TEST_CASE("a work root others may write to is refused before the sweep exists; a --db FIFO is refused at once") {
  TempDir dir;
  std::string db = dir.File("sweeps.db");
  std::string shared = dir.File("shared");
  REQUIRE(::mkdir(shared.c_str(), 0700) == 0);
  REQUIRE(::chmod(shared.c_str(), 0777) == 0);
  std::string output;
  int code = RunCarbonsweep(Concat({"run", "--name", "x", "--db", db, "--budget", "1kg", "--work-root", shared},
                                   SmallSweepFlags(dir.path())),
                            &output);
  CHECK_MESSAGE(code == 2, output);
  CHECK_MESSAGE(output.find(shared + ": work dir is writable by group or others") != std::string::npos, output);
  CHECK(!SweepExists(db, "x"));  // no sweep, no trial, no gram spent.

  std::string fifo = dir.File("store.fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(RunCarbonsweep({"status", "--db", fifo}, &output) == 2);  // it used to wait for a writer for ever.
  CHECK_MESSAGE(output.find(fifo + ": is a FIFO") != std::string::npos, output);
}

TEST_CASE("bad numbers, names and files on the command line: exit 2, one line naming the flag, nothing created") {
  TempDir dir;
  std::string db = dir.File("sweeps.db");
  std::string escaped_csv = dir.Write("esc.csv", "time,g\n2024-01-01T00:00:00Z,\x1b[2J\x1b[31mred\n");
  std::string huge_csv = dir.Write("huge.csv", "time,g\n2024-01-01T00:00:00." + std::string(50000, '1') + ",5\n");
  std::string zero_budget_config = dir.Write("bom.ini", "\xef\xbb\xbf" "budget = 5\n");
  // Found by the config fuzzer: Boost's message formatting looped for ever on it.
  std::string placeholder_config = dir.Write("loop.ini", "a%original_token%=1\n");
  struct Case {
    std::vector<std::string> flags;
    const char* message;
  } cases[] = {
      {{"--intensity", "nan"}, "--intensity nan: not a finite number"},
      {{"--intensity", "-5"}, "--intensity -5: must be in [0, 2000]"},
      {{"--cpu-watts", "nan"}, "--cpu-watts nan: not a finite number"},
      {{"--cpu-watts", "1e308"}, "--cpu-watts 1e+308: must be in (0, 5000]"},
      {{"--max-intensity", "nan", "--max-delay", "1h"}, "--max-intensity nan: not a finite number"},
      {{"--pue", "7"}, "--pue 7: must be in [1, 5]"},
      {{"--seed", "-1"}, "--seed -1: must be 0 or more"},
      {{"--reduction-factor", "1", "--strategy", "halving"}, "--reduction-factor 1: must be in [2, 100]"},
      {{"--parallel", "100000"}, "--parallel 100000: this process may run on"},
      {{"--name", ".."}, "--name '..': not a name of its own"},
      {{"--name", std::string(150, 'n')}, "--name: 150 bytes, more than the 100 allowed"},
      {{"--name", "bad-\xff"}, "not valid UTF-8"},
      {{"--config", "/dev/zero"}, "--config: /dev/zero: not a regular file"},
      {{"--config", placeholder_config}, "loop.ini: a %name% sequence is not allowed in a config file"},
      {{"--name", "%original_token%"}, "a %name% sequence is not allowed in flags"},
      {{"--intensity-file", huge_csv}, "huge.csv:2: line longer than 4096 bytes"},
      {{"--intensity-file", escaped_csv}, "esc.csv:2: '\\x1b[2J\\x1b[31mred' is not an intensity"},
  };
  for (const Case& c : cases) {
    std::string output;
    std::vector<std::string> run = {"run", "--db", db, "--budget", "1kg", "--trials", "1"};
    if (c.flags[0] != "--name") run = Concat(run, {"--name", "x"});
    int code = RunCarbonsweep(Concat(Concat(run, SmallSweepFlags(dir.path())), c.flags), &output);
    CHECK_MESSAGE(code == 2, c.flags[0] << ": " << output);
    CHECK_MESSAGE(output.find(c.message) != std::string::npos, output);
    CHECK(output.find('\n') == output.size() - 1);  // one line.
    CHECK(output.find('\x1b') == std::string::npos);  // user data reaches the terminal escaped.
  }
  std::string output;
  CHECK(RunCarbonsweep({"run", "--db", db, "--budget", "1kg", "--name", "x", "--intensity", "0"}, &output) == 2);
  CHECK_MESSAGE(output.find("the budget never ends the sweep; pass --trials N") != std::string::npos, output);
  CHECK(RunCarbonsweep({"run", "--db", db, "--budget", "1kg", "--name", "x", "--sample-interval", "inf"}, &output) == 2);
  CHECK_MESSAGE(output.find("--sample-interval inf: not a finite number") != std::string::npos, output);
  // A BOM before the first key is skipped: the key is read (and its unitless value refused).
  CHECK(RunCarbonsweep({"run", "--db", db, "--name", "x", "--config", zero_budget_config}, &output) == 2);
  CHECK_MESSAGE(output.find("has no unit") != std::string::npos, output);
  CHECK(!FileExists(db));
  CHECK(!FileExists(db + ".d"));
  // estimate reads the carbon flags the same way.
  const std::vector<std::string> tdp = {"estimate", "--trials", "3", "--tdp-watts", "300", "--hours-per-trial", "1"};
  CHECK(RunCarbonsweep(Concat(tdp, {"--intensity", "nan"}), &output) == 2);
  CHECK_MESSAGE(output.find("--intensity nan: not a finite number") != std::string::npos, output);
  CHECK(RunCarbonsweep(Concat(tdp, {"--pue", "7"}), &output) == 2);
  CHECK_MESSAGE(output.find("--pue 7: must be in [1, 5]") != std::string::npos, output);
  CHECK(RunCarbonsweep(Concat(tdp, {"--pue", "1.2", "--intensity", "100"}), &output) == 0);
}

TEST_CASE("a live sweep is refused to a second orchestrator; Ctrl-C interrupts it; resume finishes it") {
  TempDir dir;
  std::string db = dir.File("sweeps.db");
  std::vector<std::string> run = Concat({"run", "--name", "live", "--db", db, "--trials", "3", "--budget", "1kg"},
                                        SmallSweepFlags(dir.path()));
  // Trials of several seconds, so Ctrl-C almost surely lands mid-trial.
  for (size_t i = 0; i + 1 < run.size(); ++i) {
    if (run[i] == "--train-size") run[i + 1] = "960";
  }
  pid_t pid = StartCarbonsweep(run, dir.File("live.log"));
  nlohmann::json status = WaitForStatus(db, "live", [](const nlohmann::json& s) {
    return !s["lease"].is_null() && s["trials_by_state"].contains("running");
  });
  std::string owner = status["lease"]["owner"];
  CHECK(owner.find(":" + std::to_string(pid)) != std::string::npos);

  std::string output;
  CHECK(RunCarbonsweep({"resume", "live", "--db", db}, &output) == 5);
  CHECK_MESSAGE(output.find(owner) != std::string::npos, output);
  CHECK(RunCarbonsweep(run, &output) == 2);
  CHECK_MESSAGE(output.find("already exists") != std::string::npos, output);

  ::kill(pid, SIGINT);
  CHECK(WaitForChild(pid) == 4);
  SweepSummary interrupted = StoredSummary(db, "live");
  CHECK(interrupted.sweep.state == SweepState::kInterrupted);
  // The trial that was running stopped at a step boundary, resumable (or, if it
  // ended in the instant before Ctrl-C reached it, finished): never failed.
  CHECK(interrupted.trials_by_state[static_cast<int>(TrialState::kFailed)] == 0);
  CHECK(interrupted.trials_by_state[static_cast<int>(TrialState::kFinished)] < 3);
  WARN(interrupted.trials_by_state[static_cast<int>(TrialState::kInterrupted)] >= 1);
  std::map<int64_t, int> finished_before;  // index -> attempts: those must not run again.
  for (const TrialRecord& trial : StoredTrials(db, "live")) {
    if (trial.state == TrialState::kFinished) finished_before[trial.index] = trial.attempts;
  }

  int code = RunCarbonsweep({"resume", "live", "--db", db, "--quiet"}, &output);
  CHECK_MESSAGE(code == 0, output);
  std::vector<TrialRecord> trials = StoredTrials(db, "live");
  CHECK(trials.size() == 3);
  CHECK(FinishedResults(trials).size() == 3);
  for (const TrialRecord& trial : trials) {
    if (finished_before.count(trial.index)) CHECK(trial.attempts == finished_before[trial.index]);
    if (trial.state == TrialState::kFinished && !finished_before.count(trial.index) && trial.attempts > 1) {
      CHECK(trial.energy.joules > 0);  // the interrupted attempt's energy stayed in the ledger.
    }
  }

  CHECK(RunCarbonsweep({"list", "--db", db}, &output) == 0);
  CHECK(output.find("live") != std::string::npos);
  CHECK(RunCarbonsweep({"status", "live", "--db", db}, &output) == 0);
  CHECK_MESSAGE(output.find("finished 3") != std::string::npos, output);
}

TEST_CASE("input no trial can use is refused before the sweep is recorded: exit 2, one line, nothing spent") {
  TempDir dir;
  std::string db = dir.File("sweeps.db");
  // A user's CSV whose label column is named 'sentiment', one with a single
  // class, one with too few rows for the split.
  dir.Write("reviews.csv", "id,text,label\n1,great film,pos\n2,dull film,neg\n3,fine film,pos\n");
  std::string one_class = "text,label\n";
  for (int i = 0; i < 40; ++i) one_class += "review " + std::to_string(i) + ",pos\n";
  dir.Write("one-class.csv", one_class);
  std::string few = "text,label\n";
  for (int i = 0; i < 40; ++i) few += "review " + std::to_string(i) + "," + (i % 2 ? "pos" : "neg") + "\n";
  dir.Write("few.csv", few);
  std::vector<std::string> small = SmallSweepFlags(dir.path());
  struct Case {
    std::vector<std::string> flags;
    std::string message;
  } cases[] = {
      {{"--task", "no-such-task", "--space", "ci-tiny"}, "expected imdb, fortunes, or a .csv or .jsonl file"},
      {{"--task", dir.File("missing.csv"), "--space", "ci-tiny"}, "missing.csv: no such file"},
      {{"--task", dir.File("reviews.csv"), "--label-column", "sentiment", "--space", "ci-tiny"},
       "reviews.csv:1: no column 'sentiment' (columns: id, text, label)"},
      {{"--task", dir.File("one-class.csv"), "--space", "ci-tiny"}, "only one class"},
      {{"--task", dir.File("few.csv"), "--space", "ci-tiny", "--train-size", "30", "--val-size", "10",
        "--test-size", "10"}, "few.csv"},
      {Concat(small, {"--backbone", dir.File("no-backbone")}), "no-backbone"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.message);
    std::string output;
    int code = RunCarbonsweep(Concat({"run", "--name", "bad", "--db", db, "--budget", "1kg"}, c.flags), &output);
    CHECK_MESSAGE(code == 2, output);
    CHECK_MESSAGE(output.find(c.message) != std::string::npos, output);
    CHECK_MESSAGE(output.find("the sweep's trials cannot run") != std::string::npos, output);
    CHECK_MESSAGE(output.find('\n') == output.size() - 1, output);  // one line.
    CHECK(!SweepExists(db, "bad"));
  }
}

TEST_CASE("resume checks the trials' input again: a data file gone since the run is refused, nothing spent") {
  TempDir dir;
  std::string db = dir.File("sweeps.db");
  std::string csv;
  csv = "text,label\n";
  for (int i = 0; i < 200; ++i) csv += "review number " + std::to_string(i) + (i % 2 ? " good,pos\n" : " bad,neg\n");
  dir.Write("mine.csv", csv);
  std::vector<std::string> flags = SmallSweepFlags(dir.path());
  for (size_t i = 0; i + 1 < flags.size(); ++i) {
    if (flags[i] == "--task") flags[i + 1] = dir.File("mine.csv");
  }
  std::string output;
  // Interrupted at once by a budget too small for even one trial to finish.
  int code = RunCarbonsweep(Concat({"run", "--name", "mine", "--db", db, "--budget", "1mg", "--quiet"}, flags), &output);
  REQUIRE_MESSAGE((code == 3 || code == 0), output);
  SweepSummary before = StoredSummary(db, "mine");
  REQUIRE(::unlink(dir.File("mine.csv").c_str()) == 0);
  code = RunCarbonsweep({"resume", "mine", "--db", db, "--budget", "1kg"}, &output);
  CHECK_MESSAGE(code == 2, output);
  CHECK_MESSAGE(output.find("mine.csv: no such file") != std::string::npos, output);
  SweepSummary after = StoredSummary(db, "mine");
  CHECK(after.trial_count == before.trial_count);
  CHECK(after.spend.total.joules == before.spend.total.joules);
}

TEST_CASE("a tiny budget ends the sweep with exit 3 and the spend within one sampling interval of it") {
  TempDir dir;
  std::string db = dir.File("sweeps.db");
  std::string output;
  int code = RunCarbonsweep(Concat({"run", "--name", "tiny", "--db", db, "--budget", "4mg", "--json"}, SmallSweepFlags(dir.path())),
                            &output);
  CHECK_MESSAGE(code == 3, output);
  SweepSummary summary = StoredSummary(db, "tiny");
  CHECK(summary.sweep.state == SweepState::kBudgetSpent);
  // One 0.2 s interval of the whole machine at the model's full power is far above what 1 thread adds.
  nlohmann::json power = nlohmann::json::parse(summary.sweep.power_json);
  double machine_watts = power["components"]["cpu"].value("machine_watts", 100.0) + 20;
  double one_interval_grams = machine_watts * 0.2 * summary.sweep.intensity_g_per_kwh / 3.6e6;
  CHECK(summary.spend.total.grams_co2e <= 0.004 + one_interval_grams);
  CHECK(output.find("\"event\":\"budget_reached\"") != std::string::npos);
}

TEST_CASE("resume of a spent sweep without --budget changes nothing, however often it is called") {
  TempDir dir;
  std::string db = dir.File("sweeps.db");
  std::string output;
  int code = RunCarbonsweep(Concat({"run", "--name", "spent", "--db", db, "--budget", "4mg"}, SmallSweepFlags(dir.path())),
                            &output);
  REQUIRE_MESSAGE(code == 3, output);
  const size_t trials = StoredTrials(db, "spent").size();
  for (int call = 0; call < 2; ++call) {
    CHECK(RunCarbonsweep({"resume", "spent", "--db", db}, &output) == 3);
    CHECK(output.find("budget spent: pass --budget to extend (sweep 'spent' spent ") != std::string::npos);
    CHECK(StoredTrials(db, "spent").size() == trials);
  }
}

TEST_CASE("usage mistakes found before any work: estimate without a plan, compare X X, pretrain over a backbone") {
  TempDir dir;
  std::string output;
  CHECK(RunCarbonsweep({"estimate", "--db", dir.File("none.db")}, &output) == 2);
  CHECK(output.find("--trials") != std::string::npos);
  CHECK(output.find("calibration") == std::string::npos);  // refused before the 10 s calibration trial

  CHECK(RunCarbonsweep({"estimate", "--trials", "4", "--gpu", "H100", "--hours-per-trial", "1"}, &output) == 2);
  CHECK(output.find("'H100 SXM', 'H100 NVL'") != std::string::npos);
  CHECK(RunCarbonsweep({"estimate", "--trials", "4", "--gpu", "h100 sxm", "--hours-per-trial", "1", "--json"},
                       &output) == 0);
  CHECK(nlohmann::json::parse(output)["method"] == "tdp");

  CHECK(RunCarbonsweep({"compare", "a", "a", "--db", dir.File("none.db")}, &output) == 2);
  CHECK(output.find("sweep 'a' is given twice") != std::string::npos);

  std::string backbone = dir.File("backbone");
  REQUIRE(::mkdir(backbone.c_str(), 0700) == 0);
  REQUIRE(WriteFileAtomic(backbone + "/backbone.json", "{}").ok());
  CHECK(RunCarbonsweep({"pretrain", "--out", backbone, "--steps", "1"}, &output) == 2);
  CHECK(output.find("already holds a backbone (backbone.json); pass --force") != std::string::npos);
  CHECK(ReadFile(backbone + "/backbone.json").value() == "{}");
}

}  // namespace cs
