#include "orchestrator/slurm_launcher.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "common/files.h"
#include "common/json.h"
#include "orchestrator/slurm_energy.h"
#include "orchestrator/slurm_job_end.h"
#include "orchestrator/slurm_job_script.h"
#include "orchestrator/trial_command.h"
#include "orchestrator/slurm_work_dir.h"
#include "trials/protocol.h"

namespace cs {

namespace {

// Warnings about one trial's files; after that they are skipped silently.
constexpr int kMaxWarningsPerJob = 10;

}  // namespace

struct SlurmLauncher::Job {
  int64_t trial_id = 0;
  std::string work_dir;
  std::string job_id;
  // What Start() was given (or AdoptLaunch()): every submission builds the
  // script and the sbatch arguments from it. None after a plain Adopt(): the
  // job cannot be resubmitted then.
  std::optional<LaunchRequest> request;
  TailedFile events;
  TailedFile energy;
  SlurmJobState state = SlurmJobState::kPending;
  bool stop_requested = false;  // ours: never requeue it.
  double kill_at = 0;           // monotonic seconds for the plain scancel; 0 = none pending.
  int requeues = 0;
  int missing_polls = 0;        // polls in a row where Slurm did not know the job.
  bool saw_end_event = false;   // this attempt printed a final "end" event (not "interrupted").
  int warnings = 0;             // about its files, so far.
};

SlurmLauncher::SlurmLauncher(SlurmLauncherOptions options, std::unique_ptr<SlurmClient> client)
    : options_(std::move(options)), client_(std::move(client)) {
  clock_ = options_.clock != nullptr ? options_.clock : RealClock::Get();
  binary_ = options_.binary;
  if (binary_.empty()) {
    char path[4096];
    ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
    if (n > 0) binary_.assign(path, static_cast<size_t>(n));
  }
}

SlurmLauncher::~SlurmLauncher() = default;

void SlurmLauncher::Warn(const std::string& message) const {
  if (options_.warn) {
    options_.warn(message);
  } else {
    std::fprintf(stderr, "carbonsweep: warning: %s\n", message.c_str());
  }
}

void SlurmLauncher::WarnAbout(Job& job, const std::string& message) const {
  if (++job.warnings > kMaxWarningsPerJob) return;
  Warn(message + (job.warnings == kMaxWarningsPerJob ? " (further warnings about this trial's files are not shown)" : ""));
}

Result<std::string> SlurmLauncher::Submit(Job& job) {
  if (!job.request) return Status::Internal("trial " + std::to_string(job.trial_id) + ": no launch request to submit");
  auto sbatch_args = SlurmSbatchArgs(options_, *job.request);
  if (!sbatch_args.ok()) return sbatch_args.status();
  auto script = SlurmJobScript(options_, binary_, *job.request, *sbatch_args);
  if (!script.ok()) return script.status();
  // Written anew at every submission: whatever the work dir holds now is not trusted.
  std::string script_path = job.work_dir + "/" + kSlurmJobScriptFile;
  CS_RETURN_IF_ERROR(WriteFileAtomic(script_path, *script, /*mode=*/0700));  // this user's job alone.

  std::vector<std::string> argv = {"sbatch", "--parsable"};
  argv.insert(argv.end(), sbatch_args->begin(), sbatch_args->end());
  argv.push_back(script_path);
  auto output = client_->Run(argv);
  if (!output.ok()) return output.status();
  if (output->exit_code != 0) {
    std::string message = output->stderr_text.empty() ? output->stdout_text : output->stderr_text;
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    return Status::IoError("sbatch refused trial " + std::to_string(job.trial_id) + " (exit " +
                           std::to_string(output->exit_code) + "): " + message);
  }
  auto job_id = ParseSbatchJobId(output->stdout_text);
  if (!job_id.ok()) return job_id.status();

  // The attempt starts at the current end of events.log: earlier attempts'
  // lines were handed on already (or are ingested by resume).
  job.job_id = *job_id;
  job.events.RestartAt(RegularFileSize(job.events.path));
  job.state = SlurmJobState::kPending;
  job.missing_polls = 0;
  job.saw_end_event = false;
  submitted_.push_back(job.job_id);
  // Without this file Adopt() still works (replaying events.log from its
  // start), so a failed write does not fail a job that is already queued.
  (void)WriteJobStateFile(job.work_dir + "/" + kSlurmJobStateFile,
                          {job.job_id, job.trial_id, job.events.offset, job.requeues});
  return job.job_id;
}

Result<LaunchedTrial> SlurmLauncher::Start(const LaunchRequest& request) {
  if (binary_.empty()) return Status::Internal("cannot find this program's path (/proc/self/exe)");
  if (jobs_.count(request.trial_id)) {
    return Status::Internal("trial " + std::to_string(request.trial_id) + " is already running");
  }
  // Refuses what cannot go into a job before anything is written.
  auto sbatch_args = SlurmSbatchArgs(options_, request);
  if (!sbatch_args.ok()) return sbatch_args.status();
  auto script = SlurmJobScript(options_, binary_, request, *sbatch_args);
  if (!script.ok()) return script.status();
  CS_RETURN_IF_ERROR(MakePrivateDirs(request.work_dir));
  if (!request.params_json.empty()) {
    CS_RETURN_IF_ERROR(WriteFileAtomic(request.work_dir + "/" + kTrialParamsFile, request.params_json + "\n", 0600));
  }

  auto job = std::make_unique<Job>();
  job->trial_id = request.trial_id;
  job->work_dir = request.work_dir;
  job->request = request;
  job->events.path = request.work_dir + "/" + kTrialEventsFile;
  job->energy.path = request.work_dir + "/" + kTrialEnergyFile;
  job->energy.offset = RegularFileSize(job->energy.path);  // earlier attempts' energy was handed on then.

  auto job_id = Submit(*job);
  if (!job_id.ok()) return job_id.status();
  LaunchedTrial launched;
  launched.trial_id = request.trial_id;
  launched.pid = 0;  // meters itself.
  launched.job_id = *job_id;
  jobs_[request.trial_id] = std::move(job);
  return launched;
}

Result<LaunchedTrial> SlurmLauncher::Adopt(int64_t trial_id, const std::string& job_id,
                                           const std::string& work_dir) {
  return Follow(trial_id, job_id, work_dir, std::nullopt);
}

Result<LaunchedTrial> SlurmLauncher::AdoptLaunch(const LaunchRequest& request, const std::string& job_id) {
  auto sbatch_args = SlurmSbatchArgs(options_, request);
  if (!sbatch_args.ok()) return sbatch_args.status();
  auto script = SlurmJobScript(options_, binary_, request, *sbatch_args);
  if (!script.ok()) return script.status();
  return Follow(request.trial_id, job_id, request.work_dir, request);
}

Result<LaunchedTrial> SlurmLauncher::Follow(int64_t trial_id, const std::string& job_id, const std::string& work_dir,
                                            std::optional<LaunchRequest> request) {
  const std::string trial = "trial " + std::to_string(trial_id);
  if (jobs_.count(trial_id)) return Status::Internal(trial + " is already followed");
  if (!IsSlurmJobId(job_id)) {
    return Status::InvalidArgument(trial + ": " + nlohmann::json(job_id).dump() + " is not a Slurm job id");
  }
  // Slurm, not the work dir, says whose job it is. A job squeue no longer
  // lists (ended and purged) is still followed: its last lines and its end
  // are in the work dir, and Poll() reports it lost.
  auto listed = client_->Run({"squeue", "--noheader", "--states=all", "--jobs=" + job_id, "--format=%i|%j|%U"});
  if (listed.ok() && listed->exit_code == 0) {
    auto owners = ParseSqueueCommands(listed->stdout_text);  // id -> "name|uid".
    auto it = owners.find(job_id);
    if (it != owners.end()) {
      size_t bar = it->second.rfind('|');
      std::string name = it->second.substr(0, bar == std::string::npos ? 0 : bar);
      std::string uid = bar == std::string::npos ? it->second : it->second.substr(bar + 1);
      if (name != JobName(trial_id) || uid != std::to_string(::getuid())) {
        return Status::InvalidArgument(trial + ": squeue lists job " + job_id + " as " + nlohmann::json(name).dump() +
                                       " of user id " + nlohmann::json(uid).dump() + ", not as " + JobName(trial_id) +
                                       " of user id " + std::to_string(::getuid()) + " (not this trial's job)");
      }
    }
  }
  auto job = std::make_unique<Job>();
  job->trial_id = trial_id;
  job->work_dir = work_dir;
  job->job_id = job_id;
  job->request = std::move(request);
  job->state = SlurmJobState::kUnknown;
  job->events.path = work_dir + "/" + kTrialEventsFile;
  job->energy.path = work_dir + "/" + kTrialEnergyFile;
  const std::string state_path = work_dir + "/" + kSlurmJobStateFile;
  auto state = ReadJobStateFile(state_path, [&](const std::string& message) { WarnAbout(*job, message); });
  if (state && state->job_id == job_id && state->trial_id == trial_id) {
    if (state->events_offset <= RegularFileSize(job->events.path)) {
      job->events.offset = state->events_offset;
    } else {
      WarnAbout(*job, state_path + ": events_offset lies beyond the end of events.log; replaying it from its start");
    }
    job->requeues = std::min(state->requeues, options_.max_requeues);
  }
  if (!job->request) job->requeues = options_.max_requeues;  // nothing to resubmit it from.
  LaunchedTrial launched;
  launched.trial_id = trial_id;
  launched.pid = 0;
  launched.job_id = job_id;
  jobs_[trial_id] = std::move(job);
  last_poll_ = -1;  // ask Slurm about it at the next Wait().
  return launched;
}

namespace {

// Slurm numbers jobs in increasing order; "1234_5" (an array task) counts as 1234.
long long JobNumber(const std::string& job_id) { return std::atoll(job_id.c_str()); }

}  // namespace

std::optional<std::string> SlurmLauncher::UnrecordedJob(int64_t trial_id, const std::string& work_dir,
                                                        const std::string& recorded_job_id) {
  // Only a job newer than the store's counts: the file may lag the store (its
  // write failed, see Submit) and Slurm still lists older attempts.
  auto newer = [&](const std::string& job_id) {
    return IsSlurmJobId(job_id) && job_id != recorded_job_id &&
           (recorded_job_id.empty() || JobNumber(job_id) > JobNumber(recorded_job_id));
  };
  // 1. slurm-job.json is written after sbatch answers and before the store is.
  const std::string state_path = work_dir + "/" + kSlurmJobStateFile;
  std::optional<std::string> named;
  auto state = ReadJobStateFile(state_path, [this](const std::string& message) { Warn(message); });
  if (state && state->trial_id == trial_id && newer(state->job_id)) named = state->job_id;
  // 2. The script is written just before sbatch runs. One newer than the
  // state file means an sbatch whose answer was never written down: the
  // orchestrator died while sbatch ran (or sbatch refused).
  const std::string script_path = work_dir + "/" + kSlurmJobScriptFile;
  const bool script_newer = WrittenAfter(script_path, state_path);
  // Either way Slurm itself is asked for this user's jobs of this trial's
  // name running exactly this script; only then, so a resume costs no Slurm
  // call per trial.
  if (!named && !script_newer) return std::nullopt;
  auto output = client_->Run({"squeue", "--me", "--noheader", "--states=all", "--name=" + JobName(trial_id),
                              "--format=%i|%o"});
  if (!output.ok() || output->exit_code != 0) return std::nullopt;
  const std::string script = CanonicalPath(script_path);
  std::optional<std::string> found;
  for (const auto& [job_id, command] : ParseSqueueCommands(output->stdout_text)) {
    // Another store's trial with the same id has the same job name, not the same script.
    if (CanonicalPath(command) != script || !newer(job_id)) continue;
    if (script_newer ? (!found || JobNumber(job_id) > JobNumber(*found)) : job_id == named) found = job_id;
  }
  if (named && !found && !script_newer) {
    Warn(state_path + ": names job " + *named + ", which squeue --me does not list as " + JobName(trial_id) +
         " with this script; ignored");
  }
  return found;
}

std::string SlurmLauncher::JobName(int64_t trial_id) const {
  return SlurmJobName(options_.job_name_prefix, trial_id);
}

void SlurmLauncher::ReadFiles(Job& job, std::vector<LauncherEvent>* events) {
  std::vector<std::string> lines;
  if (int skipped = job.events.ReadLines(&lines)) {
    WarnAbout(job, job.events.path + ": skipped " + std::to_string(skipped) + " line(s) over 64 KiB");
  }
  for (const std::string& line : lines) {
    std::string problem;
    std::optional<nlohmann::json> event = TrialEventFromWorkDirLine(line, &problem);
    if (!event) {
      if (!problem.empty()) WarnAbout(job, job.events.path + ": " + problem);
      continue;  // a human's line, or one no trial writes.
    }
    const std::string kind = (*event)["event"].get<std::string>();
    // An "interrupted" end (the trial got Slurm's SIGTERM) leaves it resumable;
    // any other end means this trial is over and must not be resubmitted.
    if (kind == "end") {
      job.saw_end_event = event->value("state", std::string()) != TrialEndStateName(TrialEndState::kInterrupted);
    }
    if (kind == "start") job.saw_end_event = false;
    events->push_back({LauncherEvent::Kind::kEvent, job.trial_id, std::move(*event), {}});
  }
  lines.clear();
  if (int skipped = job.energy.ReadLines(&lines)) {
    WarnAbout(job, job.energy.path + ": skipped " + std::to_string(skipped) + " line(s) over 64 KiB");
  }
  for (const std::string& line : lines) {
    std::optional<nlohmann::json> event = EnergyEventFromLine(line);
    if (!event) {
      WarnAbout(job, job.energy.path + ": skipped a line that is not an energy record "
                                       "(finite, non-negative joules and seconds)");
      continue;
    }
    events->push_back({LauncherEvent::Kind::kEvent, job.trial_id, std::move(*event), {}});
  }
}

void SlurmLauncher::Poll(std::vector<LauncherEvent>* events) {
  last_poll_ = clock_->MonotonicSeconds();
  if (jobs_.empty()) return;
  std::string ids;
  for (const auto& [trial_id, job] : jobs_) ids += (ids.empty() ? "" : ",") + job->job_id;
  std::map<std::string, SlurmJobInfo> queue;
  auto squeue = client_->Run({"squeue", "--noheader", "--states=all", "--format=%i|%T|%r", "--jobs=" + ids});
  // squeue fails as a whole when none of the ids is known; scontrol below decides per job.
  if (squeue.ok() && squeue->exit_code == 0) queue = ParseSqueueLines(squeue->stdout_text);

  std::vector<int64_t> ended;
  for (auto& [trial_id, job] : jobs_) {
    auto seen = queue.find(job->job_id);
    if (seen != queue.end() && !IsTerminal(seen->second.state)) {
      job->state = seen->second.state;
      job->missing_polls = 0;
      continue;
    }
    // Ended or unknown to squeue: scontrol has the exit code and the reason.
    auto shown = client_->Run({"scontrol", "show", "job", "-o", job->job_id});
    std::map<std::string, SlurmJobInfo> details;
    if (shown.ok() && shown->exit_code == 0) details = ParseScontrolJobs(shown->stdout_text);
    auto detail = details.find(job->job_id);
    if (detail != details.end()) {
      job->missing_polls = 0;
      if (IsTerminal(detail->second.state)) {
        JobEnded(*job, detail->second, events);
        if (job->job_id.empty()) ended.push_back(trial_id);
      } else {
        job->state = detail->second.state;
      }
      continue;
    }
    if (seen != queue.end()) {  // squeue knew how it ended, scontrol did not answer.
      JobEnded(*job, seen->second, events);
      if (job->job_id.empty()) ended.push_back(trial_id);
      continue;
    }
    // A client error (slurmctld restarting) is not a lost job: ask again
    // next time; only a job unknown twice in a row is gone.
    if (!shown.ok() || !squeue.ok()) continue;
    if (++job->missing_polls < 2) continue;
    SlurmJobInfo lost;
    lost.job_id = job->job_id;
    lost.state = SlurmJobState::kUnknown;
    lost.state_name = "UNKNOWN";
    lost.reason = "Slurm no longer knows the job";
    JobEnded(*job, lost, events);
    if (job->job_id.empty()) ended.push_back(trial_id);
  }
  for (int64_t trial_id : ended) jobs_.erase(trial_id);
}

// Clears job.job_id when the trial is over (the caller erases it); keeps it
// (the new job's id) when the trial was resubmitted.
void SlurmLauncher::JobEnded(Job& job, const SlurmJobInfo& info, std::vector<LauncherEvent>* events) {
  ReadFiles(job, events);  // what it wrote before it ended.
  std::string ended_job = job.job_id;
  std::string why = SlurmEndReason(ended_job, info);

  if (!job.stop_requested && !job.saw_end_event && EndedBehindOurBack(info.state) &&
      job.requeues < options_.max_requeues && job.request) {
    ++job.requeues;
    auto resubmitted = Submit(job);
    if (resubmitted.ok()) {
      nlohmann::json requeue = {{"event", "requeue"},
                                {"job_id", *resubmitted},
                                {"previous_job_id", ended_job},
                                {"state", SlurmJobStateName(info.state)},
                                {"reason", why},
                                {"requeues", job.requeues}};
      events->push_back({LauncherEvent::Kind::kEvent, job.trial_id, std::move(requeue), {}});
      return;
    }
    why += "; resubmitting failed: " + resubmitted.status().message();
  } else if (!job.stop_requested && EndedBehindOurBack(info.state) && !job.saw_end_event) {
    why += "; not resubmitted (" + std::to_string(job.requeues) + " resubmission(s) already)";
  }

  ReportSlurmEnergy(job, events);
  LauncherEvent exit_event;
  exit_event.kind = LauncherEvent::Kind::kExit;
  exit_event.trial_id = job.trial_id;
  exit_event.exit = SlurmJobExit(info);
  TrialExit& exit = exit_event.exit;
  exit.stderr_tail = FileTail(job.work_dir + "/" + kSlurmStderrFile, options_.stderr_tail_bytes);
  if (!exit.stderr_tail.empty() && exit.stderr_tail.back() != '\n') exit.stderr_tail += "\n";
  exit.stderr_tail += why;
  events->push_back(std::move(exit_event));
  job.job_id.clear();
}

void SlurmLauncher::ReportSlurmEnergy(const Job& job, std::vector<LauncherEvent>* events) {
  if (!options_.query_slurm_energy || !slurm_energy_available_) return;
  auto output = client_->Run({"sacct", "--jobs=" + job.job_id, "--allocations", "--noheader", "--parsable2",
                              "--format=ConsumedEnergyRaw"});
  if (!output.ok() || output->exit_code != 0) {
    slurm_energy_available_ = false;  // no slurmdbd: every later job would be refused too.
    return;
  }
  std::optional<double> joules = ParseConsumedEnergyJoules(output->stdout_text);
  if (!joules) return;
  nlohmann::json event = {{"event", "slurm_energy"}, {"job_id", job.job_id}, {"joules", *joules}};
  events->push_back({LauncherEvent::Kind::kEvent, job.trial_id, std::move(event), {}});
}

void SlurmLauncher::Cancel(const std::string& job_id, const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {"scancel"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(job_id);
  // A job that ended meanwhile makes scancel complain; the next poll reports it either way.
  (void)client_->Run(argv);
}

void SlurmLauncher::EnforceGracePeriods() {
  double now = clock_->MonotonicSeconds();
  for (auto& [trial_id, job] : jobs_) {
    if (job->kill_at > 0 && now >= job->kill_at) {
      Cancel(job->job_id, {});
      job->kill_at = 0;
    }
  }
}

void SlurmLauncher::Stop(int64_t trial_id, StopMode mode) {
  auto it = jobs_.find(trial_id);
  if (it == jobs_.end()) return;
  Job& job = *it->second;
  job.stop_requested = true;
  if (mode == StopMode::kKill || job.state == SlurmJobState::kPending) {
    Cancel(job.job_id, {});
    job.kill_at = 0;
    return;
  }
  // --full: the batch script itself is the trial (exec), not a job step.
  Cancel(job.job_id, {"--signal=TERM", "--full"});
  if (job.kill_at == 0) job.kill_at = clock_->MonotonicSeconds() + options_.stop_grace_seconds;
}

void SlurmLauncher::Wait(double timeout_seconds, std::vector<LauncherEvent>* events) {
  double started = clock_->MonotonicSeconds();
  size_t events_before = events->size();
  while (true) {
    EnforceGracePeriods();
    for (auto& [trial_id, job] : jobs_) ReadFiles(*job, events);
    double now = clock_->MonotonicSeconds();
    if (last_poll_ < 0 || now - last_poll_ >= options_.poll_interval_seconds) Poll(events);
    if (events->size() > events_before) return;
    now = clock_->MonotonicSeconds();
    double left = timeout_seconds - (now - started);
    if (left <= 0) return;
    double until_poll = last_poll_ + options_.poll_interval_seconds - now;
    double nap = std::min({left, options_.file_poll_seconds, std::max(until_poll, 0.0)});
    if (jobs_.empty()) nap = left;
    clock_->SleepFor(std::max(nap, 0.001));
  }
}

}  // namespace cs
