// The data flags that `trial`, `baseline` and `run` share (--task,
// --train-size, ...), so every command reads a split the same way, and the
// path helper the commands that store paths use. cli/ only.
#pragma once

#include <string>

#include <boost/program_options.hpp>

#include "common/status.h"
#include "trials/dataset.h"

namespace cs {

void AddTaskFlags(boost::program_options::options_description* options);
// The spec those flags ask for; a user file's path made absolute.
Result<TaskSpec> TaskSpecFromFlags(const boost::program_options::variables_map& vm);

// `path` made absolute (unchanged when that fails): paths stored in a store
// must name the same file from any working directory.
std::string AbsolutePath(const std::string& path);

}  // namespace cs
