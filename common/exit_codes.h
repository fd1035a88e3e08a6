// The process exit codes of every carbonsweep command, in one place.
// Documented in README.md ("Exit codes"); scripts depend on them, so the
// numbers never change meaning.
#pragma once

#include "common/status.h"

namespace cs {

enum class ExitCode : int {
  kOk = 0,             // done: the command did all it was asked.
  kInternalError = 1,  // a bug or an unexpected failure; the message says where.
  kBadInput = 2,       // bad flags, files, fields, budgets; nothing was changed.
  kBudgetSpent = 3,    // a sweep stopped because its CO2 budget is spent.
  kInterrupted = 4,    // stopped by a signal (Ctrl-C, SIGTERM); resumable.
  kBusy = 5,           // the store or sweep is held by another process.
  kIoError = 6,        // the OS refused (disk full, permission); the store is consistent.
  kTrialFailed = 7,    // `trial`: the job could not run to an end (not divergence).
  kTrialsFailing = 8,  // a sweep stopped because its trials keep failing (or all failed); fix, then `resume`.
};

// The exit code that reports a failed Status.
inline ExitCode ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case Status::Code::kOk: return ExitCode::kOk;
    case Status::Code::kInvalidArgument:
    case Status::Code::kNotFound:
    case Status::Code::kCorruption:
    case Status::Code::kUnsupported: return ExitCode::kBadInput;
    case Status::Code::kBusy: return ExitCode::kBusy;
    case Status::Code::kIoError: return ExitCode::kIoError;
    case Status::Code::kInternal: return ExitCode::kInternalError;
  }
  return ExitCode::kInternalError;
}

}  // namespace cs
