// `carbonsweep regions [QUERY]`: the grid carbon intensities carbonsweep
// knows, with year and source; QUERY may be a region, or a city, province or
// state, or country (LookUpRegions: the place's grid zones and the cloud
// regions there); an unknown QUERY gets the nearest names.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "carbon/intensity.h"
#include "cli/command.h"
#include "common/text.h"

namespace cs {
namespace {

void PrintRegion(const RegionMatch& match) {
  const RegionInfo& region = match.region;
  const std::string intensity = StringPrintf("%8.1f", region.grams_per_kwh);
  std::string year = region.year > 0 ? std::to_string(region.year) : "n/a ";
  std::string key = region.key + std::string(region.key.size() < 30 ? 30 - region.key.size() : 1, ' ');
  std::cout << key << intensity << "  " << year << "  " << region.name << " — " << region.source;
  if (!match.why.empty()) std::cout << " [" << match.why << "]";
  std::cout << "\n";
}

}  // namespace

int RunRegionsCommand(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  po::options_description options("regions options");
  options.add_options()("query", po::value<std::string>(),
                        "a region, or a city, province, state or country (accents and small typos forgiven)")(
      "kind", po::value<std::string>(), "only this kind: country, us-state, ca-province, nordic-zone, cloud")(
      "json", po::bool_switch(), "JSON instead of the table (docs/report-json.md)");
  po::positional_options_description positional;
  positional.add("query", 1);
  po::variables_map vm;
  int exit_code = 0;
  if (!ParseCommandLine("regions", "[QUERY] [--kind KIND] [--json]", options, &positional, args, &vm, &exit_code)) {
    return exit_code;
  }
  std::string kind = vm.count("kind") ? vm["kind"].as<std::string>() : "";
  std::string query = vm.count("query") ? vm["query"].as<std::string>() : "";

  std::vector<RegionMatch> found;
  if (!query.empty()) {
    Result<std::vector<RegionMatch>> looked_up = LookUpRegions(query);
    if (!looked_up.ok()) return ReportError("regions", looked_up.status());
    found = std::move(*looked_up);
  } else {
    for (const RegionInfo& region : KnownRegions()) found.push_back({region, ""});
  }
  std::vector<RegionMatch> shown;
  for (const RegionMatch& match : found) {
    if (kind.empty() || match.region.kind == kind) shown.push_back(match);
  }
  if (shown.empty()) {
    return ReportError("regions", ExitCode::kBadInput, "--kind '" + kind + "': no region of that kind matches");
  }
  RegionInfo world = WorldAverage();
  if (vm["json"].as<bool>()) {
    nlohmann::json json = {{"regions_version", 1}, {"regions", nlohmann::json::array()},
                           {"world_average", RegionJson(world)}};
    json["query"] = query.empty() ? nlohmann::json(nullptr) : nlohmann::json(query);
    for (const RegionMatch& match : shown) json["regions"].push_back(RegionJson(match.region, match.why));
    std::cout << json.dump(2) << "\n";
    return 0;
  }
  std::cout << "region (--region)                gCO2e/kWh  year  name — source\n";
  for (const RegionMatch& match : shown) PrintRegion(match);
  std::cout << "\nWith no --region, --intensity or --intensity-file: the world average, "
            << world.grams_per_kwh << " gCO2e/kWh (" << world.year << "), reported as ASSUMED.\n"
            << "Sources and licences: carbon/data/SOURCES.md.\n";
  return 0;
}

}  // namespace cs
