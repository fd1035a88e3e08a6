// Units of energy and mass, and parsing of user-written amounts.
// Internally energy is always joules and CO2 always grams CO2e; these
// helpers convert at the edges (flags, reports). Pure functions, any thread.
#pragma once

#include <string>

#include "common/status.h"

namespace cs {

constexpr double kJoulesPerKwh = 3.6e6;

inline double JoulesToKwh(double joules) { return joules / kJoulesPerKwh; }
inline double KwhToJoules(double kwh) { return kwh * kJoulesPerKwh; }
// grams CO2e emitted by `joules` at `grams_per_kwh` carbon intensity.
inline double GramsCo2e(double joules, double grams_per_kwh) {
  return JoulesToKwh(joules) * grams_per_kwh;
}

// Parses a CO2 mass such as "50g", "0.05kg", "1t", "2.5 kg" into grams.
// A unit is required; accepted: mg, g, kg, t (tonne). Refuses zero,
// negative, non-finite and unknown units with a message naming the text.
Result<double> ParseGramsCo2e(const std::string& text);

// Parses a duration such as "90s", "15m", "2h", "1d" into seconds.
Result<double> ParseSeconds(const std::string& text);

// Human forms: "12.3 g", "1.25 kg", "3.1 t"; "412 J", "1.3 kWh"; "1h02m".
std::string FormatGrams(double grams);
std::string FormatJoules(double joules);
std::string FormatSeconds(double seconds);

}  // namespace cs
