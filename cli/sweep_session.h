// What `run` and `resume` share: the flags for the output and the store, and
// the running of a sweep session with them (the preflight check of the
// sweep's trials included). cli/ only.
#pragma once

#include <functional>
#include <string>

#include <boost/program_options.hpp>

#include "orchestrator/session.h"

namespace cs {

// --db, --quiet, --json.
void AddSessionFlags(boost::program_options::options_description& options);

// Runs `sweep` with the output mode, store and interrupt handling the flags
// ask for, and CheckSweepTrialsCanRun as its preflight; prints the outcome's
// summary and returns its exit code.
int RunSweepSession(const std::string& command, const boost::program_options::variables_map& vm,
                    const std::function<Result<SweepOutcome>(const SessionOptions&)>& sweep);

// The preflight of a sweep's trials: the arguments every trial gets, with the
// longest window the space can draw, through the trial's own checks.
Status CheckSweepTrialsCanRun(const SweepConfig& config, const SearchSpace& space);

}  // namespace cs
