// The column layout of `carbonsweep report --format csv`: codecarbon's
// emissions.csv header, its 38 columns in codecarbon's order and units, so
// codecarbon's dashboards and scripts read our file, followed by
// carbonsweep's own columns. Source: codecarbon 3.3.0,
// codecarbon/output_methods/emissions_data.py (see
// shared/notes/measurement-anchors.md, section 2.6). Pure; any thread.
#pragma once

#include <string>
#include <vector>

namespace cs {

// timestamp, project_name, run_id, ..., on_cloud, pue, wue (38 names).
// Units: duration s; emissions kg CO2e; emissions_rate kg/s; *_power W (mean
// device draw, before PUE); *_energy and energy_consumed kWh (PUE applied);
// water_consumed L; ram_total_size GB.
const std::vector<std::string>& CodecarbonColumns();

// Appended after the codecarbon columns: trial_id, trial_index, state,
// accuracy (validation, 0..1), test_accuracy, params (JSON), energy_methods,
// intensity_g_per_kwh, reason.
const std::vector<std::string>& ReportExtraColumns();

// One CSV field (RFC 4180): quoted when it holds a comma, quote or newline.
// A text cell from user data goes through NeutraliseCsvText (common/text.h)
// first, so a spreadsheet does not run it as a formula; numbers do not.
std::string CsvField(const std::string& value);
// Fields joined by commas, ended by "\n".
std::string CsvLine(const std::vector<std::string>& fields);

}  // namespace cs
