#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "carbon/equivalents.h"
#include "carbon/intensity.h"
#include "carbon/text_util.h"
#include "common/units.h"
#include "tests/testing/temp_dir.h"

namespace cs {

TEST_CASE("countries by ISO alpha-2, alpha-3 and name") {
  auto by_alpha3 = FindRegion("FRA");
  REQUIRE(by_alpha3.ok());
  CHECK(by_alpha3->grams_per_kwh == doctest::Approx(56.039));
  CHECK(by_alpha3->year == 2023);
  CHECK(by_alpha3->source.find("Our World in Data") != std::string::npos);
  CHECK(FindRegion("fr").value().key == "FRA");
  CHECK(FindRegion("France").value().key == "FRA");
  CHECK(FindRegion("IN").value().grams_per_kwh == doctest::Approx(713.441));
  CHECK(FindRegion("usa").value().grams_per_kwh == doctest::Approx(369.5).epsilon(0.01));
  // codecarbon has no carbon_intensity for the Central African Republic: the mix is weighted.
  auto caf = FindRegion("CAF");
  REQUIRE(caf.ok());
  CHECK(caf->source.find("generation mix") != std::string::npos);
  CHECK(caf->grams_per_kwh == doctest::Approx(26));  // all hydro
}

TEST_CASE("US states, Canadian provinces and Nordic zones") {
  auto california = FindRegion("us:california");
  REQUIRE(california.ok());
  CHECK(california->grams_per_kwh == doctest::Approx(452.541 * 0.45359237));  // ~205 g/kWh
  CHECK(california->year == 2016);
  CHECK(FindRegion("California").value().key == "us:california");
  CHECK(FindRegion("us:ca").value().key == "us:california");
  CHECK(FindRegion("us:new york").value().key == "us:new-york");
  CHECK(FindRegion("Georgia").value().kind == "country");  // the country wins; us:georgia for the state
  CHECK(FindRegion("us:georgia").value().kind == "us-state");

  auto quebec = FindRegion("ca:quebec");
  REQUIRE(quebec.ok());
  CHECK(quebec->kind == "ca-province");
  CHECK(quebec->grams_per_kwh > 20);
  CHECK(quebec->grams_per_kwh < 40);  // ~94 % hydro at 26 g/kWh life-cycle
  CHECK(FindRegion("Alberta").value().grams_per_kwh > 400);

  CHECK(FindRegion("nordic:SE3").value().grams_per_kwh == doctest::Approx(18));
  CHECK(FindRegion("se3").value().key == "nordic:SE3");
  CHECK(FindRegion("FI").value().kind == "country");  // Finland; nordic:FI for the zone
  CHECK(FindRegion("nordic:FI").value().grams_per_kwh == doctest::Approx(72));
}

TEST_CASE("cloud regions with provider prefixes") {
  auto mumbai = FindRegion("aws:ap-south-1");
  REQUIRE(mumbai.ok());
  CHECK(mumbai->grams_per_kwh == doctest::Approx(920));
  CHECK(mumbai->name.find("Mumbai") != std::string::npos);
  CHECK(mumbai->source.find("mlco2/impact") != std::string::npos);
  // GCP: codecarbon's 2024 figure wins over mlco2/impact's 34.5.
  auto montreal = FindRegion("gcp:northamerica-northeast1");
  REQUIRE(montreal.ok());
  CHECK(montreal->grams_per_kwh == doctest::Approx(2));
  CHECK(montreal->year == 2024);
  CHECK(FindRegion("azure:canadaeast").value().grams_per_kwh == doctest::Approx(20));
  CHECK(FindRegion("GCP:ASIA-SOUTH1").value().grams_per_kwh == doctest::Approx(648));  // case-insensitive
  // The BOM of codecarbon's impact.csv did not eat the provider column.
  CHECK(FindRegion("gcp:us-central1").ok());
}

TEST_CASE("unknown regions get the nearest names") {
  auto wrong = FindRegion("aws:ap-south-2x");
  REQUIRE(!wrong.ok());
  CHECK(wrong.status().code() == Status::Code::kNotFound);
  CHECK(wrong.status().message().find("aws:ap-south-1") != std::string::npos);
  auto nearest = SuggestRegions("Frnce");
  REQUIRE(!nearest.empty());
  CHECK(nearest[0].find("FRA") != std::string::npos);
  CHECK(SuggestRegions("zzzzzzzzzzzzzzzzzzzz").empty());
}

// The keys of `matches`, in order.
std::vector<std::string> KeysOf(const std::vector<RegionMatch>& matches) {
  std::vector<std::string> keys;
  for (const RegionMatch& match : matches) keys.push_back(match.region.key);
  return keys;
}

bool Has(const std::vector<std::string>& keys, const std::string& key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

TEST_CASE("place names fold case, Latin accents and punctuation") {
  CHECK(FoldForSearch("Montréal") == "montreal");
  CHECK(FoldForSearch("  SÃO   Paulo ") == "sao paulo");
  CHECK(FoldForSearch("Zürich") == "zurich");
  CHECK(FoldForSearch("Łódź") == "lodz");
  CHECK(FoldForSearch("Straße") == "strasse");
  CHECK(FoldForSearch("St. Ghislain") == "st ghislain");
  CHECK(FoldForSearch("Montr\xC3") == "montr\xC3");  // a cut-off sequence is kept as is
}

TEST_CASE("a city lists its grid zones and the cloud regions there and in its province") {
  auto montreal = KeysOf(SearchRegionsByPlace("Montréal"));
  REQUIRE(montreal.size() >= 5);
  CHECK(montreal[0] == "CAN");  // zones first
  CHECK(Has(montreal, "ca:quebec"));
  CHECK(Has(montreal, "aws:ca-central-1"));  // its row has no state: Quebec from the gcp row
  CHECK(Has(montreal, "gcp:northamerica-northeast1"));
  CHECK(Has(montreal, "azure:canadaeast"));  // Quebec City, same province
  CHECK(!Has(montreal, "azure:canadacentral"));  // Toronto
  CHECK(!Has(montreal, "us:montana"));
  CHECK(KeysOf(SearchRegionsByPlace("MONTREAL")) == montreal);

  auto mumbai = SearchRegionsByPlace("Mumbay");  // one typo
  auto keys = KeysOf(mumbai);
  REQUIRE(!keys.empty());
  CHECK(keys[0] == "IND");
  CHECK(mumbai[0].why == "grid zone of Mumbai");
  for (const char* key : {"aws:ap-south-1", "azure:westindia", "gcp:asia-south1"}) CHECK(Has(keys, key));
  CHECK(!Has(keys, "CUB"));
  CHECK(!Has(keys, "gcp:asia-south2"));  // Delhi
}

TEST_CASE("a province, a state or a country lists the cloud regions located there") {
  auto quebec = KeysOf(SearchRegionsByPlace("quebec"));
  CHECK(Has(quebec, "ca:quebec"));
  CHECK(Has(quebec, "azure:canadaeast"));
  CHECK(Has(quebec, "aws:ca-central-1"));

  auto india = KeysOf(SearchRegionsByPlace("Inida"));  // a transposition is one typo
  REQUIRE(!india.empty());
  CHECK(india[0] == "IND");
  CHECK(Has(india, "gcp:asia-south2"));
  CHECK(Has(india, "azure:southindia"));

  CHECK(Has(KeysOf(SearchRegionsByPlace("frankfurt")), "aws:eu-central-1"));  // "Frankfurt am Main"
  CHECK(SearchRegionsByPlace("zzzzzz").empty());
  CHECK(SearchRegionsByPlace("fr").empty());  // too short to be a place
}

TEST_CASE("regions QUERY: the named region, then the place's, then names containing it") {
  auto quebec = LookUpRegions("Québec");
  REQUIRE(quebec.ok());
  CHECK(quebec->at(0).region.key == "ca:quebec");
  CHECK(Has(KeysOf(*quebec), "azure:canadaeast"));

  auto key = LookUpRegions("aws:ap-south-1");
  REQUIRE(key.ok());
  CHECK(KeysOf(*key) == std::vector<std::string>{"aws:ap-south-1"});

  auto part = LookUpRegions("northeast");
  REQUIRE(part.ok());
  CHECK(Has(KeysOf(*part), "gcp:northamerica-northeast1"));

  auto none = LookUpRegions("Atlantis");
  REQUIRE(!none.ok());
  CHECK(none.status().message().find("unknown region 'Atlantis'") == 0);

  // --region's suggestions start with the place search.
  auto wrong = FindRegion("Mumbay");
  REQUIRE(!wrong.ok());
  CHECK(wrong.status().message().find("nearest: IND (India), aws:ap-south-1") != std::string::npos);
}

TEST_CASE("every region has an intensity, a source and a unique key") {
  std::set<std::string> keys;
  for (const RegionInfo& region : KnownRegions()) {
    CHECK(region.grams_per_kwh >= 0);
    CHECK(region.grams_per_kwh < 2000);
    CHECK(!region.source.empty());
    CHECK(keys.insert(region.key).second);
  }
  CHECK(keys.size() > 212 + 50 + 13 + 10 + 80);
}

TEST_CASE("nothing given means the world average, flagged as assumed") {
  auto provider = MakeIntensityProvider({});
  REQUIRE(provider.ok());
  CHECK((*provider)->GramsPerKwhAt(0) == doctest::Approx(475));
  nlohmann::json description = (*provider)->Describe();
  CHECK(description["assumed"] == true);
  CHECK(description["year"] == 2019);
  CHECK(description["notes"][0].get<std::string>().find("ASSUMED") != std::string::npos);

  IntensityOptions set;
  set.grams_per_kwh = 123;
  CHECK(MakeIntensityProvider(set).value()->Describe()["assumed"] == false);
  set.region = "FR";
  CHECK(MakeIntensityProvider(set).status().message().find("only one of") != std::string::npos);
  IntensityOptions region;
  region.region = "Atlantis";
  CHECK(MakeIntensityProvider(region).status().code() == Status::Code::kNotFound);
}

TEST_CASE("timestamps: ISO 8601 with and without offsets, and Unix seconds") {
  CHECK(ParseTimestamp("2024-01-01T00:00:00Z").value() == doctest::Approx(1704067200));
  CHECK(ParseTimestamp("2024-01-01 00:00:00").value() == doctest::Approx(1704067200));
  CHECK(ParseTimestamp("2024-01-01T01:00:00+01:00").value() == doctest::Approx(1704067200));
  CHECK(ParseTimestamp("2023-12-31T19:00-0500").value() == doctest::Approx(1704067200));
  CHECK(ParseTimestamp("1704067200").value() == doctest::Approx(1704067200));
  CHECK(ParseTimestamp("2024-01-01").value() == doctest::Approx(1704067200));
  CHECK(!ParseTimestamp("yesterday").ok());
  CHECK(!ParseTimestamp("2024-13-01T00:00:00Z").ok());
}

TEST_CASE("a two-column series is a step function, with stated assumptions at both ends") {
  auto series = SeriesIntensity::Parse(
      "timestamp,gco2e_per_kwh\n"
      "2024-01-01T00:00:00Z,100\n"
      "2024-01-01T01:00:00Z,200\n"
      "2024-01-01T02:00:00Z,300\n",
      "series.csv");
  REQUIRE(series.ok());
  double t0 = 1704067200;
  CHECK((*series)->GramsPerKwhAt(t0) == 100);
  CHECK((*series)->GramsPerKwhAt(t0 + 3599.9) == 100);
  CHECK((*series)->GramsPerKwhAt(t0 + 3600) == 200);  // the boundary belongs to the new row
  CHECK((*series)->GramsPerKwhAt(t0 + 7200) == 300);
  CHECK((*series)->GramsPerKwhAt(t0 + 99999) == 300);  // past the end: the last value
  CHECK((*series)->GramsPerKwhAt(t0 - 10) == 100);     // before the start: the first value
  nlohmann::json description = (*series)->Describe();
  CHECK(description["end"] == "2024-01-01T03:00:00Z");
  CHECK(description["notes"][1].get<std::string>().find("last value (300") != std::string::npos);
}

TEST_CASE("an Electricity Maps export: Datetime (UTC) and the LCA column") {
  auto series = SeriesIntensity::Parse(
      "\xEF\xBB\xBF" "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO\xE2\x82\x82" "eq/kWh (direct),"
      "Carbon Intensity gCO\xE2\x82\x82" "eq/kWh (LCA),Low Carbon Percentage\n"
      "2024-01-01 00:00:00,France,France,FR,20.5,40.25,95\n"
      "2024-01-01 01:00:00,France,France,FR,22,44,94\n",
      "FR_2024_hourly.csv");
  REQUIRE(series.ok());
  CHECK((*series)->GramsPerKwhAt(1704067200) == doctest::Approx(40.25));
  CHECK((*series)->Describe()["column"].get<std::string>().find("(LCA)") != std::string::npos);
}

TEST_CASE("series errors name the file and line") {
  auto unsorted = SeriesIntensity::Parse("t,g\n2024-01-01T01:00:00Z,1\n2024-01-01T00:00:00Z,2\n", "s.csv");
  CHECK(unsorted.status().message().find("s.csv:3:") == 0);
  CHECK(unsorted.status().message().find("sorted") != std::string::npos);
  auto gap = SeriesIntensity::Parse(
      "t,g\n2024-01-01T00:00:00Z,1\n2024-01-01T01:00:00Z,2\n2024-01-01T05:00:00Z,3\n", "s.csv");
  CHECK(gap.status().message().find("s.csv:4: gap of 4h after line 3") == 0);
  auto bad = SeriesIntensity::Parse("t,g\n2024-01-01T00:00:00Z,1\n2024-01-01T01:00:00Z,lots\n", "s.csv");
  CHECK(bad.status().message().find("s.csv:3: 'lots' is not an intensity") == 0);
  auto short_row = SeriesIntensity::Parse("t,g\n2024-01-01T00:00:00Z\n", "s.csv");
  CHECK(short_row.status().message().find("s.csv:2: expected 2 columns") == 0);
  CHECK(SeriesIntensity::Parse("t,g\n", "s.csv").status().message().find("no rows") != std::string::npos);
  testing::TempDir dir;
  CHECK(SeriesIntensity::Load(dir.File("missing.csv")).status().code() == Status::Code::kNotFound);
  auto loaded = SeriesIntensity::Load(dir.Write("ok.csv", "1704067200,10\n1704070800,20\n"));  // headerless
  REQUIRE(loaded.ok());
  CHECK((*loaded)->GramsPerKwhAt(1704070800) == 20);
}

TEST_CASE("an intensity is a finite number in [0, 2000] g/kWh; NaN or a negative one is refused, not taken as unset") {
  for (double bad : {std::nan(""), -5.0, 2500.0, HUGE_VAL}) {
    IntensityOptions options;
    options.grams_per_kwh = bad;
    auto provider = MakeIntensityProvider(options);
    CHECK_MESSAGE(provider.status().code() == Status::Code::kInvalidArgument, bad);
    CHECK(provider.status().message().rfind("--intensity ", 0) == 0);
  }
  IntensityOptions zero;
  zero.grams_per_kwh = 0;
  REQUIRE(MakeIntensityProvider(zero).ok());
  CHECK((*MakeIntensityProvider(zero))->GramsPerKwhAt(0) == 0);
  CHECK(CheckIntensity(2000).ok());
}

TEST_CASE("an overlong field or line in a series is refused naming the line, before any pattern match") {
  // 50,000 characters once overflowed std::regex's stack.
  const std::string long_time = "2024-01-01T01:00:00." + std::string(50000, '1');
  auto long_line = SeriesIntensity::Parse("t,g\n2024-01-01T00:00:00Z,1\n" + long_time + ",5\n", "s.csv");
  CHECK(long_line.status().message().rfind("s.csv:3: ", 0) == 0);
  CHECK(long_line.status().message().find("4096 bytes") != std::string::npos);
  auto long_field = SeriesIntensity::Parse("t,g\n" + std::string(300, '2') + ",5\n", "s.csv");
  CHECK(long_field.status().message().rfind("s.csv:2: ", 0) == 0);
  CHECK(long_field.status().message().find("256 bytes") != std::string::npos);
  CHECK(!ParseTimestamp(long_time).ok());
  testing::TempDir dir;
  CHECK(SeriesIntensity::Load(dir.path()).status().message() == dir.path() + ": not a regular file");
  // Found by the intensity fuzzer: a column name that is not UTF-8 once made the sweep's JSON throw.
  auto latin1 = SeriesIntensity::Parse("time,g\xb2\n1704067200,31\n1704070800,30\n", "s.csv");
  CHECK(latin1.status().message() == "s.csv: not UTF-8 text");
  CHECK(ParseTimestamp("1704704067204704067200").status().message().find("years 1970 to 9999") != std::string::npos);
  CHECK(!ParseTimestamp("-5").ok());
  CHECK(ParseTimestamp("1704067200").value() == 1704067200);
}

TEST_CASE("unit conversions and equivalents pinned by hand") {
  CHECK(JoulesToKwh(3.6e6) == doctest::Approx(1.0));
  CHECK(KwhToJoules(0.5) == doctest::Approx(1.8e6));
  CHECK(GramsCo2e(/*joules=*/7.2e6, /*grams_per_kwh=*/475) == doctest::Approx(950.0));  // 2 kWh x 475
  CHECK(GramsCo2e(3600, 1000) == doctest::Approx(1.0));                                  // 1 Wh at 1 kg/kWh
  CHECK(GramsCo2e(1000, 475) / 1000 == doctest::Approx(0.000131944).epsilon(1e-4));      // kg
  CHECK(CarKmEquivalent(1068) == doctest::Approx(10.0));
  CHECK(TvHoursEquivalent(970) == doctest::Approx(10.0));
  CHECK(FlightShareEquivalent(493000) == doctest::Approx(1.0));
  CHECK(std::string(kTransatlanticFlightSource).find("Atmosfair") != std::string::npos);
}

}  // namespace cs
