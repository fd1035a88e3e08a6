#include "report/quantities.h"

#include <algorithm>
#include <cmath>

#include "common/text.h"

namespace cs {

DisplayUnit ChooseCo2Unit(double largest_grams) {
  double g = std::fabs(largest_grams);
  if (!std::isfinite(g) || g == 0) return {"g", 1};
  if (g >= 1e6) return {"t", 1e6};
  if (g >= 1e3) return {"kg", 1e3};
  if (g >= 1) return {"g", 1};
  return {"mg", 1e-3};
}

DisplayUnit ChooseEnergyUnit(double largest_joules) {
  constexpr double kWh = 3600;  // joules in one Wh
  double j = std::fabs(largest_joules);
  if (!std::isfinite(j) || j == 0) return {"Wh", kWh};
  if (j >= 1e6 * kWh) return {"MWh", 1e6 * kWh};
  if (j >= 1e3 * kWh) return {"kWh", 1e3 * kWh};
  if (j >= kWh) return {"Wh", kWh};
  if (j >= 1e-3 * kWh) return {"mWh", 1e-3 * kWh};
  return {"J", 1};
}

std::string PlainNumber(double value, int significant) {
  if (!std::isfinite(value)) return "—";
  if (value == 0) return "0";
  significant = std::max(1, significant);
  // Digits after the point so that `significant` digits show, none below
  // the units for large numbers (1234.5 -> "1235", not "1.23e+03").
  int magnitude = static_cast<int>(std::floor(std::log10(std::fabs(value))));
  int decimals = std::max(0, significant - 1 - magnitude);
  std::string text = StringPrintf("%.*f", decimals, value);
  // Rounding may carry into one more digit (9.996 -> "10.00"): drop the extra decimal.
  if (decimals > 0) {
    size_t digits = 0;
    bool leading = true;
    for (char c : text) {
      if (c < '0' || c > '9') continue;
      if (leading && c == '0') continue;
      leading = false;
      ++digits;
    }
    if (static_cast<int>(digits) > significant) text = StringPrintf("%.*f", decimals - 1, value);
  }
  return text == "-0" ? "0" : text;
}

std::string ShortNumber(double value, int significant) {
  std::string text = PlainNumber(value, significant);
  if (text.find('.') == std::string::npos) return text;
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  return text;
}

std::string NumberIn(double base_value, const DisplayUnit& unit, int significant) {
  return PlainNumber(base_value / unit.base_per_unit, significant);
}

std::string FormatIn(double base_value, const DisplayUnit& unit, int significant) {
  return NumberIn(base_value, unit, significant) + " " + unit.symbol;
}

PageUnits ChoosePageUnits(double largest_grams, double largest_joules) {
  return {ChooseCo2Unit(largest_grams), ChooseEnergyUnit(largest_joules)};
}

}  // namespace cs
