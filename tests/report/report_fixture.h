// Stores for the report suites, built through the real SweepStore API with
// hand-picked figures (so expected values can be computed by hand):
//
//   intensity 1000 gCO2e/kWh everywhere, so grams = joules / 3600.
//   "random-a" (random, aws:ap-south-1, PUE 1.0, task imdb/abc):
//      k=0 finished  acc 0.800  36000 J (10 g)  t 0..100
//      k=1 failed    —          18000 J  (5 g)  t 100..150
//      k=2 finished  acc 0.880  36000 J (10 g)  t 150..250
//      k=3 interrupted —         7200 J  (2 g)  t 250..270
//      k=4 skipped_budget (never ran, no energy)
//      + 3600 J (1 g) not charged to any trial. Total 28 g.
//   "grid-b" (grid of 6 points, FRA, task imdb/abc):
//      k=0 finished 0.850 72000 J (20 g); k=1 finished 0.884 36000 J (10 g);
//      k=2 diverged — 3600 J (1 g). Total 31 g.
//   "empty" (no trials), "other-task" (task sst2/xyz, one finished trial),
//   "world" (no region given: the world average assumed, one trial),
//   and a linear baseline of task abc: 0.780, 1800 J (0.5 g).
#pragma once

#include <memory>
#include <string>

#include "report/sweep_report.h"
#include "store/sweep_store.h"

namespace cs::testing {

constexpr double kFixtureT0 = 1.7e9;  // 2023-11-14 22:13:20 UTC.

// Creates the store described above at `path`; REQUIREs every write.
std::unique_ptr<SweepStore> BuildFixtureStore(const std::string& path);
// The report of sweep `name` in `store`, with default options; REQUIREs it loads.
SweepReport LoadFixtureReport(SweepStore* store, const std::string& name);

}  // namespace cs::testing
