// How `status` and `list` show a sweep: its summary as JSON, its best
// accuracy and its times. cli/ only.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "store/sweep_store.h"

namespace cs {

// "0.8370", or "-" when no trial measured one.
std::string FormatAccuracyOrDash(const std::optional<double>& accuracy);
// "2026-12-03 13:08:56" (UTC).
std::string FormatUtcForStatus(double unix_seconds);
// The sweep's state, budget, spend, trials by state, best trial and lease.
nlohmann::json SummaryJson(const SweepSummary& summary, const std::optional<LeaseRecord>& lease);

}  // namespace cs
