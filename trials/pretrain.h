// Pre-training of the backbone: `carbonsweep pretrain` trains the encoder of
// trials/encoder.h as a masked language model on unlabelled text and writes
// a backbone directory (trials/backbone.h) whose backbone.json says how it
// was made and what it cost.
//
// The recipe, chosen so that pre-training pays off on 2 CPU cores:
//  1. a WordPiece vocab (default 8k) trained on the corpus itself;
//  2. the corpus tokenized once and cut into full chunks of seq_len tokens
//     ([CLS] ... [SEP], documents joined by [SEP], no padding);
//  3. token embeddings initialised from PPMI + truncated-SVD word vectors of
//     the same corpus (trials/pretrain_vectors.h): seconds of work that put
//     words used alike near each other before the first step;
//  4. masked-LM with a high mask rate (default 30%), logits only at masked
//     positions and tied to the embedding (trials/pretrain_mlm.h), no dropout
//     (less than a few epochs of data: nothing to regularise, and it is slow);
//  5. AdamW, linear warmup then linear decay to zero over the planned steps.
// --init-from continues a finished backbone instead (steps 1 and 3 come from
// it): more steps later, on the same or another corpus.
// With --minutes the planned step count is fixed after timing the first
// steps, so the schedule (and a resumed run) depends on the step alone.
// Everything random is a function of (seed, step): a resumed run continues
// exactly where the checkpoint left it.
//
// Energy is metered by the caller (the CLI owns the carbon module): it hands
// in an EnergyMeter; trials/ never includes carbon/.
//
// Thread safety: RunPretraining is meant for one thread of a process; it sets
// torch's thread count.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "trials/corpus.h"
#include "trials/encoder.h"
#include "trials/pretrain_vectors.h"

namespace cs {

// How the token embeddings start.
enum class EmbeddingInit {
  kRandom = 0,   // MakeEncoder's normal(0, 0.02).
  kPpmiSvd = 1,  // word vectors from the corpus (rows of unseen ids stay random).
};
const char* EmbeddingInitName(EmbeddingInit init);
Result<EmbeddingInit> ParseEmbeddingInit(const std::string& name);

// Whether an existing checkpoint in <out>/checkpoint is continued.
enum class ResumeMode {
  kFresh = 0,   // start over (an existing checkpoint is refused, to not lose it silently).
  kResume = 1,  // continue the checkpoint; start fresh when there is none.
};

// Energy the whole process has used since it started metering; supplied by
// the caller (the CLI wraps carbon/sampler.h's self-meter).
struct EnergyReading {
  double joules = 0;       // CPU + RAM, at the meter (before PUE).
  double grams_co2e = 0;   // at the intensity in force, with PUE.
};
class EnergyMeter {
 public:
  virtual ~EnergyMeter() = default;
  // Totals so far (takes a reading first).
  virtual EnergyReading Read() = 0;
  // Methods, constants, intensity: stored in backbone.json as "energy_method".
  virtual nlohmann::json Describe() const = 0;
};

struct PretrainOptions {
  std::string out_dir;             // backbone directory written at the end; checkpoint in <out>/checkpoint.
  double minutes = 0;              // training-step budget in wall minutes (> 0 unless steps is set).
  int64_t steps = 0;               // exact optimizer steps (> 0 unless minutes is set; wins over minutes).
  int vocab_size = 8000;           // WordPiece vocab size, specials included.
  int vocab_min_frequency = 2;     // characters rarer than this get no token.
  int seq_len = 128;               // tokens per chunk incl. [CLS] and [SEP]; the trials' max_seq_len.
  double mask_rate = 0.3;          // share of tokens predicted per chunk.
  int batch_size = 64;             // chunks per optimizer step.
  double learning_rate = 1e-3;     // peak AdamW step size.
  int warmup_steps = 300;          // linear warmup (at most a tenth of the planned steps).
  double weight_decay = 0.01;      // AdamW decoupled decay, not on biases and LayerNorms.
  double clip_norm = 1.0;          // gradient L2 norm clip.
  int threads = 2;                 // torch intra-op threads (and tokenizer threads).
  uint64_t seed = 0;               // seeds init, data order, masking.
  // Shape; vocab_size is set from the trained vocab. Pre-training runs it with
  // dropout 0 and stores `encoder.dropout` for the fine-tuning that follows.
  EncoderConfig encoder;
  EmbeddingInit embedding_init = EmbeddingInit::kPpmiSvd;
  // A finished backbone directory to continue pre-training from (--init-from):
  // its vocab, shape and encoder weights replace vocab_size, encoder and the
  // embedding init; the masked-LM head starts fresh (backbones do not keep it).
  // backbone.json then records the parent and the footprint of the whole line.
  std::string init_from;
  WordVectorOptions vectors;       // dims is set to encoder.hidden.
  double vector_row_norm = 1.0;    // L2 norm of every initialised embedding row.
  PretrainCorpusOptions corpus;    // books and speeches (+ a task's unlabelled pool).
  int heldout_chunks = 256;        // chunks never trained on, for the held-out MLM loss.
  double checkpoint_seconds = 300; // wall seconds between checkpoints.
  int log_every_steps = 50;        // progress lines on stdout.
  ResumeMode resume = ResumeMode::kFresh;
  // > 0: stop as if interrupted once this many steps are done (tests, and
  // splitting a long run into sessions); the checkpoint resumes it.
  int64_t stop_after_steps = 0;
  // Set (e.g. by a signal handler) to stop at the next step boundary with a checkpoint.
  const std::atomic<bool>* stop_requested = nullptr;
};

enum class PretrainEnd {
  kFinished = 0,     // the backbone directory is complete.
  kInterrupted = 1,  // stopped on request; the checkpoint resumes it (--resume).
};

struct PretrainResult {
  PretrainEnd end = PretrainEnd::kFinished;
  nlohmann::json provenance;  // what backbone.json's "provenance" holds (also when interrupted: so far).
};

// Runs (or resumes) pre-training. `meter` may be null (energy then reported
// as not measured). Errors: bad options, a missing data cache, unwritable
// out_dir, a checkpoint made with different options.
Result<PretrainResult> RunPretraining(const PretrainOptions& options, EnergyMeter* meter);

// Checks the options alone (ranges, minutes/steps), naming the flag.
Status ValidatePretrainOptions(const PretrainOptions& options);

// Cuts token sequences into chunks of exactly `seq_len` ids: [CLS], seq_len-2
// tokens of the concatenated documents (each followed by [SEP]), [SEP]. The
// tail that does not fill a chunk is dropped. Row-major [rows * seq_len].
std::vector<int64_t> PackChunks(const std::vector<std::vector<int32_t>>& documents, int seq_len, int cls_id,
                                int sep_id);

}  // namespace cs
