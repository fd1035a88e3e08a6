// Everyday equivalents of a mass of CO2e, for reports. Pure functions, any
// thread. Each constant names its source; they are rough by nature and the
// reports say "about".
#pragma once

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

double CarKmEquivalent(double grams_co2e);
double TvHoursEquivalent(double grams_co2e);
// Share (0..) of one passenger's one-way transatlantic flight.
double FlightShareEquivalent(double grams_co2e);

}  // namespace cs
