#include "carbon/equivalents.h"

namespace cs {

// Atmosfair's figure for London-New York and back, 986 kg CO2 per economy
// passenger (CO2 from fuel only), halved for one way.
const double kTransatlanticFlightGramsPerPassenger = 986e3 / 2;
const char* const kTransatlanticFlightSource =
    "Atmosfair: London-New York return ~986 kg CO2 per passenger, halved for one way";
const char* const kCarSource = "EEA 2024 new EU cars, 106.8 g/km, via carbontracker co2eq.csv";
const char* const kTvSource = "32-inch LCD TV, 97 g/h, codecarbon carbonboard (viz/data.py)";

double CarKmEquivalent(double grams_co2e) { return grams_co2e / kCarGramsPerKm; }
double TvHoursEquivalent(double grams_co2e) { return grams_co2e / kTvGramsPerHour; }
double FlightShareEquivalent(double grams_co2e) { return grams_co2e / kTransatlanticFlightGramsPerPassenger; }

std::vector<EverydayEquivalent> EverydayEquivalents(double grams_co2e) {
  if (!(grams_co2e > 0)) return {};
  std::vector<EverydayEquivalent> out;
  const double km = CarKmEquivalent(grams_co2e);
  if (km >= 1) {
    out.push_back({"driving a car", km, "km", kCarSource});
  } else {
    out.push_back({"driving a car", km * 1000, "m", kCarSource});
  }
  const double hours = TvHoursEquivalent(grams_co2e);
  if (hours >= 1) {
    out.push_back({"watching TV", hours, "h", kTvSource});
  } else if (hours * 60 >= 1) {
    out.push_back({"watching TV", hours * 60, "min", kTvSource});
  } else {
    out.push_back({"watching TV", hours * 3600, "s", kTvSource});
  }
  const double percent = FlightShareEquivalent(grams_co2e) * 100;
  if (percent >= 0.1) {
    out.push_back({"one passenger's transatlantic flight", percent, "% of one", kTransatlanticFlightSource});
  }
  return out;
}

}  // namespace cs
