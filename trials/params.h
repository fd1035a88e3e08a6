// TrialParams: the hyperparameters of one fine-tuning trial, their allowed
// ranges, and their validation. No libtorch here: the orchestrator and the
// search spaces check parameters before anything runs.
//
// The JSON names below are a stable interface (`carbonsweep trial --params`,
// search-space files, the store): never rename one; add new ones with a
// default that reproduces the old behaviour.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace cs {

// How a review longer than max_seq_len is cut down to fit.
enum class Truncation {
  kHead = 0,     // the first tokens only.
  kHeadTail = 1, // the first quarter and the last three quarters of the window (Sun et al. 2019).
};

struct TrialParams {
  double learning_rate = 1e-3;  // peak AdamW step size.
  int batch_size = 32;          // sequences per optimizer step.
  int epochs = 3;               // passes over the training set.
  double warmup_ratio = 0.1;    // share of steps with linear warmup; linear decay after.
  double weight_decay = 0.01;   // AdamW decoupled weight decay (not on biases/LayerNorm).
  double dropout = 0.1;         // dropout in the encoder and before the head.
  int max_seq_len = 128;        // tokens per sequence incl. [CLS] and [SEP].
  int trained_layers = -1;      // top encoder layers trained: 0 = head only, -1 = all.
  Truncation truncation = Truncation::kHeadTail;
  int seed = 0;                 // seeds initialisation, shuffling and dropout.
};

// One hyperparameter's name, kind and allowed range, for messages and search spaces.
struct ParamSpec {
  std::string name;
  enum class Kind { kReal, kInteger, kChoice } kind;
  double min = 0;   // inclusive, for kReal and kInteger.
  double max = 0;   // inclusive.
  std::vector<std::string> choices;  // for kChoice.
  std::string help;                  // one sentence.
};

// Every known hyperparameter, in a stable order.
const std::vector<ParamSpec>& TrialParamSpecs();
// nullptr when `name` is not a hyperparameter.
const ParamSpec* FindParamSpec(const std::string& name);

// Parses a JSON object; missing fields keep their defaults. Unknown names and
// out-of-range values are refused: "params.learning_rate: 3 is outside [1e-07, 1]".
Result<TrialParams> ParseTrialParams(const nlohmann::json& object);
// Checks one value against its spec, with the same messages.
Status ValidateParam(const std::string& name, const nlohmann::json& value);
// The full object with every field, suitable for ParseTrialParams.
nlohmann::json TrialParamsToJson(const TrialParams& params);

const char* TruncationName(Truncation truncation);

}  // namespace cs
