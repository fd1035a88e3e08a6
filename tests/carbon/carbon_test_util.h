// Helpers shared by the carbon suites: fake sysfs/proc trees and a child
// process that burns a known amount of CPU time.
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <map>
#include <string>

#include "common/files.h"
#include "tests/testing/temp_dir.h"

namespace cs::testing {

// Writes each relative path -> content under `root`, creating directories.
inline void WriteTree(const std::string& root, const std::map<std::string, std::string>& files) {
  for (const auto& [path, content] : files) {
    std::string full = root + "/" + path;
    MakeDirs(full.substr(0, full.rfind('/')));
    WriteFileAtomic(full, content);
  }
}

// Forks a child that spins until it has used `cpu_seconds` of CPU, then exits.
inline pid_t StartBusyChild(double cpu_seconds) {
  pid_t pid = fork();
  if (pid == 0) {
    timespec used{};
    volatile double sink = 0;
    do {
      for (int i = 0; i < 10000; ++i) sink = sink + i * 0.5;
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &used);
    } while (used.tv_sec + used.tv_nsec / 1e9 < cpu_seconds);
    _exit(0);
  }
  return pid;
}

// Waits for the child to exit without reaping it (its /proc entry stays).
inline void WaitExitedNotReaped(pid_t pid) {
  siginfo_t info{};
  waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT);
}

// Reaps the child; returns its user+system CPU seconds from wait4.
inline double ReapCpuSeconds(pid_t pid) {
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

}  // namespace cs::testing
