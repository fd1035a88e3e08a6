// `carbonsweep baseline`: TF-IDF + logistic regression on a task's split, in
// seconds - what the cheap model gets before and beside any sweep.
#include <iostream>

#include "cli/command.h"
#include "common/files.h"
#include "trials/baseline.h"
#include "trials/dataset.h"

namespace cs {

namespace po = boost::program_options;

// Shared with `trial` (defined in trial_command.cc): the data flags.
void AddTaskFlags(po::options_description* options);
Result<TaskSpec> TaskSpecFromFlags(const po::variables_map& vm);

int RunBaselineCommand(const std::vector<std::string>& args) {
  po::options_description options("baseline options");
  options.add_options()
      ("max-words", po::value<int>()->default_value(0),
       "words of each text used (0 = all; 127 mimics a 128-token window)")
      ("no-bigrams", "unigram features only")
      ("threads", po::value<int>()->default_value(0), "threads (0 = every core)")
      ("out", po::value<std::string>(), "write the result JSON here");
  AddTaskFlags(&options);
  po::variables_map vm;
  int exit_code = 0;
  if (!ParseCommandLine("baseline", "[options]", options, nullptr, args, &vm, &exit_code)) return exit_code;

  Result<TaskSpec> task = TaskSpecFromFlags(vm);
  if (!task.ok()) return ReportError("baseline", task.status());
  BaselineOptions baseline;
  baseline.max_words = vm["max-words"].as<int>();
  if (baseline.max_words < 0) return ReportError("baseline", ExitCode::kBadInput, "--max-words: must be 0 or more");
  baseline.use_bigrams = vm.count("no-bigrams") == 0;
  baseline.threads = vm["threads"].as<int>();

  Result<TaskSplit> split = LoadTask(*task);
  if (!split.ok()) return ReportError("baseline", split.status());
  Result<BaselineResult> result = RunBaseline(*split, baseline);
  if (!result.ok()) return ReportError("baseline", result.status());

  std::cout << "baseline (TF-IDF + logistic regression, " << (baseline.max_words > 0 ? "first " + std::to_string(baseline.max_words) + " words" : std::string("full texts"))
            << ") on " << split->name << ": val accuracy " << result->val_accuracy << ", test accuracy "
            << result->test_accuracy << ", " << result->features << " features, l2 " << result->l2 << ", "
            << result->seconds << " s\n";
  if (vm.count("out")) {
    nlohmann::json out = result->ToJson();
    out["max_words"] = baseline.max_words;
    out["bigrams"] = baseline.use_bigrams;
    out["task"] = split->provenance;
    Status written = WriteFileAtomic(vm["out"].as<std::string>(), out.dump(2) + "\n");
    if (!written.ok()) return ReportError("baseline", written);
  }
  return 0;
}

}  // namespace cs
