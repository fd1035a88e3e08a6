// The masked-LM objective and the word-vector start of pre-training.
#include "tests/trials/doctest_torch.h"  // torch before doctest: glog must not own CHECK.

#include "trials/pretrain_mlm.h"
#include "trials/pretrain_vectors.h"

namespace cs {
namespace {

MaskingOptions TinyMasking(double rate) {
  MaskingOptions options;
  options.mask_rate = rate;
  options.mask_id = 4;
  options.vocab_size = 20;
  options.special_ids = {0, 1, 2, 3, 4};
  return options;
}

double Cosine(const torch::Tensor& vectors, int a, int b) {
  return torch::cosine_similarity(vectors[a].unsqueeze(0), vectors[b].unsqueeze(0)).item<double>();
}

}  // namespace

TEST_CASE("the masked-position loss equals the full-vocab loss restricted to masked positions") {
  torch::manual_seed(3);
  const int hidden_size = 8;
  const int vocab = 20;
  MaskedLmHead head(hidden_size, vocab);
  const torch::Tensor embedding = torch::randn({vocab, hidden_size});
  const torch::Tensor hidden = torch::randn({3, 6, hidden_size});
  const torch::Tensor ids = torch::randint(5, vocab, {3, 6}, torch::kInt64);
  torch::Generator generator = at::detail::createCPUGenerator(11);
  const MaskedBatch batch = MaskTokens(ids, TinyMasking(0.4), generator);
  REQUIRE(batch.positions.size(0) > 0);

  // The naive way: logits over every position, then keep the masked ones.
  const torch::Tensor all_logits = head(hidden.reshape({-1, hidden_size}), embedding);  // [18, V]
  const torch::Tensor full_loss = torch::nn::functional::cross_entropy(
      all_logits.index_select(0, batch.positions), batch.targets);
  const torch::Tensor masked_loss = MaskedLmLoss(head, hidden, embedding, batch);
  CHECK(masked_loss.item<double>() == doctest::Approx(full_loss.item<double>()).epsilon(1e-6));

  // The gradients reach the tied embedding the same way too.
  const torch::Tensor tied = embedding.clone().requires_grad_(true);
  MaskedLmLoss(head, hidden, tied, batch).backward();
  const torch::Tensor masked_grad = tied.grad().clone();
  const torch::Tensor tied_again = embedding.clone().requires_grad_(true);
  torch::nn::functional::cross_entropy(
      head(hidden.reshape({-1, hidden_size}), tied_again).index_select(0, batch.positions), batch.targets)
      .backward();
  CHECK(torch::allclose(masked_grad, tied_again.grad(), 1e-5, 1e-6));
}

TEST_CASE("masking chooses about the rate, never special tokens, and keeps the targets") {
  const torch::Tensor ids = torch::cat({torch::full({64, 1}, 2, torch::kInt64),
                                        torch::randint(5, 20, {64, 30}, torch::kInt64),
                                        torch::full({64, 1}, 3, torch::kInt64)}, 1);
  torch::Generator generator = at::detail::createCPUGenerator(5);
  const MaskedBatch batch = MaskTokens(ids, TinyMasking(0.3), generator);
  const double share = static_cast<double>(batch.positions.size(0)) / (64 * 30);
  CHECK(share == doctest::Approx(0.3).epsilon(0.15));
  CHECK(torch::equal(batch.targets, ids.reshape(-1).index_select(0, batch.positions)));
  // [CLS] (2) and [SEP] (3) stay where they were.
  CHECK(torch::equal(batch.input_ids.select(1, 0), ids.select(1, 0)));
  CHECK(torch::equal(batch.input_ids.select(1, 31), ids.select(1, 31)));
  const torch::Tensor masked = batch.input_ids.reshape(-1).index_select(0, batch.positions);
  const double mask_share = (masked == 4).to(torch::kFloat64).mean().item<double>();
  CHECK(mask_share == doctest::Approx(0.8).epsilon(0.1));
  // Outside the chosen positions nothing changed.
  const torch::Tensor changed = (batch.input_ids != ids).reshape(-1);
  torch::Tensor chosen = torch::zeros({64 * 32}, torch::kBool);
  chosen.index_put_({batch.positions}, true);
  CHECK(!(changed & ~chosen).any().item<bool>());
}

TEST_CASE("a tiny batch still gets one prediction") {
  const torch::Tensor ids = torch::tensor({2, 7, 3}, torch::kInt64).unsqueeze(0);
  torch::Generator generator = at::detail::createCPUGenerator(0);
  const MaskedBatch batch = MaskTokens(ids, TinyMasking(1e-9), generator);
  REQUIRE(batch.positions.size(0) == 1);
  CHECK(batch.positions.item<int64_t>() == 1);
  CHECK(batch.targets.item<int64_t>() == 7);
}

TEST_CASE("PPMI-SVD gives words that share contexts similar vectors") {
  // Ids 5 and 6 ("good"/"great") appear between the same neighbours, as do 7
  // and 8 ("bad"/"awful"); the two groups never share a context.
  std::vector<std::vector<int32_t>> sequences;
  for (int i = 0; i < 200; ++i) {
    const int32_t positive = i % 2 == 0 ? 5 : 6;
    const int32_t negative = i % 2 == 0 ? 7 : 8;
    sequences.push_back({10, 11, positive, 12, 13});
    sequences.push_back({14, 15, negative, 16, 17});
  }
  WordVectorOptions options;
  options.dims = 4;
  options.window = 2;
  Result<WordVectors> vectors = PpmiSvdWordVectors(sequences, 20, /*skip_ids=*/{0, 1, 2, 3, 4},
                                                   /*row_norm=*/1.0, options);
  REQUIRE(vectors.ok());
  const torch::Tensor v = vectors->vectors;
  CHECK(Cosine(v, 5, 6) > 0.9);
  CHECK(Cosine(v, 7, 8) > 0.9);
  CHECK(Cosine(v, 5, 7) < 0.3);
  CHECK(v[5].norm().item<double>() == doctest::Approx(1.0));
  // Ids never seen (the specials, 9, 18, 19) stay zero and are flagged.
  CHECK(!vectors->seen[9].item<bool>());
  CHECK(v[9].abs().sum().item<double>() == 0.0);
  CHECK(vectors->seen[5].item<bool>());
}

TEST_CASE("co-occurrence counts stay inside a sequence and weigh by distance") {
  const torch::Tensor counts = CountCooccurrences({{1, 2, 3}, {3, 4}}, 5, /*window=*/2, /*skip_ids=*/{});
  CHECK(counts[1][2].item<float>() == doctest::Approx(1.0));
  CHECK(counts[1][3].item<float>() == doctest::Approx(0.5));
  CHECK(counts[3][4].item<float>() == doctest::Approx(1.0));
  CHECK(counts[2][4].item<float>() == 0.0f);  // 2 and 4 are in different sequences.
  CHECK(torch::equal(counts, counts.t()));
}

TEST_CASE("an empty corpus is refused with a message") {
  Result<WordVectors> vectors = PpmiSvdWordVectors({{5}}, 10, {}, 1.0, WordVectorOptions{});
  REQUIRE(!vectors.ok());
  CHECK(vectors.status().message().find("no two neighbouring tokens") != std::string::npos);
}

}  // namespace cs
