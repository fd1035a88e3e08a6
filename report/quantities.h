// The units a report page shows its CO2 and energy in, chosen once from the
// page's largest figure so that every card, table and plot axis of the page
// speaks the same unit, and numbers printed as plain decimals (never "1e-05").
// Pure; any thread.
#pragma once

#include <string>

namespace cs {

// A display unit: its symbol and how many base units (grams or joules) one of it is.
struct DisplayUnit {
  std::string symbol;   // "mg", "g", "kg", "t"; "J", "mWh", "Wh", "kWh", "MWh".
  double base_per_unit = 1;
};

// mg, g, kg or t: the largest unit in which `largest_grams` is at least 1
// (mg below that; g for 0 or non-finite input).
DisplayUnit ChooseCo2Unit(double largest_grams);
// J, mWh, Wh, kWh or MWh, the same way (Wh for 0). J is kept for figures under
// a mWh (3.6 J), where a count of joules reads better than "0.2 mWh".
DisplayUnit ChooseEnergyUnit(double largest_joules);

// `value` with `significant` significant digits as a plain decimal: "0.00123",
// "1230", "12.5"; "0" for zero; "—" for NaN/inf. Never scientific notation.
std::string PlainNumber(double value, int significant = 3);

// PlainNumber without trailing zeros after the point ("0.00002", "0.1", "32"):
// for values that are settings rather than measurements, like hyperparameters.
std::string ShortNumber(double value, int significant = 3);

// `base_value` (grams or joules) in `unit`: "12.3 mg", "0.045 Wh".
std::string FormatIn(double base_value, const DisplayUnit& unit, int significant = 3);
// The number alone, for a table column whose header names the unit.
std::string NumberIn(double base_value, const DisplayUnit& unit, int significant = 3);

// The two units of one page or report.
struct PageUnits {
  DisplayUnit co2;
  DisplayUnit energy;
};
// Chosen from the page's largest CO2 and energy figures (usually the totals).
PageUnits ChoosePageUnits(double largest_grams, double largest_joules);

}  // namespace cs
