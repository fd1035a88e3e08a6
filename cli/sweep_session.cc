#include "cli/sweep_session.h"

#include <unistd.h>

#include <iostream>
#include <memory>

#include "cli/command.h"
#include "cli/live_report.h"
#include "cli/trial_check.h"
#include "common/files.h"

namespace cs {

namespace po = boost::program_options;

Status CheckSweepTrialsCanRun(const SweepConfig& config, const SearchSpace& space) {
  // The arguments every trial of the sweep gets, with the longest window the
  // space can draw: a backbone too short for it is refused now rather than
  // at the trial that draws it.
  std::vector<std::string> args = config.task.ToTrialArgs();
  nlohmann::json params = nlohmann::json::object();
  if (std::optional<double> longest = space.UpperBound("max_seq_len")) params["max_seq_len"] = static_cast<int>(*longest);
  args.insert(args.end(), {"--params", params.dump()});
  return CheckTrialArgsCanRun(args).WithPrefix("the sweep's trials cannot run");
}

void AddSessionFlags(po::options_description& options) {
  options.add_options()("db", po::value<std::string>()->default_value("carbonsweep.db"), "the store file")(
      "quiet", po::bool_switch(), "print nothing but errors")(
      "json", po::bool_switch(), "one JSON object per event on stdout (for scripts)")(
      "live-report", po::value<std::string>(), "keep FILE.html as the sweep's live report: rewritten after each epoch "
                                               "and trial, it reloads itself in a browser until the sweep ends");
}

int RunSweepSession(const std::string& command, const po::variables_map& vm,
                    const std::function<Result<SweepOutcome>(const SessionOptions&)>& sweep) {
  ProgressMode mode = ProgressMode::kLine;
  if (vm["json"].as<bool>()) mode = ProgressMode::kJson;
  if (vm["quiet"].as<bool>()) mode = ProgressMode::kQuiet;
  ProgressReporter progress(mode, &std::cout, &std::cerr, ::isatty(2) != 0);
  SessionOptions session;
  session.db_path = vm["db"].as<std::string>();
  std::unique_ptr<LiveReport> live;
  if (vm.count("live-report")) {
    const std::string& path = vm["live-report"].as<std::string>();
    Status safe = CheckSafeOutputPath(path, {session.db_path});
    if (!safe.ok()) return ReportError(command, safe.WithPrefix("--live-report"));
    live = std::make_unique<LiveReport>(path, session.db_path);
    progress.SetObserver([&live](const nlohmann::json& fields) { live->OnEvent(fields); });
  }
  session.progress = &progress;
  session.interrupts = InstallInterruptHandlers();
  session.check_trials = CheckSweepTrialsCanRun;
  Result<SweepOutcome> outcome = sweep(session);
  progress.Finish();
  if (live) live->Finish();
  if (!outcome.ok()) return ReportError(command, outcome.status());
  nlohmann::json fields = {{"event", "sweep_end"},
                           {"state", SweepStateName(outcome->state)},
                           {"spent_grams_co2e", outcome->spent_grams_co2e},
                           {"budget_grams_co2e", outcome->budget_grams_co2e},
                           {"trials_ended", outcome->trials_ended},
                           {"summary", outcome->summary}};
  const nlohmann::json best = outcome->best_metric ? nlohmann::json(*outcome->best_metric) : nullptr;
  fields["metric"] = outcome->objective.metric;
  fields["best_metric"] = best;
  if (outcome->objective.metric == "val_accuracy") fields["best_val_accuracy"] = best;  // the name before --metric.
  fields["best_trial"] = outcome->best_trial_index ? nlohmann::json(*outcome->best_trial_index) : nullptr;
  if (mode == ProgressMode::kJson) {
    std::cout << fields.dump() << "\n" << std::flush;
  } else if (mode == ProgressMode::kLine) {
    std::cerr << outcome->summary << "\n";
  }
  return static_cast<int>(outcome->exit_code);
}

}  // namespace cs
