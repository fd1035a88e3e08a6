// TempDir: a fresh directory per test, removed when the test passes and kept
// (its path printed) when it fails, so a failure can be inspected.
// Also the paths the end-to-end suites need (the built binary, the sources).
#pragma once

#include <string>

namespace cs::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(const std::string& name) const;
  // Writes `content` to File(name) and returns its path.
  std::string Write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

// The `carbonsweep` binary under test ($CARBONSWEEP_BINARY, set by CTest).
std::string BinaryPath();
// The source tree ($CARBONSWEEP_SOURCE_DIR, set by CTest).
std::string SourceDir();

// Runs a shell command; returns its exit status and fills stdout+stderr.
int RunShell(const std::string& command, std::string* output);

}  // namespace cs::testing
