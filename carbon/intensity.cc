// Constant and time-series intensity providers, timestamps, and the choice
// between --region, --intensity and --intensity-file.
#include "carbon/intensity.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <regex>

#include "carbon/text_util.h"
#include "common/files.h"
#include "common/text.h"

namespace cs {
namespace {

// Times in messages and Describe() are ISO 8601, as intensity files write them.
constexpr char kIsoUtc[] = "%Y-%m-%dT%H:%M:%SZ";

std::string FormatStep(double seconds) {
  if (seconds >= 3600 && std::fmod(seconds, 3600) == 0) return std::to_string(static_cast<long>(seconds / 3600)) + "h";
  if (seconds >= 60 && std::fmod(seconds, 60) == 0) return std::to_string(static_cast<long>(seconds / 60)) + "min";
  return std::to_string(static_cast<long>(seconds)) + "s";
}

// Caps on an intensity file, checked before any parsing: std::regex
// recurses per character and overflows the stack on a field of some 50,000.
constexpr size_t kMaxSeriesFileBytes = 32 << 20;  // a decade of hourly rows with every export column.
constexpr size_t kMaxSeriesLineBytes = 4096;
constexpr size_t kMaxSeriesFieldBytes = 256;
constexpr size_t kMaxTimestampBytes = 64;

// InvalidArgument naming the first line of `text` longer than the cap.
Status CheckLineLengths(const std::string& text, const std::string& name) {
  size_t start = 0;
  for (int line = 1; start < text.size(); ++line) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end - start > kMaxSeriesLineBytes) {
      return Status::InvalidArgument(name + ":" + std::to_string(line) + ": line longer than " +
                                     std::to_string(kMaxSeriesLineBytes) + " bytes");
    }
    start = end + 1;
  }
  return Status::Ok();
}

}  // namespace

Result<double> ParseTimestamp(const std::string& text) {
  std::string trimmed = Trim(text);
  if (trimmed.size() > kMaxTimestampBytes) {
    return Status::InvalidArgument("a timestamp of " + std::to_string(trimmed.size()) + " bytes (at most " +
                                   std::to_string(kMaxTimestampBytes) + ")");
  }
  if (!trimmed.empty() && trimmed.find('-', 1) == std::string::npos) {
    auto seconds = ParseDouble(trimmed);
    // Found by the intensity fuzzer: 1.7e21 "seconds" overflowed time_t when printed.
    constexpr double kLastIsoSecond = 253402300799;  // 9999-12-31T23:59:59Z.
    if (seconds.ok() && !(*seconds >= 0 && *seconds <= kLastIsoSecond)) {
      return Status::InvalidArgument("'" + trimmed + "' is outside the Unix seconds of years 1970 to 9999");
    }
    if (seconds.ok()) return *seconds;
  }
  static const std::regex kIso(
      R"((\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?)");
  std::smatch match;
  if (!std::regex_match(trimmed, match, kIso)) {
    return Status::InvalidArgument("'" + trimmed + "' is not a timestamp (ISO 8601 like 2024-01-31T13:00:00Z, or Unix seconds)");
  }
  std::tm utc{};
  utc.tm_year = std::stoi(match[1]) - 1900;
  utc.tm_mon = std::stoi(match[2]) - 1;
  utc.tm_mday = std::stoi(match[3]);
  utc.tm_hour = match[4].matched ? std::stoi(match[4]) : 0;
  utc.tm_min = match[5].matched ? std::stoi(match[5]) : 0;
  utc.tm_sec = match[6].matched ? std::stoi(match[6]) : 0;
  if (utc.tm_mon > 11 || utc.tm_mday < 1 || utc.tm_mday > 31 || utc.tm_hour > 23 || utc.tm_min > 59 ||
      utc.tm_sec > 60) {
    return Status::InvalidArgument("'" + trimmed + "' is not a valid date and time");
  }
  double seconds = static_cast<double>(timegm(&utc));
  if (match[7].matched) seconds += std::stod(match[7]);
  // No offset means UTC, as in Electricity Maps' "Datetime (UTC)".
  if (match[8].matched && match[8] != "Z") {
    std::string offset = match[8];
    offset.erase(std::remove(offset.begin(), offset.end(), ':'), offset.end());
    int hours = std::stoi(offset.substr(1, 2)), minutes = std::stoi(offset.substr(3, 2));
    double shift = hours * 3600.0 + minutes * 60.0;
    seconds += offset[0] == '+' ? -shift : shift;
  }
  return seconds;
}

ConstantIntensity::ConstantIntensity(RegionInfo region, bool assumed)
    : region_(std::move(region)), assumed_(assumed) {}

nlohmann::json ConstantIntensity::Describe() const {
  nlohmann::json description = {{"kind", "constant"},
                                {"grams_per_kwh", region_.grams_per_kwh},
                                {"region", region_.key},
                                {"region_name", region_.name},
                                {"year", region_.year},
                                {"source", region_.source},
                                {"assumed", assumed_}};
  if (assumed_) {
    description["notes"] = {"no --region, --intensity or --intensity-file given: the world average " +
                            std::to_string(static_cast<int>(region_.grams_per_kwh)) +
                            " gCO2e/kWh is ASSUMED; give --region for a meaningful figure"};
  }
  return description;
}

Result<std::unique_ptr<SeriesIntensity>> SeriesIntensity::Load(const std::string& path) {
  auto text = ReadFileUpTo(path, kMaxSeriesFileBytes);
  if (!text.ok()) return text.status();
  return Parse(*text, path);
}

Result<std::unique_ptr<SeriesIntensity>> SeriesIntensity::Parse(const std::string& text, const std::string& name) {
  const std::string content = StripBom(text);
  // Its column name goes into the sweep's stored JSON, which must be UTF-8.
  if (!IsValidUtf8(content)) return Status::InvalidArgument(name + ": not UTF-8 text");
  CS_RETURN_IF_ERROR(CheckLineLengths(content, name));
  std::vector<int> lines;
  auto rows = ParseCsv(content, &lines);
  if (rows.empty()) return Status::InvalidArgument(name + ": empty intensity series");
  for (size_t r = 0; r < rows.size(); ++r) {
    for (const std::string& cell : rows[r]) {
      if (cell.size() > kMaxSeriesFieldBytes) {
        return Status::InvalidArgument(name + ":" + std::to_string(lines[r]) + ": a field longer than " +
                                       std::to_string(kMaxSeriesFieldBytes) + " bytes");
      }
    }
  }
  size_t time_column = 0, value_column = 1, first_data = 0;
  std::string column_name = "column 2";
  std::vector<std::string> header;
  for (const std::string& cell : rows[0]) header.push_back(Trim(cell));
  bool headerless = header.size() >= 2 && ParseTimestamp(header[0]).ok() && ParseDouble(header[1]).ok();
  if (!headerless) {
    first_data = 1;
    auto find = [&](const std::vector<std::string>& needles) -> int {
      for (size_t i = 0; i < header.size(); ++i) {
        bool all = true;
        for (const std::string& needle : needles) all &= header[i].find(needle) != std::string::npos;
        if (all) return static_cast<int>(i);
      }
      return -1;
    };
    int datetime = find({"Datetime (UTC)"});
    if (datetime >= 0) {
      // An Electricity Maps export: life-cycle figures (as Our World in
      // Data's country values) when present, else direct emissions.
      int value = find({"Carbon Intensity", "(LCA)"});
      if (value < 0) value = find({"Carbon Intensity", "(direct)"});
      if (value < 0) value = find({"Carbon Intensity"});
      if (value < 0) {
        return Status::InvalidArgument(name + ":" + std::to_string(lines[0]) +
                                       ": Electricity Maps export without a 'Carbon Intensity' column");
      }
      time_column = static_cast<size_t>(datetime);
      value_column = static_cast<size_t>(value);
    } else if (header.size() < 2) {
      return Status::InvalidArgument(name + ":" + std::to_string(lines[0]) +
                                     ": expected two columns (timestamp, gCO2e/kWh)");
    }
    column_name = header[value_column];
  }
  std::vector<Point> points;
  double step = 0;
  int previous_line = 0;
  for (size_t r = first_data; r < rows.size(); ++r) {
    std::string where = name + ":" + std::to_string(lines[r]);
    if (rows[r].size() <= std::max(time_column, value_column)) {
      return Status::InvalidArgument(where + ": expected " + std::to_string(std::max(time_column, value_column) + 1) +
                                     " columns, found " + std::to_string(rows[r].size()));
    }
    auto time = ParseTimestamp(rows[r][time_column]);
    if (!time.ok()) return Status::InvalidArgument(where + ": " + time.status().message());
    auto grams = ParseDouble(rows[r][value_column]);
    if (!grams.ok() || *grams < 0) {
      return Status::InvalidArgument(where + ": '" + Trim(rows[r][value_column]) +
                                     "' is not an intensity (gCO2e/kWh, >= 0)");
    }
    if (!points.empty()) {
      double gap = *time - points.back().unix_seconds;
      if (gap <= 0) {
        return Status::InvalidArgument(where + ": " + FormatUtc(*time, kIsoUtc) + " is not after line " +
                                       std::to_string(previous_line) + "'s " +
                                       FormatUtc(points.back().unix_seconds, kIsoUtc) +
                                       " (the series must be sorted, no repeats)");
      }
      if (step == 0) {
        step = gap;
      } else if (gap > 2 * step) {
        return Status::InvalidArgument(where + ": gap of " + FormatStep(gap) + " after line " +
                                       std::to_string(previous_line) + " (the series' step is " + FormatStep(step) +
                                       "); fill the missing rows");
      }
    }
    points.push_back({*time, *grams});
    previous_line = lines[r];
  }
  if (points.empty()) return Status::InvalidArgument(name + ": the intensity series has no rows");
  return std::unique_ptr<SeriesIntensity>(new SeriesIntensity(std::move(points), name, column_name));
}

double SeriesIntensity::GramsPerKwhAt(double unix_seconds) const {
  // The last row at or before the time; the first row before the series.
  auto after = std::upper_bound(points_.begin(), points_.end(), unix_seconds,
                                [](double time, const Point& point) { return time < point.unix_seconds; });
  if (after == points_.begin()) return points_.front().grams_per_kwh;
  return std::prev(after)->grams_per_kwh;
}

nlohmann::json SeriesIntensity::Describe() const {
  double step = points_.size() > 1 ? points_[1].unix_seconds - points_[0].unix_seconds : 0;
  double end = points_.back().unix_seconds + step;
  return {{"kind", "series"},
          {"file", name_},
          {"column", column_},
          {"points", points_.size()},
          {"start", FormatUtc(points_.front().unix_seconds, kIsoUtc)},
          {"end", FormatUtc(end, kIsoUtc)},
          {"step_seconds", step},
          {"assumed", false},
          {"notes",
           {"before " + FormatUtc(points_.front().unix_seconds, kIsoUtc) + " the first value (" +
                std::to_string(points_.front().grams_per_kwh) + " gCO2e/kWh) is assumed",
            "from " + FormatUtc(end, kIsoUtc) + " on the last value (" + std::to_string(points_.back().grams_per_kwh) +
                " gCO2e/kWh) is assumed"}}};
}

Status CheckIntensity(double grams_per_kwh) {
  if (grams_per_kwh >= 0 && grams_per_kwh <= kMaxGramsPerKwh) return Status::Ok();  // false for NaN.
  return Status::InvalidArgument("--intensity " + FormatNumber(grams_per_kwh) + ": must be in [0, " +
                                 FormatNumber(kMaxGramsPerKwh) + "] gCO2e/kWh");
}

Result<std::shared_ptr<const IntensityProvider>> MakeIntensityProvider(const IntensityOptions& options) {
  const bool intensity_given = options.grams_per_kwh != -1;  // NaN or -5 is an error below, never "unset".
  int given = !options.region.empty() + intensity_given + !options.intensity_file.empty();
  if (given > 1) {
    return Status::InvalidArgument("give only one of --region, --intensity and --intensity-file");
  }
  if (!options.region.empty()) {
    auto region = FindRegion(options.region);
    if (!region.ok()) return region.status();
    return std::shared_ptr<const IntensityProvider>(std::make_shared<ConstantIntensity>(*region, false));
  }
  if (intensity_given) {
    CS_RETURN_IF_ERROR(CheckIntensity(options.grams_per_kwh));
    RegionInfo user{"user", "user-set", "user"};
    user.grams_per_kwh = options.grams_per_kwh;
    user.source = "--intensity";
    return std::shared_ptr<const IntensityProvider>(std::make_shared<ConstantIntensity>(user, false));
  }
  if (!options.intensity_file.empty()) {
    auto series = SeriesIntensity::Load(options.intensity_file);
    if (!series.ok()) return series.status();
    return std::shared_ptr<const IntensityProvider>(std::move(*series));
  }
  return std::shared_ptr<const IntensityProvider>(std::make_shared<ConstantIntensity>(WorldAverage(), true));
}

}  // namespace cs
