#include "trials/pretrain_vectors.h"

#include <algorithm>
#include <string>

namespace cs {

torch::Tensor CountCooccurrences(const std::vector<std::vector<int32_t>>& sequences, int vocab_size,
                                 int window, const std::vector<int32_t>& skip_ids) {
  std::vector<char> skip(vocab_size, 0);
  for (int32_t id : skip_ids) {
    if (id >= 0 && id < vocab_size) skip[id] = 1;
  }
  torch::Tensor counts = torch::zeros({vocab_size, vocab_size}, torch::kFloat32);
  float* data = counts.data_ptr<float>();
  const int64_t stride = vocab_size;
  for (const std::vector<int32_t>& sequence : sequences) {
    const int64_t length = static_cast<int64_t>(sequence.size());
    for (int64_t i = 0; i < length; ++i) {
      const int32_t a = sequence[i];
      if (a < 0 || a >= vocab_size || skip[a]) continue;
      const int64_t end = std::min(length, i + 1 + window);
      for (int64_t j = i + 1; j < end; ++j) {
        const int32_t b = sequence[j];
        if (b < 0 || b >= vocab_size || skip[b]) continue;
        // Nearer words say more about each other (GloVe's 1/distance weighting).
        const float weight = 1.0f / static_cast<float>(j - i);
        data[a * stride + b] += weight;
        data[b * stride + a] += weight;
      }
    }
  }
  return counts;
}

torch::Tensor PositivePmi(const torch::Tensor& counts, double context_power) {
  torch::NoGradGuard no_grad;
  const torch::Tensor total = counts.sum();
  const torch::Tensor word_probability = counts.sum(1, /*keepdim=*/true) / total;
  const torch::Tensor smoothed_context = counts.sum(0, /*keepdim=*/true).pow(context_power);
  const torch::Tensor context_probability = smoothed_context / smoothed_context.sum();
  const torch::Tensor present = counts > 0;
  // log of zero counts is -inf; those cells are PPMI 0 by definition.
  torch::Tensor pmi = (counts / total).clamp_min(1e-30).log() - word_probability.clamp_min(1e-30).log() -
                      context_probability.clamp_min(1e-30).log();
  return torch::where(present, pmi.clamp_min(0.0), torch::zeros_like(pmi));
}

torch::Tensor TruncatedSvdVectors(const torch::Tensor& matrix, const WordVectorOptions& options) {
  torch::NoGradGuard no_grad;
  const int64_t rows = matrix.size(0);
  const int64_t rank = std::min<int64_t>(rows, options.dims + options.oversampling);
  torch::Generator generator = at::detail::createCPUGenerator(options.seed);
  const torch::Tensor projection = torch::randn({matrix.size(1), rank}, generator, torch::kFloat32);
  torch::Tensor basis = std::get<0>(torch::linalg_qr(matrix.mm(projection)));
  for (int i = 0; i < options.power_iterations; ++i) {
    basis = std::get<0>(torch::linalg_qr(matrix.t().mm(basis)));
    basis = std::get<0>(torch::linalg_qr(matrix.mm(basis)));
  }
  const torch::Tensor small = basis.t().mm(matrix);  // [rank, cols]
  auto [small_u, singular_values, unused_vh] = torch::linalg_svd(small, /*full_matrices=*/false);
  const int64_t dims = std::min<int64_t>(options.dims, rank);
  torch::Tensor vectors = basis.mm(small_u).narrow(1, 0, dims) *
                          singular_values.narrow(0, 0, dims).pow(options.eigen_power).unsqueeze(0);
  if (dims < options.dims) {
    vectors = torch::cat({vectors, torch::zeros({rows, options.dims - dims}, torch::kFloat32)}, 1);
  }
  return vectors.contiguous();
}

Result<WordVectors> PpmiSvdWordVectors(const std::vector<std::vector<int32_t>>& sequences, int vocab_size,
                                       const std::vector<int32_t>& skip_ids, double row_norm,
                                       const WordVectorOptions& options) {
  if (vocab_size <= 0 || options.dims <= 0 || options.window <= 0) {
    return Status::InvalidArgument("word vectors: vocab_size, dims and window must be positive (got " +
                                   std::to_string(vocab_size) + ", " + std::to_string(options.dims) + ", " +
                                   std::to_string(options.window) + ")");
  }
  try {
    torch::NoGradGuard no_grad;
    const torch::Tensor counts = CountCooccurrences(sequences, vocab_size, options.window, skip_ids);
    const torch::Tensor seen = counts.sum(1) > 0;
    if (!seen.any().item<bool>()) {
      return Status::InvalidArgument("word vectors: the corpus has no two neighbouring tokens to count");
    }
    const torch::Tensor vectors = TruncatedSvdVectors(PositivePmi(counts, options.context_power), options);
    const torch::Tensor norms = vectors.norm(2, /*dim=*/1, /*keepdim=*/true).clamp_min(1e-12);
    const torch::Tensor scaled = torch::where(seen.unsqueeze(1), vectors / norms * row_norm,
                                              torch::zeros_like(vectors));
    return WordVectors{scaled.contiguous(), seen};
  } catch (const c10::Error& error) {
    return Status::Internal(std::string("word vectors: libtorch failed: ") + error.what_without_backtrace());
  }
}

}  // namespace cs
