#include "orchestrator/command_job.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>

#include "orchestrator/slurm_energy.h"
#include "trials/protocol.h"

namespace cs {

namespace {

// A line longer than this is no event any reader would take: it is passed
// on to stdout but never copied to events.log (and never buffered whole).
constexpr size_t kMaxEventLineBytes = 1 << 20;

std::string SystemError(const std::string& what) { return what + ": " + std::strerror(errno); }

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t written = ::write(fd, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    data += written;
    size -= static_cast<size_t>(written);
  }
  return true;
}

// Passes what the command prints on to stdout and copies its whole event
// lines to events.log, one write() each (the orchestrator reads whole lines).
class EventTee {
 public:
  explicit EventTee(int events_fd) : events_fd_(events_fd) {}

  void Add(const char* data, size_t size) {
    (void)WriteAll(STDOUT_FILENO, data, size);  // slurm-<id>.out: for humans; a full disk loses only that.
    for (size_t i = 0; i < size; ++i) {
      if (data[i] != '\n') {
        if (!too_long_) line_.push_back(data[i]);
        if (line_.size() > kMaxEventLineBytes) too_long_ = true, line_.clear();
        continue;
      }
      if (!too_long_ && line_.rfind(kTrialEventPrefix, 0) == 0) {
        line_.push_back('\n');
        if (!WriteAll(events_fd_, line_.data(), line_.size()) && write_error_.empty()) {
          write_error_ = SystemError(std::string(kTrialEventsFile));
        }
      }
      line_.clear();
      too_long_ = false;
    }
  }
  // The first failed append to events.log, or "".
  const std::string& write_error() const { return write_error_; }

 private:
  int events_fd_;
  std::string line_;  // the current line so far (a torn last line is never copied).
  bool too_long_ = false;
  std::string write_error_;
};

double Seconds(const timeval& time) { return static_cast<double>(time.tv_sec) + time.tv_usec / 1e6; }

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Closes what it holds when the job returns, whichever way.
struct Fds {
  int events = -1, signals = -1, out_read = -1, out_write = -1, null = -1;
  ~Fds() {
    for (int fd : {events, signals, out_read, out_write, null}) {
      if (fd >= 0) ::close(fd);
    }
  }
};

// Restores the signal mask the job found.
struct MaskRestorer {
  sigset_t old;
  ~MaskRestorer() { ::pthread_sigmask(SIG_SETMASK, &old, nullptr); }
};

}  // namespace

Result<int> RunCommandJob(const CommandJobOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return Status::InvalidArgument("job: no command after --");
  }
  struct stat info;
  if (::stat(options.work_dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return Status::InvalidArgument(options.work_dir + ": not a directory (the trial's --work-dir)");
  }
  Fds fds;
  const std::string events_path = options.work_dir + "/" + kTrialEventsFile;
  fds.events = ::open(events_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fds.events < 0) return Status::IoError(SystemError(events_path));

  // The signals passed on, and the command's end, arrive through a signalfd:
  // blocked here before any thread starts, so the meter's threads inherit it.
  sigset_t watched;
  sigemptyset(&watched);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&watched, sig);
  MaskRestorer restorer;
  ::pthread_sigmask(SIG_BLOCK, &watched, &restorer.old);
  fds.signals = ::signalfd(-1, &watched, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fds.signals < 0) return Status::IoError(SystemError("signalfd"));
  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Status::IoError(SystemError("pipe"));
  fds.out_read = out_pipe[0];
  fds.out_write = out_pipe[1];
  fds.null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

  std::vector<std::string> arg_strings = options.argv;
  std::vector<char*> argv;
  for (std::string& arg : arg_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) return Status::IoError(SystemError("fork"));
  if (pid == 0) {
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) ::signal(sig, SIG_DFL);
    if (fds.null >= 0) ::dup2(fds.null, STDIN_FILENO);
    ::dup2(fds.out_write, STDOUT_FILENO);
    ::execvp(argv[0], argv.data());
    const char message[] = "carbonsweep job: cannot execute the command\n";
    ssize_t ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so kill(-pid) works before the child ran.
  ::close(fds.out_write);
  fds.out_write = -1;

  auto meter = SelfMeterLog::StartForGroup(options.work_dir, options.meter, options.sample_interval_seconds, pid);
  if (!meter.ok()) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return meter.status().WithPrefix("job: metering the command");
  }

  EventTee tee(fds.events);
  bool leader_reaped = false, pipe_open = true, killed = false;
  int wait_status = 0;
  double cpu_seconds = -1;
  double leftovers_deadline = 0;
  char buffer[65536];
  while (pipe_open || !leader_reaped) {
    if (leader_reaped) {
      // The command is gone; what still holds its stdout is a leftover of
      // its group: asked to end, then killed, and drained meanwhile.
      const double now = MonotonicSeconds();
      if (!killed && now >= leftovers_deadline) {
        ::kill(-pid, SIGKILL);
        killed = true;
        leftovers_deadline = now + 1;  // a killed process closes its pipe at once.
      } else if (killed && now >= leftovers_deadline) {
        break;  // a descendant that left the group holds the pipe: not ours to wait for.
      }
    }
    pollfd polled[2] = {{fds.signals, POLLIN, 0}, {fds.out_read, POLLIN, 0}};
    const int timeout_ms = leader_reaped ? 100 : -1;
    int ready = ::poll(polled, pipe_open ? 2 : 1, timeout_ms);
    if (ready < 0 && errno != EINTR) break;
    if (pipe_open && (polled[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t got = ::read(fds.out_read, buffer, sizeof buffer);
      if (got > 0) {
        tee.Add(buffer, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        pipe_open = false;
      }
    }
    if (polled[0].revents & POLLIN) {
      signalfd_siginfo info;
      while (::read(fds.signals, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        const int sig = static_cast<int>(info.ssi_signo);
        if (sig != SIGCHLD) ::kill(-pid, sig);  // scancel, a requeue, Ctrl-C: the command decides.
      }
    }
    if (!leader_reaped) {
      rusage usage{};
      pid_t reaped = ::wait4(pid, &wait_status, WNOHANG, &usage);
      if (reaped == pid) {
        leader_reaped = true;
        cpu_seconds = Seconds(usage.ru_utime) + Seconds(usage.ru_stime);
        if (::kill(-pid, SIGTERM) == 0) {
          leftovers_deadline = MonotonicSeconds() + options.grace_seconds;
        } else {
          killed = true;  // no process left in the group.
          leftovers_deadline = MonotonicSeconds() + 1;
        }
      }
    }
  }
  Status metered = (*meter)->StopAfterExit(cpu_seconds);
  if (!metered.ok()) std::fprintf(stderr, "carbonsweep job: warning: %s\n", metered.message().c_str());
  if (!tee.write_error().empty()) std::fprintf(stderr, "carbonsweep job: warning: %s\n", tee.write_error().c_str());
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 1;
}

}  // namespace cs
