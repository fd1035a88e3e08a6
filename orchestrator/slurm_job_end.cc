#include "orchestrator/slurm_job_end.h"

#include <cmath>
#include <cstdlib>

namespace cs {

bool EndedBehindOurBack(SlurmJobState state) {
  return state == SlurmJobState::kPreempted || state == SlurmJobState::kNodeFail ||
         state == SlurmJobState::kBootFail || state == SlurmJobState::kCancelled;
}

std::string SlurmEndReason(const std::string& job_id, const SlurmJobInfo& info) {
  std::string why = "slurm: job " + job_id + " " + (info.state_name.empty() ? "UNKNOWN" : info.state_name);
  if (!info.reason.empty() && info.reason != "None") why += " (" + info.reason + ")";
  if (info.state == SlurmJobState::kTimeout && !info.time_limit.empty()) why += ", time limit " + info.time_limit;
  return why;
}

TrialExit SlurmJobExit(const SlurmJobInfo& info) {
  TrialExit exit;
  if (info.exit_signal && *info.exit_signal > 0) {
    exit.how = TrialExit::How::kSignaled;
    exit.signal = *info.exit_signal;
  } else if (info.exit_code &&
             (info.state == SlurmJobState::kCompleted || info.state == SlurmJobState::kFailed ||
              *info.exit_code != 0)) {
    exit.how = TrialExit::How::kExited;
    exit.exit_code = *info.exit_code;
  } else {
    // Slurm ended it without an exit status we can trust (timeout, node
    // failure, purged job): the trial's own end event, if any, says more.
    exit.how = TrialExit::How::kLost;
  }
  return exit;
}

std::optional<double> ParseConsumedEnergyJoules(const std::string& sacct_output) {
  std::string text = sacct_output;
  text.erase(text.find_last_not_of(" \t\r\n") + 1);
  text.erase(0, text.find_first_not_of(" \t\r\n"));
  if (text.empty() || text.find_first_not_of("0123456789.") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  double joules = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(joules)) return std::nullopt;
  if (joules <= 0) return std::nullopt;  // no energy plugin: sacct prints 0.
  return joules;
}

}  // namespace cs
