// EnergyPricing: the one place where joules measured at a meter become the
// joules, watts and grams CO2e a sweep records and a budget is charged.
//
//   recorded joules = meter joules x PUE (the data centre's overhead is energy
//                     spent, so it is stored and shown, never divided back out)
//   grams CO2e      = recorded joules in kWh x the intensity in force at the
//                     middle of the metered window
//
// Meters (the PowerSampler, a Slurm job's energy.log, Slurm's own figure for
// a job, CPU time priced after the fact) report meter joules only; whoever
// records or shows energy prices it here. Pure; any thread (the intensity
// provider is read-only).
#pragma once

#include "carbon/intensity.h"

namespace cs {

struct PricedEnergy {
  double joules = 0;               // with the PUE.
  double watts = 0;                // joules / interval; 0 for a window of no length.
  double intensity_g_per_kwh = 0;  // in force at the window's midpoint.
  double grams_co2e = 0;
};

class EnergyPricing {
 public:
  // `intensity` is not owned and must outlive this. `pue` >= 1 (CheckPue).
  EnergyPricing(double pue, const IntensityProvider* intensity) : pue_(pue), intensity_(intensity) {}

  // `meter_joules` measured over the `interval_seconds` ending at
  // `end_unix_seconds` (an interval of 0: energy priced at one instant).
  PricedEnergy Price(double meter_joules, double interval_seconds, double end_unix_seconds) const;

  // The meter joules behind recorded joules: what a price per CPU second
  // measured earlier in a sweep is worth before the PUE is applied again.
  double MeterJoulesOf(double recorded_joules) const { return recorded_joules / pue_; }
  double pue() const { return pue_; }

 private:
  double pue_;
  const IntensityProvider* intensity_;
};

}  // namespace cs
