#include "tests/e2e/e2e_helpers.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "common/files.h"
#include "tests/testing/temp_dir.h"

extern char** environ;

namespace cs::testing {

std::vector<std::string> SmallSweepFlags(const std::string& dir) {
  // A WordPiece vocab of letters, digits and punctuation: every word splits
  // into pieces, no pre-trained backbone needed.
  std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  for (char c = 'a'; c <= 'z'; ++c) vocab += std::string(1, c) + "\n##" + std::string(1, c) + "\n";
  for (char c = '0'; c <= '9'; ++c) vocab += std::string(1, c) + "\n##" + std::string(1, c) + "\n";
  for (char c : std::string(".,;:!?'\"()-")) vocab += std::string(1, c) + "\n";
  std::string vocab_path = dir + "/vocab.txt";
  REQUIRE(WriteFileAtomic(vocab_path, vocab).ok());
  return {"--space", "ci-tiny", "--task", "fortunes", "--train-size", "96", "--val-size", "48",
          "--test-size", "48", "--from-scratch", "--vocab", vocab_path, "--threads", "1",
          "--sample-interval", "0.2"};
}

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

pid_t StartCarbonsweep(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<std::string> strings = {BinaryPath()};
  strings.insert(strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  int error = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE_MESSAGE(error == 0, "cannot start " << strings[0]);
  return pid;
}

int WaitForChild(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string FileTextOrEmpty(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  return text.ok() ? *text : "";
}

int RunCarbonsweep(const std::vector<std::string>& args, std::string* output) {
  std::string command = "'" + BinaryPath() + "'";
  for (const std::string& arg : args) {
    std::string quoted;
    for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    command += " '" + quoted + "'";
  }
  return RunShell(command, output);
}

std::pair<std::unique_ptr<SweepStore>, int64_t> OpenSweep(const std::string& db_path, const std::string& sweep_name) {
  StoreOptions options;
  options.create_if_missing = false;
  options.read_only = true;
  auto store = SweepStore::Open(db_path, options);
  REQUIRE_MESSAGE(store.ok(), store.status().message());
  auto sweep = (*store)->GetSweep(sweep_name);
  REQUIRE_MESSAGE(sweep.ok(), sweep.status().message());
  return {std::move(*store), sweep->id};
}

bool SweepExists(const std::string& db_path, const std::string& sweep_name) {
  StoreOptions options;
  options.create_if_missing = false;
  options.read_only = true;
  auto store = SweepStore::Open(db_path, options);
  return store.ok() && (*store)->GetSweep(sweep_name).ok();
}

std::vector<TrialRecord> StoredTrials(const std::string& db_path, const std::string& sweep_name) {
  auto [store, sweep_id] = OpenSweep(db_path, sweep_name);
  auto trials = store->ListTrials(sweep_id);
  REQUIRE(trials.ok());
  return *trials;
}

SweepSummary StoredSummary(const std::string& db_path, const std::string& sweep_name) {
  auto [store, sweep_id] = OpenSweep(db_path, sweep_name);
  auto summary = store->GetSweepSummary(sweep_id);
  REQUIRE(summary.ok());
  return *summary;
}

double ComponentJoules(const std::string& db_path, const std::string& sweep_name, const std::string& component) {
  auto [store, sweep_id] = OpenSweep(db_path, sweep_name);
  auto totals = store->SweepEnergy(sweep_id);
  REQUIRE(totals.ok());
  double joules = 0;
  for (const EnergyTotal& total : *totals) joules += total.component == component ? total.joules : 0;
  return joules;
}

TrialResultSet FinishedResults(const std::vector<TrialRecord>& trials) {
  TrialResultSet results;
  for (const TrialRecord& trial : trials) {
    if (trial.state != TrialState::kFinished) continue;
    results[trial.index] = {trial.params_json,
                            {trial.val_accuracy.value_or(-1), trial.test_accuracy.value_or(-1)}};
  }
  return results;
}

}  // namespace cs::testing
