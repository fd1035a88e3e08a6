// `carbonsweep trial`: one fine-tuning job. The orchestrator launches this as
// a child process; its flags, its "@cs " event lines (trials/protocol.h) and
// its exit codes are a stable interface.
#include <iostream>

#include "cli/carbon_flags.h"
#include "cli/command.h"
#include "cli/task_flags.h"
#include "cli/trial_check.h"
#include "cli/trial_flags.h"
#include "common/files.h"
#include "common/json.h"
#include "orchestrator/slurm_energy.h"
#include "trials/dataset.h"
#include "trials/exit_usage.h"
#include "trials/finetune.h"

namespace cs {

namespace po = boost::program_options;

void AddTrialFlags(po::options_description* options) {
  options->add_options()
      ("params", po::value<std::string>()->default_value("{}"),
       "hyperparameters as a JSON object, e.g. '{\"learning_rate\":3e-4,\"epochs\":3}' (missing ones keep defaults)")
      ("backbone", po::value<std::string>(), "backbone directory (encoder.pt, vocab.txt, backbone.json); default: "
       "$CARBONSWEEP_BACKBONE, else models/backbone")
      ("from-scratch", "same architecture as the backbone, random weights (with --vocab and no backbone: the "
       "default architecture)")
      ("model", po::value<std::string>(), "a TorchScript encoder: forward(ids, mask) -> [B,T,H] (needs --vocab)")
      ("vocab", po::value<std::string>(), "vocab.txt for --model, or for --from-scratch without a backbone")
      ("threads", po::value<int>()->default_value(0), "intra-op threads (0 = every core)")
      ("work-dir", po::value<std::string>(), "checkpoint, events.log and result.json; a checkpoint there is resumed")
      ("out", po::value<std::string>(), "also write the result JSON here")
      ("stop-after-epoch", po::value<int>()->default_value(0), "pause after this epoch (state \"paused\"; 0 = never)")
      ("quiet", "no progress lines on stderr (events still go to stdout)")
      ("meter-self", "meter this process's own power into <work-dir>/energy.log (Slurm jobs: the orchestrator is "
       "elsewhere); with --cpu-watts and --sample-interval");
  AddCarbonFlags(options, kMeterFlags);
  AddTaskFlags(options);
}

Result<TrialOptions> TrialOptionsFromFlags(const po::variables_map& vm) {
  TrialOptions trial;
  nlohmann::json params_json = ParseJsonOrDiscarded(vm["params"].as<std::string>());
  if (params_json.is_discarded() || !params_json.is_object()) {
    return Status::InvalidArgument("--params: not a JSON object: " + vm["params"].as<std::string>());
  }
  Result<TrialParams> params = ParseTrialParams(params_json);
  if (!params.ok()) return params.status();
  trial.params = *params;
  Result<TaskSpec> task = TaskSpecFromFlags(vm);
  if (!task.ok()) return task.status();
  trial.task = *task;

  const int sources = static_cast<int>(vm.count("from-scratch")) + static_cast<int>(vm.count("model"));
  if (sources > 1) return Status::InvalidArgument("--from-scratch and --model exclude each other");
  if (vm.count("model")) {
    if (!vm.count("vocab")) return Status::InvalidArgument("--model needs --vocab vocab.txt");
    if (vm.count("backbone")) return Status::InvalidArgument("--model and --backbone exclude each other");
    trial.backbone = BackboneKind::kTorchScript;
    trial.model_path = vm["model"].as<std::string>();
  } else if (vm.count("from-scratch")) {
    trial.backbone = BackboneKind::kFromScratch;
  }
  if (vm.count("backbone")) trial.backbone_dir = vm["backbone"].as<std::string>();
  if (vm.count("vocab")) trial.vocab_path = vm["vocab"].as<std::string>();
  if (vm.count("vocab") && trial.backbone == BackboneKind::kPretrained) {
    return Status::InvalidArgument("--vocab goes with --model or --from-scratch");
  }
  trial.threads = vm["threads"].as<int>();
  if (trial.threads < 0) return Status::InvalidArgument("--threads: must be 0 or more");
  if (vm.count("work-dir")) trial.work_dir = vm["work-dir"].as<std::string>();
  if (vm.count("out")) {
    trial.out_path = vm["out"].as<std::string>();
    CS_RETURN_IF_ERROR(CheckSafeOutputPath(trial.out_path, {}).WithPrefix("--out"));
  }
  trial.stop_after_epoch = vm["stop-after-epoch"].as<int>();
  if (trial.stop_after_epoch < 0) return Status::InvalidArgument("--stop-after-epoch: must be 0 or more");
  trial.verbosity = vm.count("quiet") ? Verbosity::kQuiet : Verbosity::kProgress;
  return trial;
}

Status CheckTrialArgsCanRun(const std::vector<std::string>& args) {
  po::options_description options;
  AddTrialFlags(&options);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& error) {
    return Status::Internal(std::string("trial arguments do not parse: ") + error.what());
  }
  Result<TrialOptions> trial = TrialOptionsFromFlags(vm);
  if (!trial.ok()) return trial.status();
  return CheckTrialInputs(*trial);
}

int RunTrialCommand(const std::vector<std::string>& args) {
  po::options_description options("trial options");
  AddTrialFlags(&options);
  po::variables_map vm;
  int exit_code = 0;
  if (!ParseCommandLine("trial", "[options]", options, nullptr, args, &vm, &exit_code)) return exit_code;
  Result<CarbonFlags> carbon = CarbonFlagsFromFlags(vm);  // checked even without --meter-self.
  if (!carbon.ok()) return ReportError("trial", carbon.status());
  Result<TrialOptions> parsed = TrialOptionsFromFlags(vm);
  if (!parsed.ok()) return ReportError("trial", parsed.status());
  TrialOptions& trial = *parsed;
  // Before the slow start-up: its CPU counts too.
  if (!trial.work_dir.empty()) InstallOrchestratorDeathHandler(trial.work_dir);

  std::unique_ptr<SelfMeterLog> meter;
  if (vm.count("meter-self")) {
    if (trial.work_dir.empty()) return ReportError("trial", ExitCode::kBadInput, "--meter-self needs --work-dir (energy.log goes there)");
    MeterOptions meter_options;
    meter_options.cpu_watts = carbon->cpu_watts;
    auto started = SelfMeterLog::Start(trial.work_dir, meter_options, carbon->sample_interval_seconds);
    if (!started.ok()) return ReportError("trial", started.status().WithPrefix("--meter-self"));
    meter = std::move(*started);
  }
  Result<nlohmann::json> result = RunTrial(trial, std::cout, std::cerr);
  if (meter) {
    // The trial's outcome stands even when its last energy lines could not be written.
    Status stopped = meter->Stop();
    if (!stopped.ok()) std::cerr << "carbonsweep trial: warning: --meter-self: " << stopped.message() << "\n";
  }
  if (!result.ok()) {
    const ExitCode code = result.status().code() == Status::Code::kIoError ? ExitCode::kIoError
                          : result.status().code() == Status::Code::kInternal ? ExitCode::kTrialFailed
                                                                              : ExitCodeFor(result.status());
    return ReportError("trial", code, result.status().message());
  }
  if ((*result)["state"] == TrialEndStateName(TrialEndState::kInterrupted)) {
    return static_cast<int>(ExitCode::kInterrupted);
  }
  return static_cast<int>(ExitCode::kOk);
}

}  // namespace cs
