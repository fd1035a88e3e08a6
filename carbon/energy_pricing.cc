#include "carbon/energy_pricing.h"

#include "common/units.h"

namespace cs {

PricedEnergy EnergyPricing::Price(double meter_joules, double interval_seconds, double end_unix_seconds) const {
  PricedEnergy priced;
  priced.joules = meter_joules * pue_;
  priced.watts = interval_seconds > 0 ? priced.joules / interval_seconds : 0;
  priced.intensity_g_per_kwh = intensity_->GramsPerKwhAt(end_unix_seconds - interval_seconds / 2);
  priced.grams_co2e = GramsCo2e(priced.joules, priced.intensity_g_per_kwh);
  return priced;
}

}  // namespace cs
