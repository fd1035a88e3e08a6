// LiveReport: `run` / `resume --live-report FILE.html`. The sweep's HTML
// report (report/sweep_report.h) is rewritten atomically after each epoch
// and each trial's end, and reloads itself in the browser every few seconds
// until the sweep ends; the last rewrite drops the reload. A sweep can be
// watched from a browser on the same machine, over an SSH port forward or
// on a shared filesystem. A failed rewrite is warned about once and never
// stops the sweep. cli/ only; called on the sweep loop's thread.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace cs {

class LiveReport {
 public:
  // How often the page reloads itself while the sweep runs.
  static constexpr int kRefreshSeconds = 5;

  // `path` was checked with CheckSafeOutputPath; `db_path` is the sweep's store.
  LiveReport(std::string path, std::string db_path) : path_(std::move(path)), db_path_(std::move(db_path)) {}

  // For ProgressReporter::SetObserver: learns the sweep from its start (or
  // resume) event and rewrites the page on it, on epochs and on trial ends.
  void OnEvent(const nlohmann::json& fields);
  // The last rewrite, without the reload: the sweep ended or stopped.
  void Finish();

 private:
  void Write(int refresh_seconds);

  const std::string path_;
  const std::string db_path_;
  std::string sweep_;  // "" until the start event names it.
  bool warned_ = false;
};

}  // namespace cs
