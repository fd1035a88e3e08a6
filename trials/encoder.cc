#include "trials/encoder.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>
#include <exception>
#include <fstream>

#include "common/files.h"

namespace cs {

namespace {

// Bias given to padded keys before the softmax: large enough to vanish after
// exp(), small enough that a fully padded row (never built by the trial)
// would still not produce NaN.
constexpr float kPadKeyBias = -1e9f;

// splitmix64: a counter-based hash with full-period, well-mixed output.
inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Fills `mask` (float, contiguous) with 0 or `scale`: element i is dropped
// when its 16-bit slice of SplitMix64(seed + i / 4) is below `threshold`.
void FillDropoutMask(float* mask, int64_t count, uint64_t seed, uint32_t threshold, float scale) {
  const int64_t words = (count + 3) / 4;
  at::parallel_for(0, words, /*grain_size=*/4096, [&](int64_t begin, int64_t end) {
    for (int64_t w = begin; w < end; ++w) {
      uint64_t bits = SplitMix64(seed + static_cast<uint64_t>(w));
      int64_t base = w * 4;
      int64_t stop = std::min<int64_t>(base + 4, count);
      for (int64_t i = base; i < stop; ++i, bits >>= 16) {
        mask[i] = (bits & 0xffff) < threshold ? 0.0f : scale;
      }
    }
  });
}

void InitLinear(torch::nn::Linear& linear) {
  torch::nn::init::normal_(linear->weight, 0.0, 0.02);
  if (linear->bias.defined()) torch::nn::init::zeros_(linear->bias);
}

}  // namespace

nlohmann::json EncoderConfigToJson(const EncoderConfig& config) {
  return {{"vocab_size", config.vocab_size}, {"hidden", config.hidden},
          {"layers", config.layers},         {"heads", config.heads},
          {"ff", config.ff},                 {"max_positions", config.max_positions},
          {"dropout", config.dropout},       {"pad_id", config.pad_id}};
}

Status ValidateEncoderConfig(const EncoderConfig& config) {
  auto positive = [](const char* field, int value) -> Status {
    if (value > 0) return Status::Ok();
    return Status::InvalidArgument(std::string("encoder.") + field + ": " + std::to_string(value) +
                                   " is not a positive integer");
  };
  CS_RETURN_IF_ERROR(positive("vocab_size", config.vocab_size));
  CS_RETURN_IF_ERROR(positive("hidden", config.hidden));
  CS_RETURN_IF_ERROR(positive("layers", config.layers));
  CS_RETURN_IF_ERROR(positive("heads", config.heads));
  CS_RETURN_IF_ERROR(positive("ff", config.ff));
  CS_RETURN_IF_ERROR(positive("max_positions", config.max_positions));
  if (config.hidden % config.heads != 0) {
    return Status::InvalidArgument("encoder.heads: " + std::to_string(config.heads) + " does not divide hidden " +
                                   std::to_string(config.hidden));
  }
  if (!(config.dropout >= 0.0 && config.dropout < 1.0)) {
    return Status::InvalidArgument("encoder.dropout: " + std::to_string(config.dropout) + " is outside [0, 1)");
  }
  if (config.pad_id < 0 || config.pad_id >= config.vocab_size) {
    return Status::InvalidArgument("encoder.pad_id: " + std::to_string(config.pad_id) + " is outside [0, " +
                                   std::to_string(config.vocab_size) + ")");
  }
  return Status::Ok();
}

Result<EncoderConfig> EncoderConfigFromJson(const nlohmann::json& object) {
  if (!object.is_object()) return Status::InvalidArgument("encoder: expected a JSON object");
  EncoderConfig config;
  auto read_int = [&](const char* field, int* out) -> Status {
    if (!object.contains(field)) return Status::InvalidArgument(std::string("encoder.") + field + ": missing");
    const nlohmann::json& value = object[field];
    if (!value.is_number_integer()) {
      return Status::InvalidArgument(std::string("encoder.") + field + ": expected an integer, got " + value.dump());
    }
    *out = value.get<int>();
    return Status::Ok();
  };
  CS_RETURN_IF_ERROR(read_int("vocab_size", &config.vocab_size));
  CS_RETURN_IF_ERROR(read_int("hidden", &config.hidden));
  CS_RETURN_IF_ERROR(read_int("layers", &config.layers));
  CS_RETURN_IF_ERROR(read_int("heads", &config.heads));
  CS_RETURN_IF_ERROR(read_int("ff", &config.ff));
  CS_RETURN_IF_ERROR(read_int("max_positions", &config.max_positions));
  CS_RETURN_IF_ERROR(read_int("pad_id", &config.pad_id));
  if (!object.contains("dropout") || !object["dropout"].is_number()) {
    return Status::InvalidArgument("encoder.dropout: missing or not a number");
  }
  config.dropout = object["dropout"].get<double>();
  for (const auto& item : object.items()) {
    if (!EncoderConfigToJson(config).contains(item.key())) {
      return Status::InvalidArgument("encoder." + item.key() + ": unknown field");
    }
  }
  CS_RETURN_IF_ERROR(ValidateEncoderConfig(config));
  return config;
}

torch::Tensor EncoderDropout(const torch::Tensor& input, double probability, bool training) {
  if (!training || probability <= 0.0) return input;
  // One draw from torch's generator per call keeps manual_seed and saved
  // generator states in charge of every mask.
  uint64_t seed;
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    seed = at::check_generator<at::CPUGeneratorImpl>(generator)->random64();
  }
  auto mask = torch::empty(input.sizes(), input.options().requires_grad(false));
  uint32_t threshold = static_cast<uint32_t>(std::lround(probability * 65536.0));
  FillDropoutMask(mask.data_ptr<float>(), mask.numel(), seed, threshold,
                  static_cast<float>(1.0 / (1.0 - probability)));
  return input * mask;
}

EncoderLayerImpl::EncoderLayerImpl(const EncoderConfig& config) : heads_(config.heads), dropout_(config.dropout) {
  qkv = register_module("qkv", torch::nn::Linear(config.hidden, 3 * config.hidden));
  out_proj = register_module("out_proj", torch::nn::Linear(config.hidden, config.hidden));
  ff1 = register_module("ff1", torch::nn::Linear(config.hidden, config.ff));
  ff2 = register_module("ff2", torch::nn::Linear(config.ff, config.hidden));
  ln1 = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden})));
  ln2 = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden})));
}

torch::Tensor EncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& key_bias) {
  const int64_t batch = x.size(0), length = x.size(1), hidden = x.size(2);
  const int64_t head_dim = hidden / heads_;
  const bool training = is_training();

  // [B, T, 3H] -> three [B, heads, T, head_dim] views, no copies.
  auto qkv_out = qkv(ln1(x)).view({batch, length, 3, heads_, head_dim}).permute({2, 0, 3, 1, 4});
  auto query = qkv_out[0], key = qkv_out[1], value = qkv_out[2];
  // Scaling q (T x d) is cheaper than scaling the scores (T x T), and its
  // result is contiguous, which the batched matmul wants anyway.
  auto scores = torch::matmul(query * (1.0 / std::sqrt(static_cast<double>(head_dim))), key.transpose(-2, -1));
  // No bias at all for a batch without padding (most batches, with rows
  // sorted by length): one pass over [B, heads, T, T] saved.
  if (key_bias.defined()) scores.add_(key_bias);
  auto probs = torch::softmax(scores, -1);
  probs = EncoderDropout(probs, dropout_, training);
  auto context = torch::matmul(probs, value).transpose(1, 2).reshape({batch, length, hidden});
  auto h = x + EncoderDropout(out_proj(context), dropout_, training);

  auto inner = EncoderDropout(torch::gelu(ff1(ln2(h))), dropout_, training);
  return h + EncoderDropout(ff2(inner), dropout_, training);
}

EncoderImpl::EncoderImpl(const EncoderConfig& config) : config_(config) {
  token_embedding = register_module("token_embedding", torch::nn::Embedding(config.vocab_size, config.hidden));
  position_embedding =
      register_module("position_embedding", torch::nn::Embedding(config.max_positions, config.hidden));
  embedding_norm = register_module("embedding_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden})));
  for (int i = 0; i < config.layers; ++i) {
    layers_.push_back(register_module("layer" + std::to_string(i), EncoderLayer(config)));
  }
  final_norm_ = register_module("final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden})));
}

torch::Tensor EncoderImpl::forward(const torch::Tensor& ids, const torch::Tensor& attention_mask) {
  const int64_t length = ids.size(1);
  auto positions = torch::arange(length, ids.options().dtype(torch::kLong));
  auto x = embedding_norm(token_embedding(ids) + position_embedding(positions).unsqueeze(0));
  x = EncoderDropout(x, config_.dropout, is_training());
  // [B, 1, 1, T]: 0 for real keys, kPadKeyBias for padding; undefined when
  // nothing is padded.
  torch::Tensor key_bias;
  auto padded = attention_mask.eq(0);
  if (padded.any().item<bool>()) {
    key_bias = (padded.to(torch::kFloat) * kPadKeyBias).view({ids.size(0), 1, 1, length});
  }
  for (auto& layer : layers_) x = layer(x, key_bias);
  return final_norm_(x);
}

std::vector<torch::Tensor> EncoderImpl::EmbeddingParameters() const {
  std::vector<torch::Tensor> params = {token_embedding->weight, position_embedding->weight};
  for (const auto& p : embedding_norm->parameters()) params.push_back(p);
  return params;
}

void EncoderImpl::set_dropout(double probability) {
  config_.dropout = probability;
  for (auto& layer : layers_) layer->set_dropout(probability);
}

Result<Encoder> MakeEncoder(const EncoderConfig& config) {
  CS_RETURN_IF_ERROR(ValidateEncoderConfig(config));
  Encoder encoder(config);
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(encoder->token_embedding->weight, 0.0, 0.02);
  torch::nn::init::normal_(encoder->position_embedding->weight, 0.0, 0.02);
  encoder->token_embedding->weight[config.pad_id].zero_();
  for (int i = 0; i < encoder->num_layers(); ++i) {
    EncoderLayer layer = encoder->layer(i);
    InitLinear(layer->qkv);
    InitLinear(layer->out_proj);
    InitLinear(layer->ff1);
    InitLinear(layer->ff2);
  }
  return encoder;
}

Status SaveEncoderWeights(Encoder encoder, const std::string& path) {
  std::string temp = path + ".tmp";
  try {
    torch::save(encoder, temp);
  } catch (const std::exception& error) {
    return Status::IoError(path + ": cannot write encoder weights: " + error.what());
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return Status::IoError(path + ": cannot rename " + temp + " into place");
  }
  return Status::Ok();
}

Status LoadEncoderWeights(Encoder encoder, const std::string& path) {
  if (!FileExists(path)) return Status::NotFound(path + ": no such encoder weights file");
  try {
    torch::load(encoder, path);
  } catch (const std::exception& error) {
    std::string what = error.what();
    what = what.substr(0, what.find('\n'));
    return Status::Corruption(path + ": cannot load encoder weights (does backbone.json match?): " + what);
  }
  return Status::Ok();
}

int64_t CountParameters(const torch::nn::Module& module) {
  int64_t count = 0;
  for (const auto& p : module.parameters()) count += p.numel();
  return count;
}

}  // namespace cs
