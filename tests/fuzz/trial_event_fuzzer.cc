// Fuzzes ParseTrialEvent (trials/protocol.h) with any line a trial may print.
// Besides never throwing or crashing: an event it accepts reads back equal
// after FormatTrialEvent, the form a trial writes.
#include <optional>
#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "trials/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string line = cs::fuzz::Text(data, size);
  std::optional<nlohmann::json> event = cs::ParseTrialEvent(line);
  if (!event) return 0;
  CS_FUZZ_CHECK(event->is_object() && event->contains("event"), "an accepted event is not an object with \"event\"");
  std::string formatted = cs::FormatTrialEvent(*event);
  CS_FUZZ_CHECK(!formatted.empty() && formatted.back() == '\n', "FormatTrialEvent did not end the line");
  formatted.pop_back();
  std::optional<nlohmann::json> again = cs::ParseTrialEvent(formatted);
  CS_FUZZ_CHECK(again && *again == *event, "an accepted event does not read back after FormatTrialEvent");
  return 0;
}
