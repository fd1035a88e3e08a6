// The table of subcommands. Each entry's function lives in cli/<name>_command.cc.
#include "cli/command.h"

namespace cs {

int RunVersionCommand(const std::vector<std::string>& args);

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"version", "print the version", RunVersionCommand},
  };
  return kCommands;
}

}  // namespace cs
