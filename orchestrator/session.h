// The production wiring of a sweep: the real launcher (this binary's `trial`
// subcommand as child processes, or as Slurm jobs that meter themselves with
// --launcher slurm), the power sources this machine has, the
// intensity the user chose, the real clock. `carbonsweep run` and `resume`
// call these; tests wire fakes through sweep_runner.h instead.
// Called from the main thread only.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "orchestrator/progress.h"
#include "orchestrator/sweep_config.h"
#include "orchestrator/sweep_runner.h"

namespace cs {

struct SessionOptions {
  std::string db_path = "carbonsweep.db";
  ProgressReporter* progress = nullptr;
  const std::atomic<int>* interrupts = nullptr;  // see InstallInterruptHandlers.
  // The program whose `trial` subcommand runs trials; "" = this binary.
  std::string trial_binary;
  // Checks that the sweep's trials can run (data, backbone, vocab, the
  // space against them) before anything is recorded or spent, by `run` and
  // again by `resume` (a file may have gone since). The CLI passes the
  // trial's own loader; nullptr = no check (tests of the loop alone).
  std::function<Status(const SweepConfig&, const SearchSpace&)> check_trials;
};

// Checks a config before anything is written: one line naming the flag.
Status ValidateSweepConfig(const SweepConfig& config);

// Creates sweep `config.name` in the store and runs it. InvalidArgument when
// the name exists (the message says to use `resume`).
Result<SweepOutcome> RunNewSweep(SweepConfig config, const SessionOptions& options);

// What `resume` may change about a sweep.
struct ResumeOverrides {
  std::optional<double> budget_grams_co2e;  // raise (or lower) the budget.
  std::optional<int> parallel;
  std::optional<int> total_threads;
};

// Continues sweep `name` from what the store says. A sweep that is done is
// reported as such (exit 0, nothing run); one whose budget is spent needs a
// larger --budget.
Result<SweepOutcome> ResumeSweep(const std::string& name, const ResumeOverrides& overrides,
                                 const SessionOptions& options);

// Counts SIGINT/SIGTERM into the returned counter (async-signal-safe), for
// SweepEnvironment::interrupts. Installs once per process.
const std::atomic<int>* InstallInterruptHandlers();

// <db>.d/<sweep>, absolute.
std::string DefaultWorkRoot(const std::string& db_path, const std::string& sweep_name);

}  // namespace cs
