// The pure pieces of the loop: the cost model and the reading of a trial's events.log.
#include <doctest/doctest.h>

#include "orchestrator/cost_model.h"
#include "orchestrator/trial_files.h"

namespace cs {

TEST_CASE("the cost model is uncalibrated until an epoch is measured, then scales by epochs") {
  CostModel model;
  CHECK(!model.calibrated());
  CHECK(!model.PredictTrialGrams(3).has_value());
  model.Observe(/*trial_id=*/1, /*grams_co2e=*/2.0, /*epochs_done=*/0, /*examples_seen=*/0);  // no epoch yet.
  CHECK(!model.calibrated());
  model.Observe(1, 2.0, 1, 100);  // 0.02 g per example, 100 examples per epoch.
  REQUIRE(model.calibrated());
  CHECK(*model.PredictTrialGrams(3) == doctest::Approx(6.0));
}

TEST_CASE("the cost model predicts with the costliest trial seen, and a trial's latest observation replaces its earlier one") {
  CostModel model;
  model.Observe(1, 2.0, 1, 100);  // 0.02 g/example.
  model.Observe(2, 6.0, 2, 200);  // 0.03 g/example: the costliest.
  CHECK(*model.GramsPerExample() == doctest::Approx(0.03));
  CHECK(*model.PredictTrialGrams(2) == doctest::Approx(6.0));
  model.Observe(2, 4.0, 2, 200);  // trial 2 measured again: 0.02 g/example.
  CHECK(*model.GramsPerExample() == doctest::Approx(0.02));
  CHECK(AvailableGrams(/*budget_grams=*/10, /*spent_grams=*/4, /*outstanding_reserved_grams=*/7) == doctest::Approx(-1));
}

TEST_CASE("events.log: the last line per epoch counts, a new start forgets an earlier end, torn lines are skipped") {
  TrialFileEvents events = ParseTrialEventsText(
      "@cs {\"event\":\"start\",\"resumed_from_epoch\":0}\n"
      "@cs {\"event\":\"epoch\",\"epoch\":1,\"val_accuracy\":0.5,\"examples\":10}\n"
      "@cs {\"event\":\"end\",\"state\":\"interrupted\"}\n"
      "progress: not an event\n"
      "@cs {\"event\":\"start\",\"resumed_from_epoch\":1}\n"
      "@cs {\"event\":\"epoch\",\"epoch\":1,\"val_accuracy\":0.6,\"examples\":10}\n"
      "@cs {\"event\":\"epoch\",\"epoch\":2,\"val_accuracy\":0.7,\"exam",
      /*max_epoch=*/3);
  REQUIRE(events.epochs.size() == 1);
  CHECK(events.epochs[0]["val_accuracy"] == 0.6);
  CHECK(!events.last_end.has_value());
  Result<EpochRecord> checked = EpochRecordFromEvent(/*trial_id=*/9, events.epochs[0], /*max_epoch=*/3, /*now_unix=*/5,
                                                     kDefaultMetric);
  REQUIRE(checked.ok());
  const EpochRecord& record = *checked;
  CHECK(record.trial_id == 9);
  CHECK(record.epoch == 1);
  CHECK(record.examples == 10);
  CHECK(record.val_loss == 0);  // missing fields are 0.

  events = ParseTrialEventsText("@cs {\"event\":\"start\"}\n@cs {\"event\":\"end\",\"state\":\"finished\"}\n",
                                /*max_epoch=*/3);
  REQUIRE(events.last_end.has_value());
  CHECK((*events.last_end)["state"] == "finished");
}

}  // namespace cs
