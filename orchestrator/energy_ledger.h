// EnergyLedger: the one place where what a meter measured during a sweep
// becomes the sweep's stored joules and grams CO2e.
//
// Meters produce MeterReadings: joules at the meter, by component and method,
// over a time window, for a trial or for nobody. Today's meters: the
// PowerSampler's samples (ReadingsFromSamples), a self-metering Slurm job's
// energy.log lines and Slurm's own figure for a job (slurm_energy.h), and the
// CPU time a trial left behind when its orchestrator died (sweep_recovery.h).
// The ledger prices them with EnergyPricing (the sweep's PUE and intensity
// source) and appends them in one transaction per call. A new meter plugs in
// by producing readings; nothing else changes.
//
// Owned by the sweep loop; only its thread calls it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "carbon/energy_pricing.h"
#include "carbon/sampler.h"
#include "common/status.h"
#include "store/sweep_store.h"

namespace cs {

// What a meter measured, before PUE and before any CO2.
struct MeterReading {
  std::optional<int64_t> trial_id;  // nullopt: nobody's (idle machine, the orchestrator).
  std::string component;            // "cpu", "ram", "gpu", or "node" for a whole-node figure.
  std::string method;               // "rapl", "nvml-energy", "cpu-time-model", "slurm", ...
  double end_unix_seconds = 0;      // end of the window.
  double interval_seconds = 0;      // its length; 0: priced at one instant (after the fact).
  double meter_joules = 0;          // at the meter: no PUE.
  double cpu_seconds = 0;           // the trial's CPU seconds in the window; 0 where none were measured.
};

// The readings of a sampler's samples (their trial id -1 is nobody's).
std::vector<MeterReading> ReadingsFromSamples(const std::vector<EnergySample>& samples);

class EnergyLedger {
 public:
  // `store` is not owned; `pricing` holds the sweep's PUE and intensity source.
  EnergyLedger(SweepStore* store, int64_t sweep_id, EnergyPricing pricing)
      : store_(store), sweep_id_(sweep_id), pricing_(pricing) {}

  // The store row of one reading. Pure.
  PowerSampleRow RowFor(const MeterReading& reading) const;
  // Prices `readings` and appends them in one transaction; the grams they add.
  Result<double> Record(const std::vector<MeterReading>& readings);

  const EnergyPricing& pricing() const { return pricing_; }

 private:
  SweepStore* store_;
  int64_t sweep_id_;
  EnergyPricing pricing_;
};

}  // namespace cs
