// `cmake --install` into a fresh prefix, then the installed program used from
// elsewhere: a tiny sweep whose trial starts from the installed backbone, the
// light binary handing `run` to the installed carbonsweep-torch, the man page
// and the bash completion. Its own binary (e2e_install_test): it needs the
// build tree (CS_BUILD_DIR) and cmake (CS_CMAKE_COMMAND), fixed by CMake.
#include <filesystem>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "tests/e2e/e2e_helpers.h"
#include "tests/testing/temp_dir.h"

namespace cs {

using namespace cs::testing;

namespace {

std::string Quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Runs `command` in `dir` with none of the variables that would point the
// installed program back at the build or source tree.
int RunIn(const std::string& dir, const std::string& command, std::string* output) {
  return RunShell("cd " + Quote(dir) + " && env -u CARBONSWEEP_BACKBONE -u CARBONSWEEP_TORCH_BINARY " + command,
                  output);
}

std::string Install(const TempDir& dir) {
  std::string prefix = std::filesystem::weakly_canonical(dir.File("prefix")).string();
  std::string output;
  int code = RunShell(Quote(CS_CMAKE_COMMAND) + " --install " + Quote(CS_BUILD_DIR) + " --prefix " + Quote(prefix),
                      &output);
  REQUIRE_MESSAGE(code == 0, output);
  return prefix;
}

}  // namespace

TEST_CASE("installed into a prefix, carbonsweep runs a sweep from elsewhere on the installed backbone") {
  TempDir dir;
  std::string prefix = Install(dir);
  for (const char* file : {"bin/carbonsweep", "libexec/carbonsweep/carbonsweep-torch",
                           "share/carbonsweep/models/backbone/backbone.json",
                           "share/carbonsweep/models/backbone/encoder.pt", "share/carbonsweep/models/backbone/vocab.txt",
                           "share/carbonsweep/models/backbone/DATA-LICENSES.md", "share/carbonsweep/spaces/ci-tiny.json",
                           "share/man/man1/carbonsweep.1", "share/bash-completion/completions/carbonsweep",
                           "share/doc/carbonsweep/LICENSE"}) {
    CHECK_MESSAGE(FileExists(prefix + "/" + file), file);
  }
  std::string elsewhere = dir.File("elsewhere");
  std::filesystem::create_directories(elsewhere);
  const std::string carbonsweep = Quote(prefix + "/bin/carbonsweep");
  std::string output;
  CHECK(RunIn(elsewhere, carbonsweep + " version", &output) == 0);
  CHECK(output.find("carbonsweep 0.") == 0);

  // The smallest sweep of the e2e suites, but from the pre-trained backbone
  // (no --from-scratch): the trial must find the installed one.
  int code = RunIn(elsewhere,
                   carbonsweep + " run --name installed --db " + Quote(elsewhere + "/sweeps.db") + " --budget 1kg --trials 1 --space ci-tiny"
                                 " --task fortunes --train-size 96 --val-size 48 --test-size 48 --threads 1"
                                 " --sample-interval 0.2 --quiet",
                   &output);
  REQUIRE_MESSAGE(code == 0, output);
  const std::string backbone = prefix + "/share/carbonsweep/models/backbone";
  std::vector<TrialRecord> trials = StoredTrials(elsewhere + "/sweeps.db", "installed");
  REQUIRE(trials.size() == 1);
  CHECK(trials[0].state == TrialState::kFinished);
  Result<std::string> result = ReadFile(trials[0].work_dir + "/result.json");
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  CHECK(nlohmann::json::parse(*result)["backbone"]["dir"] == backbone);

  // The light binary resolves the same backbone for the report's pre-training line.
  REQUIRE(RunIn(elsewhere, carbonsweep + " report installed --db sweeps.db --format json", &output) == 0);
  CHECK_MESSAGE(output.find("\"path\": \"" + backbone + "/backbone.json\"") != std::string::npos, output);
}

TEST_CASE("without carbonsweep-torch beside it, the commands that train fail in one line; the others run") {
  TempDir dir;
  std::string prefix = Install(dir);
  std::filesystem::create_directories(dir.File("lonely/bin"));
  std::filesystem::copy_file(prefix + "/bin/carbonsweep", dir.File("lonely/bin/carbonsweep"));
  const std::string lonely = Quote(dir.File("lonely/bin/carbonsweep"));
  std::string output;
  CHECK(RunIn(dir.path(), lonely + " regions FR", &output) == 0);
  CHECK(RunIn(dir.path(), lonely + " trial --help", &output) == 1);
  CHECK_MESSAGE(output.find("carbonsweep trial: error: this command needs the libtorch executable: carbonsweep-torch "
                            "not found") == 0,
                output);
  CHECK(output.find("CARBONSWEEP_TORCH_BINARY") != std::string::npos);
  // $CARBONSWEEP_TORCH_BINARY names it.
  CHECK(RunShell("CARBONSWEEP_TORCH_BINARY=" + Quote(prefix + "/libexec/carbonsweep/carbonsweep-torch") + " " + lonely +
                     " trial --help",
                 &output) == 0);
  CHECK(output.find("usage: carbonsweep trial") == 0);
}

TEST_CASE("the installed man page renders and the completion registers") {
  TempDir dir;
  std::string prefix = Install(dir);
  std::string output;
  if (RunShell("command -v man", &output) == 0) {
    REQUIRE(RunShell("MANWIDTH=80 man -l " + Quote(prefix + "/share/man/man1/carbonsweep.1"), &output) == 0);
    for (const char* section : {"SYNOPSIS", "COMMANDS", "OPTIONS", "EXIT STATUS", "ENVIRONMENT", "FILES"}) {
      CHECK_MESSAGE(output.find(section) != std::string::npos, section);
    }
    CHECK(output.find("carbonsweep-torch") != std::string::npos);
  } else {
    MESSAGE("man is not installed: the man page was not rendered");
  }
  const std::string completion = Quote(prefix + "/share/bash-completion/completions/carbonsweep");
  REQUIRE(RunShell("bash -c 'source \"$0\"; complete -p carbonsweep' " + completion, &output) == 0);
  CHECK(output.find("complete -F _carbonsweep carbonsweep") != std::string::npos);
  REQUIRE(RunShell("bash -c 'source \"$0\"; COMP_WORDS=(carbonsweep rep); COMP_CWORD=1; _carbonsweep; "
                   "echo \"${COMPREPLY[@]}\"' " + completion,
                   &output) == 0);
  CHECK(output == "report\n");
}

}  // namespace cs
