// What a trial prints and leaves in its work dir is untrusted input, and a
// trial that cannot run must not burn the budget: stories of sweeps whose
// trials crash at start-up, print hostile events, or leave forged files.
#include <doctest/doctest.h>

#include <string>

#include "orchestrator/trial_files.h"
#include "tests/orchestrator/sweep_fixture.h"
#include "trials/exit_usage.h"

namespace cs {

using testing::SweepFixture;

namespace {

constexpr const char* kMissingColumn =
    "carbonsweep trial: error: reviews.csv: no column 'sentiment' (columns: id, text, label)";

// A trial that dies during its start-up, as `trial` does on bad data: exit 2.
void CrashAtStartUp(FakeTrialScript* script) {
  TrialExit exit;
  exit.how = TrialExit::How::kExited;
  exit.exit_code = 2;
  exit.stderr_tail = std::string("loading data...\n") + kMissingColumn + "\n\n";
  FakeTrialStep step;
  step.after_seconds = 1;
  step.kind = LauncherEvent::Kind::kExit;
  step.exit = exit;
  *script = {script->front(), step};  // its start event, then the exit.
}

FakeTrialStep EventAt(double seconds, nlohmann::json event) {
  FakeTrialStep step;
  step.after_seconds = seconds;
  step.event = std::move(event);
  return step;
}

int CountState(const std::vector<TrialRecord>& trials, TrialState state) {
  return static_cast<int>(std::count_if(trials.begin(), trials.end(),
                                        [&](const TrialRecord& trial) { return trial.state == state; }));
}

}  // namespace

TEST_CASE("trials that fail before their first epoch stop the sweep after three, with their cause") {
  SweepFixture sweep;  // a 1 kg budget: without the guard, hundreds of crashing trials.
  sweep.edit_script = [](int64_t, int, FakeTrialScript* script) { CrashAtStartUp(script); };
  auto outcome = sweep.Run();
  REQUIRE_MESSAGE(outcome.ok(), outcome.status().message());
  CHECK(outcome->state == SweepState::kTrialsFailing);
  CHECK(outcome->exit_code == ExitCode::kTrialsFailing);
  std::vector<TrialRecord> trials = sweep.Trials();
  CHECK(trials.size() == 3);
  CHECK(CountState(trials, TrialState::kFailed) == 3);
  // The trial's own words, in the store (so in `report`) and in the summary line.
  CHECK(trials[0].reason.find("no column 'sentiment'") != std::string::npos);
  CHECK(trials[0].reason.find("exit 2") != std::string::npos);
  CHECK(outcome->summary.find("no column 'sentiment'") != std::string::npos);
  CHECK(outcome->summary.find("resume") != std::string::npos);
  CHECK(sweep.json_output().find("\"event\":\"crash_loop\"") != std::string::npos);
  auto stored = sweep.store().GetSweepById(sweep.sweep_id());
  REQUIRE(stored.ok());
  CHECK(stored->state == SweepState::kTrialsFailing);
  CHECK(sweep.SpentGrams() < 0.01 * sweep.config.budget_grams_co2e);
}

TEST_CASE("a sweep whose trials all failed never ends done, even below the crash-loop limit") {
  SweepFixture sweep;
  sweep.config.max_trials = 2;
  sweep.edit_script = [](int64_t, int, FakeTrialScript* script) { CrashAtStartUp(script); };
  auto outcome = sweep.Run();
  REQUIRE(outcome.ok());
  CHECK(outcome->state == SweepState::kTrialsFailing);
  CHECK(outcome->exit_code == ExitCode::kTrialsFailing);
  CHECK(outcome->summary.find("every trial failed") != std::string::npos);
}

TEST_CASE("failures between trials that reach an epoch never trip the crash-loop guard") {
  SweepFixture sweep;
  sweep.config.max_trials = 6;
  sweep.edit_script = [](int64_t index, int, FakeTrialScript* script) {
    if (index % 3 != 0) CrashAtStartUp(script);  // 2 of every 3 fail at once.
  };
  auto outcome = sweep.Run();
  REQUIRE(outcome.ok());
  CHECK(outcome->state == SweepState::kDone);
  CHECK(outcome->exit_code == ExitCode::kOk);
  CHECK(sweep.Trials().size() == 6);
}

TEST_CASE("hostile epoch and end events are skipped with a warning, never crash or allocate without end") {
  SweepFixture sweep;
  sweep.config.max_trials = 1;
  sweep.edit_script = [](int64_t, int, FakeTrialScript* script) {
    // Before the real epochs: an epoch 0 (once a segfault), two billion
    // epochs (once the OOM killer), an accuracy of 750 %, a string epoch, an
    // infinite loss; then a forged end event claiming 99 % at epoch 7.
    script->insert(script->begin() + 1,
                   {EventAt(0.1, {{"event", "epoch"}, {"epoch", 0}, {"val_accuracy", 0.5}}),
                    EventAt(0.2, {{"event", "epoch"}, {"epoch", 2000000000}, {"val_accuracy", 0.5}}),
                    EventAt(0.3, {{"event", "epoch"}, {"epoch", 1}, {"val_accuracy", 7.5}}),
                    EventAt(0.4, {{"event", "epoch"}, {"epoch", "1"}, {"val_accuracy", 0.5}}),
                    EventAt(0.5, {{"event", "epoch"}, {"epoch", 1}, {"val_accuracy", 0.5}, {"seconds", -3}}),
                    EventAt(0.6, {{"event", "epoch"}, {"epoch", 1}, {"val_accuracy", 0.5}, {"examples", 1e300}})});
    const FakeTrialStep end = (*script)[script->size() - 2];  // a copy: the inserts below move the steps.
    REQUIRE(end.event["event"] == "end");
    FakeTrialStep forged = end;
    forged.event["val_accuracy"] = 0.99;
    forged.event["best_epoch"] = 7;
    script->insert(script->end() - 2, forged);  // the real end event comes after and replaces it...
    script->insert(script->end() - 1, EventAt(end.after_seconds + 0.01, {{"event", "end"}, {"state", 5}}));
  };
  auto outcome = sweep.Run();
  REQUIRE_MESSAGE(outcome.ok(), outcome.status().message());
  std::vector<TrialRecord> trials = sweep.Trials();
  REQUIRE(trials.size() == 1);
  CHECK(trials[0].state == TrialState::kFinished);
  REQUIRE(trials[0].val_accuracy.has_value());
  CHECK(*trials[0].val_accuracy <= 1.0);
  CHECK(*trials[0].val_accuracy != doctest::Approx(0.99));
  auto epochs = sweep.store().ListEpochs(trials[0].id);
  REQUIRE(epochs.ok());
  CHECK(epochs->size() == 2);  // the two real epochs of the ci-tiny space's trial.
  for (const EpochRecord& epoch : *epochs) {
    CHECK(epoch.epoch >= 1);
    CHECK(epoch.val_accuracy <= 1.0);
  }
  const std::string& log = sweep.json_output();
  CHECK(log.find("epoch: 0 is outside [1, 2]") != std::string::npos);
  CHECK(log.find("epoch: 2000000000 is outside") != std::string::npos);
  CHECK(log.find("val_accuracy: 7.5 is outside [0, 1]") != std::string::npos);
  CHECK(log.find("epoch: \\\"1\\\" is not a number") != std::string::npos);
  CHECK(log.find("best_epoch: 7 is outside") != std::string::npos);
}

TEST_CASE("resume reads a hostile events.log and exit_usage.json without crashing and without pricing them") {
  SweepFixture sweep;
  sweep.config.max_trials = 2;
  sweep.on_launch = [&](int64_t index, int attempt) {
    if (index == 1 && attempt == 1) sweep.interrupts = 2;  // killed outright: no end event.
  };
  REQUIRE(sweep.Run().ok());
  std::vector<TrialRecord> trials = sweep.Trials();
  REQUIRE(trials.size() == 2);
  // Make the store look like a kill -9 of the orchestrator during a local trial.
  TrialLaunch launch;
  launch.pid = 999999;  // a local trial, long gone.
  launch.job_id = "pid:999999";
  launch.work_dir = sweep.config.work_root + "/trial-1";
  REQUIRE(sweep.store().MarkTrialRunning(trials[1].id, launch, sweep.clock().NowUnixSeconds()).ok());
  // What the trial (or anyone who can write its dir) left behind.
  sweep.dir().Write("work/trial-1/events.log",
                    "@cs {\"event\":\"start\",\"resumed_from_epoch\":0}\n"
                    "@cs {\"event\":\"epoch\",\"epoch\":0,\"val_accuracy\":0.5}\n"
                    "@cs {\"event\":\"epoch\",\"epoch\":2000000000,\"val_accuracy\":0.5}\n"
                    "@cs {\"event\":5}\n"
                    "@cs {\"event\":\"end\",\"state\":[1]}\n"
                    "@cs " + std::string(kMaxTrialEventLineBytes + 10, '{') + "\n"
                    "@cs {\"event\":\"epoch\",\"epoch\":1,\"val_accuracy\":0.66,\"examples\":100,\"seconds\":10}\n");
  // A billion CPU seconds, "used" by pid 999999: priced, it would end any budget.
  sweep.dir().Write("work/trial-1/" + std::string(kTrialExitUsageFile),
                    "{\"pid\":999999,\"cpu_microseconds\":1000000000000000,\"unix_milliseconds\":" +
                        std::to_string(static_cast<uint64_t>(sweep.clock().NowUnixSeconds() * 1000)) + "}\n");
  const double spent_before = sweep.SpentGrams();
  sweep.interrupts = 0;
  sweep.on_launch = nullptr;
  for (int resume = 0; resume < 2; ++resume) {  // a second resume reads the same files again.
    auto resumed = sweep.Resume();
    REQUIRE_MESSAGE(resumed.ok(), resumed.status().message());
  }
  trials = sweep.Trials();
  CHECK(trials[1].state == TrialState::kFinished);
  auto epochs = sweep.store().ListEpochs(trials[1].id);
  REQUIRE(epochs.ok());
  CHECK(epochs->size() == 2);  // epoch 1 from events.log, epoch 2 from the relaunch.
  CHECK(sweep.SpentGrams() < spent_before + 1.0);  // not the 1e9 CPU seconds' 11 kg.
  const std::string& log = sweep.json_output();
  CHECK(log.find("is not possible for a trial launched at") != std::string::npos);
  CHECK(log.find("bytes (the limit is") != std::string::npos);
}

TEST_CASE("events.log lines: every field is checked for type and range") {
  struct Case {
    const char* line;
    const char* warning;  // "" = taken.
  };
  const Case cases[] = {
      {R"({"event":"epoch","epoch":1,"val_accuracy":0.5})", ""},
      {R"({"event":"epoch","epoch":3,"val_accuracy":0.5})", ""},
      {R"({"event":"epoch","epoch":4,"val_accuracy":0.5})", "epoch: 4 is outside [1, 3]"},
      {R"({"event":"epoch","epoch":1.5,"val_accuracy":0.5})", "epoch: 1.5 is not a whole number"},
      {R"({"event":"epoch","epoch":1})", ""},  // a command's job may report no accuracy.
      {R"({"event":"epoch","epoch":1,"val_accuracy":"0.5"})", "val_accuracy: \"0.5\" is not a number"},
      {R"({"event":"epoch","epoch":1,"val_accuracy":-0.1})", "val_accuracy: -0.1 is outside [0, 1]"},
      {R"({"event":"epoch","epoch":1,"val_accuracy":0.5,"train_loss":-1})", "train_loss: -1 is outside [0, 1e+06]"},
      {R"({"event":"epoch","epoch":1,"val_accuracy":0.5,"steps":-1})", "steps: -1 is outside"},
      {R"({"event":"epoch","epoch":1,"val_accuracy":0.5,"seconds":{}})", "seconds: {} is not a number"},
      {R"({"event":"end","state":"finished","val_accuracy":1.5})", "val_accuracy: 1.5 is outside [0, 1]"},
      {R"({"event":"end","state":"finished","best_epoch":-1})", "best_epoch: -1 is outside [0, 3]"},
      {R"({"event":"end","state":7})", "state: not a string"},
      {R"({"event":"end","state":"finished","best_epoch":0,"val_accuracy":null})", ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.line);
    TrialFileEvents events = ParseTrialEventsText(std::string("@cs ") + c.line + "\n", /*max_epoch=*/3);
    if (std::string(c.warning).empty()) {
      CHECK(events.warnings.empty());
      CHECK(events.epochs.size() + events.last_end.has_value() == 1);
    } else {
      REQUIRE(events.warnings.size() == 1);
      CHECK(events.warnings[0].find(c.warning) != std::string::npos);
      CHECK(events.warnings[0].rfind("events.log:1: ", 0) == 0);
      CHECK(events.epochs.empty());
      CHECK(!events.last_end.has_value());
    }
  }
}

TEST_CASE("an event with a number no double holds is skipped, not thrown") {
  // nlohmann throws out_of_range.406 for 1e400 even when told not to throw.
  TrialFileEvents events = ParseTrialEventsText(
      "@cs {\"event\":\"epoch\",\"epoch\":1,\"val_accuracy\":1e400}\n"
      "@cs {\"event\":\"end\",\"state\":\"finished\",\"seconds\":-2e308}\n",
      /*max_epoch=*/3);
  CHECK(events.epochs.empty());
  CHECK(!events.last_end.has_value());
}

TEST_CASE("the epochs a stored trial may report are bounded by its params") {
  CHECK(TrialEpochBound({{"epochs", 3}}) == 3);
  CHECK(TrialEpochBound({{"epochs", 0}}) == kMaxTrialEpochs);
  CHECK(TrialEpochBound({{"epochs", "3"}}) == kMaxTrialEpochs);
  CHECK(TrialEpochBound(nlohmann::json::array()) == kMaxTrialEpochs);
  CHECK(TrialEpochBound(nlohmann::json::object()) == kMaxTrialEpochs);
}

}  // namespace cs
