// Fuzzes the energy channel of self-metering trials (orchestrator/slurm_energy.h):
// one energy.log line through EnergyEventFromLine and MeterReadingFromEnergyEvent,
// then the EnergyLedger's row, which the sweep loop stores and charges to the budget. A row it returns
// holds finite, non-negative joules and grams: a torn or hostile line must
// never charge the budget an infinite amount.
#include <cmath>
#include <memory>
#include <optional>

#include "carbon/intensity.h"
#include "orchestrator/slurm_energy.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

// A two-step series, so the intensity at any time (also far outside it) is looked up.
const cs::IntensityProvider& Intensity() {
  static const std::unique_ptr<cs::SeriesIntensity> series = [] {
    auto parsed = cs::SeriesIntensity::Parse("timestamp,g_per_kwh\n1700000000,250\n1700003600,410\n", "fuzz-intensity.csv");
    CS_FUZZ_CHECK(parsed.ok(), "the fuzzer's own intensity series does not parse");
    return std::move(*parsed);
  }();
  return *series;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<nlohmann::json> event = cs::EnergyEventFromLine(cs::fuzz::Text(data, size));
  if (!event) return 0;
  cs::Result<cs::MeterReading> reading = cs::MeterReadingFromEnergyEvent(*event, /*trial_id=*/2);
  if (!reading.ok()) return 0;
  const cs::EnergyLedger ledger(/*store=*/nullptr, /*sweep_id=*/1, cs::EnergyPricing(/*pue=*/1.5, &Intensity()));
  const std::optional<cs::PowerSampleRow> row = ledger.RowFor(*reading);
  CS_FUZZ_CHECK(std::isfinite(row->joules) && row->joules >= 0, "a stored row has negative or infinite joules");
  CS_FUZZ_CHECK(std::isfinite(row->grams_co2e) && row->grams_co2e >= 0, "a stored row has negative or infinite grams");
  CS_FUZZ_CHECK(std::isfinite(row->watts), "a stored row has infinite watts");
  return 0;
}
