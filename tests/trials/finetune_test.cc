#include "tests/trials/doctest_torch.h"

#include <limits>
#include <set>

#include "common/files.h"
#include "tests/testing/temp_dir.h"
#include "tests/trials/trainer_test_util.h"

namespace cs {

namespace {

TrialParams SmallParams() {
  TrialParams params;
  params.learning_rate = 3e-3;
  params.batch_size = 16;
  params.epochs = 2;
  params.max_seq_len = 16;
  params.seed = 11;
  return params;
}

std::map<std::string, torch::Tensor> CopyParameters(const SequenceClassifier& model) {
  std::map<std::string, torch::Tensor> copy;
  for (const auto& [name, parameter] : model.NamedParameters()) copy[name] = parameter.detach().clone();
  return copy;
}

}  // namespace

TEST_CASE("a paused and resumed trial ends exactly like an uninterrupted one") {
  torch::set_num_threads(1);
  FineTuneData data = testing::SyntheticData();
  TrialParams params = SmallParams();

  SequenceClassifier straight_model = testing::TinyClassifier(params.seed);
  FineTuneOptions straight_options;
  auto straight = FineTune(straight_model, data, params, straight_options);
  REQUIRE(straight.ok());
  CHECK(straight->state == TrialEndState::kFinished);

  testing::TempDir dir;
  FineTuneOptions paused_options;
  paused_options.work_dir = dir.path();
  paused_options.stop_after_epoch = 1;
  paused_options.fingerprint = "trial-a";
  SequenceClassifier first_model = testing::TinyClassifier(params.seed);
  auto paused = FineTune(first_model, data, params, paused_options);
  REQUIRE(paused.ok());
  CHECK(paused->state == TrialEndState::kPaused);
  CHECK(paused->progress.epochs_done == 1);
  CHECK(!paused->test.has_value());
  CHECK(FileExists(dir.File(kTrialCheckpointFile)));

  // Another process would start from scratch: draw some randomness first to
  // show that the checkpoint, not luck, restores the generator.
  torch::rand({100});
  FineTuneOptions resume_options = paused_options;
  resume_options.stop_after_epoch = 0;
  SequenceClassifier second_model = testing::TinyClassifier(params.seed);
  auto resumed = FineTune(second_model, data, params, resume_options);
  REQUIRE(resumed.ok());
  CHECK(resumed->state == TrialEndState::kFinished);
  CHECK(resumed->resumed_from_epoch == 1);
  REQUIRE(resumed->progress.epochs.size() == 2);
  for (int e = 0; e < 2; ++e) {
    CHECK(resumed->progress.epochs[e]["val_accuracy"] == straight->progress.epochs[e]["val_accuracy"]);
    CHECK(resumed->progress.epochs[e]["val_loss"] == straight->progress.epochs[e]["val_loss"]);
    CHECK(resumed->progress.epochs[e]["train_loss"] == straight->progress.epochs[e]["train_loss"]);
  }
  CHECK(resumed->progress.steps == straight->progress.steps);
  CHECK(resumed->progress.examples == straight->progress.examples);
  REQUIRE(resumed->test.has_value());
  CHECK(resumed->test->accuracy == straight->test->accuracy);
  CHECK(resumed->test->loss == straight->test->loss);
}

TEST_CASE("the same seed gives the same trial; another seed another one") {
  torch::set_num_threads(1);
  FineTuneData data = testing::SyntheticData();
  TrialParams params = SmallParams();
  params.epochs = 1;
  // Seeding happens when the model is built, so build each right before its run.
  SequenceClassifier a = testing::TinyClassifier(params.seed);
  auto first = FineTune(a, data, params, {});
  SequenceClassifier b = testing::TinyClassifier(params.seed);
  auto second = FineTune(b, data, params, {});
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->progress.epochs[0]["train_loss"] == second->progress.epochs[0]["train_loss"]);
  params.seed = 12;
  SequenceClassifier c = testing::TinyClassifier(params.seed);
  auto third = FineTune(c, data, params, {});
  REQUIRE(third.ok());
  CHECK(third->progress.epochs[0]["train_loss"] != first->progress.epochs[0]["train_loss"]);
}

TEST_CASE("a checkpoint of another trial is refused, not resumed") {
  torch::set_num_threads(1);
  FineTuneData data = testing::SyntheticData();
  TrialParams params = SmallParams();
  testing::TempDir dir;
  FineTuneOptions options;
  options.work_dir = dir.path();
  options.stop_after_epoch = 1;
  options.fingerprint = "trial-a";
  SequenceClassifier model = testing::TinyClassifier(params.seed);
  REQUIRE(FineTune(model, data, params, options).ok());
  options.fingerprint = "trial-b";
  SequenceClassifier other = testing::TinyClassifier(params.seed);
  auto refused = FineTune(other, data, params, options);
  REQUIRE(!refused.ok());
  CHECK(refused.status().message().find("belongs to another trial") != std::string::npos);
}

TEST_CASE("a NaN loss ends the trial as diverged with the finished epochs kept") {
  torch::set_num_threads(1);
  FineTuneData data = testing::SyntheticData();
  TrialParams params = SmallParams();
  params.epochs = 1;
  SequenceClassifier model = testing::TinyClassifier(params.seed);
  {
    torch::NoGradGuard no_grad;
    for (auto& [name, parameter] : model.NamedParameters()) {
      if (name == "head.weight") parameter.fill_(std::numeric_limits<float>::quiet_NaN());
    }
  }
  std::vector<nlohmann::json> events;
  FineTuneOptions options;
  options.on_event = [&](const nlohmann::json& event) { events.push_back(event); };
  auto outcome = FineTune(model, data, params, options);
  REQUIRE(outcome.ok());
  CHECK(outcome->state == TrialEndState::kDiverged);
  CHECK(outcome->progress.epochs_done == 0);
  CHECK(!outcome->test.has_value());
  REQUIRE(!events.empty());
  CHECK(events.back()["event"] == "end");
  CHECK(events.back()["state"] == "diverged");
  CHECK(events.back()["test_accuracy"].is_null());
}

TEST_CASE("a stop request ends the trial as interrupted at a step boundary") {
  torch::set_num_threads(1);
  FineTuneData data = testing::SyntheticData();
  TrialParams params = SmallParams();
  std::atomic<bool> stop{false};
  FineTuneOptions options;
  options.stop_requested = &stop;
  // Ask to stop once the first epoch is reported.
  options.on_event = [&](const nlohmann::json& event) {
    if (event["event"] == "epoch") stop.store(true);
  };
  SequenceClassifier model = testing::TinyClassifier(params.seed);
  auto outcome = FineTune(model, data, params, options);
  REQUIRE(outcome.ok());
  CHECK(outcome->state == TrialEndState::kInterrupted);
  CHECK(outcome->progress.epochs_done == 1);
  CHECK(outcome->progress.steps == StepsPerEpoch(data.train.size(), params.batch_size));
}

// Trains one epoch with `trained_layers` and returns the names of the
// parameters whose values changed.
std::set<std::string> ChangedParameters(int trained_layers) {
  torch::set_num_threads(1);
  FineTuneData data = testing::SyntheticData();
  TrialParams params = SmallParams();
  params.epochs = 1;
  params.trained_layers = trained_layers;
  SequenceClassifier model = testing::TinyClassifier(params.seed);
  auto before = CopyParameters(model);
  REQUIRE(FineTune(model, data, params, {}).ok());
  std::set<std::string> changed;
  for (const auto& [name, parameter] : model.NamedParameters()) {
    if (!torch::equal(parameter, before[name])) changed.insert(name);
  }
  return changed;
}

TEST_CASE("head-only training leaves every encoder weight untouched") {
  CHECK(ChangedParameters(0) == std::set<std::string>{"head.bias", "head.weight"});
}

TEST_CASE("training the top layer changes it, the final norm and the head, nothing below") {
  for (const std::string& name : ChangedParameters(1)) {
    CAPTURE(name);
    CHECK((name.rfind("head.", 0) == 0 || name.rfind("encoder.layer1.", 0) == 0 ||
           name.rfind("encoder.final_norm.", 0) == 0));
  }
  // Every parameter of the top layer moved.
  CHECK(ChangedParameters(1).size() == 2 + 12 + 2);  // head, layer1 (4 Linear + 2 LayerNorm, 2 each), final norm
}

TEST_CASE("training all layers changes the embeddings too") {
  CHECK(ChangedParameters(-1).count("encoder.token_embedding.weight") == 1);
}

TEST_CASE("weight decay skips biases and LayerNorm parameters") {
  SequenceClassifier model = testing::TinyClassifier(1);
  TrainableParameters all = model.Freeze(-1);
  int64_t total = 0;
  for (const auto& p : all.decay) {
    CHECK(p.dim() == 2);
    total += p.numel();
  }
  for (const auto& p : all.no_decay) {
    CHECK(p.dim() == 1);
    total += p.numel();
  }
  CHECK(total == CountParameters(*model.encoder()) + 16 * 2 + 2);
}

TEST_CASE("validation is deterministic and ignores dropout") {
  torch::set_num_threads(1);
  FineTuneData data = testing::SyntheticData();
  SequenceClassifier model = testing::TinyClassifier(3, /*dropout=*/0.5);
  EvalMetrics first = Evaluate(model, data.validation);
  EvalMetrics second = Evaluate(model, data.validation);
  CHECK(first.loss == second.loss);
  CHECK(first.examples == 32);
}

}  // namespace cs
