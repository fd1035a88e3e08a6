// Strategy: which hyperparameters trial k of a sweep gets. The orchestrator
// owns one per sweep and asks Point(k) for k = 0, 1, 2, ... in trial order.
//
// Both strategies are pure functions of (space, options, k): no hidden RNG
// stream, so a resumed sweep that asks for k = 17 gets what the interrupted
// one would have got, and asking twice gives the same point.
//   random: each dimension of point k is drawn from a counter-based hash of
//           (seed, k, dimension name) (splitmix64); log-uniform dimensions
//           uniformly in log space.
//   grid:   the Cartesian product of the dimensions' grid values, in a
//           seeded shuffled order, so a grid cut short by the budget is an
//           unbiased sample of it. The order is part of State() and the store
//           keeps it; RestoreStrategy continues exactly that order.
// Const methods only: any thread may call them on a shared Strategy.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "search_spaces/search_space.h"

namespace cs {

enum class StrategyKind {
  kRandom = 0,  // the default: Bergstra & Bengio 2012.
  kGrid = 1,
};
// "random" / "grid".
const char* StrategyKindName(StrategyKind kind);
// Parses "random" / "grid"; anything else: "unknown strategy 'x' (known: random, grid)".
Result<StrategyKind> ParseStrategyKind(const std::string& name);

struct StrategyOptions {
  StrategyKind kind = StrategyKind::kRandom;
  // The sweep's seed: with the space it fixes every point.
  uint64_t seed = 0;
  // Grid only: points per continuous dimension that has no literature
  // "grid" (evenly spaced; log-spaced for log-uniform; integers deduplicated).
  int grid_points_per_dimension = 3;
  // Grid only: refuse grids larger than this (the order is stored).
  int64_t max_grid_size = 1000000;
};

class Strategy {
 public:
  virtual ~Strategy() = default;

  virtual StrategyKind kind() const = 0;
  // The parameters of trial k (0-based) as a JSON object holding every
  // dimension and every fixed value of the space (ParseTrialParams accepts
  // it). nullopt when the strategy is exhausted (grid: k >= GridSize()).
  virtual std::optional<nlohmann::json> Point(int64_t k) const = 0;
  // Grid: the number of cells; random: nullopt (unbounded).
  virtual std::optional<int64_t> GridSize() const = 0;
  // Share of the grid that `points_done` distinct trials (k = 0..points_done-1)
  // cover, in [0, 1]; random: nullopt. For reports.
  virtual std::optional<double> Coverage(int64_t points_done) const = 0;
  // Everything needed to rebuild this strategy with RestoreStrategy:
  //   {"kind":"random","seed":S}
  //   {"kind":"grid","seed":S,"grid_points_per_dimension":N,"size":M,"order":[cell, ...]}
  virtual nlohmann::json State() const = 0;
  // One line for logs: "grid: 18 cells, seed 7, shuffled" / "random: seed 7".
  virtual std::string Describe() const = 0;
};

// Builds a strategy for `space`. Fails (one line) when the space has no valid
// point or the grid is larger than options.max_grid_size.
Result<std::unique_ptr<Strategy>> MakeStrategy(const SearchSpace& space, const StrategyOptions& options);
// Rebuilds a strategy from State() and the same space (as stored with the
// sweep). A grid whose stored size no longer matches the space is refused.
Result<std::unique_ptr<Strategy>> RestoreStrategy(const SearchSpace& space, const nlohmann::json& state);

// The grid values of one dimension: its literature "grid" if it has one,
// categorical values, else `points` evenly (log-)spaced points.
std::vector<nlohmann::json> GridValues(const Dimension& dimension, int points);

}  // namespace cs
