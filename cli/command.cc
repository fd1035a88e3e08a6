#include "cli/command.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <cctype>
#include <iostream>
#include <sstream>
#include <typeinfo>

#include "cli/torch_binary.h"
#include "common/files.h"
#include "common/text.h"

namespace cs {

namespace po = boost::program_options;

namespace {

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitute});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

void PrintUsage() {
  std::cout << "usage: carbonsweep <command> [options]\n\n"
               "Hyperparameter search for fine-tuning, under a CO2 budget.\n\ncommands:\n";
  for (const Command& command : Commands()) {
    std::string name = command.name;
    name.resize(std::max<size_t>(name.size(), 10), ' ');
    std::cout << "  " << name << "  " << command.help << "\n";
  }
  std::cout << "\n`carbonsweep <command> --help` lists a command's options. Exit codes: 0 done, 1 internal error,\n"
               "2 bad input, 3 budget spent, 4 interrupted, 5 busy, 6 I/O error, 7 trial failed.\n";
}

// A config file is a page of `name = value` lines; more is a wrong file.
constexpr size_t kMaxConfigFileBytes = 1 << 20;

std::string StripUtf8Bom(const std::string& text) {
  return text.rfind("\xef\xbb\xbf", 0) == 0 ? text.substr(3) : text;
}

// Boost reads "nan" and "inf" into a double and "-1" into an unsigned
// (as 2^64 - 1): every numeric flag of every command is refused here
// instead, naming the flag and the text, before any command sees it.
Status CheckNumberTexts(const po::parsed_options& parsed, const po::variables_map& vm) {
  for (const po::option& option : parsed.options) {
    if (option.string_key.empty() || option.value.empty() || !vm.count(option.string_key)) continue;
    const std::type_info& type = vm[option.string_key].value().type();
    const std::string& text = option.value.front();
    const std::string flag = "--" + option.string_key + " " + text;
    if (type == typeid(double)) {
      char* end = nullptr;
      const double value = std::strtod(text.c_str(), &end);
      if (!std::isfinite(value)) return Status::InvalidArgument(flag + ": not a finite number");
    } else if (type == typeid(uint64_t) || type == typeid(unsigned)) {
      if (text.find('-') != std::string::npos) return Status::InvalidArgument(flag + ": must be 0 or more");
    }
  }
  return Status::Ok();
}

// Boost.Program_options builds its error messages by replacing %name%
// placeholders until none is left: a token that itself holds one (e.g.
// "%original_token%") makes that loop endless. No flag of ours needs one.
bool HasBoostPlaceholder(const std::string& text) {
  for (size_t open = text.find('%'); open != std::string::npos; open = text.find('%', open + 1)) {
    size_t close = open + 1;
    while (close < text.size() && (std::islower(static_cast<unsigned char>(text[close])) || text[close] == '_')) ++close;
    if (close > open + 1 && close < text.size() && text[close] == '%') return true;
  }
  return false;
}

}  // namespace

Status CheckFlagRange(const po::variables_map& vm, const char* flag, double min, double max,
                      const std::string& meaning) {
  if (!vm.count(flag)) return Status::Ok();
  const boost::any& value = vm[flag].value();
  double number = 0;
  if (value.type() == typeid(int)) {
    number = boost::any_cast<int>(value);
  } else if (value.type() == typeid(int64_t)) {
    number = static_cast<double>(boost::any_cast<int64_t>(value));
  } else if (value.type() == typeid(double)) {
    number = boost::any_cast<double>(value);
  } else {
    return Status::Internal(std::string("--") + flag + " is not a number flag");
  }
  if (number >= min && number <= max) return Status::Ok();  // false for NaN.
  return Status::InvalidArgument(std::string("--") + flag + " " + FormatNumber(number) + ": must be in [" +
                                 FormatNumber(min) + ", " + FormatNumber(max) + "] (" + meaning + ")");
}

std::string SuggestName(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, name.size() / 3) + 1;
  for (const std::string& candidate : candidates) {
    size_t distance = EditDistance(name, candidate);
    if (candidate.rfind(name, 0) == 0 && !name.empty()) distance = std::min<size_t>(distance, 1);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

int ReportError(const std::string& command, ExitCode code, const std::string& message) {
  // User data (names, file contents, flag values) reaches this line: escaped so it cannot drive the terminal.
  std::cerr << "carbonsweep" << (command.empty() ? "" : " " + command) << ": error: " << EscapeForTerminal(message) << "\n";
  return static_cast<int>(code);
}

int ReportError(const std::string& command, const Status& status) {
  return ReportError(command, ExitCodeFor(status), status.message());
}

bool ParseCommandLine(const std::string& command, const std::string& usage, po::options_description& options,
                      const po::positional_options_description* positional, const std::vector<std::string>& args,
                      po::variables_map* vm, int* exit_code) {
  options.add_options()("help,h", "show this help")(
      "config", po::value<std::string>(), "read options from an INI-style file (name = value); flags win");
  for (const std::string& arg : args) {
    if (HasBoostPlaceholder(arg)) {
      *exit_code = ReportError(command, ExitCode::kBadInput, "'" + arg + "': a %name% sequence is not allowed in flags");
      return false;
    }
  }
  try {
    po::command_line_parser parser(args);
    parser.options(options);
    if (positional != nullptr) parser.positional(*positional);
    po::parsed_options command_line = parser.run();
    po::store(command_line, *vm);
    if (vm->count("help")) {
      std::cout << "usage: carbonsweep " << command << " " << usage << "\n\n" << options << "\n";
      *exit_code = 0;
      return false;
    }
    Status numbers = CheckNumberTexts(command_line, *vm);
    if (numbers.ok() && vm->count("config")) {
      std::string path = (*vm)["config"].as<std::string>();
      Result<std::string> text = ReadFileUpTo(path, kMaxConfigFileBytes);
      if (!text.ok()) {
        *exit_code = ReportError(command, text.status().WithPrefix("--config"));
        return false;
      }
      if (HasBoostPlaceholder(*text)) {
        *exit_code = ReportError(command, ExitCode::kBadInput, path + ": a %name% sequence is not allowed in a config file");
        return false;
      }
      std::istringstream file(StripUtf8Bom(*text));
      po::parsed_options from_file = po::parse_config_file(file, options);
      po::store(from_file, *vm);
      numbers = CheckNumberTexts(from_file, *vm).WithPrefix(path);
    }
    if (!numbers.ok()) {
      *exit_code = ReportError(command, numbers);
      return false;
    }
    po::notify(*vm);
  } catch (const po::error& error) {
    *exit_code = ReportError(command, ExitCode::kBadInput,
                             std::string(error.what()) + " (see `carbonsweep " + command + " --help`)");
    return false;
  }
  return true;
}

int CarbonsweepMain(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintUsage();
    return args.empty() ? static_cast<int>(ExitCode::kBadInput) : 0;
  }
  if (args[0] == "--version") {
    std::cout << "carbonsweep " << CARBONSWEEP_VERSION << "\n";
    return 0;
  }
  std::vector<std::string> names;
  for (const Command& command : Commands()) {
    names.push_back(command.name);
    if (args[0] != command.name) continue;
    if (command.run == nullptr) return ExecTorchBinary(command.name, argv);
    std::vector<std::string> rest(args.begin() + 1, args.end());
    try {
      return command.run(rest);
    } catch (const std::exception& error) {
      return ReportError(command.name, ExitCode::kInternalError, std::string("unexpected failure: ") + error.what());
    }
  }
  std::string suggestion = SuggestName(args[0], names);
  return ReportError("", ExitCode::kBadInput,
                     "unknown command '" + args[0] + "'" +
                         (suggestion.empty() ? "" : " (did you mean '" + suggestion + "'?)") +
                         "; `carbonsweep --help` lists them");
}

}  // namespace cs
