// `carbonsweep report NAME`: one sweep's emissions report (report/sweep_report.h).
#include <iostream>

#include "cli/command.h"
#include "cli/store_access.h"
#include "common/files.h"
#include "report/sweep_report.h"
#include "store/sweep_store.h"

namespace cs {

namespace po = boost::program_options;

// Writes `text` to `out_path` atomically, or to stdout when it is empty.
Status WriteReportOutput(const std::string& out_path, const std::string& text) {
  if (out_path.empty()) {
    std::cout << text << std::flush;
    return Status::Ok();
  }
  return WriteFileAtomic(out_path, text);
}

int RunReportCommand(const std::vector<std::string>& args) {
  po::options_description options("report options");
  options.add_options()("name", po::value<std::string>()->required(), "the sweep")(
      "db", po::value<std::string>()->default_value("carbonsweep.db"), "the store file")(
      "format", po::value<std::string>()->default_value("terminal"), "terminal | csv | json | model-card | html")(
      "out", po::value<std::string>()->default_value(""), "write to FILE instead of stdout");
  po::positional_options_description positional;
  positional.add("name", 1);
  po::variables_map vm;
  int exit_code = 0;
  if (!ParseCommandLine("report", "NAME [--db FILE] [--format terminal|csv|json|model-card|html] [--out FILE]",
                        options, &positional, args, &vm, &exit_code)) {
    return exit_code;
  }
  Result<ReportFormat> format = ParseReportFormat(vm["format"].as<std::string>());
  if (!format.ok()) return ReportError("report", format.status());
  const std::string& out = vm["out"].as<std::string>();
  if (!out.empty()) {
    Status safe = CheckSafeOutputPath(out, {vm["db"].as<std::string>()});
    if (!safe.ok()) return ReportError("report", safe.WithPrefix("--out"));
  }
  Result<std::unique_ptr<SweepStore>> store = OpenStoreForReading(vm["db"].as<std::string>());
  if (!store.ok()) return ReportError("report", store.status());
  ReportOptions report_options;
  report_options.default_backbone_dir = DefaultBackboneDirForReports();
  Result<SweepReport> report = LoadSweepReport(store->get(), vm["name"].as<std::string>(), report_options);
  if (!report.ok()) return ReportError("report", report.status());
  Status written = WriteReportOutput(out, RenderReport(*report, *format));
  if (!written.ok()) return ReportError("report", written);
  return static_cast<int>(ExitCode::kOk);
}

}  // namespace cs
