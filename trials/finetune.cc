#include "trials/finetune.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/files.h"
#include "trials/backbone.h"
#include "trials/malloc_tuning.h"

namespace cs {

namespace {

constexpr int kBatchesPerSortPool = 50;
// Evaluation batches: at most this many tokens, and at most this many attention
// score cells (rows x length^2) per head. Why small: every tensor of a batch
// must stay under glibc's 32 MiB mmap ceiling (see malloc_tuning.h), or it is
// mmap'd and page-faulted in afresh for each batch; 256 rows of 128 tokens
// made 64 MiB score tensors and cost more system time than the model's maths.
constexpr int64_t kEvalTokensPerBatch = 8192;
constexpr int64_t kEvalScoreCellsPerBatch = int64_t{1} << 19;

std::atomic<bool> g_stop_requested{false};

extern "C" void HandleStopSignal(int) { g_stop_requested.store(true); }

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string Format(const char* format, double a, double b = 0, double c = 0, double d = 0, double e = 0) {
  char buffer[256];
  std::snprintf(buffer, sizeof(buffer), format, a, b, c, d, e);
  return buffer;
}

// A 64-bit mix of (seed, salt) so different purposes draw unrelated orders.
uint64_t MixSeed(uint64_t seed, uint64_t salt) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ULL + salt;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// ids [b, T] and mask [b, T] (int64) for `rows`, T = the longest row.
struct Batch {
  torch::Tensor ids, mask, labels;
};
Batch MakeBatch(const EncodedPart& part, const std::vector<int>& rows) {
  const int width = part.texts.width;
  int64_t longest = 1;
  for (int row : rows) longest = std::max<int64_t>(longest, part.texts.lengths[row]);
  const int64_t count = static_cast<int64_t>(rows.size());
  Batch batch;
  batch.ids = torch::empty({count, longest}, torch::kLong);
  batch.mask = torch::zeros({count, longest}, torch::kLong);
  batch.labels = torch::empty({count}, torch::kLong);
  int64_t* ids = batch.ids.data_ptr<int64_t>();
  int64_t* mask = batch.mask.data_ptr<int64_t>();
  int64_t* labels = batch.labels.data_ptr<int64_t>();
  for (int64_t r = 0; r < count; ++r) {
    const int32_t* source = part.texts.ids.data() + static_cast<size_t>(rows[r]) * width;
    const int32_t length = part.texts.lengths[rows[r]];
    for (int64_t t = 0; t < longest; ++t) ids[r * longest + t] = source[t];
    for (int64_t t = 0; t < length; ++t) mask[r * longest + t] = 1;
    labels[r] = part.labels[rows[r]];
  }
  return batch;
}

void Emit(const FineTuneOptions& options, const nlohmann::json& event) {
  if (options.on_event) options.on_event(event);
}
void Say(const FineTuneOptions& options, const std::string& line) {
  if (options.on_progress) options.on_progress(line);
}

nlohmann::json EndEvent(const FineTuneOutcome& outcome) {
  nlohmann::json event = {{"event", "end"},
                          {"state", TrialEndStateName(outcome.state)},
                          {"best_epoch", outcome.progress.best_epoch},
                          {"epochs_done", outcome.progress.epochs_done},
                          {"seconds", outcome.seconds},
                          {"steps", outcome.progress.steps},
                          {"examples", outcome.progress.examples}};
  event["val_accuracy"] = outcome.progress.best_epoch > 0 ? nlohmann::json(outcome.progress.best_val_accuracy)
                                                          : nlohmann::json(nullptr);
  event["test_accuracy"] = outcome.test ? nlohmann::json(outcome.test->accuracy) : nlohmann::json(nullptr);
  event["test_loss"] = outcome.test ? nlohmann::json(outcome.test->loss) : nlohmann::json(nullptr);
  return event;
}

}  // namespace

int64_t WarmupSteps(int64_t total_steps, double warmup_ratio) {
  return static_cast<int64_t>(std::ceil(warmup_ratio * static_cast<double>(total_steps) - 1e-9));
}

double ScheduledLearningRate(int64_t step, int64_t total_steps, int64_t warmup_steps, double peak) {
  if (step < warmup_steps) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const int64_t decay_steps = std::max<int64_t>(1, total_steps - warmup_steps);
  return peak * static_cast<double>(std::max<int64_t>(0, total_steps - step)) / static_cast<double>(decay_steps);
}

int64_t StepsPerEpoch(int64_t train_examples, int batch_size) {
  return (train_examples + batch_size - 1) / batch_size;
}

std::vector<std::vector<int>> EpochBatches(const std::vector<int32_t>& lengths, int batch_size, uint64_t seed,
                                           int epoch) {
  const int n = static_cast<int>(lengths.size());
  std::vector<int> order = ShuffleIndices(n, MixSeed(seed, 2 * static_cast<uint64_t>(epoch)));
  const int pool = batch_size * kBatchesPerSortPool;
  std::vector<std::vector<int>> batches;
  for (int start = 0; start < n; start += pool) {
    auto begin = order.begin() + start;
    auto end = order.begin() + std::min(n, start + pool);
    std::stable_sort(begin, end, [&](int a, int b) { return lengths[a] > lengths[b]; });
    for (auto it = begin; it < end; it += std::min<int64_t>(batch_size, end - it)) {
      batches.emplace_back(it, it + std::min<int64_t>(batch_size, end - it));
    }
  }
  std::vector<int> batch_order =
      ShuffleIndices(static_cast<int>(batches.size()), MixSeed(seed, 2 * static_cast<uint64_t>(epoch) + 1));
  std::vector<std::vector<int>> shuffled;
  shuffled.reserve(batches.size());
  for (int index : batch_order) shuffled.push_back(std::move(batches[index]));
  return shuffled;
}

EvalMetrics Evaluate(SequenceClassifier& model, const EncodedPart& part) {
  EvalMetrics metrics;
  if (part.size() == 0) return metrics;
  model.SetTraining(false);
  torch::InferenceMode inference;
  std::vector<int> order(part.size());
  for (int i = 0; i < part.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return part.texts.lengths[a] > part.texts.lengths[b]; });
  double loss_sum = 0;
  int64_t correct = 0;
  size_t start = 0;
  while (start < order.size()) {
    int64_t longest = std::max<int64_t>(1, part.texts.lengths[order[start]]);
    int64_t rows_allowed = std::min(kEvalTokensPerBatch / longest, kEvalScoreCellsPerBatch / (longest * longest));
    size_t count = static_cast<size_t>(std::max<int64_t>(1, rows_allowed));
    std::vector<int> rows(order.begin() + start, order.begin() + std::min(order.size(), start + count));
    start += rows.size();
    Batch batch = MakeBatch(part, rows);
    torch::Tensor logits = model.Forward(batch.ids, batch.mask);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, batch.labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += logits.argmax(1).eq(batch.labels).sum().item<int64_t>();
  }
  metrics.examples = part.size();
  metrics.loss = loss_sum / static_cast<double>(part.size());
  metrics.accuracy = static_cast<double>(correct) / static_cast<double>(part.size());
  return metrics;
}

Result<FineTuneOutcome> FineTune(SequenceClassifier& model, const FineTuneData& data, const TrialParams& params,
                                 const FineTuneOptions& options) {
  if (data.train.size() == 0) return Status::InvalidArgument("train: no examples to train on");
  TrainableParameters trainable = model.Freeze(params.trained_layers);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(trainable.decay,
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(params.learning_rate).weight_decay(params.weight_decay)));
  groups.emplace_back(trainable.no_decay, std::make_unique<torch::optim::AdamWOptions>(
                                              torch::optim::AdamWOptions(params.learning_rate).weight_decay(0.0)));
  torch::optim::AdamW optimizer(std::move(groups));

  const int64_t steps_per_epoch = StepsPerEpoch(data.train.size(), params.batch_size);
  const int64_t total_steps = steps_per_epoch * params.epochs;
  const int64_t warmup_steps = WarmupSteps(total_steps, params.warmup_ratio);

  FineTuneOutcome outcome;
  std::vector<torch::Tensor> best_weights;
  const std::string checkpoint_path = options.work_dir.empty() ? "" : options.work_dir + "/" + kTrialCheckpointFile;
  if (!checkpoint_path.empty() && FileExists(checkpoint_path)) {
    Result<TrialProgress> progress = LoadTrialCheckpoint(checkpoint_path, model, optimizer, &best_weights);
    if (!progress.ok()) return progress.status();
    if (progress->fingerprint != options.fingerprint) {
      return Status::InvalidArgument(checkpoint_path +
                                     ": belongs to another trial (different params, data or backbone); "
                                     "use a fresh --work-dir");
    }
    outcome.progress = *progress;
    outcome.resumed_from_epoch = progress->epochs_done;
  }
  outcome.progress.fingerprint = options.fingerprint;
  TrialProgress& progress = outcome.progress;

  nlohmann::json start = options.start_fields;
  start["event"] = "start";
  start["params"] = TrialParamsToJson(params);
  start["resumed_from_epoch"] = outcome.resumed_from_epoch;
  start["steps_per_epoch"] = steps_per_epoch;
  start["trainable_parameters"] = [&] {
    int64_t count = 0;
    for (const auto& p : trainable.decay) count += p.numel();
    for (const auto& p : trainable.no_decay) count += p.numel();
    return count;
  }();
  Emit(options, start);
  if (outcome.resumed_from_epoch > 0) {
    Say(options, "resuming after epoch " + std::to_string(outcome.resumed_from_epoch) + " from " + checkpoint_path);
  }

  auto stop_requested = [&] { return options.stop_requested != nullptr && options.stop_requested->load(); };
  double seconds_this_run = 0;
  bool ended = false;
  for (int epoch = progress.epochs_done + 1; epoch <= params.epochs && !ended; ++epoch) {
    const double epoch_start = Now();
    double train_seconds = 0, loss_sum = 0;
    int64_t steps = 0, examples = 0;
    model.SetTraining(true);
    for (const std::vector<int>& rows : EpochBatches(data.train.texts.lengths, params.batch_size,
                                                     static_cast<uint64_t>(params.seed), epoch)) {
      if (stop_requested()) {
        outcome.state = TrialEndState::kInterrupted;
        ended = true;
        break;
      }
      const double step_start = Now();
      const double lr = ScheduledLearningRate(progress.steps + steps, total_steps, warmup_steps, params.learning_rate);
      for (auto& group : optimizer.param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      }
      Batch batch = MakeBatch(data.train, rows);
      torch::Tensor loss = torch::nn::functional::cross_entropy(model.Forward(batch.ids, batch.mask), batch.labels);
      const double loss_value = loss.item<double>();
      if (!std::isfinite(loss_value)) {
        outcome.state = TrialEndState::kDiverged;
        ended = true;
        Say(options, "epoch " + std::to_string(epoch) + ", step " + std::to_string(steps + 1) +
                         ": loss is not finite: diverged");
        break;
      }
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss_value * static_cast<double>(rows.size());
      steps += 1;
      examples += static_cast<int64_t>(rows.size());
      train_seconds += Now() - step_start;
    }
    outcome.train_seconds += train_seconds;
    outcome.train_examples_this_run += examples;
    if (ended) {
      // A partial epoch: its steps count as work done but not as an epoch.
      progress.steps += steps;
      progress.examples += examples;
      seconds_this_run += Now() - epoch_start;
      break;
    }
    EvalMetrics validation = Evaluate(model, data.validation);
    const double epoch_seconds = Now() - epoch_start;
    progress.epochs_done = epoch;
    progress.steps += steps;
    progress.examples += examples;
    progress.seconds += epoch_seconds;
    nlohmann::json event = {{"event", "epoch"},
                            {"epoch", epoch},
                            {"train_loss", loss_sum / static_cast<double>(std::max<int64_t>(1, examples))},
                            {"val_loss", validation.loss},
                            {"val_accuracy", validation.accuracy},
                            {"seconds", epoch_seconds},
                            {"train_seconds", train_seconds},
                            {"train_sequences_per_second", static_cast<double>(examples) / std::max(1e-9, train_seconds)},
                            {"steps", progress.steps},
                            {"examples", progress.examples}};
    progress.epochs.push_back(event);
    if (validation.accuracy > progress.best_val_accuracy) {
      progress.best_val_accuracy = validation.accuracy;
      progress.best_epoch = epoch;
      best_weights = SnapshotParameters(model);
    }
    if (!checkpoint_path.empty()) {
      CS_RETURN_IF_ERROR(SaveTrialCheckpoint(checkpoint_path, model, optimizer, progress, best_weights));
    }
    Emit(options, event);
    Say(options, "epoch " + std::to_string(epoch) + "/" + std::to_string(params.epochs) +
                     Format(": train loss %.4f, val loss %.4f, val accuracy %.4f, %.1f s (%.0f seq/s)",
                            event["train_loss"].get<double>(), validation.loss, validation.accuracy, epoch_seconds,
                            event["train_sequences_per_second"].get<double>()));
    if (options.stop_after_epoch > 0 && epoch >= options.stop_after_epoch && epoch < params.epochs) {
      outcome.state = TrialEndState::kPaused;
      ended = true;
    }
  }
  const double test_start = Now();
  const bool evaluate_test = (outcome.state == TrialEndState::kFinished || outcome.state == TrialEndState::kDiverged) &&
                             progress.best_epoch > 0;
  if (evaluate_test) {
    RestoreParameters(model, best_weights);
    outcome.test = Evaluate(model, data.test);
  }
  outcome.seconds = progress.seconds + seconds_this_run + (Now() - test_start);
  outcome.end_event = EndEvent(outcome);
  Emit(options, outcome.end_event);
  return outcome;
}

const std::atomic<bool>* InstallStopSignalHandlers() {
  g_stop_requested.store(false);
  std::signal(SIGINT, HandleStopSignal);
  std::signal(SIGTERM, HandleStopSignal);
  return &g_stop_requested;
}

namespace {

Result<FineTuneData> EncodeSplit(const TaskSplit& split, const WordPieceTokenizer& tokenizer,
                                 const TrialParams& params) {
  FineTuneData data;
  data.num_classes = split.num_classes();
  auto encode = [&](const LabeledTexts& texts, EncodedPart* part) {
    part->texts = tokenizer.EncodePadded(texts.texts, params.max_seq_len, params.truncation);
    part->labels = texts.labels;
  };
  encode(split.train, &data.train);
  encode(split.validation, &data.validation);
  encode(split.test, &data.test);
  return data;
}

std::string BackboneKindName(BackboneKind kind) {
  switch (kind) {
    case BackboneKind::kPretrained: return "pretrained";
    case BackboneKind::kFromScratch: return "from_scratch";
    case BackboneKind::kTorchScript: return "torchscript";
  }
  return "unknown";
}

}  // namespace

Result<PreparedTrial> PrepareTrial(const TrialOptions& options) {
  Result<TaskSplit> split = LoadTask(options.task);
  if (!split.ok()) return split.status();
  PreparedTrial prepared{std::move(*split), {}, {}, {}};

  const TrialParams& params = options.params;
  // Seed before any module is built: initialisation is part of the stream.
  torch::manual_seed(static_cast<uint64_t>(params.seed));
  std::optional<SequenceClassifier>& model = prepared.model;
  std::optional<WordPieceTokenizer>& tokenizer = prepared.tokenizer;
  nlohmann::json& backbone_info = prepared.backbone_info;
  backbone_info = {{"kind", BackboneKindName(options.backbone)}};
  switch (options.backbone) {
    case BackboneKind::kPretrained:
    case BackboneKind::kFromScratch: {
      const BackboneWeights weights =
          options.backbone == BackboneKind::kPretrained ? BackboneWeights::kPretrained : BackboneWeights::kRandomInit;
      if (options.backbone == BackboneKind::kFromScratch && options.backbone_dir.empty() &&
          !options.vocab_path.empty()) {
        // No backbone directory: the default architecture over the given vocab.
        Result<WordPieceTokenizer> vocab = WordPieceTokenizer::LoadVocab(options.vocab_path);
        if (!vocab.ok()) return vocab.status();
        EncoderConfig config;
        config.vocab_size = vocab->vocab_size();
        config.pad_id = vocab->pad_id();
        config.dropout = params.dropout;
        Result<Encoder> encoder = MakeEncoder(config);
        if (!encoder.ok()) return encoder.status();
        tokenizer = *vocab;
        model.emplace(*encoder, prepared.split.num_classes(), params.dropout);
        backbone_info["vocab"] = options.vocab_path;
        backbone_info["vocab_sha256"] = vocab->VocabSha256();
        backbone_info["encoder"] = EncoderConfigToJson(config);
        break;
      }
      Result<std::string> dir = ResolveBackboneDir(options.backbone_dir);
      if (!dir.ok()) return dir.status();
      Result<LoadedBackbone> backbone = LoadBackbone(*dir, weights);
      if (!backbone.ok()) return backbone.status();
      if (params.max_seq_len > backbone->config.max_positions) {
        return Status::InvalidArgument("params.max_seq_len: " + std::to_string(params.max_seq_len) +
                                       " exceeds the backbone's max_positions " +
                                       std::to_string(backbone->config.max_positions));
      }
      tokenizer = backbone->tokenizer;
      model.emplace(backbone->encoder, prepared.split.num_classes(), params.dropout);
      backbone_info["dir"] = *dir;
      backbone_info["vocab_sha256"] = backbone->tokenizer.VocabSha256();
      backbone_info["encoder"] = backbone->info["encoder"];
      if (weights == BackboneWeights::kPretrained) {
        Result<std::string> sha = Sha256OfFile(*dir + "/" + kBackboneWeightsFile);
        if (sha.ok()) backbone_info["weights_sha256"] = *sha;
      }
      break;
    }
    case BackboneKind::kTorchScript: {
      Result<ScriptedBackbone> scripted = LoadScriptedBackbone(options.model_path, options.vocab_path);
      if (!scripted.ok()) return scripted.status();
      tokenizer = scripted->tokenizer;
      model.emplace(scripted->module, scripted->hidden, prepared.split.num_classes(), params.dropout);
      backbone_info["model"] = options.model_path;
      Result<std::string> sha = Sha256OfFile(options.model_path);
      if (sha.ok()) backbone_info["weights_sha256"] = *sha;
      backbone_info["vocab_sha256"] = scripted->tokenizer.VocabSha256();
      backbone_info["hidden"] = scripted->hidden;
      backbone_info["case"] = scripted->tokenizer.case_handling() == CaseHandling::kLowercase ? "lowercase" : "keep";
      backbone_info["token_type_ids"] = scripted->takes_token_type_ids;
      break;
    }
  }
  return prepared;
}

Status CheckTrialInputs(const TrialOptions& options) { return PrepareTrial(options).status(); }

Result<nlohmann::json> RunTrial(const TrialOptions& options, std::ostream& events, std::ostream& progress_out) {
  const double process_start = Now();
  const int threads = options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  KeepFreedMemoryForReuse();
  try {
    at::set_num_interop_threads(1);
  } catch (const std::exception&) {
    // Already set by an earlier trial in this process (tests): keep it.
  }
  const TrialParams& params = options.params;
  auto say = [&](const std::string& line) {
    if (options.verbosity == Verbosity::kProgress) progress_out << line << "\n" << std::flush;
  };

  Result<PreparedTrial> prepared = PrepareTrial(options);
  if (!prepared.ok()) return prepared.status();
  const TaskSplit* split = &prepared->split;
  std::optional<SequenceClassifier>& model = prepared->model;
  std::optional<WordPieceTokenizer>& tokenizer = prepared->tokenizer;
  const nlohmann::json& backbone_info = prepared->backbone_info;
  Result<FineTuneData> data = EncodeSplit(*split, *tokenizer, params);
  if (!data.ok()) return data.status();

  std::ofstream events_log;
  if (!options.work_dir.empty()) {
    CS_RETURN_IF_ERROR(MakeDirs(options.work_dir));
    const std::string path = options.work_dir + "/" + kTrialEventsFile;
    events_log.open(path, std::ios::app);
    if (!events_log) return Status::IoError(path + ": cannot open for appending");
  }

  FineTuneOptions loop;
  loop.work_dir = options.work_dir;
  loop.stop_after_epoch = options.stop_after_epoch;
  nlohmann::json task_json = TaskSpecToJson(options.task);
  nlohmann::json split_sha = split->provenance.contains("split_sha256") ? split->provenance["split_sha256"] : nlohmann::json();
  loop.fingerprint = Sha256OfString(TrialParamsToJson(params).dump() + "|" + split_sha.dump() + "|" +
                                    backbone_info.dump());
  loop.start_fields = {{"task", split->provenance}, {"backbone", backbone_info}, {"threads", threads}};
  loop.on_event = [&](const nlohmann::json& event) {
    const std::string line = FormatTrialEvent(event);
    events << line << std::flush;
    if (events_log.is_open()) events_log << line << std::flush;
  };
  if (options.verbosity == Verbosity::kProgress) loop.on_progress = say;
  loop.stop_requested = InstallStopSignalHandlers();
  say(Format("trial: %.0f train / %.0f validation / %.0f test examples, %.0f classes, %.0f threads",
             static_cast<double>(data->train.size()), static_cast<double>(data->validation.size()),
             static_cast<double>(data->test.size()), data->num_classes, threads));

  Result<FineTuneOutcome> outcome = FineTune(*model, *data, params, loop);
  if (!outcome.ok()) return outcome.status();

  nlohmann::json result = outcome->end_event;
  result.erase("event");
  result["params"] = TrialParamsToJson(params);
  result["task"] = split->provenance;
  result["backbone"] = backbone_info;
  result["epochs"] = outcome->progress.epochs;
  result["resumed_from_epoch"] = outcome->resumed_from_epoch;
  result["threads"] = threads;
  result["process_seconds"] = Now() - process_start;
  result["train_sequences_per_second"] =
      static_cast<double>(outcome->train_examples_this_run) / std::max(1e-9, outcome->train_seconds);
  const std::string text = result.dump(2) + "\n";
  if (!options.work_dir.empty()) CS_RETURN_IF_ERROR(WriteFileAtomic(options.work_dir + "/" + kTrialResultFile, text));
  if (!options.out_path.empty()) CS_RETURN_IF_ERROR(WriteFileAtomic(options.out_path, text));
  std::string summary = std::string("trial ") + TrialEndStateName(outcome->state);
  if (outcome->test) summary += Format(": best epoch %.0f, val accuracy %.4f, test accuracy %.4f, %.1f s",
                                       outcome->progress.best_epoch, outcome->progress.best_val_accuracy,
                                       outcome->test->accuracy, outcome->seconds);
  say(summary);
  return result;
}

}  // namespace cs
