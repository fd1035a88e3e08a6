// `carbonsweep regions [QUERY]`: the grid carbon intensities carbonsweep
// knows, with year and source; an unknown QUERY gets the nearest names.
#include <cstdio>
#include <iostream>

#include "carbon/intensity.h"
#include "cli/command.h"
#include "common/text.h"

namespace cs {
namespace {

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

void PrintRegion(const RegionInfo& region) {
  const std::string intensity = StringPrintf("%8.1f", region.grams_per_kwh);
  std::string year = region.year > 0 ? std::to_string(region.year) : "n/a ";
  std::string key = region.key + std::string(region.key.size() < 30 ? 30 - region.key.size() : 1, ' ');
  std::cout << key << intensity << "  " << year << "  " << region.name << " — " << region.source << "\n";
}

}  // namespace

int RunRegionsCommand(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  po::options_description options("regions options");
  options.add_options()("query", po::value<std::string>(), "a region, or part of a name, to look up")(
      "kind", po::value<std::string>(), "only this kind: country, us-state, ca-province, nordic-zone, cloud");
  po::positional_options_description positional;
  positional.add("query", 1);
  po::variables_map vm;
  int exit_code = 0;
  if (!ParseCommandLine("regions", "[QUERY] [--kind KIND]", options, &positional, args, &vm, &exit_code)) {
    return exit_code;
  }
  std::string kind = vm.count("kind") ? vm["kind"].as<std::string>() : "";
  std::string query = vm.count("query") ? vm["query"].as<std::string>() : "";

  std::vector<RegionInfo> shown;
  if (!query.empty()) {
    auto exact = FindRegion(query);
    if (exact.ok()) {
      shown.push_back(*exact);
    } else {
      // Otherwise every region whose key or name contains the query.
      for (const RegionInfo& region : KnownRegions()) {
        if (Lower(region.key).find(Lower(query)) != std::string::npos ||
            Lower(region.name).find(Lower(query)) != std::string::npos) {
          shown.push_back(region);
        }
      }
      if (shown.empty()) return ReportError("regions", exact.status());
    }
  } else {
    shown = KnownRegions();
  }
  std::cout << "region (--region)                gCO2e/kWh  year  name — source\n";
  size_t printed = 0;
  for (const RegionInfo& region : shown) {
    if (!kind.empty() && region.kind != kind) continue;
    PrintRegion(region);
    ++printed;
  }
  if (printed == 0) {
    return ReportError("regions", ExitCode::kBadInput, "--kind '" + kind + "': no region of that kind matches");
  }
  RegionInfo world = WorldAverage();
  std::cout << "\nWith no --region, --intensity or --intensity-file: the world average, "
            << world.grams_per_kwh << " gCO2e/kWh (" << world.year << "), reported as ASSUMED.\n"
            << "Sources and licences: carbon/data/SOURCES.md.\n";
  return 0;
}

}  // namespace cs
