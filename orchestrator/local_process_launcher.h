// LocalProcessLauncher: runs each trial as a child process of this one
// (fork + exec of `carbonsweep trial ...`), reads its stdout event lines and
// keeps the tail of its stderr, all through poll() on the scheduler thread.
//
// Children get PR_SET_PDEATHSIG(kOrchestratorDeathSignal): a killed
// orchestrator (kill -9) never leaves trials running unmetered beside a later
// `resume`, and each trial leaves its CPU time behind (trials/exit_usage.h)
// so `resume` can count what was not sampled; each child
// leads its own process group, so Ctrl-C at the terminal reaches only the
// orchestrator, which then stops the trials itself (gracefully). stderr is
// also appended to <work_dir>/stderr.log for humans.
// Not thread-safe: the scheduler thread owns it (see launcher.h).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "orchestrator/launcher.h"

namespace cs {

struct LocalLauncherOptions {
  // The program to exec. Empty: this very binary (/proc/self/exe).
  std::string binary;
  // Arguments placed before the request's args ({"trial"} for carbonsweep).
  std::vector<std::string> leading_args = {"trial"};
  // After a graceful Stop(), how long before SIGKILL.
  double stop_grace_seconds = 30;
  // How much of the end of stderr a failure message keeps.
  size_t stderr_tail_bytes = 4096;
  // Extra environment entries ("NAME=value") for every child.
  std::vector<std::string> environment;
  // The program leaves its CPU time when this orchestrator dies
  // (trials/exit_usage.h, as `carbonsweep trial` does): the death signal is
  // ignored until it installs its handler, which then notices a death that
  // came before. False for other programs: the signal's default action ends
  // them at once.
  bool leaves_exit_usage = true;
};

class LocalProcessLauncher : public TrialLauncher {
 public:
  explicit LocalProcessLauncher(LocalLauncherOptions options = {});
  ~LocalProcessLauncher() override;  // SIGKILLs and reaps children still running.

  Result<LaunchedTrial> Start(const LaunchRequest& request) override;
  void Wait(double timeout_seconds, std::vector<LauncherEvent>* events) override;
  void Stop(int64_t trial_id, StopMode mode) override;
  int Running() const override { return static_cast<int>(children_.size()); }

 private:
  struct Child;
  // Reads what is available on the child's pipes; returns false at EOF of both.
  void Drain(Child& child, std::vector<LauncherEvent>* events);
  void ReapExited(std::vector<LauncherEvent>* events);
  void EnforceGracePeriods();

  LocalLauncherOptions options_;
  std::string binary_;
  std::map<int64_t, std::unique_ptr<Child>> children_;  // by trial id.
};

}  // namespace cs
