// The sweep loop on fakes: scripted trials, scripted power, a fake clock and
// a real store. Each test is a small story of a sweep.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <sstream>

#include "tests/orchestrator/sweep_fixture.h"

namespace cs {

using testing::SweepFixture;

namespace {

int CountState(const std::vector<TrialRecord>& trials, TrialState state) {
  return static_cast<int>(std::count_if(trials.begin(), trials.end(),
                                        [&](const TrialRecord& trial) { return trial.state == state; }));
}

// (params, val accuracy) of every finished trial, by index: what "the same sweep" means.
std::map<int64_t, std::pair<std::string, double>> FinishedSet(const std::vector<TrialRecord>& trials) {
  std::map<int64_t, std::pair<std::string, double>> set;
  for (const TrialRecord& trial : trials) {
    if (trial.state == TrialState::kFinished) set[trial.index] = {trial.params_json, trial.val_accuracy.value_or(-1)};
  }
  return set;
}

}  // namespace

TEST_CASE("a capped sweep runs every trial once and records its energy") {
  SweepFixture sweep;
  sweep.config.max_trials = 4;
  sweep.config.parallel = 2;
  auto outcome = sweep.Run();
  REQUIRE_MESSAGE(outcome.ok(), outcome.status().message());
  CHECK(outcome->state == SweepState::kDone);
  CHECK(outcome->exit_code == ExitCode::kOk);
  std::vector<TrialRecord> trials = sweep.Trials();
  REQUIRE(trials.size() == 4);
  for (const TrialRecord& trial : trials) {
    CHECK(trial.state == TrialState::kFinished);
    CHECK(trial.energy.joules > 0);
    CHECK(trial.val_accuracy.has_value());
    CHECK(trial.attempts == 1);
  }
  CHECK(sweep.launcher().max_concurrent() == 2);
  // Each trial ran 2 epochs x 10 s + 2 s start-up at 1 thread x 100 W: 2,200 J.
  CHECK(trials[0].energy.joules == doctest::Approx(2200).epsilon(0.02));
  CHECK(outcome->spent_grams_co2e == doctest::Approx(sweep.SpentGrams()));
  CHECK(sweep.json_output().find("\"event\":\"trial_end\"") != std::string::npos);
}

TEST_CASE("the first trial runs alone until its first epoch calibrates the cost model") {
  SweepFixture sweep;
  sweep.config.max_trials = 3;
  sweep.config.parallel = 3;
  sweep.config.total_threads = 3;
  std::vector<double> launched_at;
  sweep.on_launch = [&](int64_t, int) { launched_at.push_back(sweep.clock().MonotonicSeconds()); };
  REQUIRE(sweep.Run().ok());
  REQUIRE(launched_at.size() == 3);
  // Trial 0 starts at once; the others only after its first epoch (2 s + 10 s).
  CHECK(launched_at[1] - launched_at[0] >= 12);
  CHECK(launched_at[2] == launched_at[1]);
}

TEST_CASE("the budget holds: final spend is at most the budget plus one sampling interval") {
  for (int parallel : {1, 3}) {
    for (double budget : {0.5, 1.0, 2.0, 5.0, 10.0, 30.0}) {
      CAPTURE(parallel);
      CAPTURE(budget);
      SweepFixture sweep;
      sweep.config.budget_grams_co2e = budget;
      sweep.config.parallel = parallel;
      sweep.config.total_threads = 3;
      sweep.config.space = "carbonsweep-small";  // unbounded random search: only the budget ends it.
      auto outcome = sweep.Run();
      REQUIRE_MESSAGE(outcome.ok(), outcome.status().message());
      CHECK(outcome->state == SweepState::kBudgetSpent);
      CHECK(outcome->exit_code == ExitCode::kBudgetSpent);
      CHECK(sweep.SpentGrams() <= budget + sweep.OneIntervalGrams());
      CHECK(sweep.SpentGrams() > budget * 0.5);  // and it did use the budget.
      std::vector<TrialRecord> trials = sweep.Trials();
      CHECK(CountState(trials, TrialState::kRunning) == 0);
      CHECK(CountState(trials, TrialState::kReserved) == 0);
      // Every joule is attributed to a trial that the store lists.
      double by_trial = 0;
      for (const TrialRecord& trial : trials) by_trial += trial.energy.grams_co2e;
      CHECK(by_trial == doctest::Approx(sweep.SpentGrams()));
    }
  }
}

TEST_CASE("a trial that cannot fit is recorded skipped_budget and never launched") {
  SweepFixture sweep;
  // One trial (2 threads x 100 W x 22 s) costs 4,400 J = 0.489 g at 400 g/kWh;
  // 1.2 g fits two, not a third.
  sweep.config.budget_grams_co2e = 1.2;
  auto outcome = sweep.Run();
  REQUIRE(outcome.ok());
  std::vector<TrialRecord> trials = sweep.Trials();
  CHECK(CountState(trials, TrialState::kFinished) == 2);
  REQUIRE(CountState(trials, TrialState::kSkippedBudget) == 1);
  CHECK(trials.back().state == TrialState::kSkippedBudget);
  CHECK(trials.back().reason.find("does not fit") != std::string::npos);
  CHECK(trials.back().energy.joules == 0);
  CHECK(sweep.launcher().started().size() == 2);
  CHECK(outcome->exit_code == ExitCode::kBudgetSpent);
}

TEST_CASE("after an epoch, a trial that cannot finish inside the budget is stopped early") {
  SweepFixture sweep;
  sweep.config.space = "carbonsweep-small";
  sweep.behaviour.seconds_per_epoch = 30;
  // The calibration trial's first epoch (32 s x 200 W) costs 0.71 g; 1 g cannot hold a second.
  sweep.config.budget_grams_co2e = 1.0;
  auto outcome = sweep.Run();
  REQUIRE(outcome.ok());
  std::vector<TrialRecord> trials = sweep.Trials();
  REQUIRE(!trials.empty());
  CHECK(trials[0].state == TrialState::kStoppedBudget);
  CHECK(trials[0].reason.find("remaining epoch") != std::string::npos);
  CHECK(trials[0].val_accuracy.has_value());  // what it measured is kept.
  CHECK(sweep.SpentGrams() < 1.0);
}

TEST_CASE("--on-budget finish lets running trials end and reports the overshoot") {
  SweepFixture sweep;
  sweep.config.space = "carbonsweep-small";
  sweep.config.on_budget = OnBudget::kFinish;
  sweep.config.parallel = 2;
  sweep.config.budget_grams_co2e = 0.2;  // below one trial: the calibration run crosses it.
  auto outcome = sweep.Run();
  REQUIRE(outcome.ok());
  std::vector<TrialRecord> trials = sweep.Trials();
  CHECK(CountState(trials, TrialState::kStoppedBudget) == 0);
  for (const TrialRecord& trial : trials) {
    CHECK((trial.state == TrialState::kFinished || trial.state == TrialState::kSkippedBudget));
  }
  CHECK(outcome->exit_code == ExitCode::kBudgetSpent);
  // The trial running when the budget was reached was let finish past it: the overshoot is real, and said.
  CHECK(sweep.SpentGrams() > 0.2);
  CHECK(outcome->summary.find("over by") != std::string::npos);
}

TEST_CASE("a crashed trial is recorded failed with its stderr and energy; the sweep goes on") {
  SweepFixture sweep;
  sweep.config.max_trials = 3;
  sweep.behaviour.crash_indices = {1};
  auto outcome = sweep.Run();
  REQUIRE(outcome.ok());
  CHECK(outcome->state == SweepState::kDone);
  std::vector<TrialRecord> trials = sweep.Trials();
  REQUIRE(trials.size() == 3);
  CHECK(trials[1].state == TrialState::kFailed);
  CHECK(trials[1].reason == "crashed: killed by SIGSEGV: fake trial: crashed after epoch 1");  // with its last words.
  CHECK(trials[1].exit_status == 128 + 11);
  CHECK(trials[1].stderr_tail.find("crashed after epoch 1") != std::string::npos);
  CHECK(trials[1].energy.joules > 0);  // every joule counts.
  CHECK(trials[2].state == TrialState::kFinished);
}

TEST_CASE("Ctrl-C stops trials gracefully, resume finishes the same sweep with no trial run twice") {
  SweepFixture reference;
  reference.config.max_trials = 5;
  reference.config.parallel = 2;
  REQUIRE(reference.Run().ok());

  SweepFixture sweep;
  sweep.config.max_trials = 5;
  sweep.config.parallel = 2;
  sweep.on_launch = [&](int64_t index, int attempt) {
    if (index == 3 && attempt == 1) sweep.interrupts = 1;  // Ctrl-C as trial 3 starts.
  };
  auto interrupted = sweep.Run();
  REQUIRE(interrupted.ok());
  CHECK(interrupted->state == SweepState::kInterrupted);
  CHECK(interrupted->exit_code == ExitCode::kInterrupted);
  std::vector<TrialRecord> halfway = sweep.Trials();
  CHECK(CountState(halfway, TrialState::kInterrupted) >= 1);
  auto lease = sweep.store().GetLease(sweep.sweep_id());
  REQUIRE(lease.ok());
  CHECK(!lease->has_value());  // released.

  sweep.interrupts = 0;
  sweep.on_launch = nullptr;
  auto resumed = sweep.Resume();
  REQUIRE_MESSAGE(resumed.ok(), resumed.status().message());
  CHECK(resumed->state == SweepState::kDone);
  std::vector<TrialRecord> trials = sweep.Trials();
  CHECK(FinishedSet(trials) == FinishedSet(reference.Trials()));
  CHECK(trials.size() == 5);
  // Interrupted trials continued from their checkpoint: launched twice, and
  // their energy from both runs is in the ledger.
  int relaunched = 0;
  for (const TrialRecord& trial : trials) relaunched += trial.attempts == 2;
  CHECK(relaunched >= 1);
  CHECK(sweep.SpentGrams() >= reference.SpentGrams() * 0.999);
}

TEST_CASE("resume after the orchestrator died: the dead owner's lease is taken over, epochs in events.log kept") {
  SweepFixture sweep;
  sweep.config.max_trials = 2;
  sweep.on_launch = [&](int64_t index, int attempt) {
    if (index == 1 && attempt == 1) sweep.interrupts = 2;  // killed outright: no end event.
  };
  REQUIRE(sweep.Run().ok());
  // Make the store look like a kill -9: trial 1 still "running", lease held by a dead pid here.
  std::vector<TrialRecord> trials = sweep.Trials();
  REQUIRE(trials.size() == 2);
  TrialLaunch launch;
  launch.work_dir = sweep.config.work_root + "/trial-1";
  REQUIRE(sweep.store().MarkTrialRunning(trials[1].id, launch, sweep.clock().NowUnixSeconds()).ok());
  testing::TempDir unused;
  std::string dead_owner = ThisProcessOwner().substr(0, ThisProcessOwner().rfind(':')) + ":999999999";
  REQUIRE(sweep.store().AcquireLease(sweep.sweep_id(), dead_owner, sweep.clock().NowUnixSeconds(), 60).ok());
  // The trial had printed its first epoch to events.log before the kill.
  sweep.dir().Write("work/trial-1/events.log",
                    "@cs {\"event\":\"start\",\"resumed_from_epoch\":0}\n"
                    "@cs {\"event\":\"epoch\",\"epoch\":1,\"val_accuracy\":0.66,\"examples\":100,\"seconds\":10}\n");
  sweep.interrupts = 0;
  sweep.on_launch = nullptr;
  auto resumed = sweep.Resume();
  REQUIRE_MESSAGE(resumed.ok(), resumed.status().message());
  trials = sweep.Trials();
  CHECK(trials[1].state == TrialState::kFinished);
  auto epochs = sweep.store().ListEpochs(trials[1].id);
  REQUIRE(epochs.ok());
  CHECK(epochs->size() == 2);
  // The relaunch began at epoch 2 (the fake resumes after the store's last epoch).
  CHECK(sweep.launcher().started().size() == 1);
}

TEST_CASE("a live lease is refused naming its holder; a stale one is taken over") {
  SweepFixture sweep;
  sweep.config.max_trials = 1;
  REQUIRE(sweep.Run().ok());
  double now = sweep.clock().NowUnixSeconds();
  REQUIRE(sweep.store().AcquireLease(sweep.sweep_id(), "other-host:42", now, 60).ok());
  auto refused = sweep.Resume();
  REQUIRE(!refused.ok());
  CHECK(refused.status().code() == Status::Code::kBusy);
  CHECK(refused.status().message().find("other-host:42") != std::string::npos);
  sweep.clock().Advance(3600);  // the other owner stopped heartbeating an hour ago.
  auto taken = sweep.Resume();
  CHECK_MESSAGE(taken.ok(), taken.status().message());
}

TEST_CASE("a grid sweep runs each cell once in the stored order and ends done") {
  SweepFixture sweep;
  sweep.config.strategy.kind = StrategyKind::kGrid;
  sweep.config.parallel = 2;
  auto outcome = sweep.Run();
  REQUIRE(outcome.ok());
  CHECK(outcome->state == SweepState::kDone);
  std::vector<TrialRecord> trials = sweep.Trials();
  REQUIRE(trials.size() == 4);  // ci-tiny: 2 x 2.
  std::set<std::string> cells;
  for (const TrialRecord& trial : trials) cells.insert(trial.params_json);
  CHECK(cells.size() == 4);
}

}  // namespace cs

namespace cs {

namespace {

// Epoch events printed (by trial index, epoch) in a sweep's JSON output.
std::multiset<std::pair<int64_t, int>> EpochEvents(const std::string& json_lines) {
  std::multiset<std::pair<int64_t, int>> events;
  std::istringstream lines(json_lines);
  std::string line;
  while (std::getline(lines, line)) {
    auto event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (event.is_object() && event.value("event", "") == "epoch") events.insert({event["trial"].get<int64_t>(), event["epoch"].get<int>()});
  }
  return events;
}

}  // namespace

TEST_CASE("median pruning stops a trial below the median of finished trials at the same epoch") {
  SweepFixture sweep;
  sweep.config.space = "carbonsweep-small";
  sweep.config.max_trials = 12;
  sweep.config.prune = PruneMode::kMedian;
  sweep.config.median.min_trials = 3;
  auto outcome = sweep.Run();
  REQUIRE(outcome.ok());
  std::vector<TrialRecord> trials = sweep.Trials();
  REQUIRE(trials.size() == 12);
  int pruned = CountState(trials, TrialState::kPruned);
  CHECK(pruned >= 1);
  for (const TrialRecord& trial : trials) {
    if (trial.state != TrialState::kPruned) continue;
    CHECK(trial.reason.find("median") != std::string::npos);
    CHECK(trial.energy.joules > 0);  // its energy stays in the ledger.
  }
  // The first three finish unpruned: the median needs three finished trials.
  for (int k = 0; k < 3; ++k) CHECK(trials[k].state == TrialState::kFinished);
}

TEST_CASE("halving pauses trials at rungs, promotes the best from their checkpoints, trains no epoch twice") {
  SweepFixture sweep;
  sweep.config.space = "carbonsweep-small";
  sweep.config.max_trials = 9;
  sweep.config.halving = true;
  sweep.config.asha = AshaOptions{/*min_epochs=*/1, /*max_epochs=*/4, /*reduction_factor=*/3};
  auto outcome = sweep.Run();
  REQUIRE_MESSAGE(outcome.ok(), outcome.status().message());
  CHECK(outcome->state == SweepState::kDone);
  std::vector<TrialRecord> trials = sweep.Trials();
  REQUIRE(trials.size() == 9);
  int full = 0, promoted = 0;
  for (const TrialRecord& trial : trials) {
    auto epochs = sweep.store().ListEpochs(trial.id);
    REQUIRE(epochs.ok());
    if (epochs->size() == 4) ++full;
    if (trial.attempts > 1) ++promoted;
    CHECK((trial.state == TrialState::kFinished || trial.state == TrialState::kPruned));
    if (trial.state == TrialState::kPruned) CHECK(trial.reason.find("not promoted") != std::string::npos);
  }
  CHECK(full >= 1);
  CHECK(full < 9);
  CHECK(promoted >= 1);
  std::multiset<std::pair<int64_t, int>> events = EpochEvents(sweep.json_output());
  std::set<std::pair<int64_t, int>> distinct(events.begin(), events.end());
  CHECK(events.size() == distinct.size());  // each (trial, epoch) trained once.
}

TEST_CASE("--metric val_loss --mode min: every trial, its epochs and the sweep rank by the lowest loss") {
  SweepFixture sweep;
  sweep.config.space = "carbonsweep-small";
  sweep.config.max_trials = 9;
  sweep.config.halving = true;
  sweep.config.asha = AshaOptions{/*min_epochs=*/1, /*max_epochs=*/4, /*reduction_factor=*/3};
  sweep.config.objective = Objective{"val_loss", MetricMode::kMin};
  auto outcome = sweep.Run();
  REQUIRE_MESSAGE(outcome.ok(), outcome.status().message());
  std::vector<TrialRecord> trials = sweep.Trials();
  REQUIRE(trials.size() == 9);
  std::optional<double> lowest;
  int64_t lowest_index = -1;
  for (const TrialRecord& trial : trials) {
    std::vector<EpochRecord> epochs = sweep.store().ListEpochs(trial.id).value();
    REQUIRE(!epochs.empty());
    double trial_lowest = *epochs.front().metric;
    for (const EpochRecord& epoch : epochs) {
      CHECK(*epoch.metric == doctest::Approx(epoch.val_loss));  // the fake's val_loss, stored as the metric.
      trial_lowest = std::min(trial_lowest, *epoch.metric);
    }
    REQUIRE(trial.metric.has_value());
    CHECK(*trial.metric == doctest::Approx(trial_lowest));  // a trial's figure is its best (lowest) epoch.
    if (!lowest || *trial.metric < *lowest) lowest = trial.metric, lowest_index = trial.index;
  }
  CHECK(outcome->best_metric == lowest);
  CHECK(outcome->best_trial_index == lowest_index);
  CHECK(sweep.store().GetSweep(sweep.config.name)->objective.mode == MetricMode::kMin);
  // Halving keeps the lowest loss of a rung: a trial promoted past rung 1 had a
  // rung-1 loss no higher than the median of the trials that stopped there.
  std::vector<double> stopped_at_1, promoted_at_1;
  for (const TrialRecord& trial : trials) {
    std::vector<EpochRecord> epochs = sweep.store().ListEpochs(trial.id).value();
    (epochs.size() == 1 ? stopped_at_1 : promoted_at_1).push_back(*epochs.front().metric);
  }
  REQUIRE(!stopped_at_1.empty());
  REQUIRE(!promoted_at_1.empty());
  std::sort(stopped_at_1.begin(), stopped_at_1.end());
  CHECK(*std::min_element(promoted_at_1.begin(), promoted_at_1.end()) <= stopped_at_1[stopped_at_1.size() / 2]);
  CHECK(sweep.json_output().find("\"best_metric\"") != std::string::npos);
}

TEST_CASE("carbon-aware holding starts nothing while the grid is dirty and pauses running trials at an epoch") {
  SweepFixture sweep;
  double t0 = sweep.clock().NowUnixSeconds();
  // Clean for a minute, dirty for 9 minutes, clean again (one row a minute).
  std::string csv = "timestamp,grams_per_kwh\n";
  for (int minute = 0; minute <= 30; ++minute) {
    csv += std::to_string(static_cast<int64_t>(t0) + 60 * minute) + "," + (minute >= 1 && minute < 10 ? "900" : "100") + "\n";
  }
  auto series = SeriesIntensity::Parse(csv, "test-series");
  REQUIRE_MESSAGE(series.ok(), series.status().message());
  sweep.intensity = std::shared_ptr<const IntensityProvider>(std::move(*series));
  sweep.config.max_trials = 6;
  sweep.config.max_intensity_g_per_kwh = 500;
  sweep.config.max_delay_seconds = 3600;
  std::vector<double> launches;
  sweep.on_launch = [&](int64_t, int) { launches.push_back(sweep.clock().NowUnixSeconds() - t0); };
  auto outcome = sweep.Run();
  REQUIRE_MESSAGE(outcome.ok(), outcome.status().message());
  CHECK(outcome->state == SweepState::kDone);
  for (double at : launches) CHECK_MESSAGE((at < 60 || at >= 600), "launched at " << at << " s");
  CHECK(CountState(sweep.Trials(), TrialState::kFinished) == 6);
  CHECK(outcome->summary.find("held") != std::string::npos);
  // At the dirty intensity only the trial caught running kept on, up to its next epoch boundary.
  auto samples = sweep.store().ListPowerSamples(sweep.sweep_id());
  REQUIRE(samples.ok());
  double dirty_seconds = 0;
  for (const PowerSampleRow& row : *samples) dirty_seconds += row.intensity_g_per_kwh > 500 ? row.interval_seconds : 0;
  CHECK(dirty_seconds <= sweep.behaviour.seconds_per_epoch + 1);
  // The hold is on record, from when the loop first saw the dirty minute (at
  // most one epoch late) to when it first saw a clean one.
  auto holds = sweep.store().ListHolds(sweep.sweep_id());
  REQUIRE(holds.ok());
  REQUIRE(holds->size() == 1);
  double started = (*holds)[0].started_at_unix - t0;
  CHECK(started >= 60);
  CHECK(started <= 60 + sweep.behaviour.seconds_per_epoch + 1);
  REQUIRE((*holds)[0].ended_at_unix.has_value());
  double ended = *(*holds)[0].ended_at_unix - t0;
  CHECK(ended >= 600);
  CHECK(ended <= 600 + 2 * sweep.config.carbon.sample_interval_seconds + 1);
  CHECK((*holds)[0].intensity_g_per_kwh == 900);
  CHECK((*holds)[0].threshold_g_per_kwh == 500);
}

}  // namespace cs

namespace cs {

TEST_CASE("a full disk ends the run with an I/O error; the store stays consistent and resume finishes the sweep") {
  SweepFixture sweep;
  sweep.config.max_trials = 6;
  sweep.config.parallel = 2;
  StoreOptions limited;
  limited.max_file_bytes = 160 * 1024;  // room for the schema and a few minutes of samples.
  sweep.ReopenStore(limited);
  sweep.behaviour.seconds_per_epoch = 600;  // long trials: the samples fill the file mid-sweep.
  auto failed = sweep.Run();
  REQUIRE(!failed.ok());
  CHECK(failed.status().code() == Status::Code::kIoError);

  sweep.ReopenStore(StoreOptions{});  // space freed.
  std::vector<TrialRecord> before = sweep.Trials();
  REQUIRE(!before.empty());
  double spent_before = sweep.SpentGrams();
  auto resumed = sweep.Resume();
  REQUIRE_MESSAGE(resumed.ok(), resumed.status().message());
  CHECK(resumed->state == SweepState::kDone);
  std::vector<TrialRecord> trials = sweep.Trials();
  CHECK(trials.size() == 6);
  CHECK(CountState(trials, TrialState::kFinished) == 6);
  CHECK(sweep.SpentGrams() > spent_before);
}

}  // namespace cs
