// The HTML pages opened in a real headless Chromium (Debian's `chromium`):
// they render, and the plots in the rendered DOM hold the expected points.
// A screenshot of each page is kept under the build dir's
// Testing/report-artifacts/ for a person to look at. Skipped, with a
// message, when chromium is not installed.
#include <doctest/doctest.h>

#include <filesystem>
#include <iostream>

#include "common/files.h"
#include "report/compare.h"
#include "report/sweep_report.h"
#include "tests/report/report_fixture.h"
#include "tests/testing/chromium.h"
#include "tests/testing/temp_dir.h"

#ifndef CS_REPORT_ARTIFACT_DIR
#define CS_REPORT_ARTIFACT_DIR "report-artifacts"
#endif

namespace cs {
namespace {

using testing::Count;
using testing::DumpDom;
using testing::HaveChromium;

void Screenshot(const testing::TempDir& dir, const std::string& page, const std::string& name, int height_px = 1600) {
  testing::Screenshot(dir, page, CS_REPORT_ARTIFACT_DIR, name, height_px);
}

}  // namespace

TEST_CASE("the report page renders in Chromium with every plotted point") {
  if (!HaveChromium()) {
    MESSAGE("chromium not installed: skipping the headless-Chromium render test (scripts/setup.sh installs it)");
    return;
  }
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  Result<SweepReport> report = LoadSweepReport(store.get(), "random-a", ReportOptions{});
  REQUIRE(report.ok());
  std::string page = dir.Write("report.html", RenderHtmlReport(*report));
  std::string dom = DumpDom(dir, page);
  CHECK(dom.find("<h1>Sweep random-a</h1>") != std::string::npos);
  CHECK(Count(dom, "<svg class=\"plot\"") == 3);
  // Anytime curve: the 4 trials that ended (finished, failed, finished, interrupted).
  // Accuracy vs CO2: the 2 trials with an accuracy.
  CHECK(Count(dom, "<circle class=\"point\"") == 6);
  // The page's unit is g (28 g in total): the anytime axis too.
  CHECK(dom.find("data-x=\"25\" data-y=\"88\"") != std::string::npos);     // 25 g -> 88 %
  CHECK(dom.find("data-x=\"10\" data-y=\"80\"") != std::string::npos);     // trial 0: 10 g, 80 %
  // Power over time: one line per component.
  CHECK(Count(dom, "<polyline") >= 3);
  CHECK(dom.find("cumulative g CO2e of trials") != std::string::npos);
  CHECK(dom.find("legend-box") == std::string::npos);  // legends stand outside the plot area
  // Every trial is in the table, the baseline as the reference row.
  CHECK(Count(dom, "<tr class=\"best\">") == 1);
  CHECK(Count(dom, "<tr class=\"reference\">") == 1);
  CHECK(dom.find("http") == dom.find("http://www.w3.org/2000/svg"));  // no network resource
  Screenshot(dir, page, "report-random-a.png");
}

TEST_CASE("the compare page overlays both anytime curves in Chromium") {
  if (!HaveChromium()) {
    MESSAGE("chromium not installed: skipping the headless-Chromium render test");
    return;
  }
  testing::TempDir dir;
  auto store = testing::BuildFixtureStore(dir.File("store.db"));
  std::vector<SweepReport> reports;
  for (const char* name : {"random-a", "grid-b"}) {
    Result<SweepReport> report = LoadSweepReport(store.get(), name, ReportOptions{});
    REQUIRE(report.ok());
    reports.push_back(std::move(*report));
  }
  Result<Comparison> comparison = CompareSweeps(std::move(reports), CompareOptions{});
  REQUIRE(comparison.ok());
  std::string page = dir.Write("compare.html", RenderComparisonHtml(*comparison));
  std::string dom = DumpDom(dir, page);
  // Anytime: 4 (random-a) + 3 (grid-b); accuracy vs CO2: 2 + 2.
  CHECK(Count(dom, "<circle class=\"point\" data-series=\"random-a\"") == 6);
  CHECK(Count(dom, "<circle class=\"point\" data-series=\"grid-b\"") == 5);
  CHECK(Count(dom, "<tr class=\"reference\">") == 1);
  CHECK(Count(dom, "class=\"legend-swatch\"") == 4);  // two series, two plots, below each plot
  CHECK(dom.find("legend-box") == std::string::npos);
  Screenshot(dir, page, "compare-random-a-grid-b.png", /*height_px=*/680);
}

}  // namespace cs
