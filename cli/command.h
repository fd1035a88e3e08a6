// The command table of the `carbonsweep` binary and the helpers every
// command shares. Boost.Program_options lives in cli/ only: each command
// parses its flags into the plain Options struct of the module it drives.
#pragma once

#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "common/exit_codes.h"
#include "common/status.h"

namespace cs {

// One subcommand. `run` gets the arguments after the command name.
struct Command {
  const char* name;
  const char* help;  // one line, shown by `carbonsweep --help`.
  // nullptr in the light `carbonsweep` for a command that trains (it needs
  // libtorch): CarbonsweepMain then execs `carbonsweep-torch` with the same
  // argv (cli/torch_binary.h). Every entry is set in `carbonsweep-torch`.
  int (*run)(const std::vector<std::string>& args);
};

// Every subcommand, in the order `--help` lists them (cli/commands.cc,
// compiled once per executable: CARBONSWEEP_TORCH_COMMANDS says which).
const std::vector<Command>& Commands();

// Entry point: dispatches argv[1] through the table; unknown names get a
// "did you mean" suggestion. The one catch-all for exceptions lives here.
int CarbonsweepMain(int argc, char** argv);

// Parses `args` against `options` (+ positional), handling --help and
// --config FILE (options from an INI-style file, command line wins).
// Returns nullopt-like false after printing help or an error; `*exit_code`
// then says what to return. Every numeric flag of every command is checked
// here: not finite (nan, inf), or negative for an unsigned flag, is exit 2
// naming the flag and its text. A config file must be a regular file of at
// most 1 MiB; a UTF-8 BOM is skipped.
bool ParseCommandLine(const std::string& command, const std::string& usage,
                      boost::program_options::options_description& options,
                      const boost::program_options::positional_options_description* positional,
                      const std::vector<std::string>& args, boost::program_options::variables_map* vm,
                      int* exit_code);

// InvalidArgument "--FLAG V: must be in [min, max] (meaning)" when numeric
// flag `flag` (int, int64_t or double) is given outside the range; Ok when absent.
Status CheckFlagRange(const boost::program_options::variables_map& vm, const char* flag, double min, double max,
                      const std::string& meaning);

// Prints "carbonsweep <command>: error: <message>" on stderr (control bytes
// escaped as \xNN: messages carry user data) and returns the exit code.
int ReportError(const std::string& command, const Status& status);
int ReportError(const std::string& command, ExitCode code, const std::string& message);

// The closest name in `candidates` to `name` by edit distance, or "" if none is close.
std::string SuggestName(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace cs
