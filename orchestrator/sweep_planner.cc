#include "orchestrator/sweep_planner.h"

#include <algorithm>

#include "common/json.h"
#include "common/text.h"
#include "common/units.h"

namespace cs {

Result<bool> IntensityHold::Holding() {
  why_.clear();
  if (config_.max_intensity_g_per_kwh < 0 || env_.intensity == nullptr) return false;
  const double now = env_.clock->MonotonicSeconds();
  const double intensity = env_.intensity->GramsPerKwhAt(env_.clock->NowUnixSeconds());
  if (intensity <= config_.max_intensity_g_per_kwh) {
    if (started_ >= 0) held_seconds_ += now - started_;
    started_ = -1;
    CS_RETURN_IF_ERROR(End());
    return false;
  }
  if (started_ < 0) {
    started_ = now;
    HoldRecord hold;
    hold.sweep_id = sweep_id_;
    hold.started_at_unix = env_.clock->NowUnixSeconds();
    hold.intensity_g_per_kwh = intensity;
    hold.threshold_g_per_kwh = config_.max_intensity_g_per_kwh;
    auto recorded = env_.store->BeginHold(hold);
    if (!recorded.ok()) return recorded.status();
    record_ = *recorded;
  }
  if (held_seconds_ + (now - started_) >= config_.max_delay_seconds) {
    CS_RETURN_IF_ERROR(End());  // waited long enough: trials run, dirty grid or not.
    return false;
  }
  why_ = StringPrintf("holding: %.0f g/kWh > %.0f", intensity, config_.max_intensity_g_per_kwh);
  return true;
}

Status IntensityHold::End() {
  if (record_ == 0) return Status::Ok();
  const int64_t record = record_;
  record_ = 0;
  return env_.store->EndHold(record, env_.clock->NowUnixSeconds());
}

NextWork SweepPlanner::PickNext(bool may_start) const {
  NextWork next;
  if (!may_start) return next;
  if (!book_.to_resume.empty()) {
    next.kind = NextWork::Kind::kResume;
    return next;
  }
  const bool new_allowed = (!config_.max_trials || book_.next_index < *config_.max_trials) &&
                           strategy_.Point(book_.next_index).has_value();
  if (config_.halving) {
    next.decision = asha_.Decide(book_.Progress(sweep_.objective));
    if (next.decision.action == EarlyStopAction::kPromote) {
      next.kind = NextWork::Kind::kPromote;
      return next;
    }
  }
  if (new_allowed) next.kind = NextWork::Kind::kNew;
  return next;
}

Result<PlannedTrial> SweepPlanner::Plan(const NextWork& next, SweepStore& store) const {
  PlannedTrial planned;
  ActiveTrial& trial = planned.trial;
  if (next.kind == NextWork::Kind::kResume) planned.record = book_.to_resume.front();
  if (next.kind == NextWork::Kind::kPromote) {
    auto stored = store.GetTrial(next.decision.trial_id);
    if (!stored.ok()) return stored.status();
    planned.record = *stored;
  }
  if (planned.record) {
    const TrialRecord& record = *planned.record;
    trial.id = record.id;
    trial.index = record.index;
    trial.params = ParseJsonOrDiscarded(record.params_json);
    trial.work_dir = record.work_dir.empty() ? TrialWorkDir(config_, record.index) : record.work_dir;
    if (config_.halving) {
      auto view = book_.views.find(record.id);
      const int target = view != book_.views.end() ? view->second.target_epoch : 0;
      trial.stop_after_epoch = next.kind == NextWork::Kind::kPromote ? next.decision.stop_after_epoch : target;
    }
  } else {
    trial.index = book_.next_index;
    trial.params = *strategy_.Point(book_.next_index);
    if (config_.halving) {
      trial.params["epochs"] = config_.asha.max_epochs;
      trial.stop_after_epoch = next.decision.stop_after_epoch;
    }
    trial.work_dir = TrialWorkDir(config_, trial.index);
  }
  if (!trial.params.is_object()) {
    return Status::Corruption("trial " + std::to_string(trial.index) + ": stored params are not JSON");
  }
  trial.epochs = TrialEpochs(trial.params);
  if (trial.stop_after_epoch >= trial.epochs) trial.stop_after_epoch = 0;
  const int target = trial.stop_after_epoch > 0 ? trial.stop_after_epoch : trial.epochs;

  // What it will cost from here, and what it reserves in all.
  double already = 0;
  int epochs_done = 0;
  if (planned.record) {
    already = planned.record->energy.grams_co2e;
    auto view = book_.views.find(planned.record->id);
    if (view != book_.views.end()) epochs_done = view->second.EpochsDone();
  }
  planned.needed_grams = book_.cost.PredictTrialGrams(target - epochs_done).value_or(0);  // uncalibrated: it calibrates.
  planned.reserve_grams = already + planned.needed_grams;
  return planned;
}

Admission SweepPlanner::Admit(const PlannedTrial& planned, const SweepSpend& spend, double next_interval_grams) const {
  Admission admission;
  if (spend.total.grams_co2e + next_interval_grams >= sweep_.budget_grams_co2e) {
    admission.verdict = Admission::Verdict::kBudgetSpent;
    return admission;
  }
  const double available =
      AvailableGrams(sweep_.budget_grams_co2e, spend.total.grams_co2e, spend.outstanding_reserved_grams_co2e);
  if (planned.needed_grams <= available) return admission;
  if (!book_.running.empty()) {
    admission.verdict = Admission::Verdict::kWait;
    return admission;
  }
  admission.verdict = Admission::Verdict::kSkip;
  admission.reason = "predicted " + FormatGrams(planned.needed_grams) + " does not fit in the " +
                     FormatGrams(std::max(0.0, available)) + " left of the budget";
  return admission;
}

Result<EpochVerdict> SweepPlanner::AfterEpoch(const ActiveTrial& trial, int epoch, double trial_grams,
                                              double reserved_grams, const SweepSpend& spend,
                                              IntensityHold& hold) const {
  EpochVerdict verdict;
  const TrialView& view = book_.views.at(trial.id);
  if (config_.prune == PruneMode::kMedian) {
    TrialProgress progress{trial.id, TrialProgressState::kRunning, view.Scores(sweep_.objective), view.target_epoch};
    EarlyStopDecision decision = pruner_.ShouldStop(progress, book_.Progress(sweep_.objective));
    if (decision.action == EarlyStopAction::kStop) {
      verdict.stop = StopCause::kPruned;
      verdict.reason = decision.reason;
      return verdict;
    }
  }
  const int target = trial.stop_after_epoch > 0 ? trial.stop_after_epoch : trial.epochs;
  const int epochs_left = target - epoch;
  if (epochs_left <= 0) return verdict;
  Result<bool> holding = hold.Holding();
  if (!holding.ok()) return holding.status();
  if (*holding) {
    // Carbon-aware: pause at this epoch boundary; it resumes from the checkpoint when the grid is cleaner.
    verdict.stop = StopCause::kHold;
    verdict.mode = StopMode::kGraceful;
    verdict.reason = hold.why();
    return verdict;
  }
  const double needed = trial_grams / epoch * epochs_left;
  const double own_outstanding = std::max(0.0, reserved_grams - trial_grams);
  const double available = AvailableGrams(sweep_.budget_grams_co2e, spend.total.grams_co2e,
                                          spend.outstanding_reserved_grams_co2e - own_outstanding);
  if (sweep_.on_budget == OnBudget::kStop && needed > available) {
    verdict.stop = StopCause::kBudget;
    verdict.reason = "after epoch " + std::to_string(epoch) + " its " + std::to_string(epochs_left) +
                     " remaining epoch(s) need about " + FormatGrams(needed) + ", only " +
                     FormatGrams(std::max(0.0, available)) + " left";
    return verdict;
  }
  verdict.reserve_grams = trial_grams + needed;
  return verdict;
}

std::vector<int64_t> SweepPlanner::Unpromoted() const {
  std::vector<int64_t> ids;
  for (const auto& [id, view] : book_.views) {
    if (view.state == TrialState::kPaused) ids.push_back(id);
  }
  return ids;
}

}  // namespace cs
