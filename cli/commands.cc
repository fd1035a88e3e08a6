// The table of subcommands. Each entry's function lives in cli/<name>_command.cc.
// This file is compiled into both executables: `carbonsweep-torch` defines
// CARBONSWEEP_TORCH_COMMANDS and runs every command itself; `carbonsweep`
// links no libtorch, and its entries for the commands that train are nullptr
// (handed to carbonsweep-torch, see Command::run).
#include "cli/command.h"

#ifdef CARBONSWEEP_TORCH_COMMANDS
#define CS_NEEDS_TORCH(function) function
#else
#define CS_NEEDS_TORCH(function) nullptr
#endif

namespace cs {

int RunVersionCommand(const std::vector<std::string>& args);
int RunRunCommand(const std::vector<std::string>& args);
int RunResumeCommand(const std::vector<std::string>& args);
int RunStatusCommand(const std::vector<std::string>& args);
int RunListCommand(const std::vector<std::string>& args);
int RunRegionsCommand(const std::vector<std::string>& args);
int RunReportCommand(const std::vector<std::string>& args);
int RunCompareCommand(const std::vector<std::string>& args);
int RunEstimateCommand(const std::vector<std::string>& args);
int RunTrialCommand(const std::vector<std::string>& args);
int RunBaselineCommand(const std::vector<std::string>& args);
int RunPretrainCommand(const std::vector<std::string>& args);
int RunJobCommand(const std::vector<std::string>& args);

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"version", "print the version", RunVersionCommand},
      {"run", "a hyperparameter sweep under a CO2 budget (--budget 50g): random, grid or halving", CS_NEEDS_TORCH(RunRunCommand)},
      {"resume", "continue an interrupted sweep: finished trials kept, open ones from their checkpoint", CS_NEEDS_TORCH(RunResumeCommand)},
      {"status", "where one sweep (or every sweep) stands: trials, best accuracy, CO2 of budget, lease", RunStatusCommand},
      {"list", "the sweeps in a store, one line each", RunListCommand},
      {"regions", "list known grid carbon intensities by region, with year and source", RunRegionsCommand},
      {"report", "one sweep's emissions report: terminal, csv (codecarbon columns), json, model-card, html", RunReportCommand},
      {"compare", "sweeps side by side: accuracy, CO2, CO2 to near-best, anytime curves", RunCompareCommand},
      {"estimate", "expected energy and CO2 of a planned sweep, measured or from TDP", CS_NEEDS_TORCH(RunEstimateCommand)},
      {"trial", "one fine-tuning job (what a sweep launches): --params JSON, events on stdout, --out result.json", CS_NEEDS_TORCH(RunTrialCommand)},
      {"baseline", "the cheap model: TF-IDF + logistic regression on the same split, in seconds", CS_NEEDS_TORCH(RunBaselineCommand)},
      {"job", "what a Slurm job of a --command sweep runs: COMMAND metered, its events to the work dir (-- COMMAND ...)", RunJobCommand},
      {"pretrain", "pre-train the backbone on unlabelled text (metered); writes encoder, vocab and backbone.json", CS_NEEDS_TORCH(RunPretrainCommand)},
  };
  return kCommands;
}

}  // namespace cs
