#include <doctest/doctest.h>

#include "carbon/energy_pricing.h"

namespace cs {
namespace {

// 100 g/kWh before t=1000, 500 g/kWh from then on.
class StepIntensity : public IntensityProvider {
 public:
  double GramsPerKwhAt(double unix_seconds) const override { return unix_seconds < 1000 ? 100 : 500; }
  nlohmann::json Describe() const override { return {{"kind", "step"}}; }
};

TEST_CASE("the PUE multiplies recorded joules and watts once, and grams follow the recorded joules") {
  StepIntensity intensity;
  PricedEnergy priced = EnergyPricing(1.5, &intensity).Price(/*meter_joules=*/3.6e6, /*interval=*/100, /*end=*/900);
  CHECK(priced.joules == doctest::Approx(5.4e6));
  CHECK(priced.watts == doctest::Approx(5.4e4));
  CHECK(priced.intensity_g_per_kwh == 100);
  CHECK(priced.grams_co2e == doctest::Approx(150));  // 1.5 kWh at 100 g/kWh.
  CHECK(EnergyPricing(1.5, &intensity).MeterJoulesOf(priced.joules) == doctest::Approx(3.6e6));
}

TEST_CASE("the intensity is the one in force at the middle of the window") {
  StepIntensity intensity;
  EnergyPricing pricing(1.0, &intensity);
  CHECK(pricing.Price(1, /*interval=*/10, /*end=*/1004).intensity_g_per_kwh == 100);  // midpoint 999.
  CHECK(pricing.Price(1, /*interval=*/10, /*end=*/1005).intensity_g_per_kwh == 500);  // midpoint 1000.
  PricedEnergy instant = pricing.Price(7.2e6, /*interval=*/0, /*end=*/1000);           // priced after the fact.
  CHECK(instant.watts == 0);
  CHECK(instant.grams_co2e == doctest::Approx(1000));
}

}  // namespace
}  // namespace cs
