// SequenceClassifier: a backbone (the project's Encoder, or a user's
// TorchScript encoder) plus a classification head - the model a trial
// fine-tunes.
//
// Pooling: the head reads the MEAN of the hidden states of the real tokens
// ([CLS] and [SEP] included, padding excluded), then dropout, then one Linear
// (H -> classes). Mean pooling rather than [CLS] because a small encoder
// trained for minutes has not learnt to gather a sentence into [CLS]; the
// mean carries every token's evidence from the first step.
//
// Callers: the fine-tuning loop (trials/finetune.h), checkpoints, tests.
// Thread safety: one thread at a time.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/script.h>
#include <torch/torch.h>

#include "trials/encoder.h"

namespace cs {

// Parameters the optimizer trains, split as AdamW needs them.
struct TrainableParameters {
  std::vector<torch::Tensor> decay;     // matrices and embeddings: weight decay applies.
  std::vector<torch::Tensor> no_decay;  // 1-D tensors (biases, LayerNorm scales and shifts): never decayed.
};

class SequenceClassifier {
 public:
  // The project's encoder; the head is initialised from torch's generator.
  SequenceClassifier(Encoder encoder, int num_classes, double dropout);
  // A user's TorchScript encoder whose hidden states are `hidden` wide.
  SequenceClassifier(torch::jit::Module scripted, int hidden, int num_classes, double dropout);

  // ids [B, T] int64, attention_mask [B, T] int64 (1 real, 0 pad) -> logits [B, classes].
  torch::Tensor Forward(const torch::Tensor& ids, const torch::Tensor& attention_mask);
  // Training mode (dropout on) or evaluation mode, for backbone and head.
  void SetTraining(bool training);

  // Freezes everything, then unfreezes the head and the top `trained_layers`
  // encoder layers (with the final LayerNorm); -1 or >= the layer count
  // unfreezes all, embeddings included. A TorchScript backbone has no known
  // layer structure: 0 trains the head only, anything else trains it all.
  // Returns what is left trainable.
  TrainableParameters Freeze(int trained_layers);

  // Every parameter by a stable name ("encoder.layer3.qkv.weight",
  // "head.weight"), trainable or not: what checkpoints store.
  std::vector<std::pair<std::string, torch::Tensor>> NamedParameters() const;

  int num_classes() const { return num_classes_; }
  // The native encoder, or nullptr for a TorchScript backbone.
  Encoder encoder() const { return encoder_; }

 private:
  Encoder encoder_{nullptr};
  std::optional<torch::jit::Module> scripted_;
  torch::nn::Linear head_{nullptr};
  int num_classes_;
  double dropout_;
  bool training_ = true;
};

// Mean of hidden [B, T, H] over positions where attention_mask [B, T] is
// nonzero -> [B, H].
torch::Tensor MeanPool(const torch::Tensor& hidden, const torch::Tensor& attention_mask);

}  // namespace cs
