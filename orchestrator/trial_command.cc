#include "orchestrator/trial_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <set>

#include "orchestrator/slurm_client.h"

namespace cs {

namespace {

// Calls `literal(text)` and `placeholder(name)` for the parts of `word`, in order.
template <typename Literal, typename Placeholder>
void ScanWord(const std::string& word, Literal&& literal, Placeholder&& placeholder) {
  size_t i = 0;
  while (i < word.size()) {
    if ((word[i] == '{' || word[i] == '}') && i + 1 < word.size() && word[i + 1] == word[i]) {
      literal(std::string(1, word[i]));  // {{ or }}: a literal brace.
      i += 2;
      continue;
    }
    if (word[i] == '{') {
      size_t end = i + 1;
      while (end < word.size() && IsParamNameChar(word[end])) ++end;
      if (end > i + 1 && end < word.size() && word[end] == '}' && !std::isdigit(static_cast<unsigned char>(word[i + 1]))) {
        placeholder(word.substr(i + 1, end - i - 1));
        i = end + 1;
        continue;
      }
    }
    literal(std::string(1, word[i]));
    ++i;
  }
}

}  // namespace

Result<TrialCommand> ParseTrialCommand(const std::string& text) {
  CS_RETURN_IF_ERROR(RefuseControlCharacters("--command", text));
  Result<std::vector<std::string>> words = SplitShellWords(text);
  if (!words.ok()) return words.status().WithPrefix("--command");
  if (words->empty()) return Status::InvalidArgument("--command: empty (expected a program and its arguments)");
  return TrialCommand{std::move(*words)};
}

std::vector<std::string> CommandPlaceholders(const TrialCommand& command) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const std::string& word : command.words) {
    ScanWord(word, [](const std::string&) {}, [&](const std::string& name) {
      if (seen.insert(name).second) names.push_back(name);
    });
  }
  return names;
}

Result<std::string> FindProgram(const std::string& name) {
  auto check = [](const std::string& path) -> Status {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return Status::NotFound(path + ": no such file");
    if (S_ISDIR(info.st_mode)) return Status::InvalidArgument(path + ": a directory, not a program");
    if (::access(path.c_str(), X_OK) != 0) return Status::InvalidArgument(path + ": not executable (chmod +x?)");
    return Status::Ok();
  };
  if (name.find('/') != std::string::npos) {
    CS_RETURN_IF_ERROR(check(name).WithPrefix("--command"));
    return name;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (check(candidate).ok()) return candidate;
    start = end + 1;
  }
  return Status::NotFound("--command: '" + name + "' is not a program in $PATH");
}

Status CheckTrialCommand(const TrialCommand& command, const SearchSpace& space) {
  Result<std::string> program = FindProgram(command.words[0]);
  if (!program.ok()) return program.status();
  std::set<std::string> names;
  for (const Dimension& dimension : space.dimensions) names.insert(dimension.name);
  for (const FixedParam& fixed : space.fixed) names.insert(fixed.name);
  for (const std::string& placeholder : CommandPlaceholders(command)) {
    if (names.count(placeholder)) continue;
    std::string known;
    for (const std::string& name : names) known += (known.empty() ? "" : ", ") + name;
    return Status::InvalidArgument("--command: {" + placeholder + "} names no hyperparameter of space '" + space.name +
                                   "' (it has: " + known + ")");
  }
  return Status::Ok();
}

std::string ParamText(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump();  // numbers as the shortest text that reads back the same; true, false.
}

Result<std::vector<std::string>> ExpandTrialCommand(const TrialCommand& command, const nlohmann::json& params) {
  std::vector<std::string> argv;
  for (const std::string& word : command.words) {
    std::string expanded;
    ScanWord(word, [&](const std::string& text) { expanded += text; }, [&](const std::string& name) {
      auto value = params.is_object() ? params.find(name) : params.end();
      expanded += value != params.end() ? ParamText(*value) : "{" + name + "}";
    });
    argv.push_back(std::move(expanded));
  }
  Result<std::string> program = FindProgram(argv[0]);
  if (!program.ok()) return program.status();
  argv[0] = *program;
  return argv;
}

std::vector<std::string> TrialCommandEnvironment(const nlohmann::json& params, const std::string& work_dir,
                                                 int64_t trial_index, int stop_after_epoch) {
  std::vector<std::string> environment = {"CARBONSWEEP_PARAMS=" + params.dump(), "CARBONSWEEP_WORK_DIR=" + work_dir,
                                          "CARBONSWEEP_TRIAL_ID=" + std::to_string(trial_index)};
  if (stop_after_epoch > 0) environment.push_back("CARBONSWEEP_STOP_AFTER_EPOCH=" + std::to_string(stop_after_epoch));
  return environment;
}

}  // namespace cs
