// SweepConfig: everything a sweep was asked to do, as a plain struct the CLI
// fills from flags and the store keeps (as JSON in the sweep's config_json)
// so `resume` continues with exactly the same settings. Values, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "search_spaces/early_stopping.h"
#include "search_spaces/strategy.h"
#include "store/sweep_store.h"

namespace cs {

// How trials start: from the committed backbone or from random weights.
enum class TrialInit {
  kBackbone = 0,    // the default backbone (or --backbone DIR).
  kFromScratch = 1, // --from-scratch.
};

// The task every trial of the sweep trains on; passed through to `carbonsweep trial`.
// `run` fills the data fields from the TaskSpec that `trial` and `baseline`
// build from the same flags (cli/task_flags.h), so all three read one split.
struct TaskOptions {
  std::string task;        // --task; "" = the trial's default task.
  std::string text_column;   // --text-column (user files); "" = the trial's default.
  std::string label_column;  // --label-column (user files); "" = default.
  bool full_data = false;  // --data-size full: every item, split 80/10/10 (no sizes then).
  int64_t train_size = 0;  // --train-size; 0 = the trial's default.
  int64_t val_size = 0;    // --val-size; 0 = default.
  int64_t test_size = 0;   // --test-size; 0 = default.
  uint64_t data_seed = 0;  // --data-seed: the shuffle before the split.
  std::string backbone;    // --backbone DIR; "" = the committed one.
  std::string vocab;       // --vocab FILE: with --from-scratch when there is no backbone, or with --model.
  std::string model;       // --model FILE: the user's TorchScript encoder instead of the backbone.
  std::string model_sha256;  // of --model's file when the sweep was created: stored and reported.
  TrialInit init = TrialInit::kBackbone;
  // The identity of the data (trials/dataset.h TaskSpecChecksum), which the
  // CLI computes because the orchestrator does not read data; stored as the
  // sweep's task_checksum so compare and baselines match sweeps on it.
  // "" = a checksum of the flags above.
  std::string data_checksum;
  // The `carbonsweep trial` flags for these options.
  std::vector<std::string> ToTrialArgs() const;
};

// Where grams come from; the carbon module turns these into a provider and a sampler.
struct CarbonOptions {
  std::string region;              // --region.
  double intensity_g_per_kwh = -1; // --intensity; < 0 = unset.
  std::string intensity_file;      // --intensity-file.
  double pue = 1.0;                // --pue.
  double cpu_watts = -1;           // --cpu-watts; < 0 = the model's choice.
  double sample_interval_seconds = 1.0;  // --sample-interval.
};

// Where trials run.
enum class LauncherKind {
  kLocal = 0,  // child processes of the orchestrator, metered by its sampler.
  kSlurm = 1,  // Slurm batch jobs that meter themselves (orchestrator/slurm_launcher.h).
};
// "local" / "slurm", as stored with the sweep.
std::string LauncherKindName(LauncherKind kind);
std::optional<LauncherKind> ParseLauncherKind(const std::string& name);

// sbatch settings of --launcher slurm (orchestrator/slurm_launcher.h).
struct SlurmSettings {
  std::string partition;   // --slurm-partition; "" = the cluster's default.
  std::string gres;        // --slurm-gres, e.g. "gpu:1"; "" = none.
  std::string time_limit;  // --slurm-time, e.g. "02:00:00"; "" = the partition's.
  std::string extra;       // --slurm-extra: more sbatch flags, split as a shell would.
};

// Early stopping of weak trials.
enum class PruneMode {
  kNone = 0,
  kMedian = 1,  // --prune median: MedianPruner after each epoch.
};

struct SweepConfig {
  std::string name;                 // unique in the store.
  // The budget as `run` was given it. Once the sweep is recorded, its record
  // (SweepRecord::budget_grams_co2e, on_budget) is the one source: ToJson
  // leaves these out, and `resume --budget` changes the record alone.
  double budget_grams_co2e = 0;     // > 0.
  OnBudget on_budget = OnBudget::kStop;
  std::string space = kDefaultSearchSpace;  // as given: built-in name or file path.
  StrategyOptions strategy;         // kind, seed, grid points.
  bool halving = false;             // --strategy halving: ASHA over `strategy.kind == random` points.
  AshaOptions asha;                 // with halving.
  PruneMode prune = PruneMode::kNone;
  MedianPrunerOptions median;       // with kMedian.
  std::optional<int64_t> max_trials;  // --trials: at most this many trial indices.
  int parallel = 1;                 // trials at once.
  int total_threads = 0;            // CPU threads shared by running trials; 0 = all cores.
  TaskOptions task;
  CarbonOptions carbon;
  double max_intensity_g_per_kwh = -1;  // --max-intensity; < 0 = never hold.
  double max_delay_seconds = 0;         // --max-delay: the longest hold.
  std::string work_root;            // trial work dirs: <work_root>/trial-<k>.
  LauncherKind launcher = LauncherKind::kLocal;  // --launcher.
  // --command: the user's training command (trial_command.h), run for each
  // trial instead of the bundled trial; its space may name any hyperparameter.
  std::string command;
  // --metric, --mode: what ranks the trials. Like the budget, the sweep's
  // record keeps it (SweepRecord::objective); ToJson leaves it out.
  Objective objective;
  // --gpus: the NVIDIA devices (NVML indices) the sweep's trials may use;
  // empty: none. --gpus-per-trial: whole devices each trial gets, as
  // CUDA_VISIBLE_DEVICES; the sampler bills each device to its trial alone.
  std::vector<int> gpus;
  int gpus_per_trial = 0;
  SlurmSettings slurm;              // with kSlurm.

  // Threads each trial gets: total_threads (or the machine's) / parallel, at least 1.
  int ThreadsPerTrial() const;
  // Everything but the budget (see above), as stored in sweeps.config_json.
  nlohmann::json ToJson() const;
  // Reads what ToJson wrote; fields missing in older sweeps keep their
  // defaults, and the budget is left for the caller to take from the record.
  static Result<SweepConfig> FromJson(const nlohmann::json& json);
};

// For --launcher slurm: refuses a control character (a byte below 0x20, or
// 0x7f) in every value that goes into a job script or an sbatch argument
// (the --slurm-* flags, --work-root, the task's names and paths), and an
// unterminated quote in --slurm-extra. One line naming the flag; the value
// itself is not echoed (it holds the newline). Ok for the local launcher.
Status ValidateSlurmConfig(const SweepConfig& config);
// --gpus and --gpus-per-trial, without looking at the machine: indices
// non-negative and distinct, whole devices per trial, and --parallel no more
// trials than the devices hold at once.
Status ValidateGpuConfig(const SweepConfig& config);
// --metric: a name of 1 to 64 letters, digits and "_.-/" (an event field);
// with the bundled trial (no --command), one of the fields its epoch events
// carry: val_accuracy, val_loss or train_loss.
Status ValidateObjective(const SweepConfig& config);
// "0,2": the devices as CUDA_VISIBLE_DEVICES lists them.
std::string GpuList(const std::vector<int>& gpus);

// The strategy name stored with a sweep: "random", "grid" or "halving".
std::string StrategyLabel(const SweepConfig& config);

}  // namespace cs
