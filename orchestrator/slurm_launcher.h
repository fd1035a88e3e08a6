// SlurmLauncher: runs each trial as a Slurm batch job. The orchestrator runs
// on a login/head node; the trial (`carbonsweep trial ... --meter-self`) runs
// on a compute node and talks back only through its work dir on the shared
// filesystem: events.log (the "@cs" event lines), energy.log (its own
// energy, see slurm_energy.h), checkpoint.pt, result.json, stderr.log.
//
// Start() writes <work_dir>/slurm-job.sh and submits it with sbatch. Wait()
// tails events.log and energy.log by offset (a line is handed on once, when
// its newline is there) and every `poll_interval_seconds` asks squeue (and
// scontrol for jobs that ended) how the jobs are. A job that ends produces
// its remaining lines and then one kExit whose stderr_tail ends with the
// Slurm state and reason ("slurm: job 42 TIMEOUT (TimeLimit)").
//
// A job that ends without having been asked to (PREEMPTED, NODE_FAIL,
// BOOT_FAIL, or CANCELLED by someone else) is resubmitted from the same work
// dir, so the trial continues from its last epoch checkpoint; the loop hears
// {"event":"requeue","job_id":NEW,"previous_job_id":OLD,"state":...,
// "reason":...} and records the new job id. After `max_requeues` such
// restarts the next one ends the trial (kExit) instead.
//
// After an orchestrator restart, Adopt() follows a job submitted by the
// previous orchestrator (job id from the store) instead of submitting again.
//
// The work dir is on a shared filesystem that others may write: nothing read
// back from it is trusted. The job script and the sbatch arguments are built
// from the options and the LaunchRequest (the store's config) at every
// submission, never read back; slurm-job.json only hints where events.log
// was and which job ran (bounded size, every field type- and range-checked,
// a job id a plain number), and a job it names is followed only when Slurm
// lists it as this user's (squeue --me) with this trial's name and script.
// events.log passes on only the trial's own kinds (start, epoch, end);
// energy.log only finite, non-negative records; a line over 64 KiB, or one
// that fails these checks, is skipped with a warning (options.warn).
//
// Where Slurm accounts energy itself, a job's end is preceded by
// {"event":"slurm_energy","job_id":ID,"joules":J} (sacct ConsumedEnergyRaw,
// the whole allocation's energy as Slurm measured it).
//
// The pid of every LaunchedTrial is 0: the loop does not meter these trials,
// their energy arrives as {"event":"energy",...} events.
// Not thread-safe: only the scheduler thread calls it (see launcher.h).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "orchestrator/launcher.h"
#include "orchestrator/slurm_client.h"

namespace cs {

struct SlurmLauncherOptions {
  // The carbonsweep binary as the compute nodes see it. Empty: this very
  // binary (/proc/self/exe), which must then be on a path the nodes share.
  std::string binary;
  // Arguments placed before the request's args.
  std::vector<std::string> leading_args = {"trial"};
  // Arguments placed after the request's args: the trial meters itself.
  std::vector<std::string> trailing_args = {"--meter-self"};
  // A user's command (LaunchRequest::command) runs under `carbonsweep job
  // --work-dir W <meter_args> -- COMMAND...` (command_job.h), which meters it.
  std::vector<std::string> meter_args;
  std::string partition;  // --slurm-partition: sbatch --partition; "" = the cluster's default.
  std::string gres;       // --slurm-gres: sbatch --gres, e.g. "gpu:1"; "" = none.
  std::string time_limit; // --slurm-time: sbatch --time, e.g. "02:00:00"; "" = the partition's.
  std::string extra;      // --slurm-extra: more sbatch flags, split as a shell would.
  std::string job_name_prefix = "cs";  // job names are "<prefix>-trial-<trial id>".
  // How often squeue is asked; files are read at every Wait() regardless.
  double poll_interval_seconds = 2;
  // How often the work dirs are read while Wait() blocks.
  double file_poll_seconds = 0.2;
  // After a graceful Stop(), how long before a plain scancel.
  double stop_grace_seconds = 30;
  // Resubmissions of one trial after preemption, node failure or a foreign scancel.
  int max_requeues = 3;
  // Ask `sacct` for the job's ConsumedEnergyRaw when it ends (clusters with
  // an acct_gather_energy plugin and slurmdbd). The first refusal (no
  // accounting) turns the question off for the launcher's lifetime.
  bool query_slurm_energy = true;
  // How much of the end of stderr.log a failure message keeps.
  size_t stderr_tail_bytes = 4096;
  // Where warnings about skipped work-dir content go (one line each, no
  // newline); nullptr = "carbonsweep: warning: ..." on stderr.
  std::function<void(const std::string&)> warn;
  Clock* clock = nullptr;  // nullptr = RealClock::Get(). Not owned.
};

class SlurmLauncher : public TrialLauncher {
 public:
  // `client` runs the Slurm tools (MakeRealSlurmClient() in production).
  SlurmLauncher(SlurmLauncherOptions options, std::unique_ptr<SlurmClient> client);
  // Jobs still running are left alone: a restarted orchestrator Adopt()s them.
  ~SlurmLauncher() override;

  // InvalidArgument for unparsable --slurm-extra or a control character in
  // anything the script or sbatch would get (naming which); IoError when the
  // script cannot be written or sbatch refuses (its message quoted).
  Result<LaunchedTrial> Start(const LaunchRequest& request) override;
  void Wait(double timeout_seconds, std::vector<LauncherEvent>* events) override;
  // kGraceful: `scancel --signal=TERM --full` (the trial checkpoints and
  // exits), a plain `scancel` after stop_grace_seconds; a pending job is
  // cancelled at once. kKill: `scancel` now.
  void Stop(int64_t trial_id, StopMode mode) override;
  int Running() const override { return static_cast<int>(jobs_.size()); }

  // Follows the job `job_id` that a previous orchestrator submitted for
  // `trial_id` in `work_dir` (resume). Nothing is submitted. Events are
  // replayed from where that job's attempt started in events.log (the store
  // ignores epochs it already has), energy from the start of energy.log (the
  // store skips samples it already has). A job Slurm no longer knows ends at
  // the next poll with kExit kLost, after its last lines. InvalidArgument
  // when `job_id` is not a job id, or squeue lists it under another user or
  // another job name. Without the request it cannot be resubmitted: if
  // preempted it ends (kExit), and the loop relaunches it from its checkpoint.
  Result<LaunchedTrial> Adopt(int64_t trial_id, const std::string& job_id, const std::string& work_dir) override;
  // Adopt(), and a preemption resubmits it from `request` as Start() would.
  Result<LaunchedTrial> AdoptLaunch(const LaunchRequest& request, const std::string& job_id) override;
  // The job slurm-job.json names (written as soon as sbatch answered); when
  // the job script is newer than that file (the orchestrator died while
  // sbatch ran), the newest job squeue lists with this trial's name and script.
  // Either way only a job `squeue --me` lists with this trial's name and
  // script, and newer than `recorded_job_id`.
  std::optional<std::string> UnrecordedJob(int64_t trial_id, const std::string& work_dir,
                                           const std::string& recorded_job_id) override;

  // The job ids submitted so far, in order (tests and logs).
  const std::vector<std::string>& submitted_job_ids() const { return submitted_; }

 private:
  struct Job;
  std::string JobName(int64_t trial_id) const;  // "<prefix>-trial-<id>".
  // Writes the job script from job.request, submits it with the sbatch
  // arguments built from the options and job.request (slurm_job_script.h),
  // records slurm-job.json (slurm_work_dir.h).
  Result<std::string> Submit(Job& job);
  Result<LaunchedTrial> Follow(int64_t trial_id, const std::string& job_id, const std::string& work_dir,
                               std::optional<LaunchRequest> request);
  void Warn(const std::string& message) const;
  // Warn(), at most a few times per job (a file full of bad lines is one problem).
  void WarnAbout(Job& job, const std::string& message) const;
  void ReadFiles(Job& job, std::vector<LauncherEvent>* events);
  void Poll(std::vector<LauncherEvent>* events);
  void JobEnded(Job& job, const SlurmJobInfo& info, std::vector<LauncherEvent>* events);
  void EnforceGracePeriods();
  void Cancel(const std::string& job_id, const std::vector<std::string>& flags);
  void ReportSlurmEnergy(const Job& job, std::vector<LauncherEvent>* events);

  SlurmLauncherOptions options_;
  std::unique_ptr<SlurmClient> client_;
  Clock* clock_;
  std::string binary_;
  std::map<int64_t, std::unique_ptr<Job>> jobs_;  // by trial id.
  std::vector<std::string> submitted_;
  double last_poll_ = -1;  // monotonic seconds; -1: never.
  bool slurm_energy_available_ = true;  // false after sacct refused once.
};

}  // namespace cs
