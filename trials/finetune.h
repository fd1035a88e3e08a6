// Fine-tuning: the training loop of one trial (FineTune) and the whole trial
// as `carbonsweep trial` runs it (RunTrial: data, backbone, loop, events,
// result file).
//
// The loop, per epoch: batches in a seeded order (EpochBatches), AdamW with
// bias correction and decoupled weight decay (not on 1-D tensors), the
// learning rate of ScheduledLearningRate at every step, validation under
// InferenceMode with dropout off, an epoch event, a checkpoint
// (trials/checkpoint.h). The best-validation epoch's weights are kept; the
// test split is evaluated once, at the end, on those weights.
//
// Callers: cli/trial_command.cc, the throughput bench, tests.
// Thread safety: one trial per process (the stop flag and torch's generator
// and thread pool are process-wide).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "trials/checkpoint.h"
#include "trials/classifier.h"
#include "trials/dataset.h"
#include "trials/params.h"
#include "trials/protocol.h"
#include "trials/tokenizer.h"

namespace cs {

// --- The learning-rate schedule -------------------------------------------
// Steps of linear warmup: ceil(warmup_ratio * total_steps).
int64_t WarmupSteps(int64_t total_steps, double warmup_ratio);
// The rate of the optimizer step with 0-based index `step` out of
// `total_steps` over ALL epochs: peak * (step + 1) / warmup during warmup,
// then peak * (total - step) / (total - warmup), so the first step already
// moves and the last one uses peak / (total - warmup), never zero.
double ScheduledLearningRate(int64_t step, int64_t total_steps, int64_t warmup_steps, double peak);

// --- Data ------------------------------------------------------------------
// One split part, tokenized to fixed width.
struct EncodedPart {
  EncodedTexts texts;
  std::vector<int> labels;
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};
struct FineTuneData {
  EncodedPart train, validation, test;
  int num_classes = 2;
};

// The training batches of epoch `epoch` (1-based), as lists of row indices.
// Rows are shuffled with (seed, epoch), then within pools of 50 batches
// sorted by length so a batch's rows need little padding, then the batch
// order is shuffled again. Pure function of its arguments.
std::vector<std::vector<int>> EpochBatches(const std::vector<int32_t>& lengths, int batch_size, uint64_t seed,
                                           int epoch);
// Number of optimizer steps of one epoch (the last batch may be short).
int64_t StepsPerEpoch(int64_t train_examples, int batch_size);

struct EvalMetrics {
  double loss = 0;      // mean cross-entropy.
  double accuracy = 0;  // share of rows whose arg-max is the label.
  int64_t examples = 0;
};
// Evaluates with dropout off, under torch::InferenceMode.
EvalMetrics Evaluate(SequenceClassifier& model, const EncodedPart& part);

// --- The loop --------------------------------------------------------------
struct FineTuneOptions {
  // Where the checkpoint lives ("" = none: no checkpoint, no resume). A
  // checkpoint found there is resumed.
  std::string work_dir;
  // Stop after this epoch with state kPaused (0 = run all epochs).
  int stop_after_epoch = 0;
  // Names the trial (params, data, backbone); a checkpoint with another is refused.
  std::string fingerprint;
  // Receives each event object (start, epoch, end) as it happens.
  std::function<void(const nlohmann::json&)> on_event;
  // Receives human progress lines (nullptr = silent).
  std::function<void(const std::string&)> on_progress;
  // Polled before every step; true stops the trial as kInterrupted.
  const std::atomic<bool>* stop_requested = nullptr;
  // Extra fields merged into the start event (task, backbone).
  nlohmann::json start_fields = nlohmann::json::object();
};

struct FineTuneOutcome {
  TrialEndState state = TrialEndState::kFinished;
  TrialProgress progress;              // over all runs of this trial (resumes included).
  int resumed_from_epoch = 0;          // 0 = started fresh.
  std::optional<EvalMetrics> test;     // of the best-validation epoch; none when paused/interrupted or no epoch.
  double seconds = 0;                  // wall seconds of the trial's work over all runs.
  double train_seconds = 0;            // of this process: time in training steps alone.
  int64_t train_examples_this_run = 0; // sequences trained on by this process.
  nlohmann::json end_event;            // what was emitted last.
};

// Seeds nothing itself: the caller seeds torch (torch::manual_seed) BEFORE
// building the model, so initialisation is part of the seeded stream.
Result<FineTuneOutcome> FineTune(SequenceClassifier& model, const FineTuneData& data, const TrialParams& params,
                                 const FineTuneOptions& options);

// --- The trial command -----------------------------------------------------
enum class BackboneKind {
  kPretrained = 0,  // a backbone directory (ResolveBackboneDir).
  kFromScratch = 1, // the same architecture with random weights.
  kTorchScript = 2, // a user's TorchScript encoder + vocab.
};
enum class Verbosity { kProgress = 0, kQuiet = 1 };

struct TrialOptions {
  TrialParams params;
  TaskSpec task;
  BackboneKind backbone = BackboneKind::kPretrained;
  std::string backbone_dir;  // --backbone; "" = the default lookup.
  std::string model_path;    // --model (kTorchScript).
  std::string vocab_path;    // --vocab (kTorchScript; or kFromScratch without a backbone dir).
  int threads = 0;           // intra-op threads; 0 = every core.
  std::string work_dir;      // checkpoint, events.log, result.json; "" = none.
  std::string out_path;      // result JSON also written here; "" = none.
  int stop_after_epoch = 0;  // 0 = never pause.
  Verbosity verbosity = Verbosity::kProgress;
};

// Makes SIGINT and SIGTERM set the returned flag instead of killing the
// process, so the loop stops at the next step (state kInterrupted).
const std::atomic<bool>* InstallStopSignalHandlers();

// What a trial needs before its first step: the split, the tokenizer and
// the model (seeded with params.seed), with what it was built from.
struct PreparedTrial {
  TaskSplit split;
  std::optional<WordPieceTokenizer> tokenizer;
  std::optional<SequenceClassifier> model;
  nlohmann::json backbone_info;  // kind, dir or model, vocab and weights sha256.
};
// Loads the data and the backbone and builds the model: all that RunTrial
// does before training, with its errors (a missing file or column, one
// class, too few rows, a vocab or backbone that does not load, a
// max_seq_len past the backbone's positions), and nothing written.
Result<PreparedTrial> PrepareTrial(const TrialOptions& options);
// PrepareTrial's verdict alone: `run` and `resume` call it before a sweep
// spends anything, so input that no trial can use is refused up front.
Status CheckTrialInputs(const TrialOptions& options);

// Runs one trial: events to `events` (and <work_dir>/events.log), progress to
// `progress`. Returns the result object (also written to the files), whose
// "state" says how it ended; an error Status when it could not run
// (bad data or backbone: kInvalidArgument/kNotFound; I/O: kIoError).
Result<nlohmann::json> RunTrial(const TrialOptions& options, std::ostream& events, std::ostream& progress);

}  // namespace cs
