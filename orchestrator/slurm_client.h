// SlurmClient: the one seam between the Slurm launcher and the cluster. The
// launcher speaks to Slurm only by running its command-line tools (sbatch,
// squeue, scontrol, scancel, sacct) through this interface, so the parsing
// and state handling are tested against scripted outputs (a fake in
// tests/slurm) and the real client simply runs the binaries.
//
// Also the parsers of those tools' outputs: pure functions, any thread.
// Not thread-safe as an object: the scheduler thread owns its client.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace cs {

// What one command printed and how it ended.
struct CommandOutput {
  int exit_code = 0;    // 0 = success; 128 + signal when killed; 127 when it could not run.
  std::string stdout_text;
  std::string stderr_text;
};

class SlurmClient {
 public:
  virtual ~SlurmClient() = default;
  // Runs argv (argv[0] looked up in PATH). An error only when the command
  // could not run at all (no such program, fork failed, timed out); a
  // non-zero exit is a CommandOutput for the caller to judge.
  virtual Result<CommandOutput> Run(const std::vector<std::string>& argv) = 0;
};

// Runs the real tools with fork/exec, capturing both outputs. A command that
// runs longer than `timeout_seconds` (a hung slurmctld) is killed and
// reported as an IoError naming it.
std::unique_ptr<SlurmClient> MakeRealSlurmClient(double timeout_seconds = 60);

// A Slurm job state (squeue %T / scontrol JobState), as far as we care.
enum class SlurmJobState {
  kPending = 0,
  kRunning,
  kSuspended,
  kCompleting,   // the job's processes are ending; not terminal yet.
  kRequeued,     // Slurm put it back in the queue itself (same job id).
  kCompleted,
  kFailed,
  kTimeout,
  kCancelled,
  kPreempted,
  kNodeFail,
  kBootFail,
  kDeadline,
  kOutOfMemory,
  kUnknown,      // a state name this code does not know; treated as still active.
};
SlurmJobState ParseSlurmJobState(const std::string& name);  // "CANCELLED by 0" -> kCancelled.
const char* SlurmJobStateName(SlurmJobState state);         // "CANCELLED".
// True when the job will not run again by itself.
bool IsTerminal(SlurmJobState state);

// One job as squeue or scontrol describe it.
struct SlurmJobInfo {
  std::string job_id;
  SlurmJobState state = SlurmJobState::kUnknown;
  std::string state_name;  // as Slurm printed it.
  std::string reason;      // "None", "Resources", "TimeLimit", "NodeDown"...; "" when unknown.
  // ExitCode=<code>:<signal> (scontrol only); nullopt when not printed.
  std::optional<int> exit_code;
  std::optional<int> exit_signal;
  int restarts = 0;        // Restarts= (Slurm's own requeues).
  std::string node_list;   // NodeList=.
  std::string time_limit;  // TimeLimit=.
};

// "123" or "123;cluster" (sbatch --parsable) -> "123"; InvalidArgument quoting the text otherwise.
Result<std::string> ParseSbatchJobId(const std::string& output);
// Lines "<id>|<state>|<reason>" (squeue --noheader --format=%i|%T|%r). Lines
// that do not have three fields are skipped.
std::map<std::string, SlurmJobInfo> ParseSqueueLines(const std::string& output);
// Lines "<id>|<command>" (squeue --noheader --format=%i|%o; a batch job's
// command is its script's absolute path) -> command by job id.
std::map<std::string, std::string> ParseSqueueCommands(const std::string& output);
// `scontrol show job -o <id>`: one line of Key=Value pairs per job.
std::map<std::string, SlurmJobInfo> ParseScontrolJobs(const std::string& output);
// Key=Value pairs of one scontrol line (values never contain spaces in -o
// output except the last fields; those are not used).
std::map<std::string, std::string> ParseKeyValues(const std::string& line);

// Splits a flag string like `--qos=high --constraint="a100&ib"` into words,
// honouring single and double quotes and backslashes as a POSIX shell does
// (no expansion). InvalidArgument for an unterminated quote.
Result<std::vector<std::string>> SplitShellWords(const std::string& text);
// Quotes `word` for /bin/sh: 'it'\''s'.
std::string ShellQuote(const std::string& word);
// InvalidArgument "<what>: ... control character ..." when `value` holds a
// byte below 0x20 or 0x7f: in a job script a newline ends the line (a `#`
// comment too) and what follows runs as a command; sbatch takes none either.
Status RefuseControlCharacters(const std::string& what, const std::string& value);
// A job id as sbatch --parsable prints it ("123"), or an array task ("123_4").
bool IsSlurmJobId(const std::string& text);

}  // namespace cs
