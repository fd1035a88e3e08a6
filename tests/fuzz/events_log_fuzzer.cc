// Fuzzes the reading of a whole events.log (orchestrator/trial_files.h):
// ParseTrialEventsText, then EpochRecordFromEvent on every epoch it keeps, as
// `resume` does with what a trial left behind. The epochs come out one per
// epoch number, in increasing order.
#include <climits>
#include <string>

#include "orchestrator/trial_files.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cs::TrialFileEvents events = cs::ParseTrialEventsText(cs::fuzz::Text(data, size));
  long long previous_epoch = LLONG_MIN;
  for (const nlohmann::json& event : events.epochs) {
    CS_FUZZ_CHECK(event.value("event", nlohmann::json()) == "epoch", "a kept epoch is not an epoch event");
    cs::EpochRecord record = cs::EpochRecordFromEvent(/*trial_id=*/7, event, /*now_unix=*/1.7e9);
    CS_FUZZ_CHECK(record.trial_id == 7, "EpochRecordFromEvent lost the trial id");
    CS_FUZZ_CHECK(record.epoch > previous_epoch, "epochs are not one per number in increasing order");
    previous_epoch = record.epoch;
  }
  if (events.last_end) {
    CS_FUZZ_CHECK(events.last_end->value("event", nlohmann::json()) == "end", "last_end is not an end event");
  }
  return 0;
}
