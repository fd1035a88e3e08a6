// `carbonsweep trial` and `carbonsweep baseline` run as the orchestrator and
// users run them, on the small fortunes task.
#include "tests/trials/doctest_torch.h"

#include <sstream>

#include "common/files.h"
#include "tests/testing/temp_dir.h"
#include "tests/trials/trainer_test_util.h"
#include "trials/protocol.h"

namespace cs {

namespace {

const char* kSmallTask = "--task fortunes --train-size 48 --val-size 24 --test-size 24 --threads 1";
const char* kSmallParams = R"('{"epochs":2,"batch_size":16,"max_seq_len":32,"learning_rate":0.001,"seed":3}')";

std::vector<nlohmann::json> Events(const std::string& output) {
  std::vector<nlohmann::json> events;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (auto event = ParseTrialEvent(line)) events.push_back(*event);
  }
  return events;
}

std::string TrialCommand(const testing::TempDir& dir, const std::string& extra) {
  return testing::BinaryPath() + " trial " + kSmallTask + " --from-scratch --vocab " +
         testing::WriteLetterVocab(dir.path()) + " --params " + kSmallParams + " " + extra;
}

}  // namespace

TEST_CASE("a trial on the fortunes task writes its events and result") {
  testing::TempDir dir;
  std::string output;
  const std::string work = dir.File("work");
  int status = testing::RunShell(TrialCommand(dir, "--work-dir " + work + " --out " + dir.File("r.json")),
                                 &output);
  INFO(output);
  REQUIRE(status == 0);
  auto events = Events(output);
  REQUIRE(events.size() == 4);
  CHECK(events[0]["event"] == "start");
  CHECK(events[0]["params"]["epochs"] == 2);
  CHECK(events[1]["event"] == "epoch");
  CHECK(events[1]["epoch"] == 1);
  CHECK(events[2]["epoch"] == 2);
  CHECK(events[2]["steps"] == 6);  // 48 / 16 * 2
  CHECK(events[3]["event"] == "end");
  CHECK(events[3]["state"] == "finished");

  auto result = nlohmann::json::parse(ReadFile(dir.File("r.json")).value());
  CHECK(result["state"] == "finished");
  CHECK(result["examples"] == 96);
  CHECK(result["test_accuracy"].get<double>() >= 0.0);
  CHECK(result["epochs"].size() == 2);
  CHECK(result["task"]["task"]["task"] == "fortunes");
  CHECK(ReadFile(work + "/" + kTrialResultFile).value() == ReadFile(dir.File("r.json")).value());
  // events.log holds exactly the event lines of stdout.
  CHECK(Events(ReadFile(work + "/" + kTrialEventsFile).value()).size() == 4);
  CHECK(FileExists(work + "/" + kTrialCheckpointFile));
  CHECK(output.find("epoch 2/2: train loss") != std::string::npos);  // the human progress (stderr)
}

TEST_CASE("pause after epoch 1 then resume gives the uninterrupted result exactly") {
  testing::TempDir dir;
  std::string output;
  REQUIRE(testing::RunShell(TrialCommand(dir, "--quiet --out " + dir.File("straight.json")), &output) == 0);
  REQUIRE(testing::RunShell(TrialCommand(dir, "--quiet --work-dir " + dir.File("w") + " --stop-after-epoch 1"),
                            &output) == 0);
  auto paused = nlohmann::json::parse(ReadFile(dir.File("w/result.json")).value());
  CHECK(paused["state"] == "paused");
  CHECK(paused["test_accuracy"].is_null());
  REQUIRE(testing::RunShell(TrialCommand(dir, "--quiet --work-dir " + dir.File("w") + " --out " + dir.File("resumed.json")),
                            &output) == 0);
  CHECK(Events(output).at(0)["resumed_from_epoch"] == 1);
  auto straight = nlohmann::json::parse(ReadFile(dir.File("straight.json")).value());
  auto resumed = nlohmann::json::parse(ReadFile(dir.File("resumed.json")).value());
  CHECK(resumed["state"] == "finished");
  CHECK(resumed["test_accuracy"] == straight["test_accuracy"]);
  CHECK(resumed["val_accuracy"] == straight["val_accuracy"]);
  CHECK(resumed["epochs"][1]["val_loss"] == straight["epochs"][1]["val_loss"]);
  CHECK(resumed["steps"] == straight["steps"]);
}

TEST_CASE("bad hyperparameters exit 2 naming the field and the range") {
  testing::TempDir dir;
  std::string output;
  const std::string command = testing::BinaryPath() + " trial " + kSmallTask + " --from-scratch --vocab " +
                              testing::WriteLetterVocab(dir.path()) + R"( --params '{"dropout":1.5}' 2>&1)";
  CHECK(testing::RunShell(command, &output) == 2);
  CHECK(output.find("params.dropout: 1.5 is outside [0, 0.9]") != std::string::npos);
  CHECK(testing::RunShell(testing::BinaryPath() + R"( trial --params '{"warmup":0.1}' 2>&1)", &output) == 2);
  CHECK(output.find("params.warmup: unknown hyperparameter") != std::string::npos);
}

TEST_CASE("a missing backbone directory is one clear line and exit 2") {
  testing::TempDir dir;
  std::string output;
  CHECK(testing::RunShell(testing::BinaryPath() + " trial " + kSmallTask + " --backbone " + dir.File("nope") + " 2>&1",
                          &output) == 2);
  CHECK(output.find(dir.File("nope") + ": not a backbone directory") != std::string::npos);
}

TEST_CASE("the baseline runs on the same split and reports accuracies") {
  testing::TempDir dir;
  std::string output;
  const std::string command = testing::BinaryPath() +
                              " baseline --task fortunes --train-size 600 --val-size 200 --test-size 200 --threads 1 "
                              "--out " + dir.File("baseline.json");
  REQUIRE(testing::RunShell(command, &output) == 0);
  auto result = nlohmann::json::parse(ReadFile(dir.File("baseline.json")).value());
  CHECK(result["model"] == "tfidf_logistic_regression");
  // 12 topics, majority class about 0.19: a working model is clearly above it.
  CHECK(result["val_accuracy"].get<double>() > 0.25);
  CHECK(result["test_accuracy"].get<double>() > 0.25);
  CHECK(result["features"].get<int>() > 100);
  // It said what it was doing while it worked: the features, then each of the three penalties.
  CHECK_MESSAGE(output.find("baseline: fortunes loaded; building features") != std::string::npos, output);
  CHECK_MESSAGE(output.find("TF-IDF features from 600 training texts") != std::string::npos, output);
  for (const char* penalty : {"l2 1e-05: val accuracy", "l2 0.0001: val accuracy", "l2 0.001: val accuracy"}) {
    CHECK_MESSAGE(output.find(penalty) != std::string::npos, output);
  }
}

}  // namespace cs
