// The libtorch executable (`carbonsweep-torch`) that runs the commands which
// train: `carbonsweep` itself links no libtorch, so the commands that only
// read a store or print tables start in milliseconds, and hands the others
// over with execv() (same argv, same environment). cli/ only; main thread,
// before anything else has started.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace cs {

constexpr const char* kTorchBinaryName = "carbonsweep-torch";
// Environment variable naming the torch executable; it wins over the defaults.
constexpr const char* kTorchBinaryEnvVar = "CARBONSWEEP_TORCH_BINARY";

// Where the torch executable is looked for beside a `carbonsweep` in `exe_dir`,
// in order: <exe_dir>/carbonsweep-torch (the build tree), then
// <exe_dir>/../libexec/carbonsweep/carbonsweep-torch (an installed tree).
std::vector<std::string> TorchBinaryCandidates(const std::string& exe_dir);

// $CARBONSWEEP_TORCH_BINARY if set (it must be an executable file), else the
// first executable of TorchBinaryCandidates(dir of /proc/self/exe). NotFound
// names every place tried and the variable. Never this very executable (that
// would exec itself forever).
Result<std::string> FindTorchBinary();

// Replaces this process with the torch executable running `argv` (argv[0]
// kept). Returns only on failure: prints one line "carbonsweep COMMAND:
// error: ..." and returns ExitCode::kInternalError (1).
int ExecTorchBinary(const std::string& command, char** argv);

}  // namespace cs
