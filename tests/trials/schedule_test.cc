#include "tests/trials/doctest_torch.h"

#include "trials/finetune.h"

namespace cs {

TEST_CASE("warmup rises linearly, then the rate decays linearly to the last step") {
  // 10 steps, 20% warmup = 2 steps, peak 1e-3.
  const int64_t total = 10;
  const int64_t warmup = WarmupSteps(total, 0.2);
  CHECK(warmup == 2);
  CHECK(ScheduledLearningRate(0, total, warmup, 1e-3) == doctest::Approx(0.5e-3));
  CHECK(ScheduledLearningRate(1, total, warmup, 1e-3) == doctest::Approx(1.0e-3));
  CHECK(ScheduledLearningRate(2, total, warmup, 1e-3) == doctest::Approx(1.0e-3));  // (10-2)/8
  CHECK(ScheduledLearningRate(6, total, warmup, 1e-3) == doctest::Approx(0.5e-3));  // (10-6)/8
  CHECK(ScheduledLearningRate(9, total, warmup, 1e-3) == doctest::Approx(0.125e-3));  // (10-9)/8, not zero
}

TEST_CASE("warmup steps round up and zero warmup starts at the peak") {
  CHECK(WarmupSteps(375, 0.1) == 38);
  CHECK(WarmupSteps(100, 0.1) == 10);
  CHECK(WarmupSteps(100, 0.0) == 0);
  CHECK(ScheduledLearningRate(0, 100, 0, 2e-4) == doctest::Approx(2e-4));
  CHECK(ScheduledLearningRate(50, 100, 0, 2e-4) == doctest::Approx(1e-4));
}

TEST_CASE("the schedule runs over all epochs, not one") {
  // 4000 examples, batch 32, 3 epochs: 125 steps an epoch, 375 in all.
  const int64_t per_epoch = StepsPerEpoch(4000, 32);
  CHECK(per_epoch == 125);
  const int64_t total = per_epoch * 3;
  const int64_t warmup = WarmupSteps(total, 0.1);
  // The first step of epoch 2 is still well above zero.
  CHECK(ScheduledLearningRate(per_epoch, total, warmup, 1e-3) == doctest::Approx(1e-3 * (375 - 125) / (375 - 38.0)));
  CHECK(StepsPerEpoch(4001, 32) == 126);
}

TEST_CASE("hyperparameter errors name the field and its range") {
  auto unknown = ParseTrialParams({{"learnig_rate", 1e-3}});
  REQUIRE(!unknown.ok());
  CHECK(unknown.status().message().find("params.learnig_rate: unknown hyperparameter") != std::string::npos);
  auto out_of_range = ParseTrialParams({{"learning_rate", 3.0}});
  REQUIRE(!out_of_range.ok());
  CHECK(out_of_range.status().message() == "params.learning_rate: 3 is outside [1e-07, 1]");
  auto not_integer = ParseTrialParams({{"batch_size", 2.5}});
  REQUIRE(!not_integer.ok());
  CHECK(not_integer.status().message().find("params.batch_size") != std::string::npos);
}

TEST_CASE("epoch batches cover every row once, depend only on seed and epoch, and group similar lengths") {
  std::vector<int32_t> lengths;
  for (int i = 0; i < 1000; ++i) lengths.push_back(4 + (i * 37) % 120);
  auto first = EpochBatches(lengths, 32, /*seed=*/5, /*epoch=*/1);
  CHECK(first == EpochBatches(lengths, 32, 5, 1));
  CHECK(first != EpochBatches(lengths, 32, 5, 2));
  CHECK(first != EpochBatches(lengths, 32, 6, 1));
  std::vector<int> seen(lengths.size(), 0);
  int64_t padding = 0;
  for (const auto& batch : first) {
    int32_t longest = 0;
    for (int row : batch) longest = std::max(longest, lengths[row]);
    for (int row : batch) {
      ++seen[row];
      padding += longest - lengths[row];
    }
  }
  CHECK(first.size() == 32);  // ceil(1000 / 32)
  CHECK(std::all_of(seen.begin(), seen.end(), [](int count) { return count == 1; }));
  // Random batches would pad about a third of all positions; sorted pools pad a few percent.
  CHECK(padding < 1000 * 10);
}

}  // namespace cs
