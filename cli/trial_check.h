// Whether a trial started with given arguments could run, for the commands
// that start sweeps (`run`, `resume`) without pulling the trial's libtorch
// headers into their files. Defined in cli/trial_command.cc. cli/ only.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace cs {

// Reads `args` (the `trial` command's flags) with the trial's own parser and
// runs PrepareTrial (trials/finetune.h) on them: data, backbone or model,
// vocab, max_seq_len against the backbone. Nothing is written.
Status CheckTrialArgsCanRun(const std::vector<std::string>& args);

}  // namespace cs
