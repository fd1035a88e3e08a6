// Fuzzes the reading of a whole events.log (orchestrator/trial_files.h):
// ParseTrialEventsText, then EpochRecordFromEvent on every epoch it keeps, as
// `resume` does with what a trial left behind. Every kept epoch passes the
// same checks again, and the epochs come out one per number, in order, in
// [1, the trial's epochs], with accuracies in [0, 1].
#include <cmath>
#include <string>

#include "orchestrator/trial_files.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr int kMaxEpoch = 5;
  cs::TrialFileEvents events = cs::ParseTrialEventsText(cs::fuzz::Text(data, size), kMaxEpoch);
  int previous_epoch = 0;
  for (const nlohmann::json& event : events.epochs) {
    CS_FUZZ_CHECK(event.value("event", nlohmann::json()) == "epoch", "a kept epoch is not an epoch event");
    cs::Result<cs::EpochRecord> record = cs::EpochRecordFromEvent(/*trial_id=*/7, event, kMaxEpoch, /*now_unix=*/1.7e9, "loss");
    CS_FUZZ_CHECK(record.ok(), "a kept epoch fails the epoch checks");
    CS_FUZZ_CHECK(record->trial_id == 7, "EpochRecordFromEvent lost the trial id");
    CS_FUZZ_CHECK(record->epoch > previous_epoch && record->epoch <= kMaxEpoch, "epochs out of order or range");
    CS_FUZZ_CHECK(!record->val_accuracy || (*record->val_accuracy >= 0 && *record->val_accuracy <= 1),
                  "an accuracy outside [0, 1]");
    CS_FUZZ_CHECK(!record->metric || std::isfinite(*record->metric), "a metric that is not finite");
    previous_epoch = record->epoch;
  }
  if (events.last_end) {
    CS_FUZZ_CHECK(events.last_end->value("event", nlohmann::json()) == "end", "last_end is not an end event");
  }
  return 0;
}
