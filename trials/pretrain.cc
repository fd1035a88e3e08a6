#include "trials/pretrain.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "common/files.h"
#include "trials/backbone.h"
#include "trials/dataset.h"
#include "trials/malloc_tuning.h"
#include "trials/pretrain_mlm.h"
#include "trials/tokenizer.h"

namespace cs {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kCheckpointDir = "checkpoint";
constexpr const char* kStateFile = "state.json";
constexpr const char* kMaskedLmHeadFile = "mlm_head.pt";
constexpr int kStateFormat = 1;
// Steps timed (after kCalibrationSkip warm-up steps) before --minutes fixes the plan.
constexpr int kCalibrationSkip = 3;
constexpr int kCalibrationSteps = 20;
// Mixed into the seed so that the held-out masks never equal a training step's.
constexpr uint64_t kHeldoutSeedSalt = 0x9e3779b97f4a7c15ULL;

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 + usage.ru_stime.tv_sec +
         usage.ru_stime.tv_usec * 1e-6;
}

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Peak at the end of warmup, zero at the last planned step.
double LearningRateAt(int64_t step, int64_t planned_steps, int64_t warmup_steps, double peak) {
  if (step < warmup_steps) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const double remaining = static_cast<double>(planned_steps - step) /
                           static_cast<double>(std::max<int64_t>(1, planned_steps - warmup_steps));
  return peak * std::clamp(remaining, 0.0, 1.0);
}

int64_t WarmupSteps(const PretrainOptions& options, int64_t planned_steps) {
  return std::max<int64_t>(1, std::min<int64_t>(options.warmup_steps, planned_steps / 10));
}

// The fields a checkpoint must share with the options that resume it.
json ResumeFingerprint(const PretrainOptions& options, const std::string& corpus_sha256) {
  return json{{"seed", options.seed},
              {"vocab_size", options.vocab_size},
              {"vocab_min_frequency", options.vocab_min_frequency},
              {"seq_len", options.seq_len},
              {"mask_rate", options.mask_rate},
              {"batch_size", options.batch_size},
              {"learning_rate", options.learning_rate},
              {"warmup_steps", options.warmup_steps},
              {"encoder", EncoderConfigToJson(options.encoder)},
              {"embedding_init", EmbeddingInitName(options.embedding_init)},
              {"heldout_chunks", options.heldout_chunks},
              {"corpus_sha256", corpus_sha256}};
}

// Progress carried from one process to the next through state.json.
struct Progress {
  int64_t step = 0;
  int64_t planned_steps = 0;  // 0 until --minutes has been calibrated.
  double training_seconds = 0;
  double prep_seconds = 0;
  double cpu_seconds = 0;
  double wall_seconds = 0;
  double joules = 0;
  double grams_co2e = 0;
  int segments = 0;
  double last_loss = 0;
};

json ProgressToJson(const Progress& progress) {
  return json{{"step", progress.step},
              {"planned_steps", progress.planned_steps},
              {"training_seconds", progress.training_seconds},
              {"prep_seconds", progress.prep_seconds},
              {"cpu_seconds", progress.cpu_seconds},
              {"wall_seconds", progress.wall_seconds},
              {"joules", progress.joules},
              {"grams_co2e", progress.grams_co2e},
              {"segments", progress.segments},
              {"last_loss", progress.last_loss}};
}

Progress ProgressFromJson(const json& object) {
  Progress progress;
  progress.step = object.at("step").get<int64_t>();
  progress.planned_steps = object.at("planned_steps").get<int64_t>();
  progress.training_seconds = object.at("training_seconds").get<double>();
  progress.prep_seconds = object.at("prep_seconds").get<double>();
  progress.cpu_seconds = object.at("cpu_seconds").get<double>();
  progress.wall_seconds = object.at("wall_seconds").get<double>();
  progress.joules = object.at("joules").get<double>();
  progress.grams_co2e = object.at("grams_co2e").get<double>();
  progress.segments = object.at("segments").get<int>();
  progress.last_loss = object.at("last_loss").get<double>();
  return progress;
}

// Tokenizes every document on `threads` threads (the tokenizer is immutable).
std::vector<std::vector<int32_t>> TokenizeAll(const WordPieceTokenizer& tokenizer,
                                              const std::vector<std::string>& documents, int threads) {
  std::vector<std::vector<int32_t>> ids(documents.size());
  const int workers = std::max(1, threads);
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w) {
    pool.emplace_back([&, w] {
      for (size_t i = w; i < documents.size(); i += workers) ids[i] = tokenizer.Tokenize(documents[i]);
    });
  }
  for (std::thread& thread : pool) thread.join();
  return ids;
}

std::vector<torch::Tensor> DecayedParameters(const torch::nn::Module& module, bool decayed) {
  std::vector<torch::Tensor> result;
  for (const auto& item : module.named_parameters()) {
    // Matrices decay; biases, LayerNorm gains and the vocab bias do not (BERT).
    const bool is_matrix = item.value().dim() >= 2;
    if (is_matrix == decayed) result.push_back(item.value());
  }
  return result;
}

// Saves to `path` through a temp file, so a kill never leaves half an archive.
template <typename T>
Status SaveArchiveAtomic(const T& object, const std::string& path) {
  const std::string temp = path + ".tmp";
  try {
    torch::save(object, temp);
  } catch (const c10::Error& error) {
    return Status::IoError(path + ": cannot write: " + error.what_without_backtrace());
  }
  std::error_code error;
  fs::rename(temp, path, error);
  if (error) return Status::IoError(path + ": cannot rename from " + temp + ": " + error.message());
  return Status::Ok();
}

template <typename T>
Status LoadArchive(T& object, const std::string& path) {
  try {
    torch::load(object, path);
  } catch (const c10::Error& error) {
    return Status::Corruption(path + ": cannot load: " + error.what_without_backtrace());
  }
  return Status::Ok();
}

std::string StepFile(const std::string& dir, const char* stem, int64_t step) {
  return dir + "/" + stem + "-" + std::to_string(step) + ".pt";
}

// Everything one run needs, built once.
struct Run {
  PretrainOptions options;
  std::string checkpoint_dir;
  PretrainCorpus corpus;
  std::optional<WordPieceTokenizer> tokenizer;  // set by PrepareData.
  std::vector<int64_t> chunk_ids;  // rows * seq_len
  int64_t rows = 0;                // training chunks (after the held-out ones)
  torch::Tensor train_chunks;      // [rows, seq_len] int64
  torch::Tensor heldout_chunks;    // [heldout, seq_len] int64
  int64_t corpus_tokens = 0;
  std::vector<std::vector<int32_t>> documents;  // token ids per document, until the word vectors are made.
  MaskingOptions masking;
  Encoder encoder{nullptr};
  MaskedLmHead head{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer;
  Progress progress;
  json prep;                       // seconds per preparation stage, word vector facts.
  std::optional<LoadedBackbone> parent;  // --init-from, loaded.
  std::string parent_encoder_sha256;
  bool parent_head_loaded = false;
  // Picks the held-out chunks and their masks: the parent's seed when
  // continuing, so the continued run never trains on the parent's held-out
  // chunks and its held-out loss is comparable with the parent's.
  uint64_t heldout_seed = 0;
};

torch::Tensor BatchRows(const Run& run, int64_t step) {
  // Sample g of the run is row perm_e[g mod rows] of epoch e = g / rows; each
  // epoch has its own seeded permutation, so the batch is a function of the step.
  const int64_t batch = run.options.batch_size;
  std::vector<int64_t> rows(batch);
  int64_t cached_epoch = -1;
  std::vector<int> permutation;
  for (int64_t i = 0; i < batch; ++i) {
    const int64_t sample = step * batch + i;
    const int64_t epoch = sample / run.rows;
    if (epoch != cached_epoch) {
      permutation = ShuffleIndices(static_cast<int>(run.rows), run.options.seed * 1000003ULL + epoch);
      cached_epoch = epoch;
    }
    rows[i] = permutation[sample % run.rows];
  }
  return run.train_chunks.index_select(0, torch::tensor(rows, torch::kInt64));
}

double HeldoutLoss(Run& run) {
  torch::NoGradGuard no_grad;
  run.encoder->eval();
  run.head->eval();
  torch::Generator generator = at::detail::createCPUGenerator(run.heldout_seed ^ kHeldoutSeedSalt);
  double loss_sum = 0;
  int64_t predicted = 0;
  const int64_t total = run.heldout_chunks.size(0);
  for (int64_t start = 0; start < total; start += run.options.batch_size) {
    const torch::Tensor ids = run.heldout_chunks.narrow(0, start, std::min<int64_t>(run.options.batch_size, total - start));
    const MaskedBatch batch = MaskTokens(ids, run.masking, generator);
    const torch::Tensor hidden = run.encoder(batch.input_ids, torch::ones_like(ids));
    const torch::Tensor loss = MaskedLmLoss(run.head, hidden, run.encoder->token_embedding->weight, batch);
    loss_sum += loss.item<double>() * batch.positions.size(0);
    predicted += batch.positions.size(0);
  }
  run.encoder->train();
  run.head->train();
  return predicted == 0 ? 0.0 : loss_sum / predicted;
}

// Cross-entropy of the held-out targets under the training chunks' unigram
// frequencies: the loss of a model that learned nothing but word counts.
double HeldoutUnigramLoss(const Run& run) {
  torch::NoGradGuard no_grad;
  const int vocab = run.tokenizer->vocab_size();
  const torch::Tensor counts = torch::bincount(run.train_chunks.reshape(-1), {}, vocab).to(torch::kFloat64) + 1.0;
  const torch::Tensor log_probability = (counts / counts.sum()).log();
  torch::Generator generator = at::detail::createCPUGenerator(run.heldout_seed ^ kHeldoutSeedSalt);
  double loss_sum = 0;
  int64_t predicted = 0;
  const int64_t total = run.heldout_chunks.size(0);
  for (int64_t start = 0; start < total; start += run.options.batch_size) {
    const torch::Tensor ids = run.heldout_chunks.narrow(0, start, std::min<int64_t>(run.options.batch_size, total - start));
    const MaskedBatch batch = MaskTokens(ids, run.masking, generator);
    loss_sum -= log_probability.index_select(0, batch.targets).sum().item<double>();
    predicted += batch.positions.size(0);
  }
  return predicted == 0 ? 0.0 : loss_sum / predicted;
}

Status SaveCheckpoint(Run& run, const json& fingerprint) {
  const int64_t step = run.progress.step;
  CS_RETURN_IF_ERROR(SaveEncoderWeights(run.encoder, StepFile(run.checkpoint_dir, "encoder", step)));
  CS_RETURN_IF_ERROR(SaveArchiveAtomic(run.head, StepFile(run.checkpoint_dir, "head", step)));
  CS_RETURN_IF_ERROR(SaveArchiveAtomic(*run.optimizer, StepFile(run.checkpoint_dir, "optimizer", step)));
  const json state = {{"format", kStateFormat}, {"fingerprint", fingerprint},
                      {"progress", ProgressToJson(run.progress)}};
  // state.json is the commit point: it names the step whose files are whole.
  CS_RETURN_IF_ERROR(WriteFileAtomic(run.checkpoint_dir + "/" + kStateFile, state.dump(2) + "\n"));
  for (const auto& entry : fs::directory_iterator(run.checkpoint_dir)) {
    const std::string name = entry.path().filename().string();
    const bool is_step_file = name.size() > 3 && name.compare(name.size() - 3, 3, ".pt") == 0;
    if (is_step_file && name.find("-" + std::to_string(step) + ".pt") == std::string::npos) {
      std::error_code ignored;
      fs::remove(entry.path(), ignored);  // an older step's file: superseded.
    }
  }
  return Status::Ok();
}

// Returns true when a checkpoint was loaded into `run`.
Result<bool> LoadCheckpoint(Run& run, const json& fingerprint) {
  const std::string state_path = run.checkpoint_dir + "/" + kStateFile;
  if (!FileExists(state_path)) return false;
  Result<std::string> text = ReadFile(state_path);
  if (!text.ok()) return text.status();
  json state;
  try {
    state = json::parse(*text);
    if (state.at("format").get<int>() != kStateFormat) {
      return Status::Unsupported(state_path + ": format " + state.at("format").dump() + " is not " +
                                 std::to_string(kStateFormat));
    }
    const json& saved = state.at("fingerprint");
    for (const auto& item : fingerprint.items()) {
      if (!saved.contains(item.key()) || saved.at(item.key()) != item.value()) {
        return Status::InvalidArgument(state_path + ": fingerprint." + item.key() + " was " +
                                       (saved.contains(item.key()) ? saved.at(item.key()).dump() : "absent") +
                                       ", now " + item.value().dump() +
                                       "; resume with the same options or start over without --resume");
      }
    }
    for (const auto& item : saved.items()) {  // e.g. a continuation resumed without its --init-from.
      if (!fingerprint.contains(item.key())) {
        return Status::InvalidArgument(state_path + ": fingerprint." + item.key() + " was " + item.value().dump() +
                                       ", now absent; resume with the same options (--init-from?)");
      }
    }
    run.progress = ProgressFromJson(state.at("progress"));
  } catch (const json::exception& error) {
    return Status::Corruption(state_path + ": " + error.what());
  }
  const int64_t step = run.progress.step;
  CS_RETURN_IF_ERROR(LoadEncoderWeights(run.encoder, StepFile(run.checkpoint_dir, "encoder", step)));
  CS_RETURN_IF_ERROR(LoadArchive(run.head, StepFile(run.checkpoint_dir, "head", step)));
  CS_RETURN_IF_ERROR(LoadArchive(*run.optimizer, StepFile(run.checkpoint_dir, "optimizer", step)));
  return true;
}

Status PrepareData(Run& run, ResumeMode resume) {
  const PretrainOptions& options = run.options;
  double started = MonotonicSeconds();
  Result<PretrainCorpus> corpus = LoadPretrainCorpus(options.corpus);
  if (!corpus.ok()) return corpus.status();
  run.corpus = std::move(*corpus);
  run.prep["load_corpus_seconds"] = MonotonicSeconds() - started;
  std::cout << "corpus: " << run.corpus.documents.size() << " documents, "
            << run.corpus.provenance.value("words", int64_t{0}) << " words" << std::endl;

  // The vocab is trained once and kept beside the checkpoint, so a resumed
  // run tokenizes exactly as the interrupted one did.
  const std::string vocab_path = run.checkpoint_dir + "/" + kBackboneVocabFile;
  started = MonotonicSeconds();
  if (run.parent) {
    run.tokenizer.emplace(run.parent->tokenizer);  // a continued backbone keeps its parent's ids.
    CS_RETURN_IF_ERROR(run.tokenizer->SaveVocab(vocab_path));
  } else if (resume == ResumeMode::kResume && FileExists(vocab_path)) {
    Result<WordPieceTokenizer> loaded = WordPieceTokenizer::LoadVocab(vocab_path);
    if (!loaded.ok()) return loaded.status();
    run.tokenizer.emplace(std::move(*loaded));
  } else {
    Result<WordPieceTokenizer> trained =
        TrainWordPieceVocab(run.corpus.documents, options.vocab_size, options.vocab_min_frequency);
    if (!trained.ok()) return trained.status().WithPrefix("training the vocab");
    run.tokenizer.emplace(std::move(*trained));
    CS_RETURN_IF_ERROR(run.tokenizer->SaveVocab(vocab_path));
  }
  if (run.tokenizer->mask_id() < 0) return Status::InvalidArgument(vocab_path + ": the vocab has no [MASK] token");
  run.prep["vocab_seconds"] = MonotonicSeconds() - started;
  std::cout << "vocab: " << run.tokenizer->vocab_size() << " tokens" << std::endl;

  started = MonotonicSeconds();
  run.documents = TokenizeAll(*run.tokenizer, run.corpus.documents, options.threads);
  for (const auto& document : run.documents) run.corpus_tokens += static_cast<int64_t>(document.size());
  run.chunk_ids = PackChunks(run.documents, options.seq_len, run.tokenizer->cls_id(), run.tokenizer->sep_id());
  run.prep["tokenize_seconds"] = MonotonicSeconds() - started;
  std::cout << "tokenized: " << run.corpus_tokens << " tokens, " << run.chunk_ids.size() / options.seq_len
            << " chunks of " << options.seq_len << std::endl;
  const int64_t all_rows = static_cast<int64_t>(run.chunk_ids.size()) / options.seq_len;
  if (all_rows < options.heldout_chunks + 1) {
    return Status::InvalidArgument("pretrain: the corpus makes " + std::to_string(all_rows) + " chunks of " +
                                   std::to_string(options.seq_len) + " tokens; at least " +
                                   std::to_string(options.heldout_chunks + 1) +
                                   " are needed (lower --seq-len or --heldout-chunks)");
  }
  // The held-out chunks are a seeded sample, so they come from every source.
  const std::vector<int> order = ShuffleIndices(static_cast<int>(all_rows), run.heldout_seed);
  const torch::Tensor all = torch::from_blob(run.chunk_ids.data(), {all_rows, options.seq_len}, torch::kInt64);
  const torch::Tensor order_tensor = torch::tensor(std::vector<int64_t>(order.begin(), order.end()), torch::kInt64);
  run.heldout_chunks = all.index_select(0, order_tensor.narrow(0, 0, options.heldout_chunks)).clone();
  const torch::Tensor train_order = std::get<0>(order_tensor.narrow(0, options.heldout_chunks, all_rows - options.heldout_chunks).sort());
  run.train_chunks = all.index_select(0, train_order).clone();
  run.rows = run.train_chunks.size(0);
  run.chunk_ids.clear();
  run.chunk_ids.shrink_to_fit();

  run.masking.mask_rate = options.mask_rate;
  run.masking.mask_id = run.tokenizer->mask_id();
  run.masking.vocab_size = run.tokenizer->vocab_size();
  for (int id : {run.tokenizer->pad_id(), run.tokenizer->unk_id(), run.tokenizer->cls_id(), run.tokenizer->sep_id(),
                 run.tokenizer->mask_id()}) {
    run.masking.special_ids.push_back(id);
  }

  return Status::Ok();
}

// Word vectors come from the documents (not the chunks) so counts never
// straddle two documents.
Status InitWordVectors(Run& run) {
  const double started = MonotonicSeconds();
  WordVectorOptions vector_options = run.options.vectors;
  vector_options.dims = run.options.encoder.hidden;
  vector_options.seed = run.options.seed;
  std::vector<int32_t> skip(run.masking.special_ids.begin(), run.masking.special_ids.end());
  Result<WordVectors> vectors = PpmiSvdWordVectors(run.documents, run.tokenizer->vocab_size(), skip,
                                                   run.options.vector_row_norm, vector_options);
  if (!vectors.ok()) return vectors.status();
  torch::NoGradGuard no_grad;
  torch::Tensor weight = run.encoder->token_embedding->weight;
  weight.copy_(torch::where(vectors->seen.unsqueeze(1), vectors->vectors, weight));
  run.prep["word_vector_seconds"] = MonotonicSeconds() - started;
  run.prep["word_vector_rows"] = vectors->seen.sum().item<int64_t>();
  std::cout << "word vectors: " << run.prep["word_vector_rows"] << " rows initialised in "
            << run.prep["word_vector_seconds"] << " s" << std::endl;
  return Status::Ok();
}

// The "total" of a backbone's provenance; older backbones (before
// --init-from) have none, and their own run is the whole line.
json ProvenanceTotal(const json& made) {
  if (made.contains("total") && made["total"].is_object()) return made["total"];
  json total = {{"backbones", 1}};
  auto copy = [&](const char* section, const char* key) {
    if (made.contains(section) && made[section].is_object() && made[section].contains(key) &&
        made[section][key].is_number()) {
      total[key] = made[section][key];
    }
  };
  copy("energy", "joules");
  copy("energy", "grams_co2e");
  copy("timing", "wall_seconds");
  copy("timing", "cpu_seconds");
  for (const char* key : {"steps", "tokens"}) {
    if (made.contains(key) && made[key].is_number()) total[key] = made[key];
  }
  return total;
}

json MakeProvenance(const Run& run, int64_t planned_steps, double heldout_loss, double unigram_loss,
                    EnergyMeter* meter, const std::string& end) {
  const PretrainOptions& options = run.options;
  const int64_t tokens = run.progress.step * options.batch_size * options.seq_len;
  json corpus = run.corpus.provenance;
  corpus["tokens"] = run.corpus_tokens;
  corpus["chunks"] = run.rows + run.heldout_chunks.size(0);
  corpus["heldout_chunks"] = run.heldout_chunks.size(0);
  json energy = {{"joules", run.progress.joules}, {"grams_co2e", run.progress.grams_co2e}};
  energy["method"] = meter == nullptr ? json("not measured") : meter->Describe();
  WordVectorOptions vectors = options.vectors;
  json made = json{
      {"tool", "carbonsweep pretrain"},
      {"end", end},
      {"seed", options.seed},
      {"steps", run.progress.step},
      {"planned_steps", planned_steps},
      {"tokens", tokens},
      {"epochs", static_cast<double>(run.progress.step * options.batch_size) / static_cast<double>(run.rows)},
      {"parameters", CountParameters(*run.encoder)},
      {"recipe",
       {{"objective", "masked-lm, logits at masked positions only, tied embeddings"},
        {"mask_rate", options.mask_rate},
        {"mask_split", "80% [MASK], 10% random, 10% kept"},
        {"seq_len", options.seq_len},
        {"batch_size", options.batch_size},
        {"learning_rate", options.learning_rate},
        {"schedule", "linear warmup, linear decay to 0"},
        {"warmup_steps", WarmupSteps(options, planned_steps)},
        {"weight_decay", options.weight_decay},
        {"clip_norm", options.clip_norm},
        {"dropout", 0.0},
        {"minutes", options.minutes},
        {"vocab_size", run.tokenizer->vocab_size()},
        {"vocab_min_frequency", options.vocab_min_frequency},
        {"embedding_init", EmbeddingInitName(options.embedding_init)},
        {"word_vectors",
         {{"window", vectors.window}, {"context_power", vectors.context_power},
          {"oversampling", vectors.oversampling}, {"power_iterations", vectors.power_iterations},
          {"eigen_power", vectors.eigen_power}, {"row_norm", options.vector_row_norm}}}}},
      {"vocab_sha256", run.tokenizer->VocabSha256()},
      {"corpus", corpus},
      {"heldout", {{"mlm_loss_nats", heldout_loss}, {"unigram_loss_nats", unigram_loss}, {"seed", run.heldout_seed}}},
      {"final_train_loss", run.progress.last_loss},
      {"threads", options.threads},
      {"timing",
       {{"wall_seconds", run.progress.wall_seconds},
        {"training_seconds", run.progress.training_seconds},
        {"prep_seconds", run.progress.prep_seconds},
        {"cpu_seconds", run.progress.cpu_seconds},
        {"segments", run.progress.segments},
        {"last_prep", run.prep}}},
      {"energy", energy},
      {"finished_unix_seconds", static_cast<double>(std::time(nullptr))}};
  // What the whole line of backbones cost, this run included: the figure a
  // report amortises over the fine-tunings.
  json total = {{"backbones", 1},
                {"steps", run.progress.step},
                {"tokens", tokens},
                {"wall_seconds", run.progress.wall_seconds},
                {"cpu_seconds", run.progress.cpu_seconds},
                {"joules", run.progress.joules},
                {"grams_co2e", run.progress.grams_co2e}};
  if (run.parent) {
    const json& parent_made = run.parent->info.value("provenance", json::object());
    made["recipe"]["embedding_init"] = "parent backbone";
    made["recipe"]["head_init"] = run.parent_head_loaded ? "parent's masked-LM head"
                                                          : "fresh masked-LM head (the parent kept none)";
    made["parent"] = {{"dir", options.init_from},
                      {"encoder_sha256", run.parent_encoder_sha256},
                      {"vocab_sha256", run.parent->tokenizer.VocabSha256()},
                      {"provenance", parent_made}};
    const json parent_total = ProvenanceTotal(parent_made);
    for (auto& item : total.items()) {
      if (!parent_total.contains(item.key()) || !parent_total[item.key()].is_number()) continue;
      if (item.value().is_number_integer()) {
        item.value() = item.value().get<int64_t>() + parent_total[item.key()].get<int64_t>();
      } else {
        item.value() = item.value().get<double>() + parent_total[item.key()].get<double>();
      }
    }
  }
  made["total"] = total;
  return made;
}

}  // namespace

const char* EmbeddingInitName(EmbeddingInit init) {
  switch (init) {
    case EmbeddingInit::kRandom: return "random";
    case EmbeddingInit::kPpmiSvd: return "ppmi-svd";
  }
  return "random";
}

Result<EmbeddingInit> ParseEmbeddingInit(const std::string& name) {
  if (name == "random") return EmbeddingInit::kRandom;
  if (name == "ppmi-svd") return EmbeddingInit::kPpmiSvd;
  return Status::InvalidArgument("--embedding-init: '" + name + "' is not one of random, ppmi-svd");
}

std::vector<int64_t> PackChunks(const std::vector<std::vector<int32_t>>& documents, int seq_len, int cls_id,
                                int sep_id) {
  std::vector<int64_t> chunks;
  const int content = seq_len - 2;
  std::vector<int64_t> pending;
  pending.reserve(content);
  auto push = [&](int64_t id) {
    pending.push_back(id);
    if (static_cast<int>(pending.size()) == content) {
      chunks.push_back(cls_id);
      chunks.insert(chunks.end(), pending.begin(), pending.end());
      chunks.push_back(sep_id);
      pending.clear();
    }
  };
  for (const auto& document : documents) {
    if (document.empty()) continue;
    for (int32_t id : document) push(id);
    push(sep_id);
  }
  return chunks;
}

Status ValidatePretrainOptions(const PretrainOptions& options) {
  if (options.out_dir.empty()) return Status::InvalidArgument("--out: a directory is required");
  if (options.steps < 0) return Status::InvalidArgument("--steps: " + std::to_string(options.steps) + " is negative");
  if (options.steps == 0 && !(options.minutes > 0)) {
    return Status::InvalidArgument("--minutes or --steps: one of them must be positive");
  }
  if (options.vocab_size < 64 || options.vocab_size > 30000) {
    return Status::InvalidArgument("--vocab-size: " + std::to_string(options.vocab_size) + " is outside [64, 30000]");
  }
  if (options.seq_len < 8 || options.seq_len > options.encoder.max_positions) {
    return Status::InvalidArgument("--seq-len: " + std::to_string(options.seq_len) + " is outside [8, " +
                                   std::to_string(options.encoder.max_positions) + "]");
  }
  if (!(options.mask_rate > 0 && options.mask_rate < 1)) {
    return Status::InvalidArgument("--mask-rate: " + std::to_string(options.mask_rate) + " is outside (0, 1)");
  }
  if (options.batch_size < 1) return Status::InvalidArgument("--batch: must be at least 1");
  if (!(options.learning_rate > 0 && options.learning_rate <= 1)) {
    return Status::InvalidArgument("--lr: " + std::to_string(options.learning_rate) + " is outside (0, 1]");
  }
  if (options.threads < 1) return Status::InvalidArgument("--threads: must be at least 1");
  if (options.heldout_chunks < 1) return Status::InvalidArgument("--heldout-chunks: must be at least 1");
  EncoderConfig config = options.encoder;
  config.vocab_size = options.vocab_size;
  return ValidateEncoderConfig(config);
}

namespace {

void AddSegment(Run& run, double process_started, double cpu_started, const EnergyReading& energy_started,
                EnergyMeter* meter, Progress* base) {
  // `base` is the progress as loaded (or zero); totals = base + this process so far.
  run.progress.wall_seconds = base->wall_seconds + (MonotonicSeconds() - process_started);
  run.progress.cpu_seconds = base->cpu_seconds + (ProcessCpuSeconds() - cpu_started);
  if (meter != nullptr) {
    const EnergyReading now = meter->Read();
    run.progress.joules = base->joules + (now.joules - energy_started.joules);
    run.progress.grams_co2e = base->grams_co2e + (now.grams_co2e - energy_started.grams_co2e);
  }
}

Result<PretrainResult> Train(Run& run, EnergyMeter* meter, double process_started, double cpu_started,
                             const EnergyReading& energy_started) {
  const PretrainOptions& options = run.options;
  const ResumeMode resume = options.resume;
  CS_RETURN_IF_ERROR(PrepareData(run, resume));

  torch::manual_seed(options.seed);
  EncoderConfig config = options.encoder;
  config.vocab_size = run.tokenizer->vocab_size();
  config.pad_id = run.tokenizer->pad_id();
  Result<Encoder> encoder = MakeEncoder(config);
  if (!encoder.ok()) return encoder.status();
  run.encoder = *encoder;
  run.encoder->set_dropout(0.0);
  run.head = MaskedLmHead(config.hidden, config.vocab_size);

  std::vector<torch::Tensor> decayed = DecayedParameters(*run.encoder, true);
  std::vector<torch::Tensor> kept = DecayedParameters(*run.encoder, false);
  for (const torch::Tensor& p : DecayedParameters(*run.head, true)) decayed.push_back(p);
  for (const torch::Tensor& p : DecayedParameters(*run.head, false)) kept.push_back(p);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(
                                   torch::optim::AdamWOptions(options.learning_rate).weight_decay(options.weight_decay)));
  groups.emplace_back(kept, std::make_unique<torch::optim::AdamWOptions>(
                                torch::optim::AdamWOptions(options.learning_rate).weight_decay(0.0)));
  run.optimizer = std::make_unique<torch::optim::AdamW>(std::move(groups),
                                                        torch::optim::AdamWOptions(options.learning_rate));

  json fingerprint = ResumeFingerprint(options, run.corpus.provenance.value("sha256", std::string()));
  if (run.parent) fingerprint["init_from_encoder_sha256"] = run.parent_encoder_sha256;
  Result<bool> loaded = LoadCheckpoint(run, fingerprint);
  if (!loaded.ok()) return loaded.status();
  if (!*loaded && run.parent) {
    CS_RETURN_IF_ERROR(LoadEncoderWeights(run.encoder, options.init_from + "/" + kBackboneWeightsFile));
    const std::string head_path = options.init_from + "/" + kMaskedLmHeadFile;
    if (FileExists(head_path)) {
      CS_RETURN_IF_ERROR(LoadArchive(run.head, head_path));
      run.parent_head_loaded = true;
    }
    std::cout << "continuing the backbone in " << options.init_from << "\n";
  } else if (!*loaded && options.embedding_init == EmbeddingInit::kPpmiSvd) {
    CS_RETURN_IF_ERROR(InitWordVectors(run));
  }
  run.documents.clear();
  run.documents.shrink_to_fit();
  Progress base = run.progress;
  base.segments += 1;
  run.progress.segments = base.segments;
  run.progress.prep_seconds = base.prep_seconds + (MonotonicSeconds() - process_started);
  base.prep_seconds = run.progress.prep_seconds;
  if (*loaded) std::cout << "resuming pre-training at step " << run.progress.step << "\n";

  int64_t planned = options.steps > 0 ? options.steps : run.progress.planned_steps;
  const double budget_seconds = options.minutes * 60.0;
  const double training_started = MonotonicSeconds();
  const double base_training_seconds = run.progress.training_seconds;
  double last_checkpoint = training_started;
  double calibration_started = 0;
  int64_t steps_this_segment = 0;
  double window_started = training_started;
  int64_t window_steps = 0;
  double window_loss = 0;
  PretrainEnd end = PretrainEnd::kFinished;

  // With --minutes the plan is not known before the first steps are timed;
  // the warmup (a fixed step count) covers that stretch.
  auto planned_or_guess = [&]() { return planned > 0 ? planned : std::max<int64_t>(run.progress.step + 1, 10 * options.warmup_steps); };
  while (planned == 0 || run.progress.step < planned) {
    const bool stop_here = options.stop_after_steps > 0 && run.progress.step >= options.stop_after_steps;
    if (stop_here || (options.stop_requested != nullptr && options.stop_requested->load())) {
      end = PretrainEnd::kInterrupted;
      break;
    }
    const int64_t step = run.progress.step;
    const double lr = LearningRateAt(step, planned_or_guess(), WarmupSteps(options, planned_or_guess()),
                                     options.learning_rate);
    for (auto& group : run.optimizer->param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    }
    torch::Generator generator = at::detail::createCPUGenerator(options.seed * 1000003ULL + 7919ULL * step + 1);
    torch::manual_seed(options.seed * 1000003ULL + 7919ULL * step + 2);
    const torch::Tensor ids = BatchRows(run, step);
    const MaskedBatch batch = MaskTokens(ids, run.masking, generator);
    const torch::Tensor hidden = run.encoder(batch.input_ids, torch::ones_like(ids));
    const torch::Tensor loss = MaskedLmLoss(run.head, hidden, run.encoder->token_embedding->weight, batch);
    run.optimizer->zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(run.encoder->parameters(), options.clip_norm);
    run.optimizer->step();
    const double loss_value = loss.item<double>();
    if (!std::isfinite(loss_value)) {
      return Status::Internal("pretrain: the loss became " + std::to_string(loss_value) + " at step " +
                              std::to_string(step) + "; lower --lr");
    }
    run.progress.step += 1;
    run.progress.last_loss = loss_value;
    ++steps_this_segment;
    window_loss += loss_value;
    ++window_steps;

    const double now = MonotonicSeconds();
    run.progress.training_seconds = base_training_seconds + (now - training_started);
    if (planned == 0) {
      if (steps_this_segment == kCalibrationSkip) calibration_started = now;
      if (steps_this_segment == kCalibrationSkip + kCalibrationSteps) {
        const double seconds_per_step = (now - calibration_started) / kCalibrationSteps;
        const double left = budget_seconds - run.progress.training_seconds;
        planned = run.progress.step + std::max<int64_t>(0, static_cast<int64_t>(left / seconds_per_step));
        run.progress.planned_steps = planned;
        std::cout << "planned " << planned << " steps (" << seconds_per_step << " s/step for "
                  << options.minutes << " minutes)\n";
      }
    }
    if (window_steps == options.log_every_steps || run.progress.step == planned) {
      const double tokens_per_second =
          window_steps * options.batch_size * options.seq_len / std::max(1e-9, now - window_started);
      std::printf("step %lld/%lld loss %.4f lr %.2e %.0f tokens/s\n", static_cast<long long>(run.progress.step),
                  static_cast<long long>(planned), window_loss / window_steps, lr, tokens_per_second);
      std::fflush(stdout);
      window_started = now;
      window_steps = 0;
      window_loss = 0;
    }
    if (now - last_checkpoint >= options.checkpoint_seconds) {
      AddSegment(run, process_started, cpu_started, energy_started, meter, &base);
      CS_RETURN_IF_ERROR(SaveCheckpoint(run, fingerprint));
      last_checkpoint = MonotonicSeconds();
    }
  }

  AddSegment(run, process_started, cpu_started, energy_started, meter, &base);
  PretrainResult result;
  result.end = end;
  if (end == PretrainEnd::kInterrupted) {
    CS_RETURN_IF_ERROR(SaveCheckpoint(run, fingerprint));
    result.provenance = MakeProvenance(run, planned, 0, 0, meter, "interrupted");
    return result;
  }
  const double heldout_loss = HeldoutLoss(run);
  const double unigram_loss = HeldoutUnigramLoss(run);
  std::printf("held-out masked-LM loss %.4f nats (unigram frequencies alone: %.4f)\n", heldout_loss, unigram_loss);
  AddSegment(run, process_started, cpu_started, energy_started, meter, &base);
  result.provenance = MakeProvenance(run, planned, heldout_loss, unigram_loss, meter, "finished");
  run.encoder->set_dropout(options.encoder.dropout);
  CS_RETURN_IF_ERROR(SaveBackbone(options.out_dir, run.encoder, *run.tokenizer, result.provenance));
  // Not needed to fine-tune; kept so that --init-from continues with it.
  CS_RETURN_IF_ERROR(SaveArchiveAtomic(run.head, options.out_dir + "/" + kMaskedLmHeadFile));
  std::error_code ignored;
  fs::remove_all(run.checkpoint_dir, ignored);  // the backbone is complete: the checkpoint has served.
  return result;
}

}  // namespace

Result<PretrainResult> RunPretraining(const PretrainOptions& options_in, EnergyMeter* meter) {
  CS_RETURN_IF_ERROR(ValidatePretrainOptions(options_in));
  const double process_started = MonotonicSeconds();
  const double cpu_started = ProcessCpuSeconds();
  const EnergyReading energy_started = meter != nullptr ? meter->Read() : EnergyReading{};
  torch::set_num_threads(options_in.threads);
  KeepFreedMemoryForReuse();

  Run run;
  run.options = options_in;
  run.checkpoint_dir = options_in.out_dir + "/" + kCheckpointDir;
  CS_RETURN_IF_ERROR(MakeDirs(run.checkpoint_dir));
  const bool has_checkpoint = FileExists(run.checkpoint_dir + "/" + kStateFile);
  if (has_checkpoint && options_in.resume == ResumeMode::kFresh) {
    return Status::InvalidArgument(run.checkpoint_dir + ": a pre-training checkpoint exists; pass --resume to "
                                   "continue it or remove the directory to start over");
  }
  run.options.resume = has_checkpoint ? ResumeMode::kResume : ResumeMode::kFresh;
  run.heldout_seed = options_in.seed;
  if (!options_in.init_from.empty()) {
    Result<LoadedBackbone> parent = LoadBackbone(options_in.init_from, BackboneWeights::kPretrained);
    if (!parent.ok()) return parent.status().WithPrefix("--init-from");
    Result<std::string> sha = Sha256OfFile(options_in.init_from + "/" + kBackboneWeightsFile);
    if (!sha.ok()) return sha.status().WithPrefix("--init-from");
    run.parent_encoder_sha256 = *sha;
    run.options.encoder = parent->config;
    run.options.vocab_size = parent->tokenizer.vocab_size();
    if (run.options.seq_len > parent->config.max_positions) {
      return Status::InvalidArgument("--seq-len: " + std::to_string(run.options.seq_len) + " is more than the " +
                                     std::to_string(parent->config.max_positions) + " positions of " +
                                     options_in.init_from);
    }
    // The parent's held-out seed (itself inherited along a line), else its seed.
    const json& parent_made = parent->info.value("provenance", json::object());
    const json parent_heldout = parent_made.value("heldout", json::object());
    if (parent_heldout.contains("seed") && parent_heldout["seed"].is_number_unsigned()) {
      run.heldout_seed = parent_heldout["seed"].get<uint64_t>();
    } else if (parent_made.contains("seed") && parent_made["seed"].is_number_unsigned()) {
      run.heldout_seed = parent_made["seed"].get<uint64_t>();
    }
    run.parent.emplace(std::move(*parent));
  }
  try {
    return Train(run, meter, process_started, cpu_started, energy_started);
  } catch (const c10::Error& error) {
    return Status::Internal(std::string("pretrain: libtorch failed: ") + error.what_without_backtrace());
  } catch (const std::exception& error) {
    return Status::Internal(std::string("pretrain: ") + error.what());
  }
}

}  // namespace cs
