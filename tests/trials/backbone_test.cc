#include "tests/trials/doctest_torch.h"

#include <cstdlib>
#include <limits>

#include "common/files.h"
#include "tests/testing/temp_dir.h"
#include "tests/trials/trainer_test_util.h"
#include "trials/backbone.h"

namespace cs {

namespace {

// A TorchScript encoder built in C++ (as a user's torch.jit export would be):
// an embedding table and one Linear, forward(ids, mask) -> (hidden, pooled).
std::string WriteScriptedEncoder(const std::string& dir, int vocab, int hidden) {
  torch::manual_seed(0);
  torch::jit::Module module("UserEncoder");
  module.register_parameter("embedding", torch::randn({vocab, hidden}) * 0.1, /*is_buffer=*/false);
  module.register_parameter("proj_weight", torch::randn({hidden, hidden}) * 0.1, false);
  module.register_parameter("proj_bias", torch::zeros({hidden}), false);
  module.define(R"JIT(
def forward(self, ids, mask):
    x = torch.embedding(self.embedding, ids)
    hidden = torch.tanh(torch.matmul(x, self.proj_weight) + self.proj_bias)
    return hidden, hidden.mean(1)
)JIT");
  const std::string path = dir + "/user_encoder.pt";
  module.save(path);
  return path;
}

}  // namespace

TEST_CASE("encoder configs round-trip through JSON and bad ones name the field") {
  EncoderConfig config = testing::TinyEncoderConfig();
  auto back = EncoderConfigFromJson(EncoderConfigToJson(config));
  REQUIRE(back.ok());
  CHECK(EncoderConfigToJson(*back) == EncoderConfigToJson(config));

  nlohmann::json bad = EncoderConfigToJson(config);
  bad["heads"] = 3;
  CHECK(EncoderConfigFromJson(bad).status().message() == "encoder.heads: 3 does not divide hidden 16");
  bad = EncoderConfigToJson(config);
  bad.erase("layers");
  CHECK(EncoderConfigFromJson(bad).status().message() == "encoder.layers: missing");
  bad = EncoderConfigToJson(config);
  bad["colour"] = "blue";
  CHECK(EncoderConfigFromJson(bad).status().message() == "encoder.colour: unknown field");
}

TEST_CASE("the encoder maps [B,T] ids to [B,T,H] and ignores padded keys") {
  torch::manual_seed(0);
  Encoder encoder = MakeEncoder(testing::TinyEncoderConfig()).value();
  encoder->eval();
  auto ids = torch::tensor({2, 9, 10, 3, 0, 0}, torch::kLong).view({1, 6});
  auto mask = torch::tensor({1, 1, 1, 1, 0, 0}, torch::kLong).view({1, 6});
  auto hidden = encoder->forward(ids, mask);
  CHECK(hidden.sizes().vec() == std::vector<int64_t>{1, 6, 16});
  // Different ids under the padding do not change the real tokens' states.
  auto other_ids = torch::tensor({2, 9, 10, 3, 17, 21}, torch::kLong).view({1, 6});
  auto other = encoder->forward(other_ids, mask);
  CHECK(torch::allclose(hidden.slice(1, 0, 4), other.slice(1, 0, 4), 1e-5, 1e-6));
}

TEST_CASE("dropout masks keep about 1-p, scale by 1/(1-p), and follow torch's seed") {
  auto ones = torch::ones({200000});
  torch::manual_seed(4);
  auto first = EncoderDropout(ones, 0.25, /*training=*/true);
  torch::manual_seed(4);
  auto second = EncoderDropout(ones, 0.25, true);
  CHECK(torch::equal(first, second));
  const double kept = first.ne(0).to(torch::kDouble).mean().item<double>();
  CHECK(kept == doctest::Approx(0.75).epsilon(0.01));
  CHECK(first.max().item<float>() == doctest::Approx(1.0 / 0.75));
  CHECK(torch::equal(EncoderDropout(ones, 0.25, /*training=*/false), ones));
  // The mask does not depend on the number of threads.
  torch::set_num_threads(2);
  torch::manual_seed(4);
  auto threaded = EncoderDropout(ones, 0.25, true);
  torch::set_num_threads(1);
  CHECK(torch::equal(first, threaded));
}

TEST_CASE("a backbone directory round-trips weights, vocab and provenance") {
  testing::TempDir dir;
  auto tokenizer = WordPieceTokenizer::LoadVocab(testing::WriteLetterVocab(dir.path()));
  REQUIRE(tokenizer.ok());
  EncoderConfig config = testing::TinyEncoderConfig();
  config.vocab_size = tokenizer->vocab_size();
  torch::manual_seed(1);
  Encoder encoder = MakeEncoder(config).value();
  const std::string backbone_dir = dir.File("backbone");
  REQUIRE(SaveBackbone(backbone_dir, encoder, *tokenizer, {{"steps", 12}}).ok());

  auto loaded = LoadBackbone(backbone_dir, BackboneWeights::kPretrained);
  REQUIRE(loaded.ok());
  CHECK(loaded->info["provenance"]["steps"] == 12);
  CHECK(loaded->tokenizer.vocab_size() == tokenizer->vocab_size());
  auto original = encoder->named_parameters();
  for (const auto& item : loaded->encoder->named_parameters()) {
    CAPTURE(item.key());
    CHECK(torch::equal(item.value(), original[item.key()]));
  }
  auto scratch = LoadBackbone(backbone_dir, BackboneWeights::kRandomInit);
  REQUIRE(scratch.ok());
  CHECK(!torch::equal(scratch->encoder->token_embedding->weight, encoder->token_embedding->weight));
}

TEST_CASE("backbone resolution: the flag, then the environment; missing ones say what to do") {
  testing::TempDir dir;
  auto missing = ResolveBackboneDir(dir.File("nowhere"));
  REQUIRE(!missing.ok());
  CHECK(missing.status().message().find("not a backbone directory") != std::string::npos);

  auto tokenizer = WordPieceTokenizer::LoadVocab(testing::WriteLetterVocab(dir.path()));
  EncoderConfig config = testing::TinyEncoderConfig();
  config.vocab_size = tokenizer->vocab_size();
  REQUIRE(SaveBackbone(dir.File("bb"), MakeEncoder(config).value(), *tokenizer, {}).ok());
  CHECK(ResolveBackboneDir(dir.File("bb")).value() == dir.File("bb"));
  setenv(kBackboneEnvVar, dir.File("bb").c_str(), 1);
  CHECK(ResolveBackboneDir("").value() == dir.File("bb"));
  setenv(kBackboneEnvVar, dir.File("nowhere").c_str(), 1);
  auto bad_env = ResolveBackboneDir("");
  CHECK(bad_env.status().message().find(kBackboneEnvVar) != std::string::npos);
  unsetenv(kBackboneEnvVar);
}

TEST_CASE("a mismatched backbone.json is refused with the field named") {
  testing::TempDir dir;
  auto tokenizer = WordPieceTokenizer::LoadVocab(testing::WriteLetterVocab(dir.path()));
  EncoderConfig config = testing::TinyEncoderConfig();
  config.vocab_size = tokenizer->vocab_size();
  REQUIRE(SaveBackbone(dir.File("bb"), MakeEncoder(config).value(), *tokenizer, {}).ok());
  auto info = nlohmann::json::parse(ReadFile(dir.File("bb/backbone.json")).value());
  info["encoder"]["vocab_size"] = 7;
  REQUIRE(WriteFileAtomic(dir.File("bb/backbone.json"), info.dump()).ok());
  auto loaded = LoadBackbone(dir.File("bb"), BackboneWeights::kPretrained);
  REQUIRE(!loaded.ok());
  CHECK(loaded.status().message().find("encoder.vocab_size 7 but vocab.txt has") != std::string::npos);
}

TEST_CASE("a user's TorchScript encoder gets a head and fine-tunes") {
  torch::set_num_threads(1);
  testing::TempDir dir;
  const std::string vocab = testing::WriteLetterVocab(dir.path());
  const int vocab_size = WordPieceTokenizer::LoadVocab(vocab)->vocab_size();
  const std::string model_path = WriteScriptedEncoder(dir.path(), vocab_size, 8);
  auto scripted = LoadScriptedBackbone(model_path, vocab);
  REQUIRE(scripted.ok());
  CHECK(scripted->hidden == 8);

  torch::manual_seed(0);
  SequenceClassifier model(scripted->module, scripted->hidden, 2, 0.1);
  auto before = model.NamedParameters();
  std::vector<torch::Tensor> snapshot;
  for (auto& [name, p] : before) snapshot.push_back(p.detach().clone());
  FineTuneData data = testing::SyntheticData();
  TrialParams params;
  params.epochs = 1;
  params.batch_size = 16;
  params.learning_rate = 1e-2;
  auto outcome = FineTune(model, data, params, {});
  REQUIRE(outcome.ok());
  CHECK(outcome->state == TrialEndState::kFinished);
  REQUIRE(outcome->test.has_value());
  auto after = model.NamedParameters();
  REQUIRE(after.size() == 5);  // embedding, proj weight and bias, head weight and bias
  for (size_t i = 0; i < after.size(); ++i) {
    CAPTURE(after[i].first);
    CHECK(!torch::equal(after[i].second, snapshot[i]));
  }
}

TEST_CASE("a traced BERT's third input gets one segment of zeros, and a cased vocab keeps the text's case") {
  torch::set_num_threads(1);
  testing::TempDir dir;
  // bert-base-cased's vocab holds "The" beside "the"; an uncased one never does.
  const std::string vocab = dir.Write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nThe\nthe\ndog\n##s\n");
  const int hidden = 4;
  torch::jit::Module module("TracedBert");
  module.register_parameter("embedding", torch::randn({9, hidden}) * 0.1, /*is_buffer=*/false);
  // Segment 0 adds nothing; segment 1 would poison every hidden state.
  torch::Tensor segments = torch::zeros({2, hidden});
  segments[1].fill_(std::numeric_limits<float>::quiet_NaN());
  module.register_parameter("segments", segments, /*is_buffer=*/false);
  module.define(R"JIT(
def forward(self, input_ids, attention_mask, token_type_ids):
    hidden = torch.embedding(self.embedding, input_ids) + torch.embedding(self.segments, token_type_ids)
    return (hidden,)
)JIT");
  const std::string model_path = dir.File("bert.pt");
  module.save(model_path);

  auto scripted = LoadScriptedBackbone(model_path, vocab);
  REQUIRE_MESSAGE(scripted.ok(), scripted.status().message());
  CHECK(scripted->hidden == hidden);
  CHECK(scripted->takes_token_type_ids);
  CHECK(scripted->tokenizer.case_handling() == CaseHandling::kKeepCase);
  CHECK(scripted->tokenizer.Tokenize("The dogs") == std::vector<int32_t>{5, 7, 8});
  CHECK(scripted->tokenizer.Tokenize("the dogs") == std::vector<int32_t>{6, 7, 8});
  torch::Tensor ids = torch::tensor({2, 5, 7, 3}, torch::kLong).view({1, 4});
  torch::Tensor states = RunScriptedEncoder(scripted->module, ids, torch::ones_like(ids));
  CHECK(states.sizes() == torch::IntArrayRef({1, 4, hidden}));
  CHECK(torch::isfinite(states).all().item<bool>());

  // The letters vocab of the other tests is uncased: lower-cased as before.
  const std::string lower = testing::WriteLetterVocab(dir.path());
  CHECK(WordPieceTokenizer::DetectCaseHandling({"[CLS]", "[unused0]", "the", "##s"}) == CaseHandling::kLowercase);
  auto uncased = LoadScriptedBackbone(WriteScriptedEncoder(dir.path(), WordPieceTokenizer::LoadVocab(lower)->vocab_size(), 8), lower);
  REQUIRE(uncased.ok());
  CHECK(!uncased->takes_token_type_ids);
  CHECK(uncased->tokenizer.case_handling() == CaseHandling::kLowercase);
}

TEST_CASE("a TorchScript file that is not an encoder is refused with its name") {
  testing::TempDir dir;
  const std::string vocab = testing::WriteLetterVocab(dir.path());
  const std::string junk = dir.Write("junk.pt", "not a zip archive");
  auto loaded = LoadScriptedBackbone(junk, vocab);
  REQUIRE(!loaded.ok());
  CHECK(loaded.status().message().find(junk) == 0);
  CHECK(LoadScriptedBackbone(dir.File("absent.pt"), vocab).status().code() == Status::Code::kNotFound);
}

}  // namespace cs
