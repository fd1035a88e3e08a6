#include "orchestrator/local_process_launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "carbon/power_source.h"
#include "common/files.h"
#include "common/text.h"
#include "orchestrator/trial_command.h"
#include "trials/exit_usage.h"
#include "trials/protocol.h"

extern char** environ;

namespace cs {

namespace {

double SteadySeconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// A line longer than this without a newline is not an event; it is dropped
// so a runaway trial cannot grow our memory.
constexpr size_t kMaxLineBytes = 1 << 20;

std::string SystemError(const std::string& what) { return what + ": " + std::strerror(errno); }

// CPU seconds of the live members of the process group `pgid` (a reaped
// leader's leftovers), read after SIGSTOP so they cannot use more between
// the reading and the SIGKILL that follows. 0 when none is left.
double StopAndMeterLeftovers(pid_t pgid) {
  if (::kill(-pgid, SIGSTOP) != 0) return 0;  // ESRCH: nothing left in the group.
  auto seconds = MakeProcCpuTimeReader("/proc")->ProcessGroupCpuSeconds({pgid});
  auto found = seconds.find(pgid);
  return found != seconds.end() && found->second.ok() ? *found->second : 0;
}

}  // namespace

struct LocalProcessLauncher::Child {
  int64_t trial_id = 0;
  int pid = 0;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int stderr_log_fd = -1;   // <work_dir>/stderr.log, appended.
  std::string stdout_line;  // a partial line waiting for its newline.
  bool dropping_line = false;
  std::string stderr_tail;
  double kill_at_seconds = 0;  // steady time for SIGKILL after a graceful stop; 0 = none pending.
};

LocalProcessLauncher::LocalProcessLauncher(LocalLauncherOptions options) : options_(std::move(options)) {
  binary_ = options_.binary;
  if (binary_.empty()) {
    char path[4096];
    ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
    if (n > 0) binary_.assign(path, static_cast<size_t>(n));
  }
}

LocalProcessLauncher::~LocalProcessLauncher() {
  for (auto& [id, child] : children_) {
    ::kill(-child->pid, SIGKILL);
    ::kill(child->pid, SIGKILL);
    int status = 0;
    ::waitpid(child->pid, &status, 0);
    for (int fd : {child->stdout_fd, child->stderr_fd, child->stderr_log_fd}) {
      if (fd >= 0) ::close(fd);
    }
  }
}

std::string TrialExit::Describe() const {
  switch (how) {
    case How::kExited: return "exit " + std::to_string(exit_code);
    case How::kSignaled: {
      const char* name = ::sigabbrev_np(signal);
      return std::string("killed by ") + (name != nullptr ? std::string("SIG") + name : std::to_string(signal));
    }
    case How::kLost: return "lost";
  }
  return "unknown";
}

std::string TrialExit::LastStderrLine() const {
  size_t end = stderr_tail.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  size_t begin = stderr_tail.rfind('\n', end);
  begin = begin == std::string::npos ? 0 : begin + 1;
  std::string line = EscapeForTerminal(stderr_tail.substr(begin, end + 1 - begin));
  return line.size() > 300 ? line.substr(0, 300) : line;
}

Result<LaunchedTrial> LocalProcessLauncher::Start(const LaunchRequest& request) {
  if (binary_.empty() && request.command.empty()) {
    return Status::Internal("cannot find this program's path (/proc/self/exe)");
  }
  if (children_.count(request.trial_id)) {
    return Status::Internal("trial " + std::to_string(request.trial_id) + " is already running");
  }
  CS_RETURN_IF_ERROR(MakePrivateDirs(request.work_dir));
  if (!request.params_json.empty()) {
    CS_RETURN_IF_ERROR(WriteFileAtomic(request.work_dir + "/" + kTrialParamsFile, request.params_json + "\n", 0600));
  }
  // A user's command knows nothing of trials/exit_usage.h: the death signal's
  // default action ends it with its orchestrator.
  const bool user_command = !request.command.empty();
  const bool leaves_exit_usage = options_.leaves_exit_usage && !user_command;

  // Everything the child needs is built before fork(): after it, in a
  // process with other threads (the sampler), only async-signal-safe calls.
  std::vector<std::string> arg_strings;
  if (user_command) {
    arg_strings = request.command;
  } else {
    arg_strings = {binary_};
    arg_strings.insert(arg_strings.end(), options_.leading_args.begin(), options_.leading_args.end());
    arg_strings.insert(arg_strings.end(), request.args.begin(), request.args.end());
  }
  std::vector<char*> argv;
  for (std::string& arg : arg_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = options_.environment;
  env_strings.insert(env_strings.end(), request.environment.begin(), request.environment.end());
  if (leaves_exit_usage) {
    env_strings.push_back(std::string(kOrchestratorPidVariable) + "=" + std::to_string(::getpid()));
  }
  // Ours replace inherited entries of the same name (getenv finds the first).
  auto overridden = [&](const char* entry) {
    for (const std::string& ours : env_strings) {
      size_t name_end = ours.find('=');
      if (name_end != std::string::npos && std::strncmp(entry, ours.c_str(), name_end + 1) == 0) return true;
    }
    return false;
  };
  std::vector<char*> envp;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (!overridden(*entry)) envp.push_back(*entry);
  }
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);

  std::string log_path = request.work_dir + "/stderr.log";
  // The trial's own words may hold paths and data: for this user only, and never through a planted link.
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (log_fd < 0) return Status::IoError(SystemError(log_path));
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ::close(log_fd);
    return Status::IoError(SystemError("pipe"));
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(log_fd);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return Status::IoError(SystemError("pipe"));
  }
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    for (int fd : {log_fd, out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], null_fd}) ::close(fd);
    return Status::IoError(SystemError("fork"));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    // The trial outlives us by the time it takes to write its CPU time
    // (trials/exit_usage.h), then exits; `resume` adds what we had not sampled.
    ::prctl(PR_SET_PDEATHSIG, kOrchestratorDeathSignal);
    if (::getppid() != parent) ::_exit(127);  // the orchestrator died before prctl.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGHUP}) ::signal(sig, SIG_DFL);
    // Until the trial's handler is installed (after libtorch's start-up), a
    // death of ours must not end it unheard: see trials/exit_usage.h.
    ::signal(kOrchestratorDeathSignal, leaves_exit_usage ? SIG_IGN : SIG_DFL);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execve(argv[0], argv.data(), envp.data());
    const char message[] = "carbonsweep: cannot exec the trial program\n";
    ssize_t ignored = ::write(2, message, sizeof message - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so kill(-pid) works before the child ran.
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (null_fd >= 0) ::close(null_fd);
  for (int fd : {out_pipe[0], err_pipe[0]}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  auto child = std::make_unique<Child>();
  child->trial_id = request.trial_id;
  child->pid = pid;
  child->stdout_fd = out_pipe[0];
  child->stderr_fd = err_pipe[0];
  child->stderr_log_fd = log_fd;
  children_[request.trial_id] = std::move(child);

  LaunchedTrial launched;
  launched.trial_id = request.trial_id;
  launched.pid = pid;
  launched.job_id = "pid:" + std::to_string(pid);
  return launched;
}

void LocalProcessLauncher::Drain(Child& child, std::vector<LauncherEvent>* events) {
  char buffer[65536];
  if (child.stdout_fd >= 0) {
    while (true) {
      ssize_t n = ::read(child.stdout_fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;  // EAGAIN: nothing more now.
      if (n == 0) {      // EOF: a last line without newline still counts.
        if (!child.stdout_line.empty() && !child.dropping_line) {
          if (auto event = ParseTrialEvent(child.stdout_line)) {
            events->push_back({LauncherEvent::Kind::kEvent, child.trial_id, std::move(*event), {}});
          }
        }
        child.stdout_line.clear();
        ::close(child.stdout_fd);
        child.stdout_fd = -1;
        break;
      }
      for (ssize_t i = 0; i < n; ++i) {
        char c = buffer[i];
        if (c != '\n') {
          if (child.stdout_line.size() >= kMaxLineBytes) child.dropping_line = true;
          if (!child.dropping_line) child.stdout_line.push_back(c);
          continue;
        }
        if (!child.dropping_line) {
          if (auto event = ParseTrialEvent(child.stdout_line)) {
            events->push_back({LauncherEvent::Kind::kEvent, child.trial_id, std::move(*event), {}});
          }
        }
        child.stdout_line.clear();
        child.dropping_line = false;
      }
    }
  }
  if (child.stderr_fd >= 0) {
    while (true) {
      ssize_t n = ::read(child.stderr_fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      if (n == 0) {
        ::close(child.stderr_fd);
        child.stderr_fd = -1;
        break;
      }
      ssize_t written = ::write(child.stderr_log_fd, buffer, static_cast<size_t>(n));
      (void)written;  // the log is for humans; the tail below is what failures report.
      child.stderr_tail.append(buffer, static_cast<size_t>(n));
      if (child.stderr_tail.size() > options_.stderr_tail_bytes) {
        child.stderr_tail.erase(0, child.stderr_tail.size() - options_.stderr_tail_bytes);
      }
    }
  }
}

void LocalProcessLauncher::ReapExited(std::vector<LauncherEvent>* events) {
  for (auto it = children_.begin(); it != children_.end();) {
    Child& child = *it->second;
    int status = 0;
    struct rusage usage {};
    pid_t done = ::wait4(child.pid, &status, WNOHANG, &usage);
    if (done != child.pid) {
      ++it;
      continue;
    }
    Drain(child, events);  // what it wrote just before exiting.
    LauncherEvent exit_event;
    exit_event.kind = LauncherEvent::Kind::kExit;
    exit_event.trial_id = child.trial_id;
    TrialExit& exit = exit_event.exit;
    if (WIFSIGNALED(status)) {
      exit.how = TrialExit::How::kSignaled;
      exit.signal = WTERMSIG(status);
    } else {
      exit.how = TrialExit::How::kExited;
      exit.exit_code = WEXITSTATUS(status);
    }
    exit.cpu_seconds = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 + usage.ru_stime.tv_sec +
                       usage.ru_stime.tv_usec * 1e-6;
    // wait4 counts the leader and the members it reaped; what the trial
    // left running in its group is billed too, then ended.
    exit.cpu_seconds += StopAndMeterLeftovers(child.pid);
    ::kill(-child.pid, SIGKILL);
    exit.stderr_tail = child.stderr_tail;
    events->push_back(std::move(exit_event));
    for (int fd : {child.stdout_fd, child.stderr_fd, child.stderr_log_fd}) {
      if (fd >= 0) ::close(fd);
    }
    it = children_.erase(it);
  }
}

void LocalProcessLauncher::EnforceGracePeriods() {
  double now = SteadySeconds();
  for (auto& [id, child] : children_) {
    if (child->kill_at_seconds > 0 && now >= child->kill_at_seconds) {
      ::kill(-child->pid, SIGKILL);
      ::kill(child->pid, SIGKILL);
      child->kill_at_seconds = 0;
    }
  }
}

void LocalProcessLauncher::Wait(double timeout_seconds, std::vector<LauncherEvent>* events) {
  size_t events_before = events->size();
  EnforceGracePeriods();
  ReapExited(events);
  if (events->size() > events_before) return;

  std::vector<pollfd> fds;
  std::vector<Child*> owners;
  bool some_closed_unreaped = false;
  double next_kill = 0;
  for (auto& [id, child] : children_) {
    if (child->stdout_fd >= 0) {
      fds.push_back({child->stdout_fd, POLLIN, 0});
      owners.push_back(child.get());
    }
    if (child->stderr_fd >= 0) {
      fds.push_back({child->stderr_fd, POLLIN, 0});
      owners.push_back(child.get());
    }
    if (child->stdout_fd < 0 && child->stderr_fd < 0) some_closed_unreaped = true;
    if (child->kill_at_seconds > 0 && (next_kill == 0 || child->kill_at_seconds < next_kill)) {
      next_kill = child->kill_at_seconds;
    }
  }
  double wait_seconds = std::max(0.0, timeout_seconds);
  // A child whose pipes are closed is about to become a zombie: look again soon.
  if (some_closed_unreaped) wait_seconds = std::min(wait_seconds, 0.005);
  if (next_kill > 0) wait_seconds = std::min(wait_seconds, std::max(0.0, next_kill - SteadySeconds()));
  int ready = ::poll(fds.data(), fds.size(), static_cast<int>(wait_seconds * 1000 + 0.5));
  if (ready > 0) {
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents != 0) Drain(*owners[i], events);
    }
  }
  EnforceGracePeriods();
  ReapExited(events);
}

void LocalProcessLauncher::Stop(int64_t trial_id, StopMode mode) {
  auto it = children_.find(trial_id);
  if (it == children_.end()) return;
  Child& child = *it->second;
  if (mode == StopMode::kKill) {
    ::kill(-child.pid, SIGKILL);
    ::kill(child.pid, SIGKILL);
    child.kill_at_seconds = 0;
    return;
  }
  ::kill(child.pid, SIGTERM);
  if (child.kill_at_seconds == 0) child.kill_at_seconds = SteadySeconds() + options_.stop_grace_seconds;
}

}  // namespace cs
