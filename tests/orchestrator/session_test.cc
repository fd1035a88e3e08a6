// session.h: `run` and `resume` as the CLI calls them, wired for real (the
// local launcher, this machine's power sources, the real clock, a SQLite
// store in a temp dir). Each trial is a shell script the test writes, which
// speaks the trial protocol on stdout, so a sweep takes a second or two.
// The tests check what a user sees: Status codes and messages, and the
// store's rows read back through SweepStore.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/stat.h>

#include <doctest/doctest.h>

#include "orchestrator/session.h"
#include "store/sweep_store.h"
#include "tests/testing/temp_dir.h"

namespace cs {

namespace {

// A stand-in for `carbonsweep trial`: it appends its --threads to
// threads.log, prints start, one epoch and a finished end. While the file
// `burn` exists it first spins (up to a few seconds) so the sweep's samples
// see its CPU: with a tiny budget the loop then stops it and the sweep ends
// budget_spent.
constexpr const char* kFakeTrial = R"(#!/bin/sh
set -u
dir=$(dirname "$0")
threads=""
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    *) shift ;;
  esac
done
echo "$threads" >>"$dir/threads.log"
echo '@cs {"event":"start","resumed_from_epoch":0}'
i=0
while [ -f "$dir/burn" ] && [ $i -lt 3000000 ]; do i=$((i + 1)); done
echo '@cs {"event":"epoch","epoch":1,"train_loss":0.5,"val_loss":0.5,"val_accuracy":0.6,"seconds":0.1,"steps":1,"examples":10}'
echo '@cs {"event":"end","state":"finished","best_epoch":1,"val_accuracy":0.6,"test_accuracy":0.6,"seconds":0.1,"steps":1,"examples":10}'
)";

// A temp dir holding the fake trial, the store and the options to run sweeps against them.
class SessionFixture {
 public:
  SessionFixture() : progress_(ProgressMode::kQuiet, &out_, &err_, /*err_is_terminal=*/false) {
    const std::string trial = dir_.Write("fake-trial.sh", kFakeTrial);
    ::chmod(trial.c_str(), 0755);
    options.db_path = dir_.File("sweeps.db");
    options.trial_binary = trial;
    options.progress = &progress_;
  }

  // A sweep that needs no network or data: a fixed intensity, the tiny space.
  SweepConfig Config(const std::string& name) const {
    SweepConfig config;
    config.name = name;
    config.budget_grams_co2e = 1000;
    config.space = "ci-tiny";
    config.max_trials = 2;
    config.total_threads = 2;
    config.carbon.intensity_g_per_kwh = 400;
    config.carbon.sample_interval_seconds = 0.1;
    return config;
  }

  // Trials spin until the sampler has seen them (see kFakeTrial).
  void SetBurning(bool burning) {
    if (burning) {
      dir_.Write("burn", "");
    } else {
      std::remove(dir_.File("burn").c_str());
    }
  }

  // The --threads of every trial launched so far, in order.
  std::vector<std::string> TrialThreads() const {
    std::ifstream in(dir_.File("threads.log"));
    std::vector<std::string> threads;
    for (std::string line; std::getline(in, line);) threads.push_back(line);
    return threads;
  }

  // The store, opened (and created) as a reader of what the session wrote.
  std::unique_ptr<SweepStore> Store() const {
    StoreOptions store_options;
    store_options.create_if_missing = true;
    auto store = SweepStore::Open(options.db_path, store_options);
    REQUIRE_MESSAGE(store.ok(), store.status().message());
    return std::move(*store);
  }

  size_t SweepCount() const {
    auto sweeps = Store()->ListSweeps();
    REQUIRE(sweeps.ok());
    return sweeps->size();
  }

  // No sweep in the store and no trial ever launched.
  bool NothingRecorded() const { return SweepCount() == 0 && TrialThreads().empty(); }

  std::vector<TrialRecord> Trials(const std::string& name) const {
    auto store = Store();
    auto sweep = store->GetSweep(name);
    REQUIRE_MESSAGE(sweep.ok(), sweep.status().message());
    auto trials = store->ListTrials(sweep->id);
    REQUIRE(trials.ok());
    return *trials;
  }

  int64_t CountTrials(const std::string& name, TrialState state) const {
    int64_t count = 0;
    for (const TrialRecord& trial : Trials(name)) count += trial.state == state ? 1 : 0;
    return count;
  }

  SessionOptions options;

 private:
  testing::TempDir dir_;
  std::ostringstream out_;
  std::ostringstream err_;
  ProgressReporter progress_;
};

}  // namespace

TEST_CASE("run: a config ValidateSweepConfig refuses is refused in one line naming the flag; nothing is written") {
  SessionFixture session;
  SweepConfig config = session.Config("bad-parallel");
  config.parallel = 0;
  const Status refusal = Status::InvalidArgument("--parallel 0: must be at least 1");
  CHECK(ValidateSweepConfig(config).ToString() == refusal.ToString());
  CHECK(RunNewSweep(config, session.options).status().ToString() == refusal.ToString());
  CHECK(session.NothingRecorded());
}

TEST_CASE("run: when check_trials refuses, its error is returned and no sweep is recorded") {
  SessionFixture session;
  session.options.check_trials = [](const SweepConfig&, const SearchSpace&) {
    return Status::NotFound("--data /nowhere/imdb: no such file");
  };
  auto run = RunNewSweep(session.Config("no-data"), session.options);
  CHECK(run.status().ToString() == Status::NotFound("--data /nowhere/imdb: no such file").ToString());
  CHECK(session.NothingRecorded());
}

TEST_CASE("run: a sweep runs its trials into the store; the same name again is refused, pointing at resume") {
  SessionFixture session;
  auto first = RunNewSweep(session.Config("twice"), session.options);
  REQUIRE_MESSAGE(first.ok(), first.status().message());
  CHECK(first->state == SweepState::kDone);
  CHECK(first->exit_code == ExitCode::kOk);
  CHECK(session.CountTrials("twice", TrialState::kFinished) == 2);

  auto second = RunNewSweep(session.Config("twice"), session.options);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == Status::Code::kInvalidArgument);
  CHECK(second.status().message().find("already exists") != std::string::npos);
  CHECK(second.status().message().find("resume twice") != std::string::npos);
  CHECK(session.SweepCount() == 1);
  CHECK(session.Trials("twice").size() == 2);  // the second run launched nothing.
}

TEST_CASE("resume: a sweep that spent its budget continues with a larger --budget, which the store keeps") {
  SessionFixture session;
  SweepConfig config = session.Config("spent");
  config.budget_grams_co2e = 1e-9;  // the first samples exceed it.
  config.max_trials = 4;
  session.SetBurning(true);
  auto run = RunNewSweep(config, session.options);
  REQUIRE_MESSAGE(run.ok(), run.status().message());
  REQUIRE(run->state == SweepState::kBudgetSpent);
  CHECK(run->exit_code == ExitCode::kBudgetSpent);
  const int64_t finished_before = session.CountTrials("spent", TrialState::kFinished);

  SUBCASE("without a new budget nothing runs and the message asks for one") {
    auto again = ResumeSweep("spent", ResumeOverrides{}, session.options);
    REQUIRE_MESSAGE(again.ok(), again.status().message());
    CHECK(again->state == SweepState::kBudgetSpent);
    CHECK(again->exit_code == ExitCode::kBudgetSpent);
    CHECK(again->summary.find("--budget MORE") != std::string::npos);
    CHECK(session.CountTrials("spent", TrialState::kFinished) == finished_before);
  }

  SUBCASE("a refused override changes nothing: not the budget, not the trials") {
    ResumeOverrides overrides;
    overrides.budget_grams_co2e = 500;
    overrides.parallel = 0;
    auto refused = ResumeSweep("spent", overrides, session.options);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == Status::Code::kInvalidArgument);
    CHECK(refused.status().message() == "--parallel 0: must be at least 1");
    auto store = session.Store();
    auto sweep = store->GetSweep("spent");
    REQUIRE(sweep.ok());
    CHECK(store->GetSweepById(sweep->id)->budget_grams_co2e == 1e-9);
  }

  SUBCASE("--budget 1000 is stored and the remaining trials run; --parallel and --threads reach them") {
    session.SetBurning(false);
    const size_t launched_before = session.TrialThreads().size();
    ResumeOverrides overrides;
    overrides.budget_grams_co2e = 1000;
    overrides.parallel = 2;
    overrides.total_threads = 6;
    auto resumed = ResumeSweep("spent", overrides, session.options);
    REQUIRE_MESSAGE(resumed.ok(), resumed.status().message());
    CHECK(resumed->state == SweepState::kDone);
    CHECK(resumed->exit_code == ExitCode::kOk);

    auto store = session.Store();
    auto sweep = store->GetSweep("spent");
    REQUIRE(sweep.ok());
    auto by_id = store->GetSweepById(sweep->id);
    REQUIRE(by_id.ok());
    CHECK(by_id->budget_grams_co2e == 1000);
    CHECK(by_id->state == SweepState::kDone);
    CHECK(session.CountTrials("spent", TrialState::kFinished) > finished_before);
    const std::vector<std::string> threads = session.TrialThreads();
    REQUIRE(threads.size() > launched_before);
    for (size_t i = launched_before; i < threads.size(); ++i) CHECK(threads[i] == "3");  // 6 threads / 2 at a time.
  }
}

TEST_CASE("resume: an unknown sweep is NotFound, and a done sweep reports done without running anything") {
  SessionFixture session;
  auto run = RunNewSweep(session.Config("finished"), session.options);
  REQUIRE_MESSAGE(run.ok(), run.status().message());
  REQUIRE(run->state == SweepState::kDone);
  const size_t launched = session.TrialThreads().size();

  auto unknown = ResumeSweep("never-ran", ResumeOverrides{}, session.options);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().code() == Status::Code::kNotFound);
  CHECK(unknown.status().message().find("never-ran") != std::string::npos);

  auto done = ResumeSweep("finished", ResumeOverrides{}, session.options);
  REQUIRE_MESSAGE(done.ok(), done.status().message());
  CHECK(done->state == SweepState::kDone);
  CHECK(done->exit_code == ExitCode::kOk);
  CHECK(done->summary == "sweep 'finished' is already done; nothing to resume");
  CHECK(session.TrialThreads().size() == launched);
  CHECK(session.Trials("finished").size() == 2);
}

}  // namespace cs
