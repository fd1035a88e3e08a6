// Fuzzes the parsers of user-written amounts (common/units.h): --budget
// (ParseGramsCo2e) and durations such as --max-delay (ParseSeconds). What
// they accept is finite and greater than zero, as their header promises.
#include <cmath>
#include <string>

#include "common/units.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = cs::fuzz::Text(data, size);
  cs::Result<double> grams = cs::ParseGramsCo2e(text);
  if (grams.ok()) {
    CS_FUZZ_CHECK(std::isfinite(*grams) && *grams > 0, "ParseGramsCo2e accepted a budget that is not finite and > 0");
    CS_FUZZ_CHECK(!cs::FormatGrams(*grams).empty(), "FormatGrams printed nothing");
  }
  cs::Result<double> seconds = cs::ParseSeconds(text);
  if (seconds.ok()) {
    CS_FUZZ_CHECK(std::isfinite(*seconds) && *seconds > 0, "ParseSeconds accepted a duration that is not finite and > 0");
    CS_FUZZ_CHECK(!cs::FormatSeconds(*seconds).empty(), "FormatSeconds printed nothing");
  }
  return 0;
}
