// Small file helpers shared by every module: read a whole file, write one
// atomically (temp file + fsync + rename, so a crash leaves the old or the
// new content, never half), refuse an output that would clobber a store,
// make private work dirs, sha256 of a file. Any thread.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "common/status.h"

namespace cs {

Result<std::string> ReadFile(const std::string& path);
// ReadFile for files someone else writes: a regular file of at most
// `max_bytes` (InvalidArgument naming the size otherwise; NotFound when it
// does not exist). Never blocks on a FIFO, never reads /dev/zero forever.
Result<std::string> ReadFileUpTo(const std::string& path, size_t max_bytes);
// Writes `content` to `path`.
// A regular file (or a path that does not exist yet) is replaced whole: the
// bytes go to a fresh temp file that mkstemp(3) makes beside it (never a
// fixed name, so a planted link is not followed), are fsynced, and rename(2)
// puts them in place, so a crash leaves the old or the new content. The new
// file gets `mode` less the process umask.
// An existing path that is not a regular file (a character device such as
// /dev/null, a FIFO, /dev/stdout leading to a pipe or tty) is opened for
// writing and written in place: it is never replaced, created or truncated.
// Directories, block devices and sockets are refused (InvalidArgument).
Status WriteFileAtomic(const std::string& path, const std::string& content, mode_t mode = 0644);
// Ok when `path` may take a command's output. InvalidArgument, one line
// naming `path`, when it is the same file (device and inode) as one of
// `protected_paths` (e.g. the --db store; missing ones are skipped) or
// begins with the SQLite header ("SQLite format 3\0"): any SQLite database.
// A path that does not exist yet is Ok.
Status CheckSafeOutputPath(const std::string& path, const std::vector<std::string>& protected_paths);
// Lower-case hex sha256 of the file's bytes.
Result<std::string> Sha256OfFile(const std::string& path);
std::string Sha256OfString(const std::string& bytes);
// mkdir -p.
Status MakeDirs(const std::string& path);
// mkdir -p for a directory only this user may use (a trial's work dir): the
// parts it creates are made 0700 whatever the umask; then the last part, new
// or not, must be a directory (not a symlink) owned by this user (geteuid)
// and not writable by group or others. InvalidArgument naming it otherwise.
Status MakePrivateDirs(const std::string& path);
bool FileExists(const std::string& path);

}  // namespace cs
