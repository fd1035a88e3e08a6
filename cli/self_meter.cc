#include "cli/self_meter.h"

#include "carbon/power_source.h"

namespace cs {

namespace {
constexpr int64_t kSelfTrialId = 0;  // the one "trial" this sampler meters: the process itself.
}  // namespace

EnergyReading SelfEnergyMeter::Read() {
  sampler_->SampleOnce();
  for (const EnergySample& sample : sampler_->TakeSamples()) {
    if (sample.trial_id != kSelfTrialId) continue;
    grams_co2e_ += pricing_.Price(sample.joules, sample.interval_seconds, sample.unix_seconds).grams_co2e;
  }
  EnergyReading reading;
  reading.joules = sampler_->TotalJoules(kSelfTrialId, Component::kCpu) +
                   sampler_->TotalJoules(kSelfTrialId, Component::kRam) +
                   sampler_->TotalJoules(kSelfTrialId, Component::kGpu);
  reading.grams_co2e = grams_co2e_;
  return reading;
}

Result<std::unique_ptr<SelfEnergyMeter>> StartSelfMeter(const IntensityOptions& intensity_options, double pue,
                                                        double interval_seconds) {
  MeterOptions meter_options;
  meter_options.pue = pue;
  Result<PowerSetup> setup = DetectPowerSources(meter_options);
  if (!setup.ok()) return setup.status();
  Result<std::shared_ptr<const IntensityProvider>> intensity = MakeIntensityProvider(intensity_options);
  if (!intensity.ok()) return intensity.status();
  SamplerOptions sampler_options;
  sampler_options.interval_seconds = interval_seconds;
  auto sampler = std::make_unique<PowerSampler>(std::move(*setup), *intensity, sampler_options);
  CS_RETURN_IF_ERROR(sampler->MeterSelf(kSelfTrialId));
  sampler->Start();
  return std::make_unique<SelfEnergyMeter>(std::move(sampler), *intensity, pue);
}

}  // namespace cs
