// What the sweep loop does with each launcher event: epochs, ends, exits,
// energy lines, requeues; and the recording of the sampler's samples.
#include "orchestrator/sweep_loop.h"

#include <algorithm>

#include "common/json.h"
#include "common/units.h"
#include "orchestrator/slurm_energy.h"
#include "orchestrator/trial_files.h"

namespace cs {

void SweepLoop::HandleEpoch(ActiveTrial& trial, const nlohmann::json& event) {
  const Objective& objective = sweep_.objective;
  Result<EpochRecord> checked =
      EpochRecordFromEvent(trial.id, event, TrialEpochBound(trial.params), Now(), objective.metric);
  if (!checked.ok()) return Warn(trial.index, "epoch event: " + checked.status().message() + " (skipped)");
  const EpochRecord& record = *checked;
  Status status = env_.store->RecordEpoch(record);
  if (!status.ok()) return Fail(status);
  book_.views[trial.id].RecordEpoch(record.epoch, record.metric, objective);
  trial.examples_seen = record.examples;
  trial.seconds = record.seconds;
  trial.steps = record.steps;
  auto stored = env_.store->GetTrial(trial.id);
  if (!stored.ok()) return Fail(stored.status());
  const double trial_grams = stored->energy.grams_co2e;
  book_.cost.Observe(trial.id, trial_grams, record.epoch, record.examples);
  nlohmann::json fields = {{"event", "epoch"}, {"trial", trial.index}, {"epoch", record.epoch},
                           {"grams_co2e", trial_grams}};
  fields["val_accuracy"] = record.val_accuracy ? nlohmann::json(*record.val_accuracy) : nullptr;
  if (objective.metric != "val_accuracy") fields[objective.metric] = record.metric ? nlohmann::json(*record.metric) : nullptr;
  // One line per epoch, on a terminal and in a log alike: a trial's minutes are not silent.
  std::string human = "trial " + std::to_string(trial.index) + " epoch " + std::to_string(record.epoch);
  if (trial.epochs > 0) human += "/" + std::to_string(trial.epochs);
  human += ": " + (record.metric ? FormatMetric(objective, *record.metric) : objective.metric + " -");
  if (record.seconds > 0) human += StringPrintf(", %.0f examples/s", static_cast<double>(record.examples) / record.seconds);
  human += ", " + FormatGrams(trial_grams) + " so far";
  env_.progress->Event(fields, human);
  if (trial.stop_cause != StopCause::kNone) return;
  auto spend = Spend();
  if (!spend) return;
  Result<EpochVerdict> verdict =
      planner_->AfterEpoch(trial, record.epoch, trial_grams, stored->reserved_grams_co2e, *spend, hold_);
  if (!verdict.ok()) return Fail(verdict.status());
  if (verdict->stop != StopCause::kNone) return StopTrial(trial, verdict->stop, verdict->reason, verdict->mode);
  if (!verdict->reserve_grams) return;
  status = env_.store->SetTrialReservation(trial.id, *verdict->reserve_grams);
  if (!status.ok()) Fail(status);
}

void SweepLoop::HandleExit(ActiveTrial& trial, const TrialExit& exit) {
  if (trial.pid > 0) env_.sampler->Untrack(trial.id, exit.cpu_seconds);
  RecordSamples();  // its last joules are in the store before its outcome.

  TrialEnding ending;
  ending.end_event = trial.end_event ? &*trial.end_event : nullptr;
  ending.stop_cause = trial.stop_cause;
  ending.stop_reason = trial.stop_reason;
  ending.stop_after_epoch = trial.stop_after_epoch;
  ending.exit = &exit;
  ending.exit_zero_finishes = !config_.command.empty();
  TrialOutcome outcome = OutcomeFromExit(ending);

  TrialView& view = book_.views[trial.id];
  outcome.seconds = trial.seconds;
  outcome.steps = trial.steps;
  outcome.examples = trial.examples_seen;
  const Objective& objective = sweep_.objective;
  if (trial.end_event && (HasMetric(*trial.end_event, objective.metric) || trial.end_event->contains("val_accuracy"))) {
    // Checked on arrival (HandleEnd).
    (void)FillOutcomeFromEndEvent(*trial.end_event, TrialEpochBound(trial.params), objective.metric, &outcome);
  }
  if (!outcome.metric) {
    if (std::optional<int> best = view.BestEpoch(objective)) {
      outcome.best_epoch = *best;
      outcome.metric = view.metric[static_cast<size_t>(*best - 1)];
      if (!outcome.val_accuracy && objective.metric == "val_accuracy") outcome.val_accuracy = outcome.metric;
    }
  }
  if (outcome.metric) view.best_metric = outcome.metric;
  view.state = outcome.state;
  CountEarlyFailure(trial, outcome);
  if (outcome.state == TrialState::kFailed) last_failure_ = "trial " + std::to_string(trial.index) + " " + outcome.reason;
  if (fatal_.ok()) {
    Status status = env_.store->FinishTrial(trial.id, outcome, Now());
    if (!status.ok()) Fail(status);
  }
  double trial_grams = 0;
  if (fatal_.ok()) {
    auto stored = env_.store->GetTrial(trial.id);
    if (stored.ok()) {
      trial_grams = stored->energy.grams_co2e;
      book_.cost.Observe(trial.id, trial_grams, view.EpochsDone(), trial.examples_seen);
    }
  }
  if (trial.stop_cause == StopCause::kHold && fatal_.ok() && !interrupted_) {
    auto stored = env_.store->GetTrial(trial.id);
    if (stored.ok()) book_.to_resume.push_back(*stored);
  }
  if (IsEndState(outcome.state)) {
    trial_seconds_sum_ += env_.clock->MonotonicSeconds() - trial.started_monotonic;
    ++trials_timed_;
  }
  std::string human = "trial " + std::to_string(trial.index) + " " + TrialStateName(outcome.state);
  if (outcome.metric) {
    human += ": " + FormatMetric(objective, *outcome.metric);
  } else if (outcome.val_accuracy) {
    human += ": val acc " + FormatAccuracy(*outcome.val_accuracy);
  }
  human += ", " + FormatGrams(trial_grams);
  if (!outcome.reason.empty() && outcome.state != TrialState::kFinished) human += " (" + outcome.reason + ")";
  nlohmann::json fields = {{"event", "trial_end"}, {"trial", trial.index}, {"state", TrialStateName(outcome.state)},
                           {"grams_co2e", trial_grams}, {"reason", outcome.reason}};
  fields["val_accuracy"] = outcome.val_accuracy ? nlohmann::json(*outcome.val_accuracy) : nullptr;
  fields["test_accuracy"] = outcome.test_accuracy ? nlohmann::json(*outcome.test_accuracy) : nullptr;
  if (objective.metric != "val_accuracy") fields[objective.metric] = outcome.metric ? nlohmann::json(*outcome.metric) : nullptr;
  env_.progress->Event(fields, human);
}

void SweepLoop::Handle(const LauncherEvent& event) {
  auto it = book_.running.find(event.trial_id);
  if (it == book_.running.end()) return;
  ActiveTrial& trial = it->second;
  if (event.kind == LauncherEvent::Kind::kExit) {
    HandleExit(trial, event.exit);
    book_.free_gpus.insert(book_.free_gpus.end(), trial.gpus.begin(), trial.gpus.end());
    std::sort(book_.free_gpus.begin(), book_.free_gpus.end());
    book_.running.erase(it);
    if (fatal_.ok()) {
      if (auto spend = Spend()) spent_grams_ = spend->total.grams_co2e;  // the progress line includes its last joules.
    }
    ReportStatus(/*force=*/true);
    return;
  }
  const std::string& kind = event.event["event"].get_ref<const std::string&>();  // ParseTrialEvent checked it.
  if (kind == "epoch") {
    HandleEpoch(trial, event.event);
  } else if (kind == "end") {
    TrialOutcome ignored;
    Status checked = FillOutcomeFromEndEvent(event.event, TrialEpochBound(trial.params), sweep_.objective.metric, &ignored);
    if (!checked.ok()) return Warn(trial.index, "end event: " + checked.message() + " (skipped)");
    trial.end_event = event.event;
  } else if (kind == kEnergyEventName) {
    HandleEnergy(trial, event.event);
  } else if (kind == "requeue") {
    HandleRequeue(trial, event.event);
  } else if (kind == "slurm_energy") {
    HandleSlurmEnergy(trial, event.event);
  }
}

void SweepLoop::HandleEnergy(ActiveTrial& trial, const nlohmann::json& event) {
  if (!fatal_.ok()) return;
  Result<MeterReading> reading = MeterReadingFromEnergyEvent(event, trial.id);
  if (!reading.ok()) {
    env_.progress->Event({{"event", "warning"}, {"trial", trial.index}, {"message", reading.status().message()}},
                         "warning: " + reading.status().message() + " (line skipped)");
    return;
  }
  trial.attempt_self_meter_joules += reading->meter_joules;
  RecordEventReadings({*reading});
}

void SweepLoop::HandleRequeue(ActiveTrial& trial, const nlohmann::json& event) {
  // Preempted or its node failed: the same work dir runs again as a new job, from the last checkpoint.
  trial.end_event.reset();
  trial.attempt_self_meter_joules = 0;
  TrialLaunch launch;
  launch.job_id = event.value("job_id", "");
  launch.work_dir = trial.work_dir;
  Status status = env_.store->MarkTrialRunning(trial.id, launch, Now());
  if (!status.ok()) return Fail(status);
  std::string why = event.value("state", "");
  if (!event.value("reason", "").empty()) why += " (" + event.value("reason", "") + ")";
  env_.progress->Event({{"event", "trial_requeue"}, {"trial", trial.index}, {"job_id", launch.job_id},
                        {"previous_job_id", event.value("previous_job_id", "")}, {"state", event.value("state", "")},
                        {"reason", event.value("reason", "")}},
                       "trial " + std::to_string(trial.index) + " requeued as job " + launch.job_id + " after " +
                           event.value("previous_job_id", "its job") + " ended " + why);
}

void SweepLoop::HandleSlurmEnergy(ActiveTrial& trial, const nlohmann::json& event) {
  // Slurm measured the whole allocation; what the trial metered itself is
  // already in the store, so only the difference is added, as the node's.
  if (!fatal_.ok()) return;
  const double slurm_joules = JsonNumberOr(event, "joules", -1);
  if (slurm_joules < 0) return;
  MeterReading correction;
  correction.trial_id = trial.id;
  correction.component = "node";
  correction.method = "slurm";
  correction.end_unix_seconds = Now();
  correction.interval_seconds = 0;
  correction.meter_joules = std::max(0.0, slurm_joules - trial.attempt_self_meter_joules);
  trial.attempt_self_meter_joules = 0;
  if (correction.meter_joules > 0) RecordEventReadings({correction});
}

void SweepLoop::RecordEventReadings(const std::vector<MeterReading>& readings) {
  Result<double> grams = ledger_->Record(readings);
  if (!grams.ok()) return Fail(grams.status());
  event_grams_since_tick_ += *grams;
}

double SweepLoop::RecordSamples() {
  std::vector<EnergySample> samples = env_.sampler->TakeSamples();
  if (samples.empty() || !fatal_.ok()) return 0;
  Result<double> grams = ledger_->Record(ReadingsFromSamples(samples));
  if (!grams.ok()) {
    Fail(grams.status());
    return 0;
  }
  return *grams;
}

}  // namespace cs
