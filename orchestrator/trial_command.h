// A user's own training command as the trials of a sweep run it
// (`carbonsweep run --command "python3 train.py --lr {learning_rate}"`).
//
// The text is split into words as a POSIX shell would (quotes, backslashes;
// no expansion: no shell ever runs it). In each word, `{name}` becomes the
// trial's value of hyperparameter `name` (a number as JSON writes it, a
// string as is); `{{` and `}}` are literal braces; any other brace is kept.
// The trial also finds its parameters in <work_dir>/params.json and in its
// environment (TrialCommandEnvironment); it reports through the `@cs` event
// lines of trials/protocol.h (docs/trial-protocol.md says what each does).
// Pure functions, except FindProgram and CheckTrialCommand, which look at
// the file system.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "search_spaces/search_space.h"

namespace cs {

struct TrialCommand {
  std::vector<std::string> words;  // words[0] is the program.
};

// InvalidArgument naming --command for an empty text, an unterminated quote
// or a control character.
Result<TrialCommand> ParseTrialCommand(const std::string& text);
// Every {name} in the command, each once, in order of first appearance.
std::vector<std::string> CommandPlaceholders(const TrialCommand& command);
// `name` itself when it holds a '/', else the first executable `name` in
// $PATH. NotFound or InvalidArgument (not executable, a directory) naming it.
Result<std::string> FindProgram(const std::string& name);
// What is checked before a sweep spends anything: the program is found and
// executable; every placeholder names a hyperparameter of `space` (a
// dimension or a fixed value).
Status CheckTrialCommand(const TrialCommand& command, const SearchSpace& space);
// How a value is written into a word: 0.001, 32, adamw, true.
std::string ParamText(const nlohmann::json& value);
// The argv of one trial: the placeholders filled from `params`, the program
// looked up (FindProgram). A placeholder `params` lacks stays as written.
Result<std::vector<std::string>> ExpandTrialCommand(const TrialCommand& command, const nlohmann::json& params);
// The environment a command's trial gets (NAME=value): CARBONSWEEP_PARAMS
// (the params as JSON), CARBONSWEEP_WORK_DIR, CARBONSWEEP_TRIAL_ID (the
// trial's index in the sweep), and CARBONSWEEP_STOP_AFTER_EPOCH when halving
// wants it to pause after that epoch.
std::vector<std::string> TrialCommandEnvironment(const nlohmann::json& params, const std::string& work_dir,
                                                 int64_t trial_index, int stop_after_epoch);

// The file in the work dir that holds the params (what CARBONSWEEP_PARAMS holds).
constexpr const char* kTrialParamsFile = "params.json";

}  // namespace cs
