#include "cli/live_report.h"

#include <ctime>
#include <iostream>

#include "cli/store_access.h"
#include "common/files.h"
#include "report/sweep_report.h"

namespace cs {

void LiveReport::OnEvent(const nlohmann::json& fields) {
  const std::string event = fields.value("event", "");
  if ((event == "sweep_start" || event == "sweep_resume") && fields.contains("sweep") && fields["sweep"].is_string()) {
    sweep_ = fields["sweep"].get<std::string>();
  }
  if (event == "sweep_start" || event == "sweep_resume" || event == "epoch" || event == "trial_end") {
    Write(kRefreshSeconds);
  }
}

void LiveReport::Finish() { Write(/*refresh_seconds=*/0); }

void LiveReport::Write(int refresh_seconds) {
  if (sweep_.empty()) return;  // nothing recorded yet (the sweep was refused before it started).
  Status status = [&]() -> Status {
    Result<std::unique_ptr<SweepStore>> store = OpenStoreForReading(db_path_);
    if (!store.ok()) return store.status();
    ReportOptions options;
    options.default_backbone_dir = DefaultBackboneDirForReports();
    Result<SweepReport> report = LoadSweepReport(store->get(), sweep_, options);
    if (!report.ok()) return report.status();
    HtmlLiveOptions live;
    live.refresh_seconds = refresh_seconds;
    live.updated_at_unix = static_cast<double>(std::time(nullptr));
    return WriteFileAtomic(path_, RenderHtmlReport(*report, live));
  }();
  if (!status.ok() && !warned_) {
    warned_ = true;  // once: the sweep goes on, and so do later attempts.
    std::cerr << "carbonsweep: warning: --live-report " << path_ << ": " << status.message() << "\n";
  }
}

}  // namespace cs
