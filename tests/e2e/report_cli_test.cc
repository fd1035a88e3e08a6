// `carbonsweep baseline`, `report` and `compare` end to end: two real sweeps
// (random and grid) and the linear baseline written to one store by the
// binary, then every report format read back through the binary.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "tests/e2e/e2e_helpers.h"
#include "tests/testing/temp_dir.h"

namespace cs {

using namespace cs::testing;

namespace {

std::string Read(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  REQUIRE_MESSAGE(text.ok(), text.status().message());
  return *text;
}

size_t CountLines(const std::string& text) {
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  return lines;
}

}  // namespace

TEST_CASE("a baseline and two real sweeps in one store: report in every format and compare through the binary") {
  TempDir dir;
  const std::string db = dir.File("runs.db");
  const std::vector<std::string> sweep_flags = SmallSweepFlags(dir.path());
  std::string output;

  // Step 1: the cheap model on the same data as the sweeps, recorded with its energy.
  REQUIRE_MESSAGE(RunCarbonsweep({"baseline", "--task", "fortunes", "--train-size", "96", "--val-size", "48",
                                  "--test-size", "48", "--threads", "1", "--db", db},
                                 &output) == 0,
                  output);
  CHECK_MESSAGE(output.find(" J, ") != std::string::npos, output);  // it says what it cost.

  // Step 2: random and grid, two trials each.
  for (const char* strategy : {"random", "grid"}) {
    int code = RunCarbonsweep(Concat({"run", "--name", strategy, "--strategy", strategy, "--trials", "2",
                                      "--budget", "1kg", "--db", db, "--quiet"},
                                     sweep_flags),
                              &output);
    REQUIRE_MESSAGE(code == 0, output);
  }

  // Step 3: every report format of the random sweep.
  const std::string csv = dir.File("random.csv");
  REQUIRE_MESSAGE(RunCarbonsweep({"report", "random", "--db", db, "--format", "csv", "--out", csv}, &output) == 0,
                  output);
  std::string csv_text = Read(csv);
  CHECK(csv_text.rfind("timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,", 0) == 0);
  CHECK(CountLines(csv_text) == 3);  // the header and one row per trial.

  const std::string json_path = dir.File("random.json");
  REQUIRE_MESSAGE(
      RunCarbonsweep({"report", "random", "--db", db, "--format", "json", "--out", json_path}, &output) == 0, output);
  nlohmann::json report = nlohmann::json::parse(Read(json_path));
  CHECK(report["sweep"]["name"] == "random");
  REQUIRE(report["trials"].size() == 2);
  for (const nlohmann::json& trial : report["trials"]) CHECK(trial["joules"].get<double>() > 0);
  REQUIRE(report["baselines"].size() == 1);  // matched on the data, not on the model flags.
  CHECK(report["baselines"][0]["method"] == "tfidf-logreg");
  CHECK(report["baselines"][0]["joules"].get<double>() > 0);
  CHECK(report["power_samples"].size() > 0);

  REQUIRE_MESSAGE(RunCarbonsweep({"report", "random", "--db", db, "--format", "model-card"}, &output) == 0, output);
  CHECK_MESSAGE(output.find("co2_eq_emissions:") != std::string::npos, output);
  CHECK_MESSAGE(output.find("training_type: \"fine-tuning\"") != std::string::npos, output);

  const std::string html = dir.File("random.html");
  REQUIRE_MESSAGE(RunCarbonsweep({"report", "random", "--db", db, "--format", "html", "--out", html}, &output) == 0,
                  output);
  std::string page = Read(html);
  CHECK(page.find("<svg") != std::string::npos);
  // Self-contained: sources are cited as text, but nothing is fetched over the network.
  CHECK(page.find("src=\"http") == std::string::npos);
  CHECK(page.find("<link") == std::string::npos);
  CHECK(page.find("url(http") == std::string::npos);

  REQUIRE_MESSAGE(RunCarbonsweep({"report", "random", "--db", db}, &output) == 0, output);
  CHECK_MESSAGE(output.find("tfidf-logreg") != std::string::npos, output);

  // Step 4: compare, with the baseline as the reference row and an HTML page.
  const std::string compare_html = dir.File("compare.html");
  REQUIRE_MESSAGE(RunCarbonsweep({"compare", "random", "grid", "--db", db, "--html", compare_html}, &output) == 0,
                  output);
  CHECK_MESSAGE(output.find("baseline (reference)") != std::string::npos, output);
  CHECK_MESSAGE(output.find("random") != std::string::npos, output);
  CHECK_MESSAGE(output.find("grid") != std::string::npos, output);
  CHECK(Read(compare_html).find("<svg") != std::string::npos);

  // A sweep on other data is refused with the reason, unless forced.
  REQUIRE_MESSAGE(RunCarbonsweep(Concat({"run", "--name", "other", "--trials", "1", "--budget", "1kg", "--db", db,
                                         "--quiet", "--val-size", "40"},
                                        {"--space", "ci-tiny", "--task", "fortunes", "--train-size", "96",
                                         "--test-size", "48", "--from-scratch", "--vocab", dir.File("vocab.txt"),
                                         "--threads", "1", "--sample-interval", "0.2"}),
                                 &output) == 0,
                  output);
  CHECK(RunCarbonsweep({"compare", "random", "other", "--db", db}, &output) == 2);
  CHECK_MESSAGE(output.find("different data") != std::string::npos, output);
  CHECK(RunCarbonsweep({"compare", "random", "other", "--db", db, "--force"}, &output) == 0);
}

TEST_CASE("a sweep on a user's file with its own column names reads the split its baseline reads") {
  TempDir dir;
  const std::string db = dir.File("runs.db");
  const std::string data = SourceDir() + "/examples/topics.jsonl";  // fields "body" and "topic".
  const std::vector<std::string> data_flags = {"--task", data, "--text-column", "body", "--label-column", "topic",
                                               "--data-seed", "3"};
  SmallSweepFlags(dir.path());  // writes the letters vocab the trials use.
  const std::vector<std::string> sweep_flags = {"--space", "ci-tiny", "--from-scratch", "--vocab", dir.File("vocab.txt"),
                                                "--threads", "1", "--sample-interval", "0.2"};
  std::string output;

  // Step 1: two trials on the file; every trial must read it (a wrong column name would fail them).
  REQUIRE_MESSAGE(RunCarbonsweep(Concat(Concat({"run", "--name", "mine", "--trials", "2", "--budget", "1kg", "--db", db,
                                                "--quiet"},
                                               sweep_flags),
                                        data_flags),
                                 &output) == 0,
                  output);
  for (const TrialRecord& trial : StoredTrials(db, "mine")) {
    CHECK_MESSAGE(trial.state == TrialState::kFinished, trial.index, ": ", trial.stderr_tail);
  }

  // Step 2: the baseline of the same flags is the sweep's reference row, no --force needed.
  REQUIRE_MESSAGE(RunCarbonsweep(Concat({"baseline", "--threads", "1", "--db", db}, data_flags), &output) == 0, output);
  REQUIRE_MESSAGE(RunCarbonsweep(Concat(Concat({"run", "--name", "again", "--trials", "1", "--budget", "1kg", "--db", db,
                                                "--quiet"},
                                               sweep_flags),
                                        data_flags),
                                 &output) == 0,
                  output);
  REQUIRE_MESSAGE(RunCarbonsweep({"compare", "mine", "again", "--db", db}, &output) == 0, output);
  CHECK_MESSAGE(output.find("baseline") != std::string::npos, output);

  // Another shuffle is other data.
  std::vector<std::string> other_seed = data_flags;
  other_seed.back() = "4";
  REQUIRE_MESSAGE(RunCarbonsweep(Concat(Concat({"run", "--name", "reshuffled", "--trials", "1", "--budget", "1kg", "--db",
                                                db, "--quiet"},
                                               sweep_flags),
                                        other_seed),
                                 &output) == 0,
                  output);
  CHECK(RunCarbonsweep({"compare", "mine", "reshuffled", "--db", db}, &output) == 2);
}

TEST_CASE("an --out that is the store or another SQLite file is refused, and the store is kept") {
  TempDir dir;
  const std::string db = dir.File("runs.db");
  REQUIRE(SweepStore::Open(db, StoreOptions{}).ok());  // an empty store is enough: the check comes first.
  const std::string other_db = dir.File("other.db");
  REQUIRE(SweepStore::Open(other_db, StoreOptions{}).ok());
  const std::string before = Read(db);
  std::string output;

  CHECK(RunCarbonsweep({"report", "any", "--db", db, "--format", "csv", "--out", db}, &output) == 2);
  CHECK_MESSAGE(output.find("--out: " + db + ": is the store") != std::string::npos, output);
  CHECK_MESSAGE(CountLines(output) == 1, output);
  // The same file by another spelling.
  CHECK(RunCarbonsweep({"report", "any", "--db", db, "--out", dir.path() + "/./runs.db"}, &output) == 2);
  CHECK(RunCarbonsweep({"report", "any", "--db", db, "--out", other_db}, &output) == 2);
  CHECK_MESSAGE(output.find(other_db + ": is a SQLite database") != std::string::npos, output);
  CHECK(RunCarbonsweep({"compare", "a", "b", "--db", db, "--html", db}, &output) == 2);
  CHECK_MESSAGE(output.find("--html: " + db) != std::string::npos, output);
  CHECK(RunCarbonsweep({"baseline", "--task", "fortunes", "--db", db, "--out", db}, &output) == 2);
  CHECK_MESSAGE(output.find("--out: " + db) != std::string::npos, output);
  CHECK(RunCarbonsweep({"trial", "--out", other_db}, &output) == 2);
  CHECK_MESSAGE(output.find("--out: " + other_db + ": is a SQLite database") != std::string::npos, output);
  CHECK(Read(db) == before);
  CHECK(Read(other_db).rfind(std::string("SQLite format 3\0", 16), 0) == 0);
}

TEST_CASE("estimate measures a short calibration trial of the planned task when nothing was measured before") {
  TempDir dir;
  std::string output;
  REQUIRE_MESSAGE(RunCarbonsweep({"estimate", "--budget", "1g", "--db", dir.File("none.db"), "--task", "fortunes",
                                  "--train-size", "200"},
                                 &output) == 0,
                  output);
  CHECK_MESSAGE(output.find("live calibration on this machine: 1 epoch of 200 examples of fortunes") !=
                    std::string::npos,
                output);
  CHECK_MESSAGE(output.find("the budget buys") != std::string::npos, output);
  CHECK_MESSAGE(output.find("ASSUMED world average") != std::string::npos, output);
}

TEST_CASE("estimate refuses --calibrate beside another source of energy figures") {
  TempDir dir;
  std::string output;
  CHECK(RunCarbonsweep({"estimate", "--budget", "1g", "--calibrate", "--calibration", "random", "--db", dir.File("none.db")},
                       &output) == 2);
  CHECK_MESSAGE(output.find("--calibrate and --calibration exclude each other") != std::string::npos, output);
  CHECK(RunCarbonsweep({"estimate", "--budget", "1g", "--calibrate", "--tdp-watts", "65", "--hours-per-trial", "1"},
                       &output) == 2);
  CHECK_MESSAGE(output.find("--calibrate and --tdp-watts exclude each other") != std::string::npos, output);
}

}  // namespace cs
