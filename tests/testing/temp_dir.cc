#include "tests/testing/temp_dir.h"

#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <doctest/doctest.h>

namespace cs::testing {

extern std::atomic<bool> g_current_test_failed;  // doctest_main.cc

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "carbonsweep-test-XXXXXX").string();
  char* made = ::mkdtemp(pattern.data());
  if (made == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = made;
}

TempDir::~TempDir() {
  // Keep the directory of a failed test (exceptions in flight count as failures).
  if (g_current_test_failed || std::uncaught_exceptions() > 0) {
    std::cerr << "test failed: kept " << path_ << "\n";
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::File(const std::string& name) const { return path_ + "/" + name; }

std::string TempDir::Write(const std::string& name, const std::string& content) const {
  std::string file = File(name);
  std::filesystem::create_directories(std::filesystem::path(file).parent_path());
  std::ofstream(file, std::ios::binary) << content;
  return file;
}

std::string BinaryPath() {
  const char* binary = std::getenv("CARBONSWEEP_BINARY");
  return binary != nullptr ? binary : "carbonsweep";
}

std::string SourceDir() {
  const char* dir = std::getenv("CARBONSWEEP_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

int RunShell(const std::string& command, std::string* output) {
  output->clear();
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output->append(buffer, n);
  int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace cs::testing
