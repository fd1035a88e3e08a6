#include "carbon/equivalents.h"

namespace cs {

// Atmosfair's figure for London-New York and back, 986 kg CO2 per economy
// passenger (CO2 from fuel only), halved for one way.
const double kTransatlanticFlightGramsPerPassenger = 986e3 / 2;
const char* const kTransatlanticFlightSource =
    "Atmosfair: London-New York return ~986 kg CO2 per passenger, halved for one way";

double CarKmEquivalent(double grams_co2e) { return grams_co2e / kCarGramsPerKm; }
double TvHoursEquivalent(double grams_co2e) { return grams_co2e / kTvGramsPerHour; }
double FlightShareEquivalent(double grams_co2e) { return grams_co2e / kTransatlanticFlightGramsPerPassenger; }

}  // namespace cs
