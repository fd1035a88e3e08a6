// TrialLauncher: how the sweep loop starts trial processes and hears from
// them. One real implementation per place a trial can run (a local child
// process, a Slurm job) and a scripted fake for tests.
//
// The loop is ninja's: Start() what the free slots allow, then Wait() for
// the next thing to happen (an event line, an exit) or for the next sampler
// tick, handle it, repeat. Everything a trial says comes back through
// Wait(), on the calling thread, so the loop never shares state with the
// launcher. Not thread-safe: only the scheduler thread calls a launcher.
//
// Trials are named by the caller's trial id (the store's). A launcher that
// runs trials elsewhere (Slurm) names them by job id instead of pid; the
// loop only needs `pid` for local power attribution and treats 0 as "meters
// itself" (its energy arrives in the worker's files, not from the sampler).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace cs {

// What to run: the arguments of `carbonsweep trial` and where it works.
struct LaunchRequest {
  int64_t trial_id = 0;            // the store's id; how events are addressed.
  std::vector<std::string> args;   // after "trial": --params ... --work-dir ... (the launcher adds nothing).
  std::string work_dir;            // the trial's --work-dir (checkpoint, result, events, stderr log).
  int threads = 1;                 // CPU threads the trial may use (for launchers that allocate cores).
  // A user's own training command (trial_command.h): its whole argv, argv[0]
  // a path; `args` is then unused. Empty: the bundled trial program.
  std::vector<std::string> command;
  std::vector<std::string> environment;  // NAME=value entries for this trial alone.
  std::string params_json;               // written to <work_dir>/params.json first; "" = none.
};

// Where a started trial runs.
struct LaunchedTrial {
  int64_t trial_id = 0;
  int pid = 0;         // local process id; 0 when the trial is not a local child.
  std::string job_id;  // the launcher's own name for it: "pid:1234" or a Slurm job id.
};

// How a trial process ended, as far as the OS can tell.
struct TrialExit {
  enum class How {
    kExited = 0,    // exit(code).
    kSignaled = 1,  // killed by `signal` (segfault, OOM killer, our SIGKILL).
    kLost = 2,      // the launcher lost track of it (a job that vanished); no code.
  };
  How how = How::kExited;
  int exit_code = 0;         // valid for kExited.
  int signal = 0;            // valid for kSignaled.
  double cpu_seconds = 0;    // user+system CPU of the whole trial (wait4 rusage); 0 if unknown.
  std::string stderr_tail;   // the last few KB of stderr, for failure messages.
  // "exit 0", "exit 7", "killed by SIGSEGV", "lost".
  std::string Describe() const;
  // The last non-empty line of stderr_tail, control characters escaped, at
  // most 300 bytes: what a failure message shows of the trial's own words.
  std::string LastStderrLine() const;
};

// One thing that happened to one trial.
struct LauncherEvent {
  enum class Kind {
    kEvent = 0,  // the trial printed an "@cs {...}" line: `event` holds the object.
    kExit = 1,   // the trial process is gone: `exit` says how. Always the trial's last event.
  };
  Kind kind = Kind::kEvent;
  int64_t trial_id = 0;
  nlohmann::json event;  // kEvent only.
  TrialExit exit;        // kExit only.
};

// How Stop() ends a trial.
enum class StopMode {
  kGraceful = 0,  // SIGTERM: the trial stops at a step boundary and exits; SIGKILL after the grace period.
  kKill = 1,      // SIGKILL now (budget hard stop: not one more step). The last epoch checkpoint stays usable.
};

class TrialLauncher {
 public:
  virtual ~TrialLauncher() = default;

  // Starts a trial. Errors are about the launcher (cannot fork, no binary),
  // never about the trial itself: a trial that fails at once still starts and
  // reports its exit through Wait().
  virtual Result<LaunchedTrial> Start(const LaunchRequest& request) = 0;

  // Blocks until at least one event is available or `timeout_seconds` have
  // passed, then appends every available event to `events` (possibly none).
  // Also enforces stop grace periods. A FakeLauncher advances its clock here.
  virtual void Wait(double timeout_seconds, std::vector<LauncherEvent>* events) = 0;

  // Asks a running trial to stop. Its kExit still arrives through Wait().
  // Unknown or already exited ids are ignored.
  virtual void Stop(int64_t trial_id, StopMode mode) = 0;

  // Trials started and not yet reported as exited.
  virtual int Running() const = 0;

  // Follows trial `trial_id`, started by a previous orchestrator as
  // `job_id` in `work_dir`, without starting it again (resume). Only a
  // launcher whose trials outlive the orchestrator (Slurm) can; the loop
  // relaunches from the checkpoint when this fails.
  virtual Result<LaunchedTrial> Adopt(int64_t trial_id, const std::string& job_id, const std::string& work_dir) {
    (void)trial_id, (void)job_id, (void)work_dir;
    return Status::Unsupported("this launcher cannot adopt running trials");
  }

  // Adopt() for a launcher that may have to submit the trial again (a Slurm
  // job preempted after the restart): `request` is what Start() would be
  // given now, built from the store's config, so a resubmission never takes
  // its arguments from the (shared, writable) work dir. By default, Adopt().
  virtual Result<LaunchedTrial> AdoptLaunch(const LaunchRequest& request, const std::string& job_id) {
    return Adopt(request.trial_id, job_id, request.work_dir);
  }

  // A job this launcher submitted for trial `trial_id` (in `work_dir`) other
  // than `recorded_job_id`, the one the store knows: the orchestrator died
  // after submitting it and before recording it. Resume records and adopts
  // it instead of submitting the trial a second time. Only a launcher whose
  // trials outlive the orchestrator has any; nullopt otherwise.
  virtual std::optional<std::string> UnrecordedJob(int64_t trial_id, const std::string& work_dir,
                                                   const std::string& recorded_job_id) {
    (void)trial_id, (void)work_dir, (void)recorded_job_id;
    return std::nullopt;
  }
};

}  // namespace cs
