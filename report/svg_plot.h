// SvgPlot: a small x/y chart drawn as one inline <svg> element, for the
// self-contained HTML report (no JS, no network). Used by report/html.cc.
// Pure functions of their input; any thread.
//
// Each data point of a marker series is one <circle class="point"> carrying
// data-series, data-x and data-y attributes, so tests (and curious readers of
// the page source) can count and check the plotted points.
#pragma once

#include <string>
#include <vector>

namespace cs {

struct PlotPoint {
  double x = 0;
  double y = 0;
  std::string label;  // shown as the point's tooltip (<title>); may be empty.
};

struct PlotSeries {
  std::string name;              // legend text; also the points' data-series.
  std::string color = "#1f77b4"; // any CSS colour.
  enum class Style {
    kMarkers = 0,        // one circle per point.
    kLine = 1,           // a polyline through the points in order, no circles.
    kStepWithMarkers = 2 // a staircase (value holds until the next x) plus circles.
  } style = Style::kMarkers;
  std::vector<PlotPoint> points;
};

struct PlotSpec {
  std::string title;    // drawn above the plot area.
  std::string x_label;  // with its unit, e.g. "cumulative kg CO2e".
  std::string y_label;
  std::vector<PlotSeries> series;
  int width_px = 560;   // the SVG's viewBox size; the page scales it.
  int height_px = 340;
  // Axis ranges; when min == max the range is taken from the data.
  double x_min = 0, x_max = 0;
  // kZero: a data-derived x range starts at 0 (amounts of CO2 start from nothing).
  enum class AxisStart { kData = 0, kZero = 1 } x_start = AxisStart::kData;
  double y_min = 0, y_max = 0;
  // A horizontal reference line (e.g. the linear baseline's accuracy); NaN for none.
  double reference_y;
  std::string reference_label;
  PlotSpec();
};

// The <svg> element (with a <title> for accessibility). A spec with no
// points draws the axes and a "no data" note instead of failing.
std::string RenderSvgPlot(const PlotSpec& spec);

// "Nice" tick values covering [low, high] (1, 2, 2.5, 5 x 10^k steps), about
// `target_count` of them.
std::vector<double> NiceTicks(double low, double high, int target_count);

// Escapes &, <, >, " and ' for HTML/SVG text and attributes.
std::string EscapeHtml(const std::string& text);

}  // namespace cs
