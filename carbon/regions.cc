// The region table, built once from the embedded data files.
#include <algorithm>
#include <cstdint>
#include <map>
#include <regex>
#include <set>

#include "carbon/embedded_data.h"
#include "carbon/intensity.h"
#include "carbon/text_util.h"

namespace cs {
namespace {

// eGRID's lbs/MWh to g/kWh: 453.59237 g per lb, 1000 kWh per MWh.
constexpr double kGramsPerKwhPerLbsPerMwh = 0.45359237;

nlohmann::json EmbeddedJson(const std::string& name) {
  auto file = EmbeddedDataFile(name);
  if (!file) return nlohmann::json::object();
  try {
    return nlohmann::json::parse(*file);
  } catch (const nlohmann::json::exception&) {
    return nlohmann::json::object();  // a broken embedded file shows up as missing regions in tests.
  }
}

std::string Slug(std::string name) {
  name = ToLower(Trim(name));
  std::replace(name.begin(), name.end(), ' ', '-');
  return name;
}

std::string TitleCase(std::string name) {
  bool start = true;
  for (char& c : name) {
    if (start) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    start = c == ' ' || c == '-';
  }
  return name;
}

const nlohmann::json& PerSourceFactors() {
  static const nlohmann::json factors = EmbeddedJson("codecarbon/carbon_intensity_per_source.json");
  return factors;
}

void AddCountries(std::vector<RegionInfo>* regions) {
  const nlohmann::json& factors = PerSourceFactors();
  nlohmann::json countries = EmbeddedJson("codecarbon/global_energy_mix.json");
  for (const auto& [iso3, row] : countries.items()) {
    RegionInfo region{iso3, row.value("country_name", iso3), "country"};
    region.year = row.value("year", 0);
    region.country = region.name;
    // CAF carries 0.0, meaning "no value" (SOURCES.md): weigh its mix instead.
    if (row.contains("carbon_intensity") && row["carbon_intensity"].is_number() &&
        row["carbon_intensity"].get<double>() > 0) {
      region.grams_per_kwh = row["carbon_intensity"].get<double>();
      region.source = "codecarbon global_energy_mix.json (Our World in Data)";
    } else {
      // As codecarbon: the generation mix weighted by per-source factors.
      double total = row.value("total_TWh", 0.0), weighted = 0;
      const std::pair<const char*, const char*> mix[] = {
          {"coal_TWh", "coal"}, {"gas_TWh", "natural_gas"}, {"oil_TWh", "petroleum"},
          {"nuclear_TWh", "nuclear"}, {"hydroelectricity_TWh", "hydroelectricity"},
          {"solar_TWh", "solar"}, {"wind_TWh", "wind"}};
      for (const auto& [column, factor] : mix) weighted += row.value(column, 0.0) * factors.value(factor, 0.0);
      if (total <= 0) continue;
      region.grams_per_kwh = weighted / total;
      region.source = "codecarbon global_energy_mix.json generation mix x carbon_intensity_per_source.json";
    }
    regions->push_back(region);
  }
}

void AddUsStates(std::vector<RegionInfo>* regions) {
  nlohmann::json states = EmbeddedJson("codecarbon/usa_emissions.json");
  for (const auto& [name, row] : states.items()) {
    if (name == "_unit" || name == "usa" || !row.contains("emissions")) continue;
    RegionInfo region{"us:" + Slug(name), TitleCase(name) + ", USA", "us-state"};
    region.state = TitleCase(name);
    region.country = "USA";
    region.grams_per_kwh = row["emissions"].get<double>() * kGramsPerKwhPerLbsPerMwh;
    region.year = 2016;  // the file sits in codecarbon's private_infra/2016/ (eGRID 2016).
    region.source = "codecarbon usa_emissions.json (US EPA eGRID 2016, lbs/MWh converted)";
    regions->push_back(region);
  }
}

void AddCanadianProvinces(std::vector<RegionInfo>* regions) {
  const nlohmann::json& factors = PerSourceFactors();
  nlohmann::json provinces = EmbeddedJson("codecarbon/canada_energy_mix.json");
  const std::pair<const char*, const char*> mix[] = {
      {"coal", "coal"}, {"petroleum", "petroleum"}, {"naturalGas", "natural_gas"}, {"nuclear", "nuclear"},
      {"hydro", "hydroelectricity"}, {"wind", "wind"}, {"solar", "solar"}};
  for (const auto& [name, row] : provinces.items()) {
    RegionInfo region{"ca:" + Slug(name), TitleCase(name) + ", Canada", "ca-province"};
    region.state = TitleCase(name);
    region.country = "Canada";
    double grams = 0;
    for (const auto& [share, factor] : mix) grams += row.value(share, 0.0) / 100.0 * factors.value(factor, 0.0);
    region.grams_per_kwh = grams;
    region.year = 2023;  // the file sits in codecarbon's private_infra/2023/.
    region.source = "codecarbon canada_energy_mix.json shares x carbon_intensity_per_source.json factors";
    regions->push_back(region);
  }
}

void AddNordicZones(std::vector<RegionInfo>* regions) {
  nlohmann::json nordic = EmbeddedJson("codecarbon/nordic_emissions.json");
  if (!nordic.contains("data")) return;
  for (const auto& [zone, row] : nordic["data"].items()) {
    RegionInfo region{"nordic:" + zone, row.value("description", zone), "nordic-zone"};
    region.grams_per_kwh = row.value("emission_factor", 0.0);
    region.year = row.value("year", 0);
    region.source = "codecarbon nordic_emissions.json (ENTSO-E historical averages)";
    regions->push_back(region);
  }
}

// Cloud regions: codecarbon's 2024 GCP figures first, then mlco2/impact's
// rows for the keys codecarbon does not have.
void AddCloudRegions(std::vector<RegionInfo>* regions) {
  std::map<std::string, RegionInfo> by_key;
  struct Table {
    const char* file;
    int year;
    const char* label;
  };
  for (const Table& table : {Table{"codecarbon/impact.csv", 2024, "codecarbon impact.csv"},
                             Table{"mlco2-impact/impact.csv", 0, "mlco2/impact impact.csv"}}) {
    auto file = EmbeddedDataFile(table.file);
    if (!file) continue;
    auto rows = ParseCsv(StripBom(std::string(*file)));
    if (rows.empty()) continue;
    std::map<std::string, size_t> column;
    for (size_t i = 0; i < rows[0].size(); ++i) column[Trim(rows[0][i])] = i;
    auto cell = [&](const std::vector<std::string>& row, const std::string& name) {
      auto it = column.find(name);
      return it == column.end() || it->second >= row.size() ? std::string() : Trim(row[it->second]);
    };
    for (size_t r = 1; r < rows.size(); ++r) {
      auto grams = ParseDouble(cell(rows[r], "impact"));
      std::string provider = ToLower(cell(rows[r], "provider"));
      std::string key = provider + ":" + ToLower(cell(rows[r], "region"));
      if (!grams.ok() || provider.empty() || by_key.count(key)) continue;
      std::string place = cell(rows[r], "regionName");
      if (place.empty()) place = cell(rows[r], "city");
      std::string country = cell(rows[r], "country_name");
      if (country.empty()) country = cell(rows[r], "country");
      RegionInfo region{key, place.empty() ? country : place + ", " + country, "cloud"};
      region.grams_per_kwh = *grams;
      region.year = table.year;
      region.source = std::string(table.label) + " (" + cell(rows[r], "source") + ")";
      region.city = cell(rows[r], "city");
      region.state = cell(rows[r], "state");
      region.country = country;
      by_key[key] = region;
    }
  }
  // A row without a state (aws:ca-central-1, Montreal) takes the state
  // another row gives the same city in the same country (Quebec).
  std::map<std::string, std::string> state_of_city;
  for (const auto& [key, region] : by_key) {
    std::string city = FoldForSearch(region.city) + "|" + FoldForSearch(region.country);
    if (!region.city.empty() && !region.state.empty() && !state_of_city.count(city)) state_of_city[city] = region.state;
  }
  for (auto& [key, region] : by_key) {
    auto state = state_of_city.find(FoldForSearch(region.city) + "|" + FoldForSearch(region.country));
    if (region.state.empty() && state != state_of_city.end()) region.state = state->second;
    regions->push_back(region);
  }
}

const std::map<std::string, std::string>& Alpha2ToAlpha3() {
  static const std::map<std::string, std::string> table = [] {
    std::map<std::string, std::string> map;
    auto file = EmbeddedDataFile("iso-codes/alpha2_alpha3.csv");
    if (!file) return map;
    auto rows = ParseCsv(std::string(*file));
    for (size_t i = 1; i < rows.size(); ++i) {
      if (rows[i].size() == 2) map[ToLower(rows[i][0])] = rows[i][1];
    }
    return map;
  }();
  return table;
}

int KindOrder(const std::string& kind) {
  static const char* kOrder[] = {"country", "us-state", "ca-province", "nordic-zone", "cloud"};
  for (int i = 0; i < 5; ++i) {
    if (kind == kOrder[i]) return i;
  }
  return 5;
}

// The name a region is asked for by: "california", "quebec", "se3".
std::string ShortName(const RegionInfo& region) {
  if (region.kind == "us-state" || region.kind == "ca-province" || region.kind == "nordic-zone") {
    return region.key.substr(region.key.find(':') + 1);
  }
  return "";
}

// How far `wanted` (folded) is from a place's name: 0 for the name itself or
// its first words ("frankfurt" in "Frankfurt am Main"), else the edit
// distance; SIZE_MAX for an unnamed place.
size_t PlaceDistance(const std::string& wanted, const std::string& place) {
  if (place.empty()) return SIZE_MAX;
  const std::string folded = FoldForSearch(place);
  if (folded == wanted || folded.rfind(wanted + " ", 0) == 0) return 0;
  return EditDistance(wanted, folded);
}

// The grid zones a cloud region lies in: its country, and its province or
// US state where the tables have one.
std::vector<RegionInfo> ZonesOf(const RegionInfo& cloud, const std::vector<RegionInfo>& regions) {
  // Looked up here, not with FindRegion: its suggestions search places again.
  std::vector<RegionInfo> zones;
  if (cloud.country.empty()) return zones;
  const std::string country = FoldForSearch(cloud.country);
  const char* prefix = country == "usa" ? "us:" : country == "canada" ? "ca:" : nullptr;
  const std::string state_key = prefix && !cloud.state.empty() ? prefix + Slug(FoldForSearch(cloud.state)) : "";
  for (const RegionInfo& region : regions) {
    if (region.kind == "country" && (ToLower(region.key) == country || FoldForSearch(region.name) == country)) {
      zones.push_back(region);
    }
  }
  for (const RegionInfo& region : regions) {
    if (!state_key.empty() && region.key == state_key) zones.push_back(region);
  }
  return zones;
}

}  // namespace

const std::vector<RegionInfo>& KnownRegions() {
  static const std::vector<RegionInfo> regions = [] {
    std::vector<RegionInfo> all;
    AddCountries(&all);
    AddUsStates(&all);
    AddCanadianProvinces(&all);
    AddNordicZones(&all);
    AddCloudRegions(&all);
    std::sort(all.begin(), all.end(), [](const RegionInfo& a, const RegionInfo& b) {
      return std::make_pair(KindOrder(a.kind), a.key) < std::make_pair(KindOrder(b.kind), b.key);
    });
    return all;
  }();
  return regions;
}

Result<RegionInfo> FindRegion(const std::string& query) {
  std::string wanted = ToLower(Trim(query));
  const auto& regions = KnownRegions();
  auto find_if = [&](auto predicate) -> const RegionInfo* {
    for (const RegionInfo& region : regions) {
      if (predicate(region)) return &region;
    }
    return nullptr;
  };
  // In order: a key ("fra", "us:california", "aws:ap-south-1"), an alpha-2
  // code, a country's name, a US state or Canadian province by name ("us:"
  // or "ca:" forms win where a country shares the name: Georgia), a US
  // state's postal code after "us:" ("us:ca"), a bare Nordic zone ("se3").
  const RegionInfo* found = find_if([&](const RegionInfo& r) {
    return ToLower(r.key) == wanted || ToLower(r.key) == Slug(wanted);  // "us:new york"
  });
  if (!found) {
    auto alpha3 = Alpha2ToAlpha3().find(wanted);
    if (alpha3 != Alpha2ToAlpha3().end()) {
      found = find_if([&](const RegionInfo& r) { return r.kind == "country" && r.key == alpha3->second; });
    }
  }
  if (!found) {
    // Names fold accents too ("Québec", "Curaçao").
    found = find_if([&](const RegionInfo& r) { return r.kind == "country" && FoldForSearch(r.name) == FoldForSearch(wanted); });
  }
  if (!found) {
    std::string slug = Slug(FoldForSearch(wanted));
    found = find_if([&](const RegionInfo& r) { return !ShortName(r).empty() && ToLower(ShortName(r)) == slug; });
  }
  if (!found && wanted.rfind("us:", 0) == 0 && wanted.size() == 5) {
    nlohmann::json states = EmbeddedJson("codecarbon/usa_emissions.json");
    for (const auto& [name, row] : states.items()) {
      if (row.is_object() && ToLower(row.value("regionCode", "")) == wanted.substr(3) && name != "usa") {
        const std::string key = "us:" + Slug(name);  // clang < 16 cannot capture a structured binding.
        found = find_if([&](const RegionInfo& r) { return r.key == key; });
      }
    }
  }
  if (found) return *found;
  std::vector<std::string> nearest = SuggestRegions(query, 5);
  std::string message = "unknown region '" + query + "'";
  if (!nearest.empty()) message += "; nearest: " + Join(nearest, ", ");
  return Status::NotFound(message + " (see `carbonsweep regions`)");
}

std::vector<std::string> SuggestRegions(const std::string& query, size_t limit) {
  std::string wanted = ToLower(Trim(query));
  std::vector<std::string> nearest;
  for (const RegionMatch& match : SearchRegionsByPlace(query)) {
    if (nearest.size() < limit) nearest.push_back(match.region.key + " (" + match.region.name + ")");
  }
  std::vector<std::pair<size_t, std::string>> scored;
  for (const RegionInfo& region : KnownRegions()) {
    size_t best = EditDistance(wanted, ToLower(region.key));
    for (const std::string& alias : {ToLower(region.name), ToLower(ShortName(region))}) {
      if (alias.empty()) continue;
      best = std::min(best, EditDistance(wanted, alias));
      // A query inside a longer name ("mumbai") counts as close.
      if (wanted.size() >= 3 && alias.find(wanted) != std::string::npos) best = std::min<size_t>(best, 1);
    }
    if (wanted.size() >= 3 && ToLower(region.key).find(wanted) != std::string::npos) best = std::min<size_t>(best, 1);
    scored.emplace_back(best, region.key + " (" + region.name + ")");
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t cutoff = std::max<size_t>(2, wanted.size() / 2);
  for (const auto& [distance, name] : scored) {
    if (nearest.size() >= limit || distance > cutoff) break;
    if (std::find(nearest.begin(), nearest.end(), name) == nearest.end()) nearest.push_back(name);
  }
  return nearest;
}

std::vector<RegionMatch> SearchRegionsByPlace(const std::string& query) {
  const std::string wanted = FoldForSearch(query);
  if (wanted.size() < 3) return {};
  const size_t allowed = wanted.size() <= 4 ? 0 : wanted.size() <= 7 ? 1 : 2;
  const auto& regions = KnownRegions();
  // The nearest place names: cities of cloud regions, provinces and states,
  // countries.
  size_t best = SIZE_MAX;
  for (const RegionInfo& region : regions) {
    if (region.kind == "cloud") best = std::min(best, PlaceDistance(wanted, region.city));
    best = std::min({best, PlaceDistance(wanted, region.state), PlaceDistance(wanted, region.country)});
  }
  if (best > allowed) return {};
  auto near = [&](const std::string& place) { return PlaceDistance(wanted, place) == best; };

  std::vector<RegionMatch> zones, clouds;
  std::set<std::string> keys;
  auto add = [&keys](std::vector<RegionMatch>* to, const RegionInfo& region, const std::string& why) {
    if (keys.insert(region.key).second) to->push_back({region, why});
  };
  // Provinces and states named by the query, and those of the cities it names.
  std::set<std::string> states;
  for (const RegionInfo& region : regions) {
    if (near(region.state) || (region.kind == "cloud" && near(region.city) && !region.state.empty())) {
      states.insert(FoldForSearch(region.state));
    }
  }
  for (const RegionInfo& region : regions) {
    if (region.kind == "cloud") continue;
    if (near(region.country) && region.kind == "country") add(&zones, region, "country");
    if (states.count(FoldForSearch(region.state)) && !region.state.empty()) add(&zones, region, "province or state");
  }
  for (const RegionInfo& region : regions) {
    if (region.kind != "cloud") continue;
    std::string why;
    if (near(region.city)) {
      why = "in " + region.city;
    } else if (!region.state.empty() && states.count(FoldForSearch(region.state))) {
      why = "in " + region.state;
    } else if (near(region.country)) {
      why = "in " + region.country;
    } else {
      continue;
    }
    add(&clouds, region, why);
    if (why != "in " + region.country) {
      for (const RegionInfo& zone : ZonesOf(region, regions)) add(&zones, zone, "grid zone of " + why.substr(3));
    }
  }
  std::stable_sort(zones.begin(), zones.end(), [](const RegionMatch& a, const RegionMatch& b) {
    return KindOrder(a.region.kind) < KindOrder(b.region.kind);
  });
  zones.insert(zones.end(), clouds.begin(), clouds.end());
  return zones;
}

Result<std::vector<RegionMatch>> LookUpRegions(const std::string& query) {
  std::vector<RegionMatch> found;
  std::set<std::string> keys;
  auto add = [&](const RegionInfo& region, const std::string& why) {
    if (keys.insert(region.key).second) found.push_back({region, why});
  };
  Result<RegionInfo> named = FindRegion(query);
  if (named.ok()) add(*named, "");
  for (const RegionMatch& match : SearchRegionsByPlace(query)) add(match.region, match.why);
  if (!found.empty()) return found;
  const std::string wanted = FoldForSearch(query);
  if (!wanted.empty()) {
    for (const RegionInfo& region : KnownRegions()) {
      if (FoldForSearch(region.key).find(wanted) != std::string::npos ||
          FoldForSearch(region.name).find(wanted) != std::string::npos) {
        add(region, "name contains '" + query + "'");
      }
    }
  }
  if (found.empty()) return named.status();
  return found;
}

nlohmann::json RegionJson(const RegionInfo& region, const std::string& why) {
  nlohmann::json json = {{"key", region.key},     {"name", region.name},   {"kind", region.kind},
                         {"grams_per_kwh", region.grams_per_kwh},          {"source", region.source},
                         {"city", region.city},   {"state", region.state}, {"country", region.country}};
  json["year"] = region.year > 0 ? nlohmann::json(region.year) : nlohmann::json(nullptr);
  if (!why.empty()) json["why"] = why;
  return json;
}

RegionInfo WorldAverage() {
  const nlohmann::json& factors = PerSourceFactors();
  RegionInfo world{"world", "World average", "world"};
  world.grams_per_kwh = factors.value("world_average", 0.0);
  std::string url = factors.value("world_average_source", "");
  std::smatch year;
  if (std::regex_search(url, year, std::regex("20[0-9][0-9]"))) world.year = std::stoi(year.str());
  world.source = "codecarbon carbon_intensity_per_source.json world_average (" + url + ")";
  return world;
}

}  // namespace cs
