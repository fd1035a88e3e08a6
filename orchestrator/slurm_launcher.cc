#include "orchestrator/slurm_launcher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "common/files.h"
#include "common/json.h"
#include "orchestrator/slurm_energy.h"
#include "trials/protocol.h"

namespace cs {

namespace {

// What the launcher keeps beside the script so a restarted orchestrator can
// adopt the job: which job runs the trial now, where its attempt started in
// events.log, how often it was resubmitted. Hints only: anyone who can write
// the work dir can write this file (see ReadJobStateFile).
constexpr const char* kJobStateFile = "slurm-job.json";
constexpr const char* kJobScriptFile = "slurm-job.sh";
constexpr const char* kStderrFile = "stderr.log";

// A line longer than this without a newline is not a record; it is skipped.
constexpr size_t kMaxLineBytes = 64 << 10;
// slurm-job.json is a few hundred bytes; a bigger one is not ours.
constexpr uint64_t kMaxJobStateBytes = 1 << 20;
// How much of a tailed file one read() takes at a time (memory stays bounded
// whatever a worker appended).
constexpr size_t kReadChunkBytes = 1 << 20;
// Warnings about one trial's files; after that they are skipped silently.
constexpr int kMaxWarningsPerJob = 10;

// Slurm ended these without being asked: the trial can continue elsewhere.
bool EndedBehindOurBack(SlurmJobState state) {
  return state == SlurmJobState::kPreempted || state == SlurmJobState::kNodeFail ||
         state == SlurmJobState::kBootFail || state == SlurmJobState::kCancelled;
}

// Opens `path` read-only if it is a regular file, and its size; -1 when it
// is missing or anything else (a FIFO or device planted in the work dir
// would block a read or never end). O_NONBLOCK: opening a FIFO never waits.
int OpenRegularFile(const std::string& path, uint64_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return -1;
  }
  *size = static_cast<uint64_t>(info.st_size);
  return fd;
}

// Up to `bytes` bytes of `fd` from `offset`.
std::string ReadAt(int fd, uint64_t offset, size_t bytes) {
  std::string text(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::pread(fd, text.data() + got, bytes - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  return text;
}

uint64_t FileSize(const std::string& path) {
  uint64_t size = 0;
  int fd = OpenRegularFile(path, &size);
  if (fd < 0) return 0;
  ::close(fd);
  return size;
}

// The last `bytes` of a file ("" when it cannot be read).
std::string FileTail(const std::string& path, size_t bytes) {
  uint64_t size = 0;
  int fd = OpenRegularFile(path, &size);
  if (fd < 0) return "";
  uint64_t start = size > bytes ? size - bytes : 0;
  std::string text = ReadAt(fd, start, static_cast<size_t>(size - start));
  ::close(fd);
  return text;
}

// slurm-job.json as Submit() writes it, every field checked.
struct JobStateFile {
  std::string job_id;
  int64_t trial_id = -1;
  uint64_t events_offset = 0;
  int requeues = 0;
};

// Reads slurm-job.json. nullopt when it is missing, and (with a warning
// through `warn`) when it is not a regular file of at most 1 MiB holding an
// object with a job id, an integer trial id, a non-negative offset and a
// non-negative requeue count: a file anyone could have written.
std::optional<JobStateFile> ReadJobStateFile(const std::string& path,
                                             const std::function<void(const std::string&)>& warn) {
  uint64_t size = 0;
  int fd = OpenRegularFile(path, &size);
  if (fd < 0) {
    if (FileExists(path)) warn(path + ": not a regular file; ignored");
    return std::nullopt;
  }
  std::string text = size <= kMaxJobStateBytes ? ReadAt(fd, 0, static_cast<size_t>(size)) : "";
  ::close(fd);
  if (size > kMaxJobStateBytes) {
    warn(path + ": " + std::to_string(size) + " bytes, more than slurm-job.json ever holds; ignored");
    return std::nullopt;
  }
  nlohmann::json json = ParseJsonOrDiscarded(text);
  auto field = [&](const char* name) -> const nlohmann::json* {
    if (!json.is_object()) return nullptr;
    auto it = json.find(name);
    return it == json.end() ? nullptr : &*it;
  };
  const nlohmann::json* job_id = field("job_id");
  const nlohmann::json* trial_id = field("trial_id");
  const nlohmann::json* offset = field("events_offset");
  const nlohmann::json* requeues = field("requeues");
  std::string problem;
  if (!json.is_object()) {
    problem = "not a JSON object";
  } else if (job_id == nullptr || !job_id->is_string() || !IsSlurmJobId(job_id->get<std::string>())) {
    problem = "job_id is not a Slurm job id";
  } else if (trial_id == nullptr || !trial_id->is_number_integer()) {
    problem = "trial_id is not an integer";
  } else if (offset == nullptr || !offset->is_number_unsigned()) {
    problem = "events_offset is not a byte offset";
  } else if (requeues != nullptr && !(requeues->is_number_unsigned() && requeues->get<uint64_t>() <= 1000)) {
    problem = "requeues is not a small count";
  }
  if (!problem.empty()) {
    warn(path + ": " + problem + "; ignored");
    return std::nullopt;
  }
  JobStateFile state;
  state.job_id = job_id->get<std::string>();
  state.trial_id = trial_id->get<int64_t>();
  state.events_offset = offset->get<uint64_t>();
  state.requeues = requeues != nullptr ? static_cast<int>(requeues->get<uint64_t>()) : 0;
  return state;
}

// The kinds of event a trial itself writes to events.log. The others the
// loop hears ("requeue", "slurm_energy", "energy") come from the launcher
// alone: a line claiming one of them in the work dir is forged.
bool IsTrialEventKind(const std::string& kind) { return kind == "start" || kind == "epoch" || kind == "end"; }

// A path as Slurm's --output/--error take it: '%' starts a pattern there.
std::string SlurmFilePattern(const std::string& path) {
  std::string pattern;
  for (char c : path) pattern += c == '%' ? std::string("%%") : std::string(1, c);
  return pattern;
}

}  // namespace

// A file read by offset, line by line; what comes after the last newline
// waits for the next read, so a line is handed on exactly once. Only a
// regular file is read (see OpenRegularFile), a chunk at a time.
struct TailedFile {
  std::string path;
  uint64_t offset = 0;
  std::string partial;
  bool skipping = false;  // the current line passed kMaxLineBytes: drop it up to its newline.

  // Appends the complete new lines to `lines`; returns how many lines were
  // longer than kMaxLineBytes (skipped).
  int ReadLines(std::vector<std::string>* lines) {
    uint64_t size = 0;
    int fd = OpenRegularFile(path, &size);
    if (fd < 0) return 0;
    if (size < offset) {  // truncated or replaced: start over rather than read garbage.
      offset = 0;
      partial.clear();
      skipping = false;
    }
    int skipped = 0;
    while (offset < size) {
      std::string chunk = ReadAt(fd, offset, static_cast<size_t>(std::min<uint64_t>(size - offset, kReadChunkBytes)));
      if (chunk.empty()) break;
      offset += chunk.size();
      size_t begin = 0;
      while (true) {
        size_t newline = chunk.find('\n', begin);
        if (newline == std::string::npos) break;
        if (!skipping) partial.append(chunk, begin, newline - begin);
        if (skipping || partial.size() > kMaxLineBytes) {
          ++skipped;
        } else {
          lines->push_back(std::move(partial));
        }
        partial.clear();
        skipping = false;
        begin = newline + 1;
      }
      if (!skipping) partial.append(chunk, begin, std::string::npos);
      if (partial.size() > kMaxLineBytes) {
        partial.clear();
        skipping = true;
      }
    }
    ::close(fd);
    return skipped;
  }
};

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

Result<std::vector<std::string>> SlurmLauncher::SbatchArgs(const LaunchRequest& request) const {
  const std::string trial = "trial " + std::to_string(request.trial_id);
  CS_RETURN_IF_ERROR(RefuseControlCharacters(trial + ": work dir", request.work_dir));
  const std::pair<const char*, const std::string*> flags[] = {
      {"--slurm-partition", &options_.partition}, {"--slurm-gres", &options_.gres},
      {"--slurm-time", &options_.time_limit},     {"--slurm-extra", &options_.extra},
      {"job name prefix", &options_.job_name_prefix}};
  for (const auto& [flag, value] : flags) CS_RETURN_IF_ERROR(RefuseControlCharacters(flag, *value));
  auto extra = SplitShellWords(options_.extra);
  if (!extra.ok()) return extra.status().WithPrefix("--slurm-extra");
  std::vector<std::string> args;
  args.push_back("--job-name=" + JobName(request.trial_id));
  args.push_back("--output=" + SlurmFilePattern(request.work_dir) + "/slurm-%j.out");
  args.push_back("--error=" + SlurmFilePattern(request.work_dir) + "/" + kStderrFile);
  args.push_back("--open-mode=append");
  args.push_back("--cpus-per-task=" + std::to_string(std::max(1, request.threads)));
  args.push_back("--ntasks=1");
  if (!options_.partition.empty()) args.push_back("--partition=" + options_.partition);
  if (!options_.gres.empty()) args.push_back("--gres=" + options_.gres);
  if (!options_.time_limit.empty()) args.push_back("--time=" + options_.time_limit);
  args.insert(args.end(), extra->begin(), extra->end());
  return args;
}

Result<std::string> SlurmLauncher::JobScript(const LaunchRequest& request,
                                             const std::vector<std::string>& sbatch_args) const {
  const std::string trial = "trial " + std::to_string(request.trial_id);
  CS_RETURN_IF_ERROR(RefuseControlCharacters(trial + ": the carbonsweep binary's path", binary_));
  std::vector<std::string> trial_argv = options_.leading_args;
  trial_argv.insert(trial_argv.end(), request.args.begin(), request.args.end());
  trial_argv.insert(trial_argv.end(), options_.trailing_args.begin(), options_.trailing_args.end());
  // The script: one exec, so scancel's signals reach the trial itself.
  std::string command = "exec " + ShellQuote(binary_);
  for (size_t i = 0; i < trial_argv.size(); ++i) {
    CS_RETURN_IF_ERROR(RefuseControlCharacters(trial + ": argument " + std::to_string(i + 1) + " of the trial",
                                               trial_argv[i]));
    command += " " + ShellQuote(trial_argv[i]);
  }
  std::string submitted_with = "sbatch";
  for (const std::string& arg : sbatch_args) submitted_with += " " + ShellQuote(arg);
  return "#!/bin/sh\n"
         "# carbonsweep trial " + std::to_string(request.trial_id) +
         ": written and submitted by the orchestrator's Slurm launcher with\n"
         "#   " + submitted_with + " " + kJobScriptFile + "\n"
         "# It runs on the compute node; its work dir is on the shared filesystem.\n" +
         command + "\n";
}

Result<std::string> SlurmLauncher::Submit(Job& job) {
  if (!job.request) return Status::Internal("trial " + std::to_string(job.trial_id) + ": no launch request to submit");
  auto sbatch_args = SbatchArgs(*job.request);
  if (!sbatch_args.ok()) return sbatch_args.status();
  auto script = JobScript(*job.request, *sbatch_args);
  if (!script.ok()) return script.status();
  // Written anew at every submission: whatever the work dir holds now is not trusted.
  std::string script_path = job.work_dir + "/" + kJobScriptFile;
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
  job.events.offset = FileSize(job.events.path);
  job.events.partial.clear();
  job.events.skipping = false;
  job.state = SlurmJobState::kPending;
  job.missing_polls = 0;
  job.saw_end_event = false;
  submitted_.push_back(job.job_id);
  nlohmann::json state = {{"job_id", job.job_id},
                          {"trial_id", job.trial_id},
                          {"events_offset", job.events.offset},
                          {"requeues", job.requeues}};
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
  // Refuses what cannot go into a job before anything is written.
  auto sbatch_args = SbatchArgs(request);
  if (!sbatch_args.ok()) return sbatch_args.status();
  auto script = JobScript(request, *sbatch_args);
  if (!script.ok()) return script.status();
  CS_RETURN_IF_ERROR(MakePrivateDirs(request.work_dir));

  auto job = std::make_unique<Job>();
  job->trial_id = request.trial_id;
  job->work_dir = request.work_dir;
  job->request = request;
  job->events.path = request.work_dir + "/" + kTrialEventsFile;
  job->energy.path = request.work_dir + "/" + kTrialEnergyFile;
  job->energy.offset = FileSize(job->energy.path);  // earlier attempts' energy was handed on then.

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
  auto sbatch_args = SbatchArgs(request);
  if (!sbatch_args.ok()) return sbatch_args.status();
  auto script = JobScript(request, *sbatch_args);
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
  const std::string state_path = work_dir + "/" + kJobStateFile;
  auto state = ReadJobStateFile(state_path, [&](const std::string& message) { WarnAbout(*job, message); });
  if (state && state->job_id == job_id && state->trial_id == trial_id) {
    if (state->events_offset <= FileSize(job->events.path)) {
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
    return IsSlurmJobId(job_id) && job_id != recorded_job_id &&
           (recorded_job_id.empty() || JobNumber(job_id) > JobNumber(recorded_job_id));
  };
  // 1. slurm-job.json is written after sbatch answers and before the store is.
  const std::string state_path = work_dir + "/" + kJobStateFile;
  std::optional<std::string> named;
  auto state = ReadJobStateFile(state_path, [this](const std::string& message) { Warn(message); });
  if (state && state->trial_id == trial_id && newer(state->job_id)) named = state->job_id;
  // 2. The script is written just before sbatch runs. One newer than the
  // state file means an sbatch whose answer was never written down: the
  // orchestrator died while sbatch ran (or sbatch refused).
  const std::string script_path = work_dir + "/" + kJobScriptFile;
  const bool script_newer = WrittenAfter(script_path, state_path);
  // Either way Slurm itself is asked for this user's jobs of this trial's
  // name running exactly this script; only then, so a resume costs no Slurm
  // call per trial.
  if (!named && !script_newer) return std::nullopt;
  auto output = client_->Run({"squeue", "--me", "--noheader", "--states=all", "--name=" + JobName(trial_id),
                              "--format=%i|%o"});
  if (!output.ok() || output->exit_code != 0) return std::nullopt;
  const std::string script = AbsolutePath(script_path);
  std::optional<std::string> found;
  for (const auto& [job_id, command] : ParseSqueueCommands(output->stdout_text)) {
    // Another store's trial with the same id has the same job name, not the same script.
    if (AbsolutePath(command) != script || !newer(job_id)) continue;
    if (script_newer ? (!found || JobNumber(job_id) > JobNumber(*found)) : job_id == named) found = job_id;
  }
  if (named && !found && !script_newer) {
    Warn(state_path + ": names job " + *named + ", which squeue --me does not list as " + JobName(trial_id) +
         " with this script; ignored");
  }
  return found;
}

std::string SlurmLauncher::JobName(int64_t trial_id) const {
  return options_.job_name_prefix + "-trial-" + std::to_string(trial_id);
}

void SlurmLauncher::ReadFiles(Job& job, std::vector<LauncherEvent>* events) {
  const std::string trial = "trial " + std::to_string(job.trial_id);
  std::vector<std::string> lines;
  if (int skipped = job.events.ReadLines(&lines)) {
    WarnAbout(job, job.events.path + ": skipped " + std::to_string(skipped) + " line(s) over 64 KiB");
  }
  for (const std::string& line : lines) {
    std::optional<nlohmann::json> event = ParseTrialEvent(line);
    if (!event) continue;  // a human's line.
    const nlohmann::json& kind_value = (*event)["event"];
    std::string kind = kind_value.is_string() ? kind_value.get<std::string>() : "";
    if (!IsTrialEventKind(kind)) {
      WarnAbout(job, job.events.path + ": skipped an event line of kind " + kind_value.dump() +
                         " (a trial writes start, epoch and end only)");
      continue;
    }
    // An "interrupted" end (the trial got Slurm's SIGTERM) leaves it resumable;
    // any other end means this trial is over and must not be resubmitted.
    if (kind == "end") {
      auto state = event->find("state");
      if (state != event->end() && !state->is_string()) {
        WarnAbout(job, job.events.path + ": skipped an end event whose state is not a name");
        continue;
      }
      job.saw_end_event = state == event->end() ||
                          state->get<std::string>() != TrialEndStateName(TrialEndState::kInterrupted);
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
  std::string why = "slurm: job " + ended_job + " " + (info.state_name.empty() ? "UNKNOWN" : info.state_name);
  if (!info.reason.empty() && info.reason != "None") why += " (" + info.reason + ")";
  if (info.state == SlurmJobState::kTimeout && !info.time_limit.empty()) why += ", time limit " + info.time_limit;

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
  char* end = nullptr;
  double joules = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(joules)) return;
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
