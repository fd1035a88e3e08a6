#include "orchestrator/slurm_work_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "common/files.h"
#include "common/json.h"
#include "orchestrator/slurm_client.h"
#include "trials/protocol.h"

namespace cs {

namespace {

// slurm-job.json is a few hundred bytes; a bigger one is not ours.
constexpr uint64_t kMaxJobStateBytes = 1 << 20;
// How much of a tailed file one read() takes at a time (memory stays bounded
// whatever a worker appended).
constexpr size_t kReadChunkBytes = 1 << 20;

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

}  // namespace

std::string FileTail(const std::string& path, size_t bytes) {
  uint64_t size = 0;
  int fd = OpenRegularFile(path, &size);
  if (fd < 0) return "";
  uint64_t start = size > bytes ? size - bytes : 0;
  std::string text = ReadAt(fd, start, static_cast<size_t>(size - start));
  ::close(fd);
  return text;
}

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

Status WriteJobStateFile(const std::string& path, const JobStateFile& state) {
  nlohmann::json json = {{"job_id", state.job_id},
                         {"trial_id", state.trial_id},
                         {"events_offset", state.events_offset},
                         {"requeues", state.requeues}};
  return WriteFileAtomic(path, json.dump(2) + "\n");
}

std::optional<nlohmann::json> TrialEventFromWorkDirLine(const std::string& line, std::string* problem) {
  std::optional<nlohmann::json> event = ParseTrialEvent(line);
  if (!event) return std::nullopt;
  const nlohmann::json& kind_value = (*event)["event"];
  std::string kind = kind_value.is_string() ? kind_value.get<std::string>() : "";
  if (kind != "start" && kind != "epoch" && kind != "end") {
    *problem = "skipped an event line of kind " + kind_value.dump() + " (a trial writes start, epoch and end only)";
    return std::nullopt;
  }
  auto state = event->find("state");
  if (kind == "end" && state != event->end() && !state->is_string()) {
    *problem = "skipped an end event whose state is not a name";
    return std::nullopt;
  }
  return event;
}

uint64_t RegularFileSize(const std::string& path) {
  uint64_t size = 0;
  int fd = OpenRegularFile(path, &size);
  if (fd < 0) return 0;
  ::close(fd);
  return size;
}

bool WrittenAfter(const std::string& later, const std::string& earlier) {
  std::error_code error;
  const auto later_time = std::filesystem::last_write_time(later, error);
  if (error) return false;
  const auto earlier_time = std::filesystem::last_write_time(earlier, error);
  return error || later_time > earlier_time;
}

std::string CanonicalPath(const std::string& path) {
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::weakly_canonical(path, error);
  return error ? path : absolute.string();
}

int TailedFile::ReadLines(std::vector<std::string>* lines) {
  uint64_t size = 0;
  int fd = OpenRegularFile(path, &size);
  if (fd < 0) return 0;
  if (size < offset) RestartAt(0);  // truncated or replaced: start over rather than read garbage.
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
      if (skipping || partial.size() > kMaxTailedLineBytes) {
        ++skipped;
      } else {
        lines->push_back(std::move(partial));
      }
      partial.clear();
      skipping = false;
      begin = newline + 1;
    }
    if (!skipping) partial.append(chunk, begin, std::string::npos);
    if (partial.size() > kMaxTailedLineBytes) {
      partial.clear();
      skipping = true;
    }
  }
  ::close(fd);
  return skipped;
}

void TailedFile::RestartAt(uint64_t new_offset) {
  offset = new_offset;
  partial.clear();
  skipping = false;
}

}  // namespace cs
