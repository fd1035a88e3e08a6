// `carbonsweep compare A B [C ...]`: sweeps side by side (report/compare.h).
#include <algorithm>
#include <iostream>

#include "cli/command.h"
#include "cli/store_access.h"
#include "common/files.h"
#include "report/compare.h"
#include "store/sweep_store.h"

namespace cs {

namespace po = boost::program_options;

int RunCompareCommand(const std::vector<std::string>& args) {
  po::options_description options("compare options");
  options.add_options()("sweeps", po::value<std::vector<std::string>>()->multitoken()->required(),
                        "two or more sweep names")(
      "db", po::value<std::string>()->default_value("carbonsweep.db"), "the store file")(
      "html", po::value<std::string>()->default_value(""), "also write the comparison page to FILE")(
      "force", po::bool_switch(), "compare sweeps of different tasks or data anyway")(
      "json", po::bool_switch(), "JSON instead of the table (docs/report-json.md)")(
      "within", po::value<double>()->default_value(0.5),
      "accuracy points: report the CO2 each sweep needed to come this close to the best");
  po::positional_options_description positional;
  positional.add("sweeps", -1);
  po::variables_map vm;
  int exit_code = 0;
  if (!ParseCommandLine("compare", "A B [C ...] [--db FILE] [--html FILE] [--force] [--json]", options, &positional, args, &vm,
                        &exit_code)) {
    return exit_code;
  }
  std::vector<std::string> names = vm["sweeps"].as<std::vector<std::string>>();
  if (names.size() < 2) return ReportError("compare", ExitCode::kBadInput, "give at least two sweep names");
  for (size_t i = 1; i < names.size(); ++i) {
    if (std::find(names.begin(), names.begin() + i, names[i]) != names.begin() + i) {
      return ReportError("compare", ExitCode::kBadInput, "sweep '" + names[i] + "' is given twice");
    }
  }
  double within = vm["within"].as<double>();
  if (!(within >= 0)) return ReportError("compare", ExitCode::kBadInput, "--within: must be zero or more points");
  const std::string& html = vm["html"].as<std::string>();
  if (!html.empty()) {
    Status safe = CheckSafeOutputPath(html, {vm["db"].as<std::string>()});
    if (!safe.ok()) return ReportError("compare", safe.WithPrefix("--html"));
  }
  Result<std::unique_ptr<SweepStore>> store = OpenStoreForReading(vm["db"].as<std::string>());
  if (!store.ok()) return ReportError("compare", store.status());
  ReportOptions report_options;
  report_options.default_backbone_dir = DefaultBackboneDirForReports();
  std::vector<SweepReport> reports;
  for (const std::string& name : names) {
    Result<SweepReport> report = LoadSweepReport(store->get(), name, report_options);
    if (!report.ok()) return ReportError("compare", report.status());
    reports.push_back(std::move(*report));
  }
  CompareOptions compare_options;
  compare_options.within_points = within;
  if (vm["force"].as<bool>()) compare_options.comparability = CompareOptions::Comparability::kForce;
  Result<Comparison> comparison = CompareSweeps(std::move(reports), compare_options);
  if (!comparison.ok()) return ReportError("compare", comparison.status());
  if (vm["json"].as<bool>()) {
    std::cout << ComparisonJson(*comparison).dump(2) << "\n";
  } else {
    std::cout << RenderComparisonTerminal(*comparison) << std::flush;
  }
  if (!html.empty()) {
    Status written = WriteFileAtomic(html, RenderComparisonHtml(*comparison));
    if (!written.ok()) return ReportError("compare", written);
    (vm["json"].as<bool>() ? std::cerr : std::cout) << "wrote " << html << "\n";
  }
  return static_cast<int>(ExitCode::kOk);
}

}  // namespace cs
