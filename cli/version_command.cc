#include <iostream>

#include "cli/command.h"

namespace cs {

int RunVersionCommand(const std::vector<std::string>& args) {
  std::cout << "carbonsweep " << CARBONSWEEP_VERSION << "\n";
  return 0;
}

}  // namespace cs
