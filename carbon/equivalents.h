// Everyday equivalents of a mass of CO2e, for reports. Pure functions, any
// thread. Each factor names its source here and in carbon/data/SOURCES.md
// ("Equivalents"); they are rough by nature and the reports say "about".
#pragma once

#include <string>
#include <vector>

namespace cs {

// Average new passenger car in the EU, 2024: 106.8 gCO2/km (EEA provisional
// figure, as shipped in carbontracker's emissions/conversion/co2eq.csv).
constexpr double kCarGramsPerKm = 106.8;
// Watching TV: 0.097 kg CO2 per hour (32-inch LCD, US grid; codecarbon
// carbonboard, codecarbon/viz/data.py).
constexpr double kTvGramsPerHour = 97.0;
// One passenger, one-way transatlantic flight.
extern const double kTransatlanticFlightGramsPerPassenger;
extern const char* const kTransatlanticFlightSource;
extern const char* const kCarSource;
extern const char* const kTvSource;

double CarKmEquivalent(double grams_co2e);
double TvHoursEquivalent(double grams_co2e);
// Share (0..) of one passenger's one-way transatlantic flight.
double FlightShareEquivalent(double grams_co2e);

// One equivalent in the unit that suits its size: "driving a car", 85, "m".
struct EverydayEquivalent {
  std::string what;
  double amount = 0;
  std::string unit;  // "m" or "km"; "s", "min" or "h"; "% of one".
  std::string source;
};

// The equivalents of `grams_co2e` that say something at its scale: a car's
// distance in m below 1 km, else km; TV time in s, min or h, whichever keeps
// the amount at or above 1; the share of a transatlantic flight as a
// percentage, only from 0.1 % up (a milligram is no fraction of a flight
// anyone can picture). Empty for zero or negative grams.
std::vector<EverydayEquivalent> EverydayEquivalents(double grams_co2e);

}  // namespace cs
