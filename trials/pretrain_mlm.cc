#include "trials/pretrain_mlm.h"

namespace cs {

MaskedBatch MaskTokens(const torch::Tensor& ids, const MaskingOptions& options, torch::Generator& generator) {
  torch::NoGradGuard no_grad;
  torch::Tensor eligible = torch::ones_like(ids, torch::kBool);
  for (int64_t special : options.special_ids) eligible &= ids != special;
  torch::Tensor chosen = (torch::rand(ids.sizes(), generator) < options.mask_rate) & eligible;
  if (!chosen.any().item<bool>() && eligible.any().item<bool>()) {
    // A tiny batch can draw nothing; predict its first eligible token instead.
    chosen.view(-1).index_put_({eligible.view(-1).nonzero().select(1, 0).select(0, 0)}, true);
  }
  const torch::Tensor roll = torch::rand(ids.sizes(), generator);
  const torch::Tensor to_mask = chosen & (roll < 0.8);
  const torch::Tensor to_random = chosen & (roll >= 0.8) & (roll < 0.9);
  // Random replacements: ordinary ids only, redrawn where a special was hit.
  torch::Tensor random_ids = torch::randint(0, options.vocab_size, ids.sizes(), generator, torch::kInt64);
  torch::Tensor random_is_special = torch::zeros_like(ids, torch::kBool);
  for (int64_t special : options.special_ids) random_is_special |= random_ids == special;
  random_ids = torch::where(random_is_special, ids, random_ids);

  torch::Tensor input_ids = torch::where(to_mask, torch::full_like(ids, options.mask_id), ids);
  input_ids = torch::where(to_random, random_ids, input_ids);
  const torch::Tensor positions = chosen.view(-1).nonzero().select(1, 0);
  return MaskedBatch{input_ids, positions, ids.reshape(-1).index_select(0, positions)};
}

MaskedLmHeadImpl::MaskedLmHeadImpl(int hidden, int vocab_size) {
  transform = register_module("transform", torch::nn::Linear(hidden, hidden));
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));
  bias = register_parameter("bias", torch::zeros({vocab_size}));
  torch::NoGradGuard no_grad;
  transform->weight.normal_(0.0, 0.02);
  transform->bias.zero_();
}

torch::Tensor MaskedLmHeadImpl::forward(const torch::Tensor& rows, const torch::Tensor& embedding) {
  const torch::Tensor x = norm(torch::gelu(transform(rows)));
  return torch::addmm(bias, x, embedding.t());
}

torch::Tensor GatherPositions(const torch::Tensor& hidden, const torch::Tensor& positions) {
  return hidden.reshape({-1, hidden.size(-1)}).index_select(0, positions);
}

torch::Tensor MaskedLmLoss(MaskedLmHead& head, const torch::Tensor& hidden, const torch::Tensor& embedding,
                           const MaskedBatch& batch) {
  const torch::Tensor logits = head(GatherPositions(hidden, batch.positions), embedding);
  return torch::nn::functional::cross_entropy(logits, batch.targets);
}

}  // namespace cs
