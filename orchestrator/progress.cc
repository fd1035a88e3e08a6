#include "orchestrator/progress.h"

#include "common/text.h"
#include "common/units.h"

namespace cs {

ProgressReporter::ProgressReporter(ProgressMode mode, std::ostream* out, std::ostream* err, bool err_is_terminal)
    : mode_(mode), out_(out), err_(err), err_is_terminal_(err_is_terminal) {}

ProgressReporter::~ProgressReporter() { Finish(); }

void ProgressReporter::ClearLine() {
  if (line_shown_) {
    *err_ << "\r\033[K" << std::flush;
    line_shown_ = false;
  }
}

void ProgressReporter::Event(const nlohmann::json& fields, const std::string& human) {
  if (mode_ == ProgressMode::kJson) {
    *out_ << fields.dump() << "\n" << std::flush;
  } else if (mode_ == ProgressMode::kLine && !human.empty()) {
    ClearLine();
    *err_ << human << "\n" << std::flush;
  }
  if (observer_) observer_(fields);
}

std::string ProgressReporter::FormatStatus(const ProgressSnapshot& snapshot) {
  std::string line = "trials " + std::to_string(snapshot.trials_ended);
  line += snapshot.trials_planned ? " of " + std::to_string(*snapshot.trials_planned) : " (until budget)";
  if (snapshot.running > 0) line += ", " + std::to_string(snapshot.running) + " running";
  line += " | best " + (snapshot.best_metric ? FormatMetric(snapshot.objective, *snapshot.best_metric)
                                             : MetricLabel(snapshot.objective) + " -");
  line += " | " + FormatGrams(snapshot.spent_grams) + " of " + FormatGrams(snapshot.budget_grams);
  if (snapshot.eta_seconds) line += " | ETA " + FormatSeconds(*snapshot.eta_seconds);
  if (!snapshot.holding.empty()) line += " | " + snapshot.holding;
  // What each running trial is doing, so the line moves during its minutes.
  constexpr size_t kShown = 3;
  for (size_t i = 0; i < snapshot.running_trials.size() && i < kShown; ++i) {
    const RunningTrialProgress& trial = snapshot.running_trials[i];
    line += (i == 0 ? " | #" : "; #") + std::to_string(trial.index) + " epoch " + std::to_string(trial.epochs_done);
    if (trial.epochs > 0) line += "/" + std::to_string(trial.epochs);
    if (trial.examples_per_second > 0) line += " " + StringPrintf("%.0f", trial.examples_per_second) + " ex/s";
    line += " " + FormatGrams(trial.grams);
  }
  if (snapshot.running_trials.size() > kShown) {
    line += " (+" + std::to_string(snapshot.running_trials.size() - kShown) + " more)";
  }
  return line;
}

void ProgressReporter::Status(const ProgressSnapshot& snapshot, bool force) {
  if (mode_ == ProgressMode::kJson) {
    if (!force) return;
    nlohmann::json fields = {{"event", "progress"},
                             {"trials_ended", snapshot.trials_ended},
                             {"running", snapshot.running},
                             {"spent_grams_co2e", snapshot.spent_grams},
                             {"budget_grams_co2e", snapshot.budget_grams}};
    fields["trials_planned"] = snapshot.trials_planned ? nlohmann::json(*snapshot.trials_planned) : nullptr;
    const nlohmann::json best = snapshot.best_metric ? nlohmann::json(*snapshot.best_metric) : nullptr;
    fields["metric"] = snapshot.objective.metric;
    fields["best_metric"] = best;
    if (snapshot.objective.metric == "val_accuracy") fields["best_val_accuracy"] = best;  // the name before --metric.
    fields["eta_seconds"] = snapshot.eta_seconds ? nlohmann::json(*snapshot.eta_seconds) : nullptr;
    *out_ << fields.dump() << "\n" << std::flush;
    return;
  }
  if (mode_ == ProgressMode::kQuiet) return;
  if (err_is_terminal_) {
    *err_ << "\r\033[K" << FormatStatus(snapshot) << std::flush;
    line_shown_ = true;
  } else if (force) {
    *err_ << FormatStatus(snapshot) << "\n" << std::flush;
  }
}

void ProgressReporter::Finish() { ClearLine(); }

}  // namespace cs
