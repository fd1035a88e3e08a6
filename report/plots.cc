// The power plot's series: sample intervals turned into steps of constant
// average power (plots.h).
#include <algorithm>
#include <cmath>

#include "report/html.h"
#include "report/plots.h"

namespace cs {
namespace {

// Components bottom-up in the stack: the ones every machine has first.
int ComponentRank(const std::string& component) {
  if (component == "cpu") return 0;
  if (component == "ram") return 1;
  if (component == "gpu") return 2;
  return 3;
}

// Interval ends closer than this are one instant: a sample's start is
// computed as its end minus its interval, and the float rounding of that
// must not open sliver steps (a momentary dip to half the draw) between
// back-to-back samples.
constexpr double kSameInstantSeconds = 1e-3;

// The kept edge within kSameInstantSeconds of `t` (edges are sorted and
// every sample's ends were snapped onto them).
size_t EdgeIndex(const std::vector<double>& edges, double t) {
  return std::lower_bound(edges.begin(), edges.end(), t - kSameInstantSeconds) - edges.begin();
}

}  // namespace

std::vector<PowerStep> PowerSteps(const std::vector<PowerSampleRow>& samples, size_t max_steps) {
  // Every interval start and end is a point where some draw may change.
  auto usable = [](const PowerSampleRow& sample) {
    return sample.interval_seconds > 0 && std::isfinite(sample.interval_seconds) && std::isfinite(sample.unix_seconds) &&
           std::isfinite(sample.joules);
  };
  std::vector<double> raw;
  for (const PowerSampleRow& sample : samples) {
    if (!usable(sample)) continue;
    raw.push_back(sample.unix_seconds - sample.interval_seconds);
    raw.push_back(sample.unix_seconds);
  }
  std::sort(raw.begin(), raw.end());
  std::vector<double> times;
  for (double t : raw) {
    if (times.empty() || t - times.back() > kSameInstantSeconds) times.push_back(t);
  }
  if (times.size() < 2) return {};
  std::vector<PowerStep> steps(times.size() - 1);
  for (size_t i = 0; i + 1 < times.size(); ++i) {
    steps[i].start_unix = times[i];
    steps[i].end_unix = times[i + 1];
  }
  // A sample adds its average power to every step its interval covers.
  for (const PowerSampleRow& sample : samples) {
    if (!usable(sample)) continue;
    const double watts = sample.joules / sample.interval_seconds;
    const size_t first = EdgeIndex(times, sample.unix_seconds - sample.interval_seconds);
    const size_t last = EdgeIndex(times, sample.unix_seconds);
    for (size_t i = first; i < last && i + 1 < times.size(); ++i) steps[i].watts[sample.component] += watts;
  }
  if (max_steps == 0 || steps.size() <= max_steps) return steps;
  // Merge runs of `group` steps: each component's energy over the run's duration.
  const size_t group = (steps.size() + max_steps - 1) / max_steps;
  std::vector<PowerStep> merged;
  for (size_t i = 0; i < steps.size(); i += group) {
    PowerStep step;
    step.start_unix = steps[i].start_unix;
    size_t end = std::min(steps.size(), i + group);
    step.end_unix = steps[end - 1].end_unix;
    const double seconds = step.end_unix - step.start_unix;
    for (size_t j = i; j < end; ++j) {
      for (const auto& [component, watts] : steps[j].watts) {
        step.watts[component] += watts * (steps[j].end_unix - steps[j].start_unix) / seconds;
      }
    }
    merged.push_back(std::move(step));
  }
  return merged;
}

std::vector<PlotSeries> PowerSeries(const SweepReport& report) {
  std::vector<PowerStep> steps = PowerSteps(report.samples);
  if (steps.empty()) return {};
  std::vector<std::string> components;
  for (const PowerStep& step : steps) {
    for (const auto& entry : step.watts) {
      if (std::find(components.begin(), components.end(), entry.first) == components.end()) {
        components.push_back(entry.first);
      }
    }
  }
  std::stable_sort(components.begin(), components.end(), [](const std::string& a, const std::string& b) {
    return ComponentRank(a) != ComponentRank(b) ? ComponentRank(a) < ComponentRank(b) : a < b;
  });
  const double origin = steps.front().start_unix;
  std::vector<PlotSeries> out;
  std::vector<double> below(steps.size(), 0.0);
  for (const std::string& component : components) {
    PlotSeries series;
    series.name = out.empty() ? component : "+ " + component;
    series.color = SeriesColor(out.size());
    series.style = PlotSeries::Style::kLine;
    for (size_t i = 0; i < steps.size(); ++i) {
      auto it = steps[i].watts.find(component);
      below[i] += it == steps[i].watts.end() ? 0.0 : it->second;
      // A flat segment per step: the staircase the average power draws.
      series.points.push_back({(steps[i].start_unix - origin) / 60.0, below[i], ""});
      series.points.push_back({(steps[i].end_unix - origin) / 60.0, below[i], ""});
    }
    out.push_back(std::move(series));
  }
  return out;
}

}  // namespace cs
