// The pure building blocks: SVG plots, ticks, the text table, sparklines.
#include <doctest/doctest.h>

#include <cmath>

#include "report/svg_plot.h"
#include "report/text_table.h"

namespace cs {
namespace {

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST_CASE("a marker series draws one circle per finite point, with its data") {
  PlotSpec spec;
  spec.title = "t <&>";
  spec.series.push_back({"s\"1", "#123456", PlotSeries::Style::kStepWithMarkers,
                         {{0, 1, "a"}, {1, 2, ""}, {2, NAN, ""}, {3, 3, ""}}});
  std::string svg = RenderSvgPlot(spec);
  CHECK(Count(svg, "<circle class=\"point\"") == 3);
  CHECK(svg.find("data-x=\"3\" data-y=\"3\"") != std::string::npos);
  CHECK(svg.find("t &lt;&amp;&gt;") != std::string::npos);
  CHECK(svg.find("data-series=\"s&quot;1\"") != std::string::npos);
  CHECK(Count(svg, "<polyline") == 1);
}

TEST_CASE("a plot without data still draws its frame and says so") {
  PlotSpec spec;
  spec.series.push_back({"empty", "#000", PlotSeries::Style::kMarkers, {}});
  std::string svg = RenderSvgPlot(spec);
  CHECK(svg.find("no data") != std::string::npos);
  CHECK(Count(svg, "<circle") == 0);
}

TEST_CASE("nice ticks land on 1-2-2.5-5 steps") {
  std::vector<double> ticks = NiceTicks(0, 1, 5);
  REQUIRE(ticks.size() == 6);
  CHECK(ticks[1] == doctest::Approx(0.2));
  std::vector<double> narrow = NiceTicks(0.78, 0.89, 5);  // step 0.025 from 0.8
  CHECK(narrow.front() == doctest::Approx(0.8));
  CHECK(narrow[1] - narrow[0] == doctest::Approx(0.025));
  CHECK(NiceTicks(3, 3, 5).empty());
}

TEST_CASE("text tables pad by code points and align numbers right") {
  TextTable table({{"name"}, {"g CO₂e", TextTable::Align::kRight}});
  table.AddRow({"a", "1.5"});
  table.AddRow({"long name", "10"});
  std::string text = table.Render("");
  CHECK(text.find("name       g CO₂e\n") == 0);
  CHECK(text.find("a             1.5\n") != std::string::npos);
  CHECK(table.row_count() == 2);
}

TEST_CASE("sparklines scale between min and max, gaps for NaN") {
  CHECK(Sparkline({0, 7}) == "▁█");
  CHECK(Sparkline({NAN, 1, 1}, 0, 1) == " ██");
}

}  // namespace
}  // namespace cs
