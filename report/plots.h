// The three plots of a sweep report, as SVG plot specs (report/svg_plot.h),
// shared by the report page and the compare page. Pure; any thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "report/quantities.h"
#include "report/svg_plot.h"
#include "report/sweep_report.h"

namespace cs {

// Best-so-far validation accuracy (%) vs cumulative CO2e of the trials in
// `co2_unit` (the page's), one point per ended trial that has a best-so-far value.
PlotSeries AnytimeSeries(const SweepReport& report, const std::string& name, const std::string& color,
                         const DisplayUnit& co2_unit);
// Each trial's validation accuracy (%) vs its own CO2e in `co2_unit` (trials with an accuracy).
PlotSeries TrialScatterSeries(const SweepReport& report, const std::string& name, const std::string& color,
                              const DisplayUnit& co2_unit);

// One stretch of time over which the measured power was constant: the
// average power of every sample interval covering it (a sample's joules over
// its interval's seconds), summed per component over concurrent trials.
struct PowerStep {
  double start_unix = 0;
  double end_unix = 0;
  std::map<std::string, double> watts;  // by component; absent = nothing measured.
};
// The samples as consecutive steps, from the first interval's start to the
// last one's end (gaps are steps with no watts). Samples at any spacing,
// sub-second or irregular, give back their own average power; nothing is
// bucketed by clock second. Beyond `max_steps`, neighbouring steps are merged
// into time-weighted averages (energy over duration), which keep a steady
// draw steady.
std::vector<PowerStep> PowerSteps(const std::vector<PowerSampleRow>& samples, size_t max_steps = 600);

// The power plot's lines, stacked: the first component's watts, then each
// next line adds its component to the ones before (cpu, ram, gpu, then any
// other by name), as staircases over minutes since the first sample.
std::vector<PlotSeries> PowerSeries(const SweepReport& report);

PlotSpec AnytimePlot(std::vector<PlotSeries> series, const DisplayUnit& co2_unit, const Objective& objective);

}  // namespace cs
