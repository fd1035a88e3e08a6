#include "common/units.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <utility>
#include <vector>

#include "common/text.h"

namespace cs {

namespace {

// Splits "2.5 kg" into (2.5, "kg"). The number must be a plain decimal.
Status SplitAmount(const std::string& text, double* number, std::string* unit) {
  size_t begin = 0;
  while (begin < text.size() && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  const char* start = text.c_str() + begin;
  char* end = nullptr;
  *number = std::strtod(start, &end);
  if (end == start) return Status::InvalidArgument("'" + text + "' does not start with a number");
  std::string rest(end);
  unit->clear();
  for (char c : rest) {
    if (!std::isspace(static_cast<unsigned char>(c))) unit->push_back(static_cast<char>(std::tolower(c)));
  }
  if (!std::isfinite(*number)) return Status::InvalidArgument("'" + text + "' is not a finite number");
  return Status::Ok();
}

Result<double> ParseWithUnits(const std::string& text, const std::vector<std::pair<std::string, double>>& units,
                              const char* what, const char* allowed) {
  double number = 0;
  std::string unit;
  CS_RETURN_IF_ERROR(SplitAmount(text, &number, &unit));
  if (unit.empty()) {
    return Status::InvalidArgument(std::string(what) + " '" + text + "' has no unit (use " + allowed + ")");
  }
  for (const auto& [name, factor] : units) {
    if (unit == name) {
      if (number <= 0) {
        return Status::InvalidArgument(std::string(what) + " '" + text + "' must be greater than zero");
      }
      // In the unit the code uses: a huge amount may overflow, a tiny one may round to 0.
      const double scaled = number * factor;
      if (!std::isfinite(scaled) || !(scaled > 0)) {
        return Status::InvalidArgument(std::string(what) + " '" + text + "' is out of range");
      }
      return scaled;
    }
  }
  return Status::InvalidArgument(std::string(what) + " '" + text + "' has unknown unit '" + unit + "' (use " +
                                 allowed + ")");
}

}  // namespace

Result<double> ParseGramsCo2e(const std::string& text) {
  static const std::vector<std::pair<std::string, double>> kUnits = {
      {"mg", 1e-3}, {"g", 1.0}, {"kg", 1e3}, {"t", 1e6}};
  return ParseWithUnits(text, kUnits, "budget", "mg, g, kg or t, e.g. 50g or 0.05kg");
}

Result<double> ParseSeconds(const std::string& text) {
  static const std::vector<std::pair<std::string, double>> kUnits = {
      {"s", 1.0}, {"m", 60.0}, {"min", 60.0}, {"h", 3600.0}, {"d", 86400.0}};
  return ParseWithUnits(text, kUnits, "duration", "s, m, h or d, e.g. 90s or 2h");
}

std::string FormatGrams(double grams) {
  double magnitude = std::fabs(grams);
  if (magnitude >= 1e6) return StringPrintf("%.3g t", grams / 1e6);
  if (magnitude >= 1e3) return StringPrintf("%.3g kg", grams / 1e3);
  if (magnitude >= 1.0 || magnitude == 0.0) return StringPrintf("%.3g g", grams);
  return StringPrintf("%.3g mg", grams * 1e3);
}

std::string FormatJoules(double joules) {
  if (std::fabs(joules) >= 3.6e5) return StringPrintf("%.3g kWh", JoulesToKwh(joules));
  if (std::fabs(joules) >= 1e3) return StringPrintf("%.3g kJ", joules / 1e3);
  return StringPrintf("%.3g J", joules);
}

std::string FormatSeconds(double seconds) {
  long total = std::lround(seconds);
  if (total < 60) return StringPrintf("%.1fs", seconds);
  if (total < 3600) return StringPrintf("%ldm%02lds", total / 60, total % 60);
  return StringPrintf("%ldh%02ldm", total / 3600, (total % 3600) / 60);
}

}  // namespace cs
