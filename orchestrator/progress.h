// ProgressReporter: what a running sweep tells the person (or script)
// watching it. Three modes: a live status line on stderr (trial k of n or
// "until budget", best accuracy so far, grams spent / budget, ETA) plus one
// line per finished trial; quiet (errors only, printed by the CLI); JSON (one
// object per event on stdout, for scripts). Only the scheduler thread calls it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/sweep_store.h"

namespace cs {

enum class ProgressMode {
  kLine = 0,   // human: live line on stderr (redrawn on a terminal, else printed per trial).
  kQuiet = 1,  // nothing.
  kJson = 2,   // one JSON object per event on stdout.
};

// A running trial as the live line shows it.
struct RunningTrialProgress {
  int64_t index = 0;               // k in the sweep.
  int epochs_done = 0;
  int epochs = 0;                  // its schedule (0: unknown).
  double examples_per_second = 0;  // training throughput so far (0: before its first epoch).
  double grams = 0;                // CO2 measured for it so far.
};

// A snapshot for the live line.
struct ProgressSnapshot {
  int64_t trials_ended = 0;                // trials that reached an end state (this sweep, all runs).
  std::optional<int64_t> trials_planned;   // --trials or the grid size; nullopt = until budget.
  int running = 0;
  std::optional<double> best_metric;      // of `objective`.
  Objective objective;
  double spent_grams = 0;
  double budget_grams = 0;
  std::optional<double> eta_seconds;
  std::string holding;                     // "" or why no trial starts now (carbon-aware hold).
  std::vector<RunningTrialProgress> running_trials;  // by index.
};

class ProgressReporter {
 public:
  // `err_is_terminal`: redraw the live line in place (\r) instead of printing lines.
  ProgressReporter(ProgressMode mode, std::ostream* out, std::ostream* err, bool err_is_terminal);
  ~ProgressReporter();

  // One event: `fields` must hold "event" (e.g. "trial_start", "epoch", "trial_end").
  // JSON mode prints it; line mode prints `human` (when not empty) as its own line.
  void Event(const nlohmann::json& fields, const std::string& human);
  // Redraws (terminal) the status line; elsewhere prints it only when `force`.
  void Status(const ProgressSnapshot& snapshot, bool force);
  // Whether Status(snapshot, force) would print the running trials' part of
  // the line: callers skip gathering it (a store read per trial) otherwise.
  bool ShowsRunningTrials(bool force) const { return mode_ == ProgressMode::kLine && (err_is_terminal_ || force); }
  // Clears a live line before the process prints anything else.
  void Finish();
  // Called with every event's fields, in any mode, after it is shown (the
  // CLI's live HTML report rewrites itself on epochs and trial ends).
  // Called on the sweep loop's thread; one observer at a time.
  void SetObserver(std::function<void(const nlohmann::json& fields)> observer) { observer_ = std::move(observer); }

  static std::string FormatStatus(const ProgressSnapshot& snapshot);

 private:
  void ClearLine();
  ProgressMode mode_;
  std::ostream* out_;
  std::ostream* err_;
  bool err_is_terminal_;
  bool line_shown_ = false;
  std::function<void(const nlohmann::json& fields)> observer_;
};

}  // namespace cs
