// The masked-language-model objective of pre-training: which tokens are
// masked, and the output head that predicts them.
//
// The head computes vocabulary logits ONLY at the masked positions: with an
// 8k vocabulary the projection onto the vocabulary costs more than the whole
// encoder when it runs over every position, and the loss never looks at the
// other positions anyway. The projection is tied to the encoder's token
// embedding (BERT), so the head adds only H*H + 3H + V parameters.
//
// Callers: trials/pretrain.cc, tests. Thread safety: one thread per module.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace cs {

// What MaskTokens may do.
struct MaskingOptions {
  double mask_rate = 0.3;          // share of ordinary tokens chosen for prediction.
  int mask_id = -1;                // the [MASK] id.
  int vocab_size = 0;              // random replacements are drawn from ordinary ids.
  std::vector<int64_t> special_ids;  // never chosen, never drawn ([PAD] [UNK] [CLS] [SEP] [MASK]).
};

// One batch after masking.
struct MaskedBatch {
  torch::Tensor input_ids;  // [B, T] int64: chosen tokens replaced (80% [MASK], 10% random, 10% kept, as BERT).
  torch::Tensor positions;  // [N] int64: flat indices (row * T + column) of the chosen tokens.
  torch::Tensor targets;    // [N] int64: their original ids.
};

// Chooses about mask_rate of the non-special tokens of `ids` [B, T] (int64)
// with `generator`. At least one token is chosen when any is eligible, so a
// step always has a loss.
MaskedBatch MaskTokens(const torch::Tensor& ids, const MaskingOptions& options, torch::Generator& generator);

// dense(H->H) + GELU + LayerNorm, then logits = x * token_embedding^T + bias.
class MaskedLmHeadImpl : public torch::nn::Module {
 public:
  MaskedLmHeadImpl(int hidden, int vocab_size);
  // rows [N, H] (hidden states at the masked positions), embedding [V, H] -> logits [N, V].
  torch::Tensor forward(const torch::Tensor& rows, const torch::Tensor& embedding);

  torch::nn::Linear transform{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::Tensor bias;
};
TORCH_MODULE(MaskedLmHead);

// The hidden states [B, T, H] at flat `positions` [N]: [N, H].
torch::Tensor GatherPositions(const torch::Tensor& hidden, const torch::Tensor& positions);

// Mean cross-entropy of the head's predictions at the masked positions only.
torch::Tensor MaskedLmLoss(MaskedLmHead& head, const torch::Tensor& hidden, const torch::Tensor& embedding,
                           const MaskedBatch& batch);

}  // namespace cs
