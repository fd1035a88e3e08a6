#include "orchestrator/slurm_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "common/text.h"

namespace cs {

namespace {

double SteadySeconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string Joined(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& arg : argv) text += (text.empty() ? "" : " ") + arg;
  return text;
}

class RealSlurmClient : public SlurmClient {
 public:
  explicit RealSlurmClient(double timeout_seconds) : timeout_seconds_(timeout_seconds) {}

  Result<CommandOutput> Run(const std::vector<std::string>& argv) override {
    if (argv.empty()) return Status::Internal("SlurmClient::Run: empty command");
    std::vector<std::string> args = argv;
    std::vector<char*> pointers;
    for (std::string& arg : args) pointers.push_back(arg.data());
    pointers.push_back(nullptr);

    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Status::IoError(std::string("pipe: ") + std::strerror(errno));
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
      ::close(out_pipe[0]);
      ::close(out_pipe[1]);
      return Status::IoError(std::string("pipe: ") + std::strerror(errno));
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) ::close(fd);
      return Status::IoError(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
      int null_fd = ::open("/dev/null", O_RDONLY);
      if (null_fd >= 0) ::dup2(null_fd, 0);
      ::dup2(out_pipe[1], 1);
      ::dup2(err_pipe[1], 2);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execvp(pointers[0], pointers.data());
      ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);

    CommandOutput output;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    std::string* sinks[2] = {&output.stdout_text, &output.stderr_text};
    double deadline = SteadySeconds() + timeout_seconds_;
    bool timed_out = false;
    int open_fds = 2;
    char buffer[8192];
    while (open_fds > 0) {
      double left = deadline - SteadySeconds();
      if (left <= 0) {
        timed_out = true;
        break;
      }
      int ready = ::poll(fds, 2, static_cast<int>(left * 1000) + 1);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
          continue;
        }
        sinks[i]->append(buffer, static_cast<size_t>(n));
      }
    }
    for (pollfd& fd : fds) {
      if (fd.fd >= 0) ::close(fd.fd);
    }
    if (timed_out) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (timed_out) {
      return Status::IoError("'" + Joined(argv) + "' did not answer within " +
                             std::to_string(static_cast<int>(timeout_seconds_)) + " s (is slurmctld up?)");
    }
    if (WIFSIGNALED(status)) {
      output.exit_code = 128 + WTERMSIG(status);
    } else {
      output.exit_code = WEXITSTATUS(status);
    }
    if (output.exit_code == 127 && output.stdout_text.empty() && output.stderr_text.empty()) {
      return Status::NotFound("cannot run '" + argv[0] + "': not found in PATH (is slurm-client installed?)");
    }
    return output;
  }

 private:
  double timeout_seconds_;
};

std::string Trimmed(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

bool AllDigits(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<SlurmClient> MakeRealSlurmClient(double timeout_seconds) {
  return std::make_unique<RealSlurmClient>(timeout_seconds);
}

SlurmJobState ParseSlurmJobState(const std::string& name) {
  // scontrol may print "CANCELLED by 0"; squeue %T prints the bare word.
  std::string word = name.substr(0, name.find(' '));
  struct Entry {
    const char* name;
    SlurmJobState state;
  };
  static const Entry kStates[] = {
      {"PENDING", SlurmJobState::kPending},       {"RUNNING", SlurmJobState::kRunning},
      {"SUSPENDED", SlurmJobState::kSuspended},   {"COMPLETING", SlurmJobState::kCompleting},
      {"REQUEUED", SlurmJobState::kRequeued},     {"REQUEUE_FED", SlurmJobState::kRequeued},
      {"REQUEUE_HOLD", SlurmJobState::kRequeued}, {"CONFIGURING", SlurmJobState::kRunning},
      {"RESIZING", SlurmJobState::kRunning},      {"SIGNALING", SlurmJobState::kRunning},
      {"STAGE_OUT", SlurmJobState::kCompleting},  {"STOPPED", SlurmJobState::kSuspended},
      {"RESV_DEL_HOLD", SlurmJobState::kPending}, {"SPECIAL_EXIT", SlurmJobState::kFailed},
      {"COMPLETED", SlurmJobState::kCompleted},   {"FAILED", SlurmJobState::kFailed},
      {"TIMEOUT", SlurmJobState::kTimeout},       {"CANCELLED", SlurmJobState::kCancelled},
      {"PREEMPTED", SlurmJobState::kPreempted},   {"NODE_FAIL", SlurmJobState::kNodeFail},
      {"BOOT_FAIL", SlurmJobState::kBootFail},    {"DEADLINE", SlurmJobState::kDeadline},
      {"OUT_OF_MEMORY", SlurmJobState::kOutOfMemory},
  };
  for (const Entry& entry : kStates) {
    if (word == entry.name) return entry.state;
  }
  return SlurmJobState::kUnknown;
}

const char* SlurmJobStateName(SlurmJobState state) {
  switch (state) {
    case SlurmJobState::kPending: return "PENDING";
    case SlurmJobState::kRunning: return "RUNNING";
    case SlurmJobState::kSuspended: return "SUSPENDED";
    case SlurmJobState::kCompleting: return "COMPLETING";
    case SlurmJobState::kRequeued: return "REQUEUED";
    case SlurmJobState::kCompleted: return "COMPLETED";
    case SlurmJobState::kFailed: return "FAILED";
    case SlurmJobState::kTimeout: return "TIMEOUT";
    case SlurmJobState::kCancelled: return "CANCELLED";
    case SlurmJobState::kPreempted: return "PREEMPTED";
    case SlurmJobState::kNodeFail: return "NODE_FAIL";
    case SlurmJobState::kBootFail: return "BOOT_FAIL";
    case SlurmJobState::kDeadline: return "DEADLINE";
    case SlurmJobState::kOutOfMemory: return "OUT_OF_MEMORY";
    case SlurmJobState::kUnknown: return "UNKNOWN";
  }
  return "UNKNOWN";
}

bool IsTerminal(SlurmJobState state) {
  switch (state) {
    case SlurmJobState::kCompleted:
    case SlurmJobState::kFailed:
    case SlurmJobState::kTimeout:
    case SlurmJobState::kCancelled:
    case SlurmJobState::kPreempted:
    case SlurmJobState::kNodeFail:
    case SlurmJobState::kBootFail:
    case SlurmJobState::kDeadline:
    case SlurmJobState::kOutOfMemory: return true;
    default: return false;
  }
}

Result<std::string> ParseSbatchJobId(const std::string& output) {
  std::string text = Trimmed(output);
  // The last line: sbatch may print warnings before the id.
  size_t newline = text.find_last_of('\n');
  if (newline != std::string::npos) text = Trimmed(text.substr(newline + 1));
  std::string id = text.substr(0, text.find(';'));
  if (!AllDigits(id)) return Status::InvalidArgument("sbatch printed no job id: '" + Trimmed(output) + "'");
  return id;
}

std::map<std::string, SlurmJobInfo> ParseSqueueLines(const std::string& output) {
  std::map<std::string, SlurmJobInfo> jobs;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    line = Trimmed(line);
    size_t first = line.find('|');
    if (first == std::string::npos) continue;
    size_t second = line.find('|', first + 1);
    if (second == std::string::npos) continue;
    SlurmJobInfo info;
    info.job_id = line.substr(0, first);
    info.state_name = line.substr(first + 1, second - first - 1);
    info.state = ParseSlurmJobState(info.state_name);
    info.reason = line.substr(second + 1);
    if (!AllDigits(info.job_id)) continue;
    jobs[info.job_id] = info;
  }
  return jobs;
}

std::map<std::string, std::string> ParseSqueueCommands(const std::string& output) {
  std::map<std::string, std::string> commands;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    line = Trimmed(line);
    size_t bar = line.find('|');
    if (bar == std::string::npos) continue;
    std::string job_id = line.substr(0, bar);
    if (AllDigits(job_id)) commands[job_id] = line.substr(bar + 1);
  }
  return commands;
}

std::map<std::string, std::string> ParseKeyValues(const std::string& line) {
  std::map<std::string, std::string> values;
  std::istringstream words(line);
  std::string word;
  while (words >> word) {
    size_t equals = word.find('=');
    if (equals == std::string::npos || equals == 0) continue;
    values.emplace(word.substr(0, equals), word.substr(equals + 1));
  }
  return values;
}

std::map<std::string, SlurmJobInfo> ParseScontrolJobs(const std::string& output) {
  std::map<std::string, SlurmJobInfo> jobs;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    std::map<std::string, std::string> values = ParseKeyValues(line);
    auto id = values.find("JobId");
    auto state = values.find("JobState");
    if (id == values.end() || state == values.end()) continue;
    SlurmJobInfo info;
    info.job_id = id->second;
    info.state_name = state->second;
    info.state = ParseSlurmJobState(info.state_name);
    info.reason = values.count("Reason") ? values["Reason"] : "";
    auto exit = values.find("ExitCode");
    if (exit != values.end()) {
      size_t colon = exit->second.find(':');
      std::string code = exit->second.substr(0, colon);
      std::string signal = colon == std::string::npos ? "0" : exit->second.substr(colon + 1);
      if (AllDigits(code) && AllDigits(signal)) {
        info.exit_code = std::stoi(code);
        info.exit_signal = std::stoi(signal);
      }
    }
    if (values.count("Restarts") && AllDigits(values["Restarts"])) info.restarts = std::stoi(values["Restarts"]);
    info.node_list = values.count("NodeList") ? values["NodeList"] : "";
    info.time_limit = values.count("TimeLimit") ? values["TimeLimit"] : "";
    jobs[info.job_id] = info;
  }
  return jobs;
}

Result<std::vector<std::string>> SplitShellWords(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote == '\'') {
      if (c == '\'') quote = 0; else word += c;
      continue;
    }
    if (quote == '"') {
      if (c == '"') {
        quote = 0;
      } else if (c == '\\' && i + 1 < text.size() && std::strchr("\"\\$`", text[i + 1]) != nullptr) {
        word += text[++i];
      } else {
        word += c;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
    } else {
      word += c;
    }
  }
  if (quote != 0) {
    return Status::InvalidArgument(std::string("unterminated ") + (quote == '"' ? "double" : "single") +
                                   " quote in '" + text + "'");
  }
  if (in_word) words.push_back(word);
  return words;
}

Status RefuseControlCharacters(const std::string& what, const std::string& value) {
  for (size_t i = 0; i < value.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c != 0x7f) continue;
    const std::string byte = StringPrintf("0x%02x", c);
    return Status::InvalidArgument(what + ": control character " + byte + " at byte " + std::to_string(i) +
                                   " (newlines and other control characters cannot go into a Slurm job)");
  }
  return Status::Ok();
}

bool IsSlurmJobId(const std::string& text) {
  size_t underscore = text.find('_');
  if (underscore == std::string::npos) return AllDigits(text);
  return AllDigits(text.substr(0, underscore)) && AllDigits(text.substr(underscore + 1));
}

std::string ShellQuote(const std::string& word) {
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') quoted += "'\\''"; else quoted += c;
  }
  return quoted + "'";
}

}  // namespace cs
