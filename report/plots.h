// The three plots of a sweep report, as SVG plot specs (report/svg_plot.h),
// shared by the report page and the compare page. Pure; any thread.
#pragma once

#include <string>

#include "report/svg_plot.h"
#include "report/sweep_report.h"

namespace cs {

// Best-so-far validation accuracy (%) vs cumulative kg CO2e of the trials,
// one point per ended trial that has a best-so-far value.
PlotSeries AnytimeSeries(const SweepReport& report, const std::string& name, const std::string& color);
// Each trial's validation accuracy (%) vs its own g CO2e (trials with an accuracy).
PlotSeries TrialScatterSeries(const SweepReport& report, const std::string& name, const std::string& color);
// Power (W, summed over trials) per component vs minutes since the first sample.
std::vector<PlotSeries> PowerSeries(const SweepReport& report);

PlotSpec AnytimePlot(std::vector<PlotSeries> series);

}  // namespace cs
