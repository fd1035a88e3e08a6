// Word vectors from co-occurrence counts (PPMI + truncated SVD): the cheap
// start that pre-training gives the encoder's token embeddings.
//
// Why: on 2 CPU cores a masked-LM learns little per minute (a 15-minute run
// ended 0.16 nats below the unigram entropy and fine-tuned worse than random
// init, environment-facts.md). Counting co-occurrences over the whole corpus
// and factorising the positive PMI matrix (Levy & Goldberg 2014) takes
// seconds and already puts words used alike ("great", "excellent") close
// together, which is most of what a small classifier needs from its backbone.
//
// Called by the pre-training (trials/pretrain.cc) before the first step.
// Pure functions of their inputs and the seed; any thread (libtorch may use
// its intra-op threads inside).
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "common/status.h"

namespace cs {

struct WordVectorOptions {
  int dims = 128;                  // columns of the result (= the encoder's d_model).
  int window = 5;                  // context words on each side; counts weighted 1/distance.
  double context_power = 0.75;     // context distribution smoothing (Levy et al. 2015).
  int oversampling = 16;           // extra random directions of the randomised SVD.
  int power_iterations = 3;        // subspace iterations: sharper singular vectors.
  double eigen_power = 0.5;        // vectors = U * S^eigen_power, before row scaling.
  uint64_t seed = 0;               // seeds the random projection.
};

// Symmetric windowed co-occurrence counts of ids in [0, vocab_size) inside
// each sequence (never across two), as a dense [vocab_size, vocab_size]
// float tensor. Ids listed in `skip_ids` (e.g. [CLS], [PAD]) are ignored.
torch::Tensor CountCooccurrences(const std::vector<std::vector<int32_t>>& sequences, int vocab_size,
                                 int window, const std::vector<int32_t>& skip_ids);

// Positive PMI of a co-occurrence matrix with the context counts raised to
// `context_power`: max(0, log(p(w,c) / (p(w) p_a(c)))). Rows with no counts stay zero.
torch::Tensor PositivePmi(const torch::Tensor& counts, double context_power);

// Rank-`dims` randomised SVD (Halko et al. 2011) of a square matrix:
// returns U * S^eigen_power, [rows, dims].
torch::Tensor TruncatedSvdVectors(const torch::Tensor& matrix, const WordVectorOptions& options);

// The whole recipe: counts -> PPMI -> SVD -> every row scaled to L2 norm
// `row_norm` (rows of ids never seen stay zero; `seen` tells which).
struct WordVectors {
  torch::Tensor vectors;  // [vocab_size, dims] float32.
  torch::Tensor seen;     // [vocab_size] bool: the id had co-occurrence counts.
};
Result<WordVectors> PpmiSvdWordVectors(const std::vector<std::vector<int32_t>>& sequences, int vocab_size,
                                       const std::vector<int32_t>& skip_ids, double row_norm,
                                       const WordVectorOptions& options);

}  // namespace cs
