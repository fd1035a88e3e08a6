// The last words of a local trial whose orchestrator died: both sides of
// that part of the trial protocol (trials/protocol.h).
//
// A local orchestrator starts each trial with PR_SET_PDEATHSIG set to
// kOrchestratorDeathSignal. When the orchestrator dies (kill -9, a crash),
// the trial's handler writes <work_dir>/exit_usage.json - its pid, its
// whole CPU time and the time - and exits at once; nothing else runs after
// its orchestrator. `resume` compares that CPU time with what the ledger
// holds for the attempt and adds the difference, so the energy burnt after
// the orchestrator's last sample is not lost.
//
// The trial (`carbonsweep trial`) calls InstallOrchestratorDeathHandler;
// launchers use kOrchestratorDeathSignal; the orchestrator reads the file.
#pragma once

#include <signal.h>

#include <cstdint>
#include <optional>
#include <string>

namespace cs {

constexpr int kOrchestratorDeathSignal = SIGUSR2;
// The launcher's pid, in the trial's environment: a trial whose parent is no
// longer this process when it installs the handler writes the file at once
// (the launcher starts trials with the signal ignored, so a death during
// the trial's start-up is not missed and does not end it unheard).
constexpr const char* kOrchestratorPidVariable = "CARBONSWEEP_ORCHESTRATOR_PID";
constexpr const char* kTrialExitUsageFile = "exit_usage.json";

struct TrialExitUsage {
  int64_t pid = 0;           // the trial process that wrote it (matches the store's job id "pid:N").
  double cpu_seconds = 0;    // user + system CPU of the whole process (getrusage), all threads.
  double unix_seconds = 0;   // when the orchestrator's death was noticed.
};

// Installs the handler (async-signal-safe: it formats integers by hand and
// writes the file with open/write/rename) for `work_dir`; when the
// orchestrator named by kOrchestratorPidVariable is already gone, runs it now.
void InstallOrchestratorDeathHandler(const std::string& work_dir);

// True while process `pid` is a trial working in `work_dir` (its command line
// names the directory): `resume` waits for such a leftover to write its file
// and exit before it reads the file or relaunches the trial.
bool TrialProcessAlive(int64_t pid, const std::string& work_dir);

// The file in `work_dir`, or nullopt when there is none, it is unreadable,
// larger than 4 KB, or a field is missing, not an unsigned integer or out of
// range (pid in [1, 2^22], CPU under 2^50 microseconds).
std::optional<TrialExitUsage> ReadTrialExitUsage(const std::string& work_dir);

}  // namespace cs
