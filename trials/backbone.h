// The backbone a trial starts from: a directory holding a pre-trained
// encoder, its vocab and how it was made, or a user's TorchScript encoder.
//
//   <dir>/encoder.pt      the encoder's weights (SaveEncoderWeights)
//   <dir>/vocab.txt       the WordPiece vocab (one token per line)
//   <dir>/backbone.json   {"format":1,"encoder":{EncoderConfig},"case":"lowercase",
//                          "provenance":{...written by `carbonsweep pretrain`...}}
//
// Callers: `carbonsweep pretrain` (SaveBackbone), the trial (loading and
// resolution), tests. Thread safety: plain functions; the returned modules
// follow the rules of trials/encoder.h.
#pragma once

#include <string>

#include <nlohmann/json.hpp>
#include <torch/script.h>
#include <torch/torch.h>

#include "common/status.h"
#include "trials/backbone_dir.h"  // the file names and ResolveBackboneDir.
#include "trials/encoder.h"
#include "trials/tokenizer.h"

namespace cs {

constexpr int kBackboneFormat = 1;

// Writes the three files (each atomically). `provenance` is stored as given
// (corpus checksums, seed, steps, tokens, seconds, joules, grams_co2e ...).
Status SaveBackbone(const std::string& dir, Encoder encoder, const WordPieceTokenizer& tokenizer,
                    const nlohmann::json& provenance);

// What a backbone directory holds, loaded.
struct LoadedBackbone {
  std::string dir;
  EncoderConfig config;
  WordPieceTokenizer tokenizer;
  nlohmann::json info;    // the whole backbone.json.
  Encoder encoder{nullptr};  // weights loaded (or freshly initialised, see below).
};

// Whether LoadBackbone reads encoder.pt or only the architecture and vocab.
enum class BackboneWeights {
  kPretrained = 0,  // encoder.pt loaded: the normal case.
  kRandomInit = 1,  // same architecture, MakeEncoder's random init (`--from-scratch`).
};

// Loads `dir`. Errors name the missing/bad file and field. kRandomInit needs
// no encoder.pt and draws the init from torch's default generator.
Result<LoadedBackbone> LoadBackbone(const std::string& dir, BackboneWeights weights);

// A user's encoder exported with TorchScript (torch.jit.trace/script) whose
// forward(ids [B,T] int64, mask [B,T] int64) returns hidden states [B,T,H]
// or a tuple/list whose first element is that. A forward with a third input
// (a traced Hugging Face BERT: input_ids, attention_mask, token_type_ids) is
// given zeros there: one segment. The vocab's case handling is detected
// (WordPieceTokenizer::DetectCaseHandling): a cased BERT's text keeps its case.
struct ScriptedBackbone {
  torch::jit::Module module;
  WordPieceTokenizer tokenizer;
  int hidden = 0;  // H, found by running the module once on a tiny input.
  bool takes_token_type_ids = false;
};
Result<ScriptedBackbone> LoadScriptedBackbone(const std::string& model_path, const std::string& vocab_path);
// Runs the scripted module and unwraps its output to the [B,T,H] tensor.
torch::Tensor RunScriptedEncoder(torch::jit::Module& module, const torch::Tensor& ids,
                                 const torch::Tensor& attention_mask);

}  // namespace cs
