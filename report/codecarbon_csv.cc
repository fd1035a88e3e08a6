#include "report/codecarbon_csv.h"

namespace cs {

const std::vector<std::string>& CodecarbonColumns() {
  static const std::vector<std::string> kColumns = {
      "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
      "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed",
      "water_consumed", "country_name", "country_iso_code", "region", "cloud_provider", "cloud_region",
      "os", "python_version", "codecarbon_version", "cpu_count", "cpu_model", "gpu_count", "gpu_model",
      "longitude", "latitude", "ram_total_size", "tracking_mode", "cpu_utilization_percent",
      "gpu_utilization_percent", "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue"};
  return kColumns;
}

const std::vector<std::string>& ReportExtraColumns() {
  static const std::vector<std::string> kColumns = {"trial_id", "trial_index", "state", "accuracy",
                                                    "test_accuracy", "params", "energy_methods",
                                                    "intensity_g_per_kwh", "reason"};
  return kColumns;
}

std::string CsvField(const std::string& value) {
  if (value.find_first_of(",\"\n\r") == std::string::npos) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    out += CsvField(fields[i]);
  }
  return out + "\n";
}

}  // namespace cs
