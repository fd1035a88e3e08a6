// `carbonsweep pretrain` end to end on a tiny corpus: the backbone directory
// it writes loads, its backbone.json says how it was made, and an
// interrupted pre-training resumes to the same weights.
#include "tests/trials/doctest_torch.h"  // torch before doctest: glog must not own CHECK.

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include "common/files.h"
#include "tests/testing/temp_dir.h"
#include "trials/backbone.h"
#include "trials/pretrain.h"

namespace cs {
namespace {

// A fake data cache holding only "Moby Dick": a few hundred sentences of
// a small vocabulary, split into chapters as the real file is.
std::string WriteTinyCorpus(const testing::TempDir& dir) {
  const std::vector<std::string> subjects = {"the whale", "the captain", "a sailor", "the ship", "the sea"};
  const std::vector<std::string> verbs = {"watched", "followed", "feared", "loved", "crossed"};
  const std::vector<std::string> objects = {"the harbour", "a storm", "the crew", "the boat", "an island"};
  std::ostringstream text;
  for (int chapter = 1; chapter <= 6; ++chapter) {
    text << "CHAPTER " << chapter << ".\n";
    for (int i = 0; i < 60; ++i) {
      text << subjects[(i + chapter) % 5] << " " << verbs[(i * 3 + chapter) % 5] << " "
           << objects[(i * 7) % 5] << ". ";
    }
    text << "\n";
  }
  dir.Write("data/moby-dick-0.2.3/package/data/data.txt", text.str());
  return dir.File("data");
}

std::string PretrainCommand(const std::string& data_dir, const std::string& out, const std::string& extra) {
  return "CARBONSWEEP_DATA=" + data_dir + " " + testing::BinaryPath() + " pretrain --out " + out +
         " --sources moby_dick --pool-task none --vocab-size 120 --seq-len 16 --batch 4 --layers 1"
         " --hidden 32 --heads 2 --ff 64 --heldout-chunks 4 --intensity 100 --threads 1 " + extra;
}

nlohmann::json ReadJson(const std::string& path) { return nlohmann::json::parse(ReadFile(path).value()); }

std::vector<torch::Tensor> Weights(const std::string& dir) {
  Result<LoadedBackbone> backbone = LoadBackbone(dir, BackboneWeights::kPretrained);
  REQUIRE_MESSAGE(backbone.ok(), backbone.status().message());
  std::vector<torch::Tensor> weights;
  for (const torch::Tensor& p : backbone->encoder->parameters()) weights.push_back(p.detach().clone());
  return weights;
}

}  // namespace

TEST_CASE("pretrain --steps 3 writes a loadable backbone and says how it was made") {
  testing::TempDir dir;
  const std::string data = WriteTinyCorpus(dir);
  const std::string out = dir.File("backbone");
  std::string output;
  REQUIRE_MESSAGE(testing::RunShell(PretrainCommand(data, out, "--steps 3"), &output) == 0, output);

  Result<LoadedBackbone> backbone = LoadBackbone(out, BackboneWeights::kPretrained);
  REQUIRE_MESSAGE(backbone.ok(), backbone.status().message());
  CHECK(backbone->config.layers == 1);
  CHECK(backbone->config.vocab_size == backbone->tokenizer.vocab_size());
  CHECK(backbone->tokenizer.vocab_size() <= 120);
  CHECK(!FileExists(out + "/checkpoint/state.json"));  // a finished run leaves no checkpoint.

  const nlohmann::json info = ReadJson(out + "/backbone.json");
  const nlohmann::json& made = info.at("provenance");
  CHECK(made.at("seed") == 0);
  CHECK(made.at("steps") == 3);
  CHECK(made.at("tokens") == 3 * 4 * 16);
  CHECK(made.at("corpus").at("sha256").get<std::string>().size() == 64);
  CHECK(made.at("corpus").at("sources").size() == 1);
  CHECK(made.at("vocab_sha256") == backbone->tokenizer.VocabSha256());
  CHECK(made.at("timing").at("wall_seconds").get<double>() > 0);
  CHECK(made.at("timing").at("cpu_seconds").get<double>() > 0);
  CHECK(made.at("energy").at("joules").get<double>() > 0);
  CHECK(made.at("energy").at("grams_co2e").get<double>() > 0);
  CHECK(made.at("energy").at("method").is_object());
  CHECK(made.at("recipe").at("embedding_init") == "ppmi-svd");
  CHECK(made.at("heldout").at("mlm_loss_nats").get<double>() > 0);
  CHECK(output.find("backbone written to") != std::string::npos);
}

TEST_CASE("an interrupted pre-training resumes to the same weights as an uninterrupted one") {
  testing::TempDir dir;
  const std::string data = WriteTinyCorpus(dir);
  std::string output;
  const std::string whole = dir.File("whole");
  REQUIRE_MESSAGE(testing::RunShell(PretrainCommand(data, whole, "--steps 6"), &output) == 0, output);

  const std::string split = dir.File("split");
  CHECK(testing::RunShell(PretrainCommand(data, split, "--steps 6 --stop-after-steps 3"), &output) == 4);
  CHECK(FileExists(split + "/checkpoint/state.json"));
  CHECK(!FileExists(split + "/backbone.json"));
  // Starting over would silently lose the checkpoint: refused.
  CHECK(testing::RunShell(PretrainCommand(data, split, "--steps 6"), &output) == 2);
  CHECK(output.find("--resume") != std::string::npos);
  // Resuming with other options would mix two runs: refused, naming the field.
  CHECK(testing::RunShell(PretrainCommand(data, split, "--steps 6 --resume --mask-rate 0.2"), &output) == 2);
  CHECK(output.find("mask_rate") != std::string::npos);
  REQUIRE_MESSAGE(testing::RunShell(PretrainCommand(data, split, "--steps 6 --resume"), &output) == 0, output);
  CHECK(output.find("resuming pre-training at step 3") != std::string::npos);

  const std::vector<torch::Tensor> a = Weights(whole);
  const std::vector<torch::Tensor> b = Weights(split);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(torch::equal(a[i], b[i]));
  const nlohmann::json made = ReadJson(split + "/backbone.json").at("provenance");
  CHECK(made.at("steps") == 6);
  CHECK(made.at("timing").at("segments") == 2);
}

TEST_CASE("--init-from continues a finished backbone and records the whole line's cost") {
  testing::TempDir dir;
  const std::string data = WriteTinyCorpus(dir);
  std::string output;
  const std::string parent = dir.File("parent");
  REQUIRE_MESSAGE(testing::RunShell(PretrainCommand(data, parent, "--steps 3"), &output) == 0, output);
  CHECK(FileExists(parent + "/mlm_head.pt"));  // kept so that a continuation need not relearn it.

  // The parent fixes the shape and the vocab: flags that would change them are refused.
  const std::string child = dir.File("child");
  CHECK(testing::RunShell(PretrainCommand(data, child, "--steps 3 --init-from " + parent), &output) == 2);
  CHECK(output.find("--vocab-size: the backbone given by --init-from fixes it") != std::string::npos);
  // Only the flags the parent does not fix; another seed.
  auto continue_command = [&](const std::string& out, const std::string& extra) {
    return "CARBONSWEEP_DATA=" + data + " " + testing::BinaryPath() + " pretrain --out " + out +
           " --sources moby_dick --pool-task none --seq-len 16 --batch 4 --heldout-chunks 4 --intensity 100"
           " --threads 1 --steps 3 --seed 5 " + extra;
  };
  auto continue_from = [&](const std::string& from, const std::string& out) {
    return continue_command(out, "--init-from " + from);
  };
  CHECK(testing::RunShell(continue_from(dir.File("nowhere"), child), &output) != 0);
  CHECK(output.find("--init-from") != std::string::npos);
  REQUIRE_MESSAGE(testing::RunShell(continue_from(parent, child), &output) == 0, output);
  CHECK(output.find("continuing the backbone in " + parent) != std::string::npos);

  Result<LoadedBackbone> loaded = LoadBackbone(child, BackboneWeights::kPretrained);
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  CHECK(loaded->config.layers == 1);
  const nlohmann::json parent_made = ReadJson(parent + "/backbone.json").at("provenance");
  const nlohmann::json made = ReadJson(child + "/backbone.json").at("provenance");
  CHECK(made.at("vocab_sha256") == parent_made.at("vocab_sha256"));
  CHECK(made.at("parent").at("encoder_sha256") == Sha256OfFile(parent + "/encoder.pt").value());
  CHECK(made.at("parent").at("provenance").at("steps") == 3);
  CHECK(made.at("recipe").at("head_init") == "parent's masked-LM head");
  // Another seed orders the data differently but holds out the parent's chunks,
  // with the same masks: the two held-out losses compare.
  CHECK(made.at("seed") == 5);
  CHECK(made.at("heldout").at("seed") == 0);
  CHECK(made.at("heldout").at("unigram_loss_nats") == parent_made.at("heldout").at("unigram_loss_nats"));
  const nlohmann::json& total = made.at("total");
  CHECK(total.at("backbones") == 2);
  CHECK(total.at("steps") == 6);
  CHECK(total.at("tokens") == 6 * 4 * 16);
  CHECK(total.at("grams_co2e").get<double>() ==
        doctest::Approx(made.at("energy").at("grams_co2e").get<double>() +
                        parent_made.at("energy").at("grams_co2e").get<double>()));
  // The continued weights moved away from the parent's.
  const std::vector<torch::Tensor> before = Weights(parent);
  const std::vector<torch::Tensor> after = Weights(child);
  REQUIRE(before.size() == after.size());
  bool changed = false;
  for (size_t i = 0; i < before.size(); ++i) changed = changed || !torch::equal(before[i], after[i]);
  CHECK(changed);

  // An interrupted continuation resumes only with its --init-from.
  const std::string resumed = dir.File("resumed");
  CHECK(testing::RunShell(continue_from(parent, resumed) + " --stop-after-steps 1", &output) == 4);
  CHECK(testing::RunShell(continue_command(resumed, "--vocab-size 120 --layers 1 --hidden 32 --heads 2 --ff 64 --resume"),
                          &output) == 2);
  CHECK(output.find("resume with the same options") != std::string::npos);
  CHECK(testing::RunShell(continue_from(parent, resumed) + " --resume", &output) == 0);

  // A line of three: the held-out chunks are still the first backbone's.
  const std::string grandchild = dir.File("grandchild");
  REQUIRE_MESSAGE(testing::RunShell(continue_from(child, grandchild), &output) == 0, output);
  const nlohmann::json last = ReadJson(grandchild + "/backbone.json").at("provenance");
  CHECK(last.at("heldout").at("seed") == 0);
  CHECK(last.at("total").at("backbones") == 3);
  CHECK(last.at("total").at("steps") == 9);
}

TEST_CASE("bad options are refused before anything runs") {
  PretrainOptions options;
  options.out_dir = "/tmp/unused";
  CHECK(ValidatePretrainOptions(options).message().find("--minutes or --steps") != std::string::npos);
  options.steps = 3;
  options.mask_rate = 1.5;
  CHECK(ValidatePretrainOptions(options).message().find("--mask-rate") != std::string::npos);
  options.mask_rate = 0.3;
  options.seq_len = 4;
  CHECK(ValidatePretrainOptions(options).message().find("--seq-len") != std::string::npos);
}

TEST_CASE("chunks are full, framed by [CLS] and [SEP], and documents end in [SEP]") {
  const std::vector<int64_t> chunks = PackChunks({{10, 11, 12}, {13, 14}, {15, 16}}, /*seq_len=*/5, /*cls_id=*/2,
                                                 /*sep_id=*/3);
  // Stream: 10 11 12 [SEP] 13 14 [SEP] 15 16 [SEP] -> three chunks of 3; the last [SEP] is a partial chunk, dropped.
  const std::vector<int64_t> expected = {2, 10, 11, 12, 3, 2, 3, 13, 14, 3, 2, 3, 15, 16, 3};
  CHECK(chunks == expected);
}

}  // namespace cs
