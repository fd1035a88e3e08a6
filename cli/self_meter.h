// SelfEnergyMeter: the carbon module metering this very process as if it
// were a trial (CPU, RAM and GPU joules; grams at the chosen intensity), for
// the commands that do their work in-process: `pretrain` and `baseline`.
// cli/ only; a sweep's trials are metered by the orchestrator's sampler.
#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "carbon/energy_pricing.h"
#include "carbon/intensity.h"
#include "carbon/sampler.h"
#include "common/status.h"
#include "trials/pretrain.h"

namespace cs {

class SelfEnergyMeter : public EnergyMeter {
 public:
  SelfEnergyMeter(std::unique_ptr<PowerSampler> sampler, std::shared_ptr<const IntensityProvider> intensity,
                  double pue)
      : sampler_(std::move(sampler)), intensity_(std::move(intensity)), pricing_(pue, intensity_.get()) {}
  ~SelfEnergyMeter() override { sampler_->Stop(); }

  // Everything metered since the start: takes a reading now.
  EnergyReading Read() override;
  // Methods per component, constants, intensity, PUE, notes.
  nlohmann::json Describe() const override { return sampler_->Describe(); }

 private:
  std::unique_ptr<PowerSampler> sampler_;
  std::shared_ptr<const IntensityProvider> intensity_;
  EnergyPricing pricing_;
  double grams_co2e_ = 0;  // summed from the drained samples, priced one by one.
};

// Detects this machine's power sources and starts metering this process,
// one reading every `interval_seconds`.
Result<std::unique_ptr<SelfEnergyMeter>> StartSelfMeter(const IntensityOptions& intensity, double pue,
                                                        double interval_seconds);

}  // namespace cs
