// Small file helpers shared by every module: read a whole file, write one
// atomically (temp file + fsync + rename, so a crash leaves the old or the
// new content, never half), sha256 of a file. Any thread.
#pragma once

#include <string>

#include "common/status.h"

namespace cs {

Result<std::string> ReadFile(const std::string& path);
// A file the user named (a config, a search space, an intensity series):
// refused with InvalidArgument naming the path unless it is a regular file
// (not a device, FIFO or directory: /dev/zero never ends) of at most
// `max_bytes`; NotFound when it cannot be opened.
Result<std::string> ReadUserFile(const std::string& path, size_t max_bytes);
// Writes `content` to `path` through `path.tmp` and rename(2).
Status WriteFileAtomic(const std::string& path, const std::string& content);
// Lower-case hex sha256 of the file's bytes.
Result<std::string> Sha256OfFile(const std::string& path);
std::string Sha256OfString(const std::string& bytes);
// mkdir -p.
Status MakeDirs(const std::string& path);
bool FileExists(const std::string& path);

}  // namespace cs
