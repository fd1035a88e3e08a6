#include "orchestrator/energy_ledger.h"

namespace cs {

std::vector<MeterReading> ReadingsFromSamples(const std::vector<EnergySample>& samples) {
  std::vector<MeterReading> readings;
  readings.reserve(samples.size());
  for (const EnergySample& sample : samples) {
    MeterReading reading;
    if (sample.trial_id >= 0) reading.trial_id = sample.trial_id;
    reading.component = ComponentName(sample.component);
    reading.method = EnergyMethodName(sample.method);
    reading.end_unix_seconds = sample.unix_seconds;
    reading.interval_seconds = sample.interval_seconds;
    reading.meter_joules = sample.joules;
    reading.cpu_seconds = sample.cpu_seconds;
    readings.push_back(std::move(reading));
  }
  return readings;
}

PowerSampleRow EnergyLedger::RowFor(const MeterReading& reading) const {
  PricedEnergy priced = pricing_.Price(reading.meter_joules, reading.interval_seconds, reading.end_unix_seconds);
  PowerSampleRow row;
  row.sweep_id = sweep_id_;
  row.trial_id = reading.trial_id;
  row.unix_seconds = reading.end_unix_seconds;
  row.interval_seconds = reading.interval_seconds;
  row.component = reading.component;
  row.method = reading.method;
  row.joules = priced.joules;
  row.watts = priced.watts;
  row.intensity_g_per_kwh = priced.intensity_g_per_kwh;
  row.grams_co2e = priced.grams_co2e;
  row.cpu_seconds = reading.cpu_seconds;
  return row;
}

Result<double> EnergyLedger::Record(const std::vector<MeterReading>& readings) {
  if (readings.empty()) return 0.0;
  std::vector<PowerSampleRow> rows;
  rows.reserve(readings.size());
  double grams = 0;
  for (const MeterReading& reading : readings) {
    rows.push_back(RowFor(reading));
    grams += rows.back().grams_co2e;
  }
  auto appended = store_->AppendPowerSamples(rows);
  if (!appended.ok()) return appended.status();
  return grams;
}

}  // namespace cs
