// Where a backbone directory is and what its files are called: the part of
// trials/backbone.h that needs no libtorch, so the light `carbonsweep`
// binary (reports) and the trial code resolve the default backbone the same
// way. Plain functions; any thread.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace cs {

constexpr const char* kBackboneWeightsFile = "encoder.pt";
constexpr const char* kBackboneVocabFile = "vocab.txt";
constexpr const char* kBackboneInfoFile = "backbone.json";
// Environment variable naming the default backbone directory.
constexpr const char* kBackboneEnvVar = "CARBONSWEEP_BACKBONE";

// The places the default backbone is looked for, in order, for a program
// whose executable lies in `exe_dir`: an installed tree
// (<exe_dir>/../share/carbonsweep/models/backbone for bin/, and
// <exe_dir>/../../share/carbonsweep/models/backbone for libexec/carbonsweep/),
// then <exe_dir>/../../models/backbone (a build dir under the source tree),
// then `source_dir`/models/backbone when `source_dir` is not empty (the
// source tree fixed at compile time). An empty `exe_dir` skips the first three.
std::vector<std::string> DefaultBackboneDirs(const std::string& exe_dir, const std::string& source_dir);

// The backbone directory to use: `flag_dir` if non-empty, else
// $CARBONSWEEP_BACKBONE, else the first of DefaultBackboneDirs(dir of
// /proc/self/exe, CARBONSWEEP_SOURCE_DIR) holding a backbone.json. An
// explicitly named directory must exist; for the defaults, NotFound lists the
// places tried and says how to make one (`carbonsweep pretrain`) or to pass
// --from-scratch with --vocab.
Result<std::string> ResolveBackboneDir(const std::string& flag_dir);

}  // namespace cs
