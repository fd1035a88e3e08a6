// The flags of `carbonsweep trial` and their reading into TrialOptions,
// shared by the `trial` command and the sweep's preflight, so a sweep checks
// its trials' inputs with exactly the parser and loader its trials use
// (cli/trial_check.h). cli/ only; not with orchestrator headers in one file
// (search_spaces and trials each have a TrialProgress).
#pragma once

#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "common/status.h"
#include "trials/finetune.h"

namespace cs {

void AddTrialFlags(boost::program_options::options_description* options);
// The TrialOptions the flags ask for; InvalidArgument names the flag. No side effects.
Result<TrialOptions> TrialOptionsFromFlags(const boost::program_options::variables_map& vm);

}  // namespace cs
