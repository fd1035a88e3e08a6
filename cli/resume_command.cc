// `carbonsweep resume NAME`: continues a sweep after Ctrl-C, kill -9 or a
// reboot, from what the store says (orchestrator/session.h).
#include <functional>
#include <iostream>

#include "cli/command.h"
#include "cli/store_access.h"
#include "cli/sweep_session.h"
#include "common/text.h"
#include "common/units.h"
#include "orchestrator/session.h"

namespace cs {

namespace po = boost::program_options;

int RunResumeCommand(const std::vector<std::string>& args) {
  po::options_description options("resume options");
  options.add_options()("name", po::value<std::string>(), "the sweep to continue")(
      "budget", po::value<std::string>(), "a new CO2 budget (e.g. to continue a sweep that spent its own)")(
      "parallel", po::value<int>(), "trials running at once (default: as the sweep was started)")(
      "threads", po::value<int>(), "CPU threads for all running trials together");
  AddSessionFlags(options);
  po::positional_options_description positional;
  positional.add("name", 1);
  po::variables_map vm;
  int exit_code = 0;
  if (!ParseCommandLine("resume", "NAME [--db FILE] [--budget AMOUNT] [--parallel N]", options, &positional, args,
                        &vm, &exit_code)) {
    return exit_code;
  }
  if (!vm.count("name")) return ReportError("resume", ExitCode::kBadInput, "which sweep? `carbonsweep list` shows them");
  // Checked before ResumeSweep records a new --budget.
  for (Status range : {CheckFlagRange(vm, "parallel", 1, 1024, "trials at once"),
                       CheckFlagRange(vm, "threads", 0, 4096, "0: every core")}) {
    if (!range.ok()) return ReportError("resume", range);
  }
  ResumeOverrides overrides;
  if (vm.count("budget")) {
    auto budget = ParseGramsCo2e(vm["budget"].as<std::string>());
    if (!budget.ok()) return ReportError("resume", budget.status().WithPrefix("--budget"));
    overrides.budget_grams_co2e = *budget;
  }
  if (vm.count("parallel")) overrides.parallel = vm["parallel"].as<int>();
  if (vm.count("threads")) overrides.total_threads = vm["threads"].as<int>();
  std::string name = vm["name"].as<std::string>();
  // A spent budget without a new one: nothing may run, so nothing is
  // recorded (no skipped trial per call). An unknown sweep or an unreadable
  // store is left to ResumeSweep, which reports it.
  if (!overrides.budget_grams_co2e) {
    Result<std::unique_ptr<SweepStore>> store = OpenStoreForReading(vm["db"].as<std::string>());
    Result<SweepRecord> sweep = store.ok() ? (*store)->GetSweep(name) : Result<SweepRecord>(store.status());
    Result<SweepSummary> summary = sweep.ok() ? (*store)->GetSweepSummary(sweep->id) : Result<SweepSummary>(sweep.status());
    std::optional<std::string> spent = summary.ok() ? BudgetSpentReason(*summary) : std::nullopt;
    if (spent) {
      std::cerr << "carbonsweep resume: " << EscapeForTerminal(*spent) << "\n";
      return static_cast<int>(ExitCode::kBudgetSpent);
    }
  }
  return RunSweepSession("resume", vm,
                         [&](const SessionOptions& session) { return ResumeSweep(name, overrides, session); });
}

}  // namespace cs
