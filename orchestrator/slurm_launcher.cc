#include "orchestrator/slurm_launcher.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/files.h"
#include "orchestrator/slurm_energy.h"
#include "trials/protocol.h"

namespace cs {

namespace {

// What the launcher keeps beside the script so a restarted orchestrator can
// adopt the job: which job runs the trial now, where its attempt started in
// events.log, how it was submitted, how often it was resubmitted.
constexpr const char* kJobStateFile = "slurm-job.json";
constexpr const char* kJobScriptFile = "slurm-job.sh";
constexpr const char* kStderrFile = "stderr.log";

// A line longer than this without a newline is not a record; it is skipped.
constexpr size_t kMaxLineBytes = 1 << 20;

// Slurm ended these without being asked: the trial can continue elsewhere.
bool EndedBehindOurBack(SlurmJobState state) {
  return state == SlurmJobState::kPreempted || state == SlurmJobState::kNodeFail ||
         state == SlurmJobState::kBootFail || state == SlurmJobState::kCancelled;
}

uint64_t FileSize(const std::string& path) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) return 0;
  return static_cast<uint64_t>(file.tellg());
}

// The last `bytes` of a file ("" when it cannot be read).
std::string FileTail(const std::string& path, size_t bytes) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) return "";
  std::streamoff size = file.tellg();
  std::streamoff start = std::max<std::streamoff>(0, size - static_cast<std::streamoff>(bytes));
  file.seekg(start);
  std::string text(static_cast<size_t>(size - start), '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  return text;
}

}  // namespace

// A file read by offset, line by line; what comes after the last newline
// waits for the next read, so a line is handed on exactly once.
struct TailedFile {
  std::string path;
  uint64_t offset = 0;
  std::string partial;

  // Appends the complete new lines to `lines`.
  void ReadLines(std::vector<std::string>* lines) {
    std::ifstream file(path, std::ios::binary);
    if (!file) return;
    file.seekg(0, std::ios::end);
    uint64_t size = static_cast<uint64_t>(file.tellg());
    if (size < offset) {  // truncated or replaced: start over rather than read garbage.
      offset = 0;
      partial.clear();
    }
    if (size == offset) return;
    file.seekg(static_cast<std::streamoff>(offset));
    std::string chunk(static_cast<size_t>(size - offset), '\0');
    file.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    chunk.resize(static_cast<size_t>(file.gcount()));
    offset += chunk.size();
    size_t begin = 0;
    while (true) {
      size_t newline = chunk.find('\n', begin);
      if (newline == std::string::npos) break;
      partial.append(chunk, begin, newline - begin);
      if (partial.size() <= kMaxLineBytes) lines->push_back(std::move(partial));
      partial.clear();
      begin = newline + 1;
    }
    partial.append(chunk, begin, std::string::npos);
    if (partial.size() > kMaxLineBytes) partial.clear();
  }
};

struct SlurmLauncher::Job {
  int64_t trial_id = 0;
  std::string work_dir;
  std::string job_id;
  std::vector<std::string> sbatch_args;  // everything between "sbatch" and the script.
  TailedFile events;
  TailedFile energy;
  SlurmJobState state = SlurmJobState::kPending;
  bool stop_requested = false;  // ours: never requeue it.
  double kill_at = 0;           // monotonic seconds for the plain scancel; 0 = none pending.
  int requeues = 0;
  int missing_polls = 0;        // polls in a row where Slurm did not know the job.
  bool saw_end_event = false;   // this attempt printed a final "end" event (not "interrupted").
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

Result<std::string> SlurmLauncher::Submit(Job& job) {
  std::vector<std::string> argv = {"sbatch", "--parsable"};
  argv.insert(argv.end(), job.sbatch_args.begin(), job.sbatch_args.end());
  argv.push_back(job.work_dir + "/" + kJobScriptFile);
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
  job.events.offset = FileSize(job.events.path);
  job.events.partial.clear();
  job.state = SlurmJobState::kPending;
  job.missing_polls = 0;
  job.saw_end_event = false;
  submitted_.push_back(job.job_id);
  nlohmann::json state = {{"job_id", job.job_id},
                          {"trial_id", job.trial_id},
                          {"events_offset", job.events.offset},
                          {"requeues", job.requeues},
                          {"sbatch_args", job.sbatch_args}};
  // Without this file Adopt() still works (replaying events.log from its
  // start), so a failed write does not fail a job that is already queued.
  (void)WriteFileAtomic(job.work_dir + "/" + kJobStateFile, state.dump(2) + "\n");
  return job.job_id;
}

Result<LaunchedTrial> SlurmLauncher::Start(const LaunchRequest& request) {
  if (binary_.empty()) return Status::Internal("cannot find this program's path (/proc/self/exe)");
  if (jobs_.count(request.trial_id)) {
    return Status::Internal("trial " + std::to_string(request.trial_id) + " is already running");
  }
  auto extra = SplitShellWords(options_.extra);
  if (!extra.ok()) return extra.status().WithPrefix("--slurm-extra");
  CS_RETURN_IF_ERROR(MakePrivateDirs(request.work_dir));

  auto job = std::make_unique<Job>();
  job->trial_id = request.trial_id;
  job->work_dir = request.work_dir;
  job->events.path = request.work_dir + "/" + kTrialEventsFile;
  job->energy.path = request.work_dir + "/" + kTrialEnergyFile;
  job->energy.offset = FileSize(job->energy.path);  // earlier attempts' energy was handed on then.
  std::vector<std::string>& args = job->sbatch_args;
  args.push_back("--job-name=" + JobName(request.trial_id));
  args.push_back("--output=" + request.work_dir + "/slurm-%j.out");
  args.push_back("--error=" + request.work_dir + "/" + kStderrFile);
  args.push_back("--open-mode=append");
  args.push_back("--cpus-per-task=" + std::to_string(std::max(1, request.threads)));
  args.push_back("--ntasks=1");
  if (!options_.partition.empty()) args.push_back("--partition=" + options_.partition);
  if (!options_.gres.empty()) args.push_back("--gres=" + options_.gres);
  if (!options_.time_limit.empty()) args.push_back("--time=" + options_.time_limit);
  args.insert(args.end(), extra->begin(), extra->end());

  // The script: one exec, so scancel's signals reach the trial itself.
  std::string command = "exec " + ShellQuote(binary_);
  std::vector<std::string> trial_argv = options_.leading_args;
  trial_argv.insert(trial_argv.end(), request.args.begin(), request.args.end());
  trial_argv.insert(trial_argv.end(), options_.trailing_args.begin(), options_.trailing_args.end());
  for (const std::string& arg : trial_argv) command += " " + ShellQuote(arg);
  std::string submitted_with = "sbatch";
  for (const std::string& arg : args) submitted_with += " " + ShellQuote(arg);
  std::string script = "#!/bin/sh\n"
                       "# carbonsweep trial " + std::to_string(request.trial_id) +
                       ": written and submitted by the orchestrator's Slurm launcher with\n"
                       "#   " + submitted_with + " " + kJobScriptFile + "\n"
                       "# It runs on the compute node; its work dir is on the shared filesystem.\n" +
                       command + "\n";
  std::string script_path = request.work_dir + "/" + kJobScriptFile;
  CS_RETURN_IF_ERROR(WriteFileAtomic(script_path, script));
  ::chmod(script_path.c_str(), 0755);

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
  if (jobs_.count(trial_id)) {
    return Status::Internal("trial " + std::to_string(trial_id) + " is already followed");
  }
  if (job_id.empty() || job_id.find_first_not_of("0123456789_") != std::string::npos) {
    return Status::InvalidArgument("trial " + std::to_string(trial_id) + ": '" + job_id +
                                   "' is not a Slurm job id");
  }
  auto job = std::make_unique<Job>();
  job->trial_id = trial_id;
  job->work_dir = work_dir;
  job->job_id = job_id;
  job->state = SlurmJobState::kUnknown;
  job->events.path = work_dir + "/" + kTrialEventsFile;
  job->energy.path = work_dir + "/" + kTrialEnergyFile;
  auto text = ReadFile(work_dir + "/" + kJobStateFile);
  if (text.ok()) {
    nlohmann::json state = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (state.is_object() && state.value("job_id", "") == job_id) {
      job->events.offset = state.value("events_offset", uint64_t{0});
      job->requeues = state.value("requeues", 0);
      if (state.contains("sbatch_args") && state["sbatch_args"].is_array()) {
        for (const auto& arg : state["sbatch_args"]) {
          if (arg.is_string()) job->sbatch_args.push_back(arg.get<std::string>());
        }
      }
    }
  }
  if (job->sbatch_args.empty()) job->requeues = options_.max_requeues;  // cannot resubmit what we did not record.
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

// Whether the last write of `later` is after that of `earlier`; false when
// `later` is missing, true when only `earlier` is.
bool WrittenAfter(const std::string& later, const std::string& earlier) {
  std::error_code error;
  const auto later_time = std::filesystem::last_write_time(later, error);
  if (error) return false;
  const auto earlier_time = std::filesystem::last_write_time(earlier, error);
  return error || later_time > earlier_time;
}

std::string AbsolutePath(const std::string& path) {
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::weakly_canonical(path, error);
  return error ? path : absolute.string();
}

}  // namespace

std::optional<std::string> SlurmLauncher::UnrecordedJob(int64_t trial_id, const std::string& work_dir,
                                                        const std::string& recorded_job_id) {
  // Only a job newer than the store's counts: the file may lag the store (its
  // write failed, see Submit) and Slurm still lists older attempts.
  auto newer = [&](const std::string& job_id) {
    return !job_id.empty() && job_id != recorded_job_id &&
           (recorded_job_id.empty() || JobNumber(job_id) > JobNumber(recorded_job_id));
  };
  // 1. slurm-job.json is written after sbatch answers and before the store is.
  const std::string state_path = work_dir + "/" + kJobStateFile;
  auto text = ReadFile(state_path);
  if (text.ok()) {
    nlohmann::json state = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (state.is_object() && state.value("trial_id", int64_t{-1}) == trial_id) {
      std::string job_id = state.value("job_id", "");
      if (newer(job_id)) return job_id;
    }
  }
  // 2. The script is written just before sbatch runs. One newer than the
  // state file means an sbatch whose answer was never written down: the
  // orchestrator died while sbatch ran (or sbatch refused). Slurm itself is
  // asked for this trial's jobs running exactly this script; only then, so a
  // resume costs no Slurm call per trial.
  const std::string script_path = work_dir + "/" + kJobScriptFile;
  if (!WrittenAfter(script_path, state_path)) return std::nullopt;
  auto output = client_->Run({"squeue", "--noheader", "--states=all", "--name=" + JobName(trial_id),
                              "--format=%i|%o"});
  if (!output.ok() || output->exit_code != 0) return std::nullopt;
  const std::string script = AbsolutePath(script_path);
  std::optional<std::string> found;
  for (const auto& [job_id, command] : ParseSqueueCommands(output->stdout_text)) {
    // Another store's trial with the same id has the same job name, not the same script.
    if (AbsolutePath(command) != script || !newer(job_id)) continue;
    if (!found || JobNumber(job_id) > JobNumber(*found)) found = job_id;
  }
  return found;
}

std::string SlurmLauncher::JobName(int64_t trial_id) const {
  return options_.job_name_prefix + "-trial-" + std::to_string(trial_id);
}

void SlurmLauncher::ReadFiles(Job& job, std::vector<LauncherEvent>* events) {
  std::vector<std::string> lines;
  job.events.ReadLines(&lines);
  for (const std::string& line : lines) {
    std::optional<nlohmann::json> event = ParseTrialEvent(line);
    if (!event) continue;
    // An "interrupted" end (the trial got Slurm's SIGTERM) leaves it resumable;
    // any other end means this trial is over and must not be resubmitted.
    std::string kind = event->value("event", "");
    if (kind == "end") job.saw_end_event = event->value("state", "") != TrialEndStateName(TrialEndState::kInterrupted);
    if (kind == "start") job.saw_end_event = false;
    events->push_back({LauncherEvent::Kind::kEvent, job.trial_id, std::move(*event), {}});
  }
  lines.clear();
  job.energy.ReadLines(&lines);
  for (const std::string& line : lines) {
    std::optional<nlohmann::json> event = EnergyEventFromLine(line);
    if (event) events->push_back({LauncherEvent::Kind::kEvent, job.trial_id, std::move(*event), {}});
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
  std::string why = "slurm: job " + ended_job + " " + (info.state_name.empty() ? "UNKNOWN" : info.state_name);
  if (!info.reason.empty() && info.reason != "None") why += " (" + info.reason + ")";
  if (info.state == SlurmJobState::kTimeout && !info.time_limit.empty()) why += ", time limit " + info.time_limit;

  if (!job.stop_requested && !job.saw_end_event && EndedBehindOurBack(info.state) &&
      job.requeues < options_.max_requeues && !job.sbatch_args.empty()) {
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
  TrialExit& exit = exit_event.exit;
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
  exit.stderr_tail = FileTail(job.work_dir + "/" + kStderrFile, options_.stderr_tail_bytes);
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
  std::string text = output->stdout_text;
  text.erase(text.find_last_not_of(" \t\r\n") + 1);
  text.erase(0, text.find_first_not_of(" \t\r\n"));
  if (text.empty() || text.find_first_not_of("0123456789.") != std::string::npos) return;
  double joules = std::stod(text);
  if (joules <= 0) return;  // no energy plugin: sacct prints 0.
  nlohmann::json event = {{"event", "slurm_energy"}, {"job_id", job.job_id}, {"joules", joules}};
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
