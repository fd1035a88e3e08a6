// Small file helpers shared by every module: read a whole file, write one
// atomically (temp file + fsync + rename, so a crash leaves the old or the
// new content, never half), sha256 of a file. Any thread.
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace cs {

Result<std::string> ReadFile(const std::string& path);
// ReadFile for files someone else writes: a regular file of at most
// `max_bytes` (InvalidArgument naming the size otherwise; NotFound when it
// does not exist). Never blocks on a FIFO, never reads /dev/zero forever.
Result<std::string> ReadFileUpTo(const std::string& path, size_t max_bytes);
// Writes `content` to `path` through `path.tmp` and rename(2).
Status WriteFileAtomic(const std::string& path, const std::string& content);
// Lower-case hex sha256 of the file's bytes.
Result<std::string> Sha256OfFile(const std::string& path);
std::string Sha256OfString(const std::string& bytes);
// mkdir -p.
Status MakeDirs(const std::string& path);
bool FileExists(const std::string& path);

}  // namespace cs
