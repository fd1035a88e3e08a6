// What a user sees while a sweep runs: one line per epoch in the terminal
// (also when stderr is a file), and `run --live-report FILE.html`, a page
// rewritten after each epoch and trial that reloads itself until the sweep
// ends, opened in a real headless Chromium while the sweep runs.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "common/files.h"
#include "tests/e2e/e2e_helpers.h"
#include "tests/testing/chromium.h"
#include "tests/testing/temp_dir.h"

#ifndef CS_REPORT_ARTIFACT_DIR
#define CS_REPORT_ARTIFACT_DIR "report-artifacts"
#endif

namespace cs {

using namespace cs::testing;

TEST_CASE("run --live-report: the page follows the running sweep in a browser, and stops reloading at its end") {
  TempDir dir;
  const std::string db = dir.File("sweeps.db");
  const std::string page = dir.File("live.html");
  std::vector<std::string> args = Concat({"run", "--name", "live", "--db", db, "--trials", "3", "--budget", "1kg",
                                          "--live-report", page},
                                         SmallSweepFlags(dir.path()));
  const pid_t sweep = StartCarbonsweep(args, dir.File("run.log"));

  // Polls the page (not timing anything) until it shows a trial's epoch while the sweep still runs.
  std::string running;
  for (int i = 0; i < 3000; ++i) {
    std::string text = FileTextOrEmpty(page);
    if (text.find("class=\"live\"") != std::string::npos && text.find("<td>finished</td>") != std::string::npos) {
      running = text;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE_MESSAGE(!running.empty(), FileTextOrEmpty(dir.File("run.log")));
  CHECK(running.find("<meta http-equiv=\"refresh\" content=\"5\">") != std::string::npos);
  CHECK(running.find("Live: sweep running") != std::string::npos);
  const std::string snapshot = dir.Write("live-running.html", running);

  CHECK(WaitForChild(sweep) == 0);
  const std::string done = FileTextOrEmpty(page);
  CHECK(done.find("http-equiv=\"refresh\"") == std::string::npos);  // the browser stops reloading.
  CHECK(done.find("class=\"live\"") == std::string::npos);
  CHECK(Count(done, "<td>finished</td>") == 3);

  // The terminal (here a log file) got a line per epoch with throughput and grams.
  const std::string log = FileTextOrEmpty(dir.File("run.log"));
  CHECK(log.find("trial 0 epoch 1/") != std::string::npos);
  CHECK(log.find("examples/s") != std::string::npos);
  CHECK(log.find(" so far") != std::string::npos);

  if (!HaveChromium()) {
    MESSAGE("chromium not installed: the pages were checked as text only (scripts/setup.sh installs it)");
    return;
  }
  std::string dom = DumpDom(dir, snapshot);
  CHECK(dom.find("Live: sweep running") != std::string::npos);
  CHECK(Count(dom, "<svg class=\"plot\"") == 3);
  Screenshot(dir, snapshot, CS_REPORT_ARTIFACT_DIR, "live-running.png", /*height_px=*/900);
  CHECK(DumpDom(dir, page).find("Live:") == std::string::npos);
}

TEST_CASE("--live-report that names the store is refused before the sweep exists") {
  TempDir dir;
  const std::string db = dir.File("sweeps.db");
  std::string output;
  REQUIRE(RunCarbonsweep(Concat({"run", "--name", "first", "--db", db, "--trials", "1", "--budget", "1kg", "--quiet"},
                                SmallSweepFlags(dir.path())),
                         &output) == 0);
  CHECK(RunCarbonsweep(Concat({"run", "--name", "second", "--db", db, "--trials", "1", "--budget", "1kg",
                               "--live-report", db},
                              SmallSweepFlags(dir.path())),
                       &output) == 2);
  CHECK(output.find("--live-report") != std::string::npos);
  CHECK(!SweepExists(db, "second"));
}

}  // namespace cs
