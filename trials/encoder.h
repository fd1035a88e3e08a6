// Encoder: the small transformer encoder every trial fine-tunes and
// `carbonsweep pretrain` pre-trains (about 1-5M parameters, BERT-shaped).
//
// Callers: the trial (trials/classifier.h adds the head), pre-training, tests.
// Thread safety: a module is used by one thread at a time (libtorch's own
// intra-op threads run inside each call); torch::set_num_threads is the
// caller's business.
//
// Architecture (written out by hand for speed, see bench/python/trainer_ref.py
// for the same model in plain PyTorch):
//   x = LayerNorm(token_embedding[ids] + position_embedding[0..T)); dropout
//   for each layer (PRE-LayerNorm, as in GPT-2 / Xiong et al. 2020, because it
//   trains stably from scratch at the learning rates a sweep tries, with or
//   without warmup):
//     x = x + dropout(out_proj(attention(LayerNorm1(x))))
//     x = x + dropout(ff2(dropout(gelu(ff1(LayerNorm2(x))))))
//   hidden = final LayerNorm(x)                                   -> [B, T, H]
// Attention uses ONE fused QKV Linear (H -> 3H) and batched matmuls; padded
// keys are masked with -inf-like bias; attention probabilities get dropout
// as in BERT. GELU is the exact (erf) form.
//
// Dropout masks come from EncoderDropout() below: one 64-bit seed is drawn
// from torch's default CPU generator per call and the mask is filled in
// parallel from a counter-based hash. So torch::manual_seed still fixes every
// mask, the generator state in a checkpoint still resumes them, and the mask
// does not depend on the thread count - but it costs a fraction of
// torch::dropout's serial Bernoulli sampling (which took 40-45% of a training
// step on our CPUs).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/status.h"

namespace cs {

// The shape of an encoder. Persisted in backbone.json ("encoder" object):
// never rename a field; new fields get a default that reproduces old files.
struct EncoderConfig {
  int vocab_size = 0;        // rows of the token embedding (= the vocab.txt's lines).
  int hidden = 128;          // width H of every token's vector.
  int layers = 4;            // transformer layers.
  int heads = 4;             // attention heads; must divide hidden.
  int ff = 512;              // width of the feed-forward block.
  int max_positions = 512;   // learned position embeddings (longest sequence).
  double dropout = 0.1;      // dropout probability everywhere in the encoder.
  int pad_id = 0;            // the [PAD] id (its embedding row starts at zero).
};

nlohmann::json EncoderConfigToJson(const EncoderConfig& config);
// Refuses missing/ill-typed fields and impossible shapes, naming the field:
// "encoder.heads: 3 does not divide hidden 128".
Result<EncoderConfig> EncoderConfigFromJson(const nlohmann::json& object);
// The same checks on a config built in code.
Status ValidateEncoderConfig(const EncoderConfig& config);

// Dropout with a cheap, deterministic, thread-count-independent mask (see the
// file comment). Identity when !training or probability == 0.
torch::Tensor EncoderDropout(const torch::Tensor& input, double probability, bool training);

// One pre-LN transformer layer. Parameters: qkv, out_proj, ff1, ff2, ln1, ln2.
class EncoderLayerImpl : public torch::nn::Module {
 public:
  explicit EncoderLayerImpl(const EncoderConfig& config);
  // x [B, T, H]; key_bias [B, 1, 1, T] additive (0 real token, large negative
  // pad), or an undefined tensor when no key is padded.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_bias);

  void set_dropout(double probability) { dropout_ = probability; }

  torch::nn::Linear qkv{nullptr}, out_proj{nullptr}, ff1{nullptr}, ff2{nullptr};
  torch::nn::LayerNorm ln1{nullptr}, ln2{nullptr};

 private:
  int heads_;
  double dropout_;
};
TORCH_MODULE(EncoderLayer);

class EncoderImpl : public torch::nn::Module {
 public:
  explicit EncoderImpl(const EncoderConfig& config);

  // ids [B, T] int64 (T <= max_positions); attention_mask [B, T], nonzero =
  // real token, 0 = padding (any dtype). Returns hidden states [B, T, H].
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& attention_mask);

  const EncoderConfig& config() const { return config_; }
  int num_layers() const { return static_cast<int>(layers_.size()); }
  // Layer i, 0 = nearest the embeddings, num_layers()-1 = top.
  EncoderLayer layer(int i) const { return layers_[i]; }
  // Token + position embeddings and their LayerNorm: the "bottom" of the
  // encoder, frozen whenever not all layers are trained.
  std::vector<torch::Tensor> EmbeddingParameters() const;
  // The final LayerNorm: trained together with the top layer.
  torch::nn::LayerNorm final_norm() const { return final_norm_; }
  // Changes the dropout of every part (a trial's params.dropout overrides
  // what the backbone was pre-trained with).
  void set_dropout(double probability);

  torch::nn::Embedding token_embedding{nullptr}, position_embedding{nullptr};
  torch::nn::LayerNorm embedding_norm{nullptr};

 private:
  EncoderConfig config_;
  std::vector<EncoderLayer> layers_;
  torch::nn::LayerNorm final_norm_{nullptr};
};
TORCH_MODULE(Encoder);

// Builds an encoder with the project's initialisation (normal std 0.02 for
// Linear and Embedding weights as in BERT, zero biases, [PAD] row zero), using
// torch's default generator: call torch::manual_seed first.
Result<Encoder> MakeEncoder(const EncoderConfig& config);

// The weights alone (torch::save archive), written atomically; the config
// lives beside them in backbone.json (trials/backbone.h).
Status SaveEncoderWeights(Encoder encoder, const std::string& path);
// Loads into an encoder built from the matching config; a shape mismatch or
// unreadable file is an error naming `path`.
Status LoadEncoderWeights(Encoder encoder, const std::string& path);

int64_t CountParameters(const torch::nn::Module& module);

}  // namespace cs
