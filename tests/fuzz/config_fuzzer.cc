// Fuzzes the --config file reader: ParseCommandLine (cli/command.cc) with
// `--config FILE` over the shared data flags (cli/task_flags.h) and one flag
// of each value type the commands declare, then TaskSpecFromFlags and
// ParseGramsCo2e on what it accepted. A bad file must come back as exit
// code 2 (bad input) with a message, never as an exception or a crash.
//
// cli/ builds only the carbonsweep binary, which links libtorch; this target
// compiles cli/command.cc and cli/task_flags.cc itself (see CMakeLists.txt).
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/task_flags.h"
#include "common/units.h"
#include "tests/fuzz/fuzz_util.h"

namespace po = boost::program_options;

// command.cc's usage text lists the command table (cli/commands.cc, which
// needs every command and so libtorch). No usage is printed here.
const std::vector<cs::Command>& cs::Commands() {
  static const std::vector<cs::Command> kNone;
  return kNone;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::cerr.rdbuf(nullptr);  // every refused file prints one error line.
  std::cout.rdbuf(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = cs::fuzz::WriteScratchFile("fuzz.conf", cs::fuzz::Text(data, size));
  po::options_description options("fuzz");
  cs::AddTaskFlags(&options);
  options.add_options()("budget", po::value<std::string>(), "")("seed", po::value<uint64_t>()->default_value(0), "")(
      "trials", po::value<int64_t>(), "")("parallel", po::value<int>()->default_value(1), "")(
      "pue", po::value<double>()->default_value(1.0), "")("from-scratch", po::bool_switch(), "");
  po::variables_map vm;
  int exit_code = -1;
  if (!cs::ParseCommandLine("run", "[options]", options, nullptr, {"--config", path}, &vm, &exit_code)) {
    CS_FUZZ_CHECK(exit_code == static_cast<int>(cs::ExitCode::kBadInput), "a refused config is not exit code 2");
    return 0;
  }
  (void)cs::TaskSpecFromFlags(vm);
  if (vm.count("budget")) (void)cs::ParseGramsCo2e(vm["budget"].as<std::string>());
  return 0;
}
