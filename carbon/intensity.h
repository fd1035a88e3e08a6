// Grid carbon intensity: by region (embedded tables), as a constant, or as a
// time series, behind one IntensityProvider interface.
//
// The region table is built from the data under carbon/data/ (codecarbon and
// mlco2/impact, MIT; see carbon/data/SOURCES.md), embedded in the binary at
// build time, so it works from any working directory. Nothing is ever
// guessed from an IP address: with no --region, --intensity or
// --intensity-file the world average is used and Describe() flags it
// ("assumed": true) so every report says it out loud.
//
// Thread safety: providers are immutable after construction; all functions
// may be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace cs {

class IntensityProvider {
 public:
  virtual ~IntensityProvider() = default;
  // gCO2e per kWh in force at `unix_seconds`.
  virtual double GramsPerKwhAt(double unix_seconds) const = 0;
  // {"kind": "constant"|"series", "grams_per_kwh" or the series' span,
  //  "source", "year", "region", "assumed": bool, "notes": [...]}.
  virtual nlohmann::json Describe() const = 0;
};

// One known place with its annual intensity.
struct RegionInfo {
  std::string key;        // canonical query: "FRA", "us:california", "ca:quebec", "aws:ap-south-1".
  std::string name;       // "France", "California (USA)", "Asia Pacific (Mumbai), India".
  std::string kind;       // "country", "us-state", "ca-province", "nordic-zone", "cloud".
  double grams_per_kwh = 0;
  int year = 0;           // data year; 0 when the source does not say.
  std::string source;     // file and upstream source, one line.
  // Where it is, for the place search: a cloud region's city, state or
  // province and country as its impact.csv row gives them (a row without a
  // state takes the state another row gives the same city); a province or
  // US state its own name and country; a country its name. Empty: not said.
  std::string city;
  std::string state;
  std::string country;
};

// Every region, sorted by kind then key.
const std::vector<RegionInfo>& KnownRegions();
// Country by ISO alpha-2 ("FR"), alpha-3 ("FRA") or name ("France"); US
// state ("us:california", "California", "CA-US"? no: "us:ca"); Canadian
// province ("ca:quebec"); Nordic zone ("SE3"); cloud ("aws:ap-south-1",
// "gcp:northamerica-northeast1", "azure:canadaeast"). Case-insensitive; names
// fold Latin accents ("Québec").
// NotFound (message lists the nearest names) otherwise.
Result<RegionInfo> FindRegion(const std::string& query);
// Up to `limit` known keys/names nearest to `query`: the place search's
// matches first, then by edit distance and prefix.
std::vector<std::string> SuggestRegions(const std::string& query, size_t limit = 5);
// One region a place search found, and why it is listed.
struct RegionMatch {
  RegionInfo region;
  std::string why;  // "in Mumbai", "in Quebec", "grid zone of Montreal"; "" for the region named exactly.
};
// The regions at a place: `query` read as a city, province or state, or
// country (case and Latin accents folded: "Montréal" is "montreal"; one typo
// forgiven in 5 to 7 letters, two beyond: "Mumbay"). The grid zones the
// place lies in come first (country, province or state), then every cloud
// region located there; a city brings its province's cloud regions too
// (Montréal: aws:ca-central-1 and gcp:northamerica-northeast1 in the city,
// azure:canadaeast in Quebec). Empty when no place is near enough.
std::vector<RegionMatch> SearchRegionsByPlace(const std::string& query);
// What `carbonsweep regions QUERY` lists: the region FindRegion names, then
// the place search's matches; else every region whose key or name contains
// the query; else FindRegion's NotFound (with the nearest names).
Result<std::vector<RegionMatch>> LookUpRegions(const std::string& query);
// One region as `regions --json` lists it (docs/report-json.md): key, name,
// kind, grams_per_kwh, year (null when the source gives none), source, city,
// state, country ("" when not said), and "why" when `why` is not empty.
nlohmann::json RegionJson(const RegionInfo& region, const std::string& why = "");
// The world average (475 g/kWh, IEA 2019, from carbon_intensity_per_source.json).
RegionInfo WorldAverage();

// A constant intensity.
class ConstantIntensity : public IntensityProvider {
 public:
  // `assumed`: true when nobody chose it (the world-average default).
  ConstantIntensity(RegionInfo region, bool assumed);
  double GramsPerKwhAt(double unix_seconds) const override { return region_.grams_per_kwh; }
  nlohmann::json Describe() const override;

 private:
  RegionInfo region_;
  bool assumed_;
};

// A step series: each row's value holds from its timestamp until the next
// row. Before the first row the first value is assumed, past the last row
// the last value (both stated in Describe()'s notes).
class SeriesIntensity : public IntensityProvider {
 public:
  struct Point {
    double unix_seconds;
    double grams_per_kwh;
  };
  // Reads a CSV: either two columns (timestamp, gCO2e/kWh) with a header, or
  // an Electricity Maps export ("Datetime (UTC)", "Carbon Intensity
  // gCO₂eq/kWh (LCA)" preferred, else "(direct)"). Timestamps: ISO 8601
  // ("2024-01-01T00:00:00Z", "2024-01-01 00:00:00", "+01:00" offsets) or Unix
  // seconds. Errors name the file and line: a bad line, a non-increasing
  // timestamp, a gap (a step over twice the first step), an empty series.
  static Result<std::unique_ptr<SeriesIntensity>> Load(const std::string& path);
  static Result<std::unique_ptr<SeriesIntensity>> Parse(const std::string& text,
                                                        const std::string& name);
  double GramsPerKwhAt(double unix_seconds) const override;
  nlohmann::json Describe() const override;
  const std::vector<Point>& points() const { return points_; }

 private:
  SeriesIntensity(std::vector<Point> points, std::string name, std::string column)
      : points_(std::move(points)), name_(std::move(name)), column_(std::move(column)) {}
  std::vector<Point> points_;
  std::string name_;
  std::string column_;
};

// The highest grid intensity accepted, gCO2e/kWh: the dirtiest grids on
// record stay near 1,100, lignite plants near 1,200.
constexpr double kMaxGramsPerKwh = 2000;
// The one check of a user-given intensity: finite, in [0, kMaxGramsPerKwh];
// InvalidArgument naming --intensity and the value otherwise.
Status CheckIntensity(double grams_per_kwh);

// What the user asked for; at most one of the three may be set.
struct IntensityOptions {
  std::string region;          // --region.
  double grams_per_kwh = -1;   // --intensity; -1 = unset, anything else must pass CheckIntensity.
  std::string intensity_file;  // --intensity-file.
};
// The provider for `options`: a region, a constant, a series, or the
// world average flagged as assumed.
Result<std::shared_ptr<const IntensityProvider>> MakeIntensityProvider(const IntensityOptions& options);

// Parses an ISO 8601 timestamp or Unix seconds into Unix seconds.
Result<double> ParseTimestamp(const std::string& text);

}  // namespace cs
