// What the Slurm launcher (slurm_launcher.h) reads from and writes to a
// trial's work dir besides the job script: the job-state file slurm-job.json,
// the files a worker appends (events.log, energy.log, read by offset as
// TailedFile) and the tail of stderr.log. Free functions and a plain value
// type; only the launcher calls them, on the scheduler thread.
//
// The work dir is on a shared filesystem that others may write: only a
// regular file is read (never a FIFO or device planted there), a bounded
// amount at a time, and every field of slurm-job.json is type- and
// range-checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace cs {

// What the launcher keeps beside the script so a restarted orchestrator can
// adopt the job: which job runs the trial now, where its attempt started in
// events.log, how often it was resubmitted. Hints only: anyone who can write
// the work dir can write this file (see ReadJobStateFile).
constexpr const char* kSlurmJobStateFile = "slurm-job.json";
// The job script, written anew at every submission (slurm_job_script.h).
constexpr const char* kSlurmJobScriptFile = "slurm-job.sh";
// Where sbatch --error sends the trial's stderr.
constexpr const char* kSlurmStderrFile = "stderr.log";

// A line longer than this without a newline is not a record; it is skipped.
constexpr size_t kMaxTailedLineBytes = 64 << 10;

// slurm-job.json as the launcher writes it, every field checked.
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
                                             const std::function<void(const std::string&)>& warn);
// Writes `state` to `path` atomically, in the form ReadJobStateFile reads.
Status WriteJobStateFile(const std::string& path, const JobStateFile& state);

// One events.log line as the loop may hear it: the event object of a line a
// trial writes (start, epoch, end with a string state, if any). nullopt for
// a line that is not an event (a human's; `problem` left empty) and for one
// no trial writes, with `problem` saying which: the other kinds the loop
// hears ("requeue", "slurm_energy", "energy") come from the launcher alone,
// so such a line in the work dir is forged.
std::optional<nlohmann::json> TrialEventFromWorkDirLine(const std::string& line, std::string* problem);

// The size of the regular file `path`; 0 when it is missing or not a regular file.
uint64_t RegularFileSize(const std::string& path);
// The last `bytes` of a regular file ("" when it cannot be read).
std::string FileTail(const std::string& path, size_t bytes);
// Whether the last write of `later` is after that of `earlier`; false when
// `later` is missing, true when only `earlier` is.
bool WrittenAfter(const std::string& later, const std::string& earlier);
// `path` made absolute with links resolved, as far as it exists; `path` itself on error.
std::string CanonicalPath(const std::string& path);

// A file read by offset, line by line; what comes after the last newline
// waits for the next read, so a line is handed on exactly once. Only a
// regular file is read, a chunk at a time.
struct TailedFile {
  std::string path;
  uint64_t offset = 0;
  std::string partial;
  bool skipping = false;  // the current line passed kMaxTailedLineBytes: drop it up to its newline.

  // Appends the complete new lines to `lines`; returns how many lines were
  // longer than kMaxTailedLineBytes (skipped).
  int ReadLines(std::vector<std::string>* lines);
  // Reading starts again at `new_offset`, with nothing pending.
  void RestartAt(uint64_t new_offset);
};

}  // namespace cs
