// Fuzzes the search-space reader (search_spaces/search_space.h,
// ParseSearchSpaceText) with any --space file, then what a sweep does with a
// space it accepted: ToJson round trip (the store keeps that form), random
// and grid strategies, and ParseTrialParams on their points, which the
// strategy header promises to accept.
#include <string>

#include "search_spaces/search_space.h"
#include "search_spaces/strategy.h"
#include "tests/fuzz/fuzz_util.h"
#include "trials/params.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cs::Result<cs::SearchSpace> space = cs::ParseSearchSpaceText(cs::fuzz::Text(data, size), "fuzz-space.json");
  if (!space.ok()) return 0;
  const nlohmann::json stored = space->ToJson();
  cs::Result<cs::SearchSpace> again = cs::ParseSearchSpace(stored, "fuzz-space.json");
  CS_FUZZ_CHECK(again.ok() && again->ToJson() == stored, "ParseSearchSpace(ToJson()) does not give the space back");
  (void)space->UpperBound("epochs");
  (void)stored.dump();

  for (cs::StrategyKind kind : {cs::StrategyKind::kRandom, cs::StrategyKind::kGrid}) {
    cs::StrategyOptions options;
    options.kind = kind;
    options.seed = 7;
    options.max_grid_size = 4096;  // keeps one input fast; larger grids are refused, as in a sweep.
    auto strategy = cs::MakeStrategy(*space, options);
    if (!strategy.ok()) continue;
    for (int64_t k = 0; k < 3; ++k) {
      std::optional<nlohmann::json> point = (*strategy)->Point(k);
      if (!point) break;
      CS_FUZZ_CHECK(cs::ParseTrialParams(*point).ok(), "a strategy's point is refused by ParseTrialParams");
    }
    (void)(*strategy)->Coverage(/*points_done=*/3);
    auto restored = cs::RestoreStrategy(*space, (*strategy)->State());
    CS_FUZZ_CHECK(restored.ok(), "RestoreStrategy refuses the strategy's own State()");
  }
  return 0;
}
