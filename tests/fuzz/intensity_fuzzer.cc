// Fuzzes the --intensity-file reader (carbon/intensity.h): SeriesIntensity::Parse
// on any CSV, then lookups before, inside and after the series, and Describe().
// An accepted series has increasing timestamps and gives a finite,
// non-negative intensity everywhere.
#include <cmath>
#include <memory>

#include "carbon/intensity.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto series = cs::SeriesIntensity::Parse(cs::fuzz::Text(data, size), "fuzz.csv");
  if (!series.ok()) return 0;
  const auto& points = (*series)->points();
  CS_FUZZ_CHECK(!points.empty(), "an accepted series has no points");
  for (size_t i = 1; i < points.size(); ++i) {
    CS_FUZZ_CHECK(points[i].unix_seconds > points[i - 1].unix_seconds, "timestamps do not increase");
  }
  for (double at : {points.front().unix_seconds - 1, points.front().unix_seconds, points.back().unix_seconds,
                    (points.front().unix_seconds + points.back().unix_seconds) / 2, points.back().unix_seconds + 1e6}) {
    double grams_per_kwh = (*series)->GramsPerKwhAt(at);
    CS_FUZZ_CHECK(std::isfinite(grams_per_kwh) && grams_per_kwh >= 0, "an intensity is negative or not finite");
  }
  (void)(*series)->Describe().dump();
  return 0;
}
