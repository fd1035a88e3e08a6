#include "search_spaces/strategy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "trials/params.h"

namespace cs {

namespace {

// splitmix64 (Steele, Lea, Flood 2014): a bijective 64-bit mixer. Chained on
// (seed, k, dimension) it gives every draw its own independent-looking value
// without any RNG state, which is what makes Point(k) resumable.
uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// FNV-1a: keys a dimension's draws by its name, so adding a dimension to a
// space does not change the values the others get.
uint64_t HashName(const std::string& name) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : name) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

uint64_t CounterBits(uint64_t seed, uint64_t counter, uint64_t stream) {
  return SplitMix64(SplitMix64(SplitMix64(seed) + counter) ^ stream);
}

// A double in [0, 1) from the top 53 bits.
double UnitInterval(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// Salt for the grid's shuffle, distinct from every dimension-name stream.
constexpr uint64_t kGridShuffleStream = 0x67726964u;  // "grid"

nlohmann::json FixedObject(const SearchSpace& space) {
  nlohmann::json point = nlohmann::json::object();
  for (const FixedParam& param : space.fixed) point[param.name] = param.value;
  return point;
}

nlohmann::json IntegerValue(double value) { return static_cast<int64_t>(std::llround(value)); }

nlohmann::json SampleDimension(const Dimension& dimension, double unit) {
  switch (dimension.type) {
    case DimensionType::kCategorical: {
      size_t index = std::min(dimension.values.size() - 1, static_cast<size_t>(unit * dimension.values.size()));
      return dimension.values[index];
    }
    case DimensionType::kUniform:
      return std::clamp(dimension.low + unit * (dimension.high - dimension.low), dimension.low, dimension.high);
    case DimensionType::kLogUniform: {
      double log_low = std::log(dimension.low);
      double log_high = std::log(dimension.high);
      return std::clamp(std::exp(log_low + unit * (log_high - log_low)), dimension.low, dimension.high);
    }
    case DimensionType::kInteger: {
      double low = std::ceil(dimension.low);
      double count = std::floor(dimension.high) - low + 1;
      return IntegerValue(low + std::min(count - 1, std::floor(unit * count)));
    }
  }
  return nullptr;
}

std::string SpaceName(const SearchSpace& space) { return "search space '" + space.name + "' (" + space.origin + ")"; }

// A space built by hand (not parsed) may have a dimension with nothing to
// draw from; checked before any point is computed.
Status CheckDimensionsHaveValues(const SearchSpace& space) {
  for (const Dimension& dimension : space.dimensions) {
    if (dimension.type == DimensionType::kCategorical && dimension.values.empty()) {
      return Status::InvalidArgument(SpaceName(space) + " has no valid point: " + dimension.name + " has no values");
    }
  }
  return Status::Ok();
}

// The first point a strategy gives must pass ParseTrialParams; a space built
// by hand may hold values outside params.h's ranges, refused here in one line.
Status CheckHasValidPoint(const SearchSpace& space, const std::optional<nlohmann::json>& point) {
  std::string where = SpaceName(space);
  if (!point.has_value()) return Status::InvalidArgument(where + " has no valid point: the grid is empty");
  if (space.names == ParamNames::kOpen) return Status::Ok();  // a user's command judges its own values.
  Result<TrialParams> params = ParseTrialParams(*point);
  if (!params.ok()) return Status::InvalidArgument(where + " has no valid point: " + params.status().message());
  return Status::Ok();
}

class RandomStrategy : public Strategy {
 public:
  RandomStrategy(SearchSpace space, uint64_t seed) : space_(std::move(space)), seed_(seed) {}

  StrategyKind kind() const override { return StrategyKind::kRandom; }

  std::optional<nlohmann::json> Point(int64_t k) const override {
    if (k < 0) return std::nullopt;
    nlohmann::json point = FixedObject(space_);
    for (const Dimension& dimension : space_.dimensions) {
      double unit = UnitInterval(CounterBits(seed_, static_cast<uint64_t>(k), HashName(dimension.name)));
      point[dimension.name] = SampleDimension(dimension, unit);
    }
    return point;
  }

  std::optional<int64_t> GridSize() const override { return std::nullopt; }
  std::optional<double> Coverage(int64_t) const override { return std::nullopt; }

  nlohmann::json State() const override { return {{"kind", "random"}, {"seed", seed_}}; }

  std::string Describe() const override {
    return "random: seed " + std::to_string(seed_) + ", " + std::to_string(space_.dimensions.size()) +
           " dimensions of space '" + space_.name + "'";
  }

 private:
  SearchSpace space_;
  uint64_t seed_;
};

class GridStrategy : public Strategy {
 public:
  GridStrategy(SearchSpace space, uint64_t seed, int points_per_dimension,
               std::vector<std::vector<nlohmann::json>> axes, std::vector<int64_t> order)
      : space_(std::move(space)),
        seed_(seed),
        points_per_dimension_(points_per_dimension),
        axes_(std::move(axes)),
        order_(std::move(order)) {}

  StrategyKind kind() const override { return StrategyKind::kGrid; }

  std::optional<nlohmann::json> Point(int64_t k) const override {
    if (k < 0 || k >= static_cast<int64_t>(order_.size())) return std::nullopt;
    int64_t cell = order_[static_cast<size_t>(k)];
    nlohmann::json point = FixedObject(space_);
    // Mixed radix, the last dimension varying fastest.
    for (size_t d = axes_.size(); d-- > 0;) {
      int64_t radix = static_cast<int64_t>(axes_[d].size());
      point[space_.dimensions[d].name] = axes_[d][static_cast<size_t>(cell % radix)];
      cell /= radix;
    }
    return point;
  }

  std::optional<int64_t> GridSize() const override { return static_cast<int64_t>(order_.size()); }

  std::optional<double> Coverage(int64_t points_done) const override {
    if (order_.empty()) return 1.0;
    int64_t done = std::clamp<int64_t>(points_done, 0, static_cast<int64_t>(order_.size()));
    return static_cast<double>(done) / static_cast<double>(order_.size());
  }

  nlohmann::json State() const override {
    return {{"kind", "grid"},
            {"seed", seed_},
            {"grid_points_per_dimension", points_per_dimension_},
            {"size", order_.size()},
            {"order", order_}};
  }

  std::string Describe() const override {
    std::string shape;
    for (const auto& axis : axes_) shape += (shape.empty() ? "" : " x ") + std::to_string(axis.size());
    if (shape.empty()) shape = "no dimensions";
    return "grid: " + std::to_string(order_.size()) + " cells (" + shape + ") of space '" + space_.name +
           "', seed " + std::to_string(seed_) + ", shuffled order";
  }

 private:
  SearchSpace space_;
  uint64_t seed_;
  int points_per_dimension_;
  std::vector<std::vector<nlohmann::json>> axes_;
  std::vector<int64_t> order_;  // order_[k] = the cell trial k gets.
};

// The grid's axes and size, or an error when it is larger than allowed.
Result<std::vector<std::vector<nlohmann::json>>> GridAxes(const SearchSpace& space, int points, int64_t max_size,
                                                          int64_t* size) {
  std::vector<std::vector<nlohmann::json>> axes;
  *size = 1;
  for (const Dimension& dimension : space.dimensions) {
    axes.push_back(GridValues(dimension, points));
    int64_t length = static_cast<int64_t>(axes.back().size());
    if (length == 0) {
      *size = 0;
      continue;
    }
    if (*size > max_size / length) {
      return Status::InvalidArgument(SpaceName(space) + ": the grid has more than " + std::to_string(max_size) +
                                     " cells; use --strategy random or fewer grid points per dimension");
    }
    *size *= length;
  }
  return axes;
}

std::vector<int64_t> ShuffledOrder(int64_t size, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(size));
  std::iota(order.begin(), order.end(), 0);
  // Fisher-Yates with a counter-based draw per position (modulo bias < 2^-40 for any stored grid).
  for (int64_t i = size - 1; i > 0; --i) {
    uint64_t j = CounterBits(seed, static_cast<uint64_t>(i), kGridShuffleStream) % static_cast<uint64_t>(i + 1);
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

Result<std::unique_ptr<Strategy>> BuildGrid(const SearchSpace& space, uint64_t seed, int points, int64_t max_size,
                                            std::optional<std::vector<int64_t>> stored_order) {
  CS_RETURN_IF_ERROR(CheckDimensionsHaveValues(space));
  if (points < 1) {
    return Status::InvalidArgument("grid_points_per_dimension: " + std::to_string(points) + " must be at least 1");
  }
  int64_t size = 0;
  auto axes = GridAxes(space, points, max_size, &size);
  if (!axes.ok()) return axes.status();
  std::vector<int64_t> order;
  if (stored_order.has_value()) {
    order = std::move(*stored_order);
    if (static_cast<int64_t>(order.size()) != size) {
      return Status::InvalidArgument("strategy state: the stored grid has " + std::to_string(order.size()) +
                                     " cells but space '" + space.name + "' now gives " + std::to_string(size));
    }
  } else {
    order = ShuffledOrder(size, seed);
  }
  auto strategy = std::make_unique<GridStrategy>(space, seed, points, std::move(axes).value(), std::move(order));
  CS_RETURN_IF_ERROR(CheckHasValidPoint(space, strategy->Point(0)));
  return std::unique_ptr<Strategy>(std::move(strategy));
}

Result<std::unique_ptr<Strategy>> BuildRandom(const SearchSpace& space, uint64_t seed) {
  CS_RETURN_IF_ERROR(CheckDimensionsHaveValues(space));
  auto strategy = std::make_unique<RandomStrategy>(space, seed);
  CS_RETURN_IF_ERROR(CheckHasValidPoint(space, strategy->Point(0)));
  return std::unique_ptr<Strategy>(std::move(strategy));
}

}  // namespace

const char* StrategyKindName(StrategyKind kind) {
  switch (kind) {
    case StrategyKind::kRandom: return "random";
    case StrategyKind::kGrid: return "grid";
  }
  return "unknown";
}

Result<StrategyKind> ParseStrategyKind(const std::string& name) {
  for (StrategyKind kind : {StrategyKind::kRandom, StrategyKind::kGrid}) {
    if (name == StrategyKindName(kind)) return kind;
  }
  return Status::InvalidArgument("unknown strategy '" + name + "' (known: random, grid)");
}

std::vector<nlohmann::json> GridValues(const Dimension& dimension, int points) {
  if (dimension.type == DimensionType::kCategorical) return dimension.values;
  if (!dimension.grid.empty()) return dimension.grid;
  std::vector<nlohmann::json> values;
  if (points < 1) return values;
  double low = dimension.low;
  double high = dimension.high;
  if (dimension.type == DimensionType::kInteger) {
    low = std::ceil(low);
    high = std::floor(high);
  }
  for (int i = 0; i < points; ++i) {
    // One point sits in the middle of the range (geometric middle for log).
    double t = points == 1 ? 0.5 : static_cast<double>(i) / (points - 1);
    double value = dimension.type == DimensionType::kLogUniform
                       ? std::exp(std::log(low) + t * (std::log(high) - std::log(low)))
                       : low + t * (high - low);
    value = std::clamp(value, low, high);
    nlohmann::json json_value = dimension.type == DimensionType::kInteger ? IntegerValue(value) : nlohmann::json(value);
    if (std::find(values.begin(), values.end(), json_value) == values.end()) values.push_back(json_value);
  }
  return values;
}

Result<std::unique_ptr<Strategy>> MakeStrategy(const SearchSpace& space, const StrategyOptions& options) {
  switch (options.kind) {
    case StrategyKind::kRandom:
      return BuildRandom(space, options.seed);
    case StrategyKind::kGrid:
      return BuildGrid(space, options.seed, options.grid_points_per_dimension, options.max_grid_size, std::nullopt);
  }
  return Status::Internal("unhandled strategy kind");
}

Result<std::unique_ptr<Strategy>> RestoreStrategy(const SearchSpace& space, const nlohmann::json& state) {
  auto bad = [](const std::string& field, const std::string& expected) {
    return Status::Corruption("strategy state: " + field + ": expected " + expected);
  };
  if (!state.is_object()) return bad("(top level)", "a JSON object");
  auto kind_field = state.find("kind");
  if (kind_field == state.end() || !kind_field->is_string()) return bad("kind", "\"random\" or \"grid\"");
  Result<StrategyKind> kind = ParseStrategyKind(kind_field->get<std::string>());
  if (!kind.ok()) return bad("kind", "\"random\" or \"grid\", got '" + kind_field->get<std::string>() + "'");
  auto seed = state.find("seed");
  if (seed == state.end() || !seed->is_number_unsigned()) return bad("seed", "a non-negative integer");
  if (*kind == StrategyKind::kRandom) return BuildRandom(space, seed->get<uint64_t>());

  auto points = state.find("grid_points_per_dimension");
  if (points == state.end() || !points->is_number_integer()) return bad("grid_points_per_dimension", "an integer");
  auto size = state.find("size");
  if (size == state.end() || !size->is_number_unsigned()) return bad("size", "a non-negative integer");
  auto order_field = state.find("order");
  if (order_field == state.end() || !order_field->is_array()) return bad("order", "an array of cell numbers");
  int64_t cells = size->get<int64_t>();
  if (static_cast<int64_t>(order_field->size()) != cells) {
    return bad("order", std::to_string(cells) + " cell numbers, got " + std::to_string(order_field->size()));
  }
  std::vector<int64_t> order;
  std::vector<bool> seen(static_cast<size_t>(cells), false);
  for (const nlohmann::json& cell : *order_field) {
    if (!cell.is_number_integer() || cell.get<int64_t>() < 0 || cell.get<int64_t>() >= cells ||
        seen[static_cast<size_t>(cell.get<int64_t>())]) {
      return bad("order", "a permutation of 0.." + std::to_string(cells - 1));
    }
    seen[static_cast<size_t>(cell.get<int64_t>())] = true;
    order.push_back(cell.get<int64_t>());
  }
  // No size cap here: the grid was accepted when the sweep started; a space
  // that changed since is caught by the size check in BuildGrid.
  return BuildGrid(space, seed->get<uint64_t>(), points->get<int>(), std::numeric_limits<int64_t>::max(),
                   std::move(order));
}

}  // namespace cs
