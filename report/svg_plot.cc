#include "report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "common/text.h"

namespace cs {
namespace {

// Plot-area margins inside the viewBox, in px: room for tick labels and axis titles.
constexpr double kLeft = 64, kRight = 16, kTop = 34, kBottom = 48;

std::string Number(double value) { return StringPrintf("%.4g", value); }

// A tick label as a plain decimal with as many decimals as the tick step
// needs (0.025 steps: three), the same for every tick of an axis, so an axis
// never reads "1e-05" and its labels line up.
std::string TickLabel(double tick, const std::vector<double>& ticks) {
  double step = ticks.size() > 1 ? std::fabs(ticks[1] - ticks[0]) : std::fabs(tick);
  int decimals = 0;
  while (decimals < 12 && step > 0) {
    double scaled = step * std::pow(10.0, decimals);
    if (std::fabs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) break;
    ++decimals;
  }
  std::string text = StringPrintf("%.*f", decimals, tick);
  return text.find_first_not_of("-0.") == std::string::npos ? "0" : text;
}

// Legend entries below the plot: swatch, gap, name, gap; an estimate of the
// text width (about 7 px a character at the page's 12 px legend font).
double LegendEntryWidth(const PlotSeries& series) { return 10 + 6 + 7.0 * series.name.size() + 18; }

// Rows the legend needs when wrapped to `width` px.
int LegendRows(const std::vector<PlotSeries>& series, double width) {
  if (series.size() < 2) return 0;
  int rows = 1;
  double x = 0;
  for (const PlotSeries& s : series) {
    double w = LegendEntryWidth(s);
    if (x > 0 && x + w > width) {
      ++rows;
      x = 0;
    }
    x += w;
  }
  return rows;
}
constexpr double kLegendRowHeight = 18;

// Coordinates are written with 0.1 px precision: enough for a screen, short in the file.
std::string Coord(double value) { return StringPrintf("%.1f", value); }

struct Range {
  double low = std::numeric_limits<double>::infinity();
  double high = -std::numeric_limits<double>::infinity();
  void Add(double v) {
    if (!std::isfinite(v)) return;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  bool empty() const { return low > high; }
};

// Widens a degenerate range so a single point still gets a plot around it.
Range Padded(Range range, double fixed_min, double fixed_max) {
  if (fixed_min != fixed_max) return Range{fixed_min, fixed_max};
  if (range.empty()) return Range{0, 1};
  if (range.high == range.low) {
    double pad = range.low == 0 ? 1 : std::fabs(range.low) * 0.1;
    return Range{range.low - pad, range.high + pad};
  }
  double pad = (range.high - range.low) * 0.05;
  return Range{range.low - pad, range.high + pad};
}

}  // namespace

PlotSpec::PlotSpec() : reference_y(std::numeric_limits<double>::quiet_NaN()) {}

std::string EscapeHtml(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<double> NiceTicks(double low, double high, int target_count) {
  std::vector<double> ticks;
  if (!(high > low) || target_count < 1) return ticks;
  double raw_step = (high - low) / target_count;
  double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  double step = magnitude;
  for (double factor : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = factor * magnitude;
    if (step >= raw_step) break;
  }
  double first = std::ceil(low / step - 1e-9) * step;
  for (double tick = first; tick <= high + step * 1e-9; tick += step) {
    // Snap values like 0.30000000000000004 and -0 to what a reader expects.
    double snapped = std::round(tick / step) * step;
    ticks.push_back(snapped == 0 ? 0 : snapped);
  }
  return ticks;
}

std::string RenderSvgPlot(const PlotSpec& spec) {
  Range xs, ys;
  for (const PlotSeries& series : spec.series) {
    for (const PlotPoint& point : series.points) {
      xs.Add(point.x);
      ys.Add(point.y);
    }
  }
  bool has_data = !xs.empty();
  if (has_data && spec.x_start == PlotSpec::AxisStart::kZero) xs.Add(0);
  if (std::isfinite(spec.reference_y)) ys.Add(spec.reference_y);
  Range x_range = Padded(xs, spec.x_min, spec.x_max);
  Range y_range = Padded(ys, spec.y_min, spec.y_max);

  // The legend sits below the axis title, outside the plot area, so it never
  // hides a data point; the SVG grows by its rows.
  const int legend_rows = LegendRows(spec.series, spec.width_px - kLeft - kRight);
  const double width = spec.width_px, height = spec.height_px + legend_rows * kLegendRowHeight;
  const double plot_bottom_height = spec.height_px;
  const double plot_width = width - kLeft - kRight, plot_height = plot_bottom_height - kTop - kBottom;
  auto to_x = [&](double x) { return kLeft + (x - x_range.low) / (x_range.high - x_range.low) * plot_width; };
  auto to_y = [&](double y) { return kTop + plot_height - (y - y_range.low) / (y_range.high - y_range.low) * plot_height; };

  std::ostringstream svg;
  svg << "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << spec.width_px << ' '
      << height << "\" role=\"img\" aria-label=\"" << EscapeHtml(spec.title) << "\">\n";
  svg << "<title>" << EscapeHtml(spec.title) << "</title>\n";
  svg << "<text class=\"plot-title\" x=\"" << Coord(kLeft) << "\" y=\"20\">" << EscapeHtml(spec.title) << "</text>\n";
  svg << "<rect class=\"plot-area\" x=\"" << Coord(kLeft) << "\" y=\"" << Coord(kTop) << "\" width=\""
      << Coord(plot_width) << "\" height=\"" << Coord(plot_height) << "\"/>\n";

  // Grid lines and tick labels.
  const std::vector<double> x_ticks = NiceTicks(x_range.low, x_range.high, 6);
  for (double tick : x_ticks) {
    double x = to_x(tick);
    svg << "<line class=\"grid\" x1=\"" << Coord(x) << "\" y1=\"" << Coord(kTop) << "\" x2=\"" << Coord(x)
        << "\" y2=\"" << Coord(kTop + plot_height) << "\"/>"
        << "<text class=\"tick\" text-anchor=\"middle\" x=\"" << Coord(x) << "\" y=\""
        << Coord(kTop + plot_height + 16) << "\">" << TickLabel(tick, x_ticks) << "</text>\n";
  }
  const std::vector<double> y_ticks = NiceTicks(y_range.low, y_range.high, 5);
  for (double tick : y_ticks) {
    double y = to_y(tick);
    svg << "<line class=\"grid\" x1=\"" << Coord(kLeft) << "\" y1=\"" << Coord(y) << "\" x2=\""
        << Coord(kLeft + plot_width) << "\" y2=\"" << Coord(y) << "\"/>"
        << "<text class=\"tick\" text-anchor=\"end\" x=\"" << Coord(kLeft - 6) << "\" y=\"" << Coord(y + 4)
        << "\">" << TickLabel(tick, y_ticks) << "</text>\n";
  }
  svg << "<text class=\"axis-label\" text-anchor=\"middle\" x=\"" << Coord(kLeft + plot_width / 2) << "\" y=\""
      << Coord(plot_bottom_height - 8) << "\">" << EscapeHtml(spec.x_label) << "</text>\n";
  svg << "<text class=\"axis-label\" text-anchor=\"middle\" transform=\"translate(14," << Coord(kTop + plot_height / 2)
      << ") rotate(-90)\">" << EscapeHtml(spec.y_label) << "</text>\n";

  if (std::isfinite(spec.reference_y)) {
    double y = to_y(spec.reference_y);
    svg << "<line class=\"reference\" x1=\"" << Coord(kLeft) << "\" y1=\"" << Coord(y) << "\" x2=\""
        << Coord(kLeft + plot_width) << "\" y2=\"" << Coord(y) << "\"/>"
        << "<text class=\"reference-label\" x=\"" << Coord(kLeft + 6)
        << "\" y=\"" << Coord(y - 4) << "\">" << EscapeHtml(spec.reference_label) << "</text>\n";
  }

  if (!has_data) {
    svg << "<text class=\"no-data\" text-anchor=\"middle\" x=\"" << Coord(kLeft + plot_width / 2) << "\" y=\""
        << Coord(kTop + plot_height / 2) << "\">no data</text>\n";
  }

  for (const PlotSeries& series : spec.series) {
    std::vector<const PlotPoint*> finite;
    for (const PlotPoint& point : series.points) {
      if (std::isfinite(point.x) && std::isfinite(point.y)) finite.push_back(&point);
    }
    if (series.style != PlotSeries::Style::kMarkers && finite.size() > 1) {
      svg << "<polyline class=\"series-line\" fill=\"none\" stroke=\"" << EscapeHtml(series.color)
          << "\" points=\"";
      for (size_t i = 0; i < finite.size(); ++i) {
        if (i > 0 && series.style == PlotSeries::Style::kStepWithMarkers) {
          svg << Coord(to_x(finite[i]->x)) << ',' << Coord(to_y(finite[i - 1]->y)) << ' ';
        }
        svg << Coord(to_x(finite[i]->x)) << ',' << Coord(to_y(finite[i]->y)) << ' ';
      }
      svg << "\"/>\n";
    }
    if (series.style == PlotSeries::Style::kLine) continue;
    for (const PlotPoint* point : finite) {
      svg << "<circle class=\"point\" data-series=\"" << EscapeHtml(series.name) << "\" data-x=\""
          << Number(point->x) << "\" data-y=\"" << Number(point->y) << "\" cx=\"" << Coord(to_x(point->x))
          << "\" cy=\"" << Coord(to_y(point->y)) << "\" r=\"4\" fill=\"" << EscapeHtml(series.color) << "\">";
      if (!point->label.empty()) svg << "<title>" << EscapeHtml(point->label) << "</title>";
      svg << "</circle>\n";
    }
  }

  // Legend: rows below the x-axis title, wrapped to the plot's width.
  if (legend_rows > 0) {
    double x = kLeft, y = plot_bottom_height + 10;
    for (const PlotSeries& series : spec.series) {
      double w = LegendEntryWidth(series);
      if (x > kLeft && x + w > kLeft + plot_width) {
        x = kLeft;
        y += kLegendRowHeight;
      }
      svg << "<rect class=\"legend-swatch\" x=\"" << Coord(x) << "\" y=\"" << Coord(y - 9) << "\" width=\"10\" "
          << "height=\"10\" fill=\"" << EscapeHtml(series.color) << "\"/>"
          << "<text class=\"legend\" x=\"" << Coord(x + 16) << "\" y=\"" << Coord(y) << "\">"
          << EscapeHtml(series.name) << "</text>\n";
      x += w;
    }
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace cs
