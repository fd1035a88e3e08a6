#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "search_spaces/search_space.h"
#include "search_spaces/strategy.h"
#include "trials/params.h"

namespace cs {
namespace {

SearchSpace Space(const std::string& name) {
  Result<SearchSpace> space = LoadSearchSpace(name);
  REQUIRE_MESSAGE(space.ok(), space.status().message());
  return std::move(space).value();
}

std::unique_ptr<Strategy> Make(const SearchSpace& space, StrategyKind kind, uint64_t seed, int points = 3) {
  StrategyOptions options;
  options.kind = kind;
  options.seed = seed;
  options.grid_points_per_dimension = points;
  auto strategy = MakeStrategy(space, options);
  REQUIRE_MESSAGE(strategy.ok(), strategy.status().message());
  return std::move(strategy).value();
}

Dimension Ranged(const std::string& name, DimensionType type, double low, double high) {
  Dimension dimension;
  dimension.name = name;
  dimension.type = type;
  dimension.low = low;
  dimension.high = high;
  return dimension;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return (values[values.size() / 2 - 1] + values[values.size() / 2]) / 2;
}

}  // namespace

TEST_CASE("random: trial k's point depends only on the seed and k") {
  SearchSpace space = Space("carbonsweep-small");
  auto first = Make(space, StrategyKind::kRandom, /*seed=*/42);
  auto second = Make(space, StrategyKind::kRandom, /*seed=*/42);
  // Asked in a different order, by a different object: the same points.
  for (int64_t k = 20; k >= 0; --k) CHECK(*first->Point(k) == *second->Point(k));
  CHECK(*first->Point(7) == *first->Point(7));
  CHECK(*first->Point(3) != *first->Point(4));
  CHECK(first->Point(3)->at("learning_rate") != first->Point(4)->at("learning_rate"));
  auto other_seed = Make(space, StrategyKind::kRandom, /*seed=*/43);
  CHECK(*first->Point(3) != *other_seed->Point(3));
  CHECK(!first->GridSize().has_value());
  CHECK(!first->Coverage(10).has_value());
  CHECK(!first->Point(-1).has_value());
}

TEST_CASE("random: a restored strategy continues the same sequence") {
  SearchSpace space = Space("carbonsweep-small");
  auto original = Make(space, StrategyKind::kRandom, /*seed=*/9);
  nlohmann::json stored = nlohmann::json::parse(original->State().dump());
  auto restored = RestoreStrategy(space, stored);
  REQUIRE(restored.ok());
  for (int64_t k = 0; k < 50; ++k) CHECK(*(*restored)->Point(k) == *original->Point(k));
}

TEST_CASE("random: each dimension's draws are keyed by its name, so others stay put when one is removed") {
  SearchSpace space = Space("carbonsweep-small");
  SearchSpace smaller = space;
  smaller.dimensions.erase(smaller.dimensions.begin() + 1);  // batch_size
  auto full = Make(space, StrategyKind::kRandom, /*seed=*/5);
  auto reduced = Make(smaller, StrategyKind::kRandom, /*seed=*/5);
  for (int64_t k = 0; k < 10; ++k) {
    CHECK(full->Point(k)->at("learning_rate") == reduced->Point(k)->at("learning_rate"));
    CHECK(full->Point(k)->at("dropout") == reduced->Point(k)->at("dropout"));
  }
}

TEST_CASE("random: draws stay in range, are valid, and have the right distribution") {
  SearchSpace space = Space("carbonsweep-small");
  auto strategy = Make(space, StrategyKind::kRandom, /*seed=*/2024);
  const int draws = 20000;
  std::vector<double> learning_rates;
  std::vector<double> warmups;
  std::map<int, int> batch_counts;
  std::map<int, int> epoch_counts;
  int below_1e3 = 0;
  for (int64_t k = 0; k < draws; ++k) {
    nlohmann::json point = *strategy->Point(k);
    if (k < 200) REQUIRE_MESSAGE(ParseTrialParams(point).ok(), point.dump());
    double lr = point["learning_rate"].get<double>();
    REQUIRE(lr >= 1e-4);
    REQUIRE(lr <= 3e-3);
    learning_rates.push_back(lr);
    below_1e3 += lr < 1e-3;
    warmups.push_back(point["warmup_ratio"].get<double>());
    REQUIRE(point["epochs"].is_number_integer());
    batch_counts[point["batch_size"].get<int>()]++;
    epoch_counts[point["epochs"].get<int>()]++;
  }
  // Log-uniform: the median is the geometric mean sqrt(1e-4 * 3e-3) = 5.477e-4,
  // and P(lr < 1e-3) = ln(10) / ln(30) = 0.677. (A uniform draw would give 1.55e-3 and 0.31.)
  CHECK(Median(learning_rates) == doctest::Approx(std::sqrt(1e-4 * 3e-3)).epsilon(0.04).scale(0));
  CHECK(below_1e3 / double(draws) == doctest::Approx(std::log(10.0) / std::log(30.0)).epsilon(0.03).scale(0));
  // Uniform [0, 0.2]: median 0.1.
  CHECK(Median(warmups) == doctest::Approx(0.1).epsilon(0.03).scale(0));
  // Categorical and integer: every value, each about equally often (expected 6667 each).
  CHECK(batch_counts.size() == 3);
  CHECK(epoch_counts.size() == 3);
  // (entries, not structured bindings: clang < 16 cannot capture those in CHECK_MESSAGE's lambda.)
  for (const auto& entry : batch_counts) CHECK_MESSAGE(std::abs(entry.second - draws / 3) < 400, entry.first);
  for (const auto& entry : epoch_counts) CHECK_MESSAGE(std::abs(entry.second - draws / 3) < 400, entry.first);
}

TEST_CASE("grid: the BERT grid enumerates all 18 cells once, then stops") {
  SearchSpace space = Space("bert-devlin2019");
  auto grid = Make(space, StrategyKind::kGrid, /*seed=*/3);
  REQUIRE(*grid->GridSize() == 18);
  std::set<std::string> cells;
  for (int64_t k = 0; k < 18; ++k) {
    nlohmann::json point = *grid->Point(k);
    CHECK(point["warmup_ratio"] == 0.1);  // fixed values come with every point
    cells.insert(point["learning_rate"].dump() + "/" + point["batch_size"].dump() + "/" + point["epochs"].dump());
  }
  CHECK(cells.size() == 18);
  CHECK(cells.count("5e-05/16/2") == 1);
  CHECK(cells.count("2e-05/32/4") == 1);
  CHECK(!grid->Point(18).has_value());
  CHECK(*grid->Coverage(0) == 0);
  CHECK(*grid->Coverage(9) == doctest::Approx(0.5).scale(0));
  CHECK(*grid->Coverage(30) == 1);
  CHECK(grid->Describe() == "grid: 18 cells (3 x 2 x 3) of space 'bert-devlin2019', seed 3, shuffled order");
}

TEST_CASE("grid: N points per continuous dimension, log-spaced for log dimensions") {
  Dimension log_dimension = Ranged("learning_rate", DimensionType::kLogUniform, 1e-4, 1e-2);
  std::vector<nlohmann::json> values = GridValues(log_dimension, 3);
  REQUIRE(values.size() == 3);
  CHECK(values[0].get<double>() == doctest::Approx(1e-4).scale(0));
  CHECK(values[1].get<double>() == doctest::Approx(1e-3).scale(0));
  CHECK(values[2].get<double>() == doctest::Approx(1e-2).scale(0));
  CHECK(GridValues(log_dimension, 1)[0].get<double>() == doctest::Approx(1e-3).scale(0));

  Dimension uniform = Ranged("dropout", DimensionType::kUniform, 0.0, 0.2);
  values = GridValues(uniform, 3);
  REQUIRE(values.size() == 3);
  CHECK(values[1].get<double>() == doctest::Approx(0.1).scale(0));

  Dimension integer = Ranged("epochs", DimensionType::kInteger, 2, 4);
  CHECK(GridValues(integer, 5) == std::vector<nlohmann::json>{2, 3, 4});  // deduplicated
  CHECK(GridValues(integer, 2) == std::vector<nlohmann::json>{2, 4});

  // The literature's grid wins over N points.
  Dimension with_grid = log_dimension;
  with_grid.grid = {1e-4, 5e-4};
  CHECK(GridValues(with_grid, 7).size() == 2);

  // carbonsweep-small: lr 4 (grid) x batch 3 x epochs 3 (N) x warmup 3 x wd 3 x dropout 2 x layers 3.
  SearchSpace space = Space("carbonsweep-small");
  CHECK(*Make(space, StrategyKind::kGrid, /*seed=*/0, /*points=*/3)->GridSize() == 4 * 3 * 3 * 3 * 3 * 2 * 3);
  CHECK(*Make(space, StrategyKind::kGrid, /*seed=*/0, /*points=*/2)->GridSize() == 4 * 3 * 2 * 3 * 3 * 2 * 3);
}

TEST_CASE("grid: the shuffled order is seeded and survives serialize and restore") {
  SearchSpace space = Space("carbonsweep-small");
  auto grid = Make(space, StrategyKind::kGrid, /*seed=*/11);
  auto same_seed = Make(space, StrategyKind::kGrid, /*seed=*/11);
  auto other_seed = Make(space, StrategyKind::kGrid, /*seed=*/12);
  CHECK(grid->State() == same_seed->State());
  CHECK(grid->State()["order"] != other_seed->State()["order"]);
  std::vector<int64_t> order = grid->State()["order"].get<std::vector<int64_t>>();
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  CHECK(order != sorted);  // actually shuffled

  // The store keeps the state as text; a resumed sweep rebuilds from it.
  std::string stored = grid->State().dump();
  auto restored = RestoreStrategy(space, nlohmann::json::parse(stored));
  REQUIRE_MESSAGE(restored.ok(), restored.status().message());
  CHECK((*restored)->State() == grid->State());
  for (int64_t k = 0; k < *grid->GridSize(); k += 37) CHECK(*(*restored)->Point(k) == *grid->Point(k));
}

TEST_CASE("grid: a stored order restores even if it is not what the seed would give now") {
  SearchSpace space = Space("bert-devlin2019");
  nlohmann::json state = Make(space, StrategyKind::kGrid, /*seed=*/1)->State();
  std::reverse(state["order"].begin(), state["order"].end());
  auto restored = RestoreStrategy(space, state);
  REQUIRE(restored.ok());
  CHECK((*restored)->State()["order"] == state["order"]);
}

TEST_CASE("grid: damaged or mismatched state is refused in one line") {
  SearchSpace space = Space("bert-devlin2019");
  nlohmann::json state = Make(space, StrategyKind::kGrid, /*seed=*/1)->State();

  nlohmann::json duplicate = state;
  duplicate["order"][1] = duplicate["order"][0];
  CHECK(RestoreStrategy(space, duplicate).status().message() == "strategy state: order: expected a permutation of 0..17");

  nlohmann::json short_order = state;
  short_order["order"].erase(0);
  CHECK(RestoreStrategy(space, short_order).status().message() == "strategy state: order: expected 18 cell numbers, got 17");

  nlohmann::json bad_kind = state;
  bad_kind["kind"] = "bayes";
  CHECK(RestoreStrategy(space, bad_kind).status().message() ==
        "strategy state: kind: expected \"random\" or \"grid\", got 'bayes'");

  SearchSpace changed = space;
  changed.dimensions[0].values.pop_back();  // 2 learning rates now: 12 cells
  CHECK(RestoreStrategy(changed, state).status().message() ==
        "strategy state: the stored grid has 18 cells but space 'bert-devlin2019' now gives 12");
}

TEST_CASE("grid: a truncated grid is an unbiased sample (every cell equally likely first)") {
  SearchSpace space = Space("bert-devlin2019");
  std::map<std::string, int> first_counts;
  const int seeds = 3600;  // 200 expected per cell
  for (uint64_t seed = 0; seed < seeds; ++seed) {
    first_counts[Make(space, StrategyKind::kGrid, seed)->Point(0)->dump()]++;
  }
  CHECK(first_counts.size() == 18);
  for (const auto& entry : first_counts) CHECK_MESSAGE(std::abs(entry.second - 200) < 60, entry.first);
}

TEST_CASE("strategies refuse grids that are too large and spaces with no valid point") {
  SearchSpace space = Space("carbonsweep-small");
  StrategyOptions options;
  options.kind = StrategyKind::kGrid;
  options.max_grid_size = 100;
  auto too_large = MakeStrategy(space, options);
  CHECK(too_large.status().message() ==
        "search space 'carbonsweep-small' (built-in:carbonsweep-small): the grid has more than 100 cells; "
        "use --strategy random or fewer grid points per dimension");

  options.max_grid_size = 1000000;
  options.grid_points_per_dimension = 0;
  CHECK(MakeStrategy(space, options).status().message() == "grid_points_per_dimension: 0 must be at least 1");

  SearchSpace empty = space;
  empty.dimensions[1].values.clear();
  for (StrategyKind kind : {StrategyKind::kRandom, StrategyKind::kGrid}) {
    auto strategy = MakeStrategy(empty, {kind, /*seed=*/0});
    CHECK(strategy.status().message() ==
          "search space 'carbonsweep-small' (built-in:carbonsweep-small) has no valid point: batch_size has no values");
  }

  SearchSpace out_of_range = space;  // built by hand, never parsed
  out_of_range.dimensions[0].low = 2;
  out_of_range.dimensions[0].high = 3;
  out_of_range.dimensions[0].grid.clear();
  CHECK(MakeStrategy(out_of_range, {StrategyKind::kRandom, 0}).status().message().find("has no valid point: params.learning_rate") !=
        std::string::npos);
}

TEST_CASE("strategy names parse, and a typo lists the known ones") {
  CHECK(ParseStrategyKind("random").value() == StrategyKind::kRandom);
  CHECK(ParseStrategyKind("grid").value() == StrategyKind::kGrid);
  CHECK(ParseStrategyKind("grd").status().message() == "unknown strategy 'grd' (known: random, grid)");
}

}  // namespace cs
