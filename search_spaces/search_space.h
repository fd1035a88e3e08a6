// SearchSpace: the hyperparameters a sweep may vary, their ranges, the values
// it holds fixed, and the paper each range comes from. Loaded from a JSON
// file (format below) or from one of the files shipped in search_spaces/spaces/,
// which are compiled into the library so any working directory finds them.
// A SearchSpace is an immutable value after loading; any thread may read it.
//
// File format (every dimension and fixed value names its source):
//   {
//     "name": "bert-devlin2019",
//     "description": "one sentence",
//     "source": "Devlin et al. 2019, NAACL, Appendix A.3",
//     "dimensions": [
//       {"name": "learning_rate", "type": "log-uniform", "range": [1e-4, 3e-3],
//        "grid": [1e-4, 3e-4, 1e-3, 3e-3],              // optional, the literature's values
//        "source": "paper, table/section", "rationale": "why this range"},  // rationale optional
//       {"name": "batch_size", "type": "categorical", "values": [16, 32], "source": "..."}
//     ],
//     "fixed": {"warmup_ratio": {"value": 0.1, "source": "..."}}
//   }
// "type" is one of categorical, uniform, log-uniform, integer. Names must be
// hyperparameters known to trials/params.h; every value a dimension can take
// must pass ValidateParam, so each point of a loaded space is runnable.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace cs {

// The space used when a sweep names none.
constexpr const char* kDefaultSearchSpace = "carbonsweep-small";

enum class DimensionType {
  kCategorical = 0,  // one of `values` (numbers or strings), uniformly.
  kUniform = 1,      // a real in [low, high], uniformly.
  kLogUniform = 2,   // a real in [low, high] with log(x) uniform; 0 < low.
  kInteger = 3,      // an integer in [low, high], uniformly.
};
// The file's spelling: "categorical", "uniform", "log-uniform", "integer".
const char* DimensionTypeName(DimensionType type);

// Which hyperparameter names a space may use.
enum class ParamNames {
  // The bundled trial's (trials/params.h), each value checked against its range.
  kBundledTrial = 0,
  // Any name (letters, digits, '_', '.', '-'; at most 64 bytes), for a user's
  // own training command (`run --command`): values are checked for their
  // type only (finite numbers; categorical values a string, number or bool).
  kOpen = 1,
};

// A character of an open hyperparameter name (letters, digits, '_', '.', '-'):
// what a space may name and what a --command {placeholder} may hold.
bool IsParamNameChar(char c);

// One varied hyperparameter.
struct Dimension {
  std::string name;  // a name from TrialParamSpecs(), or any name with ParamNames::kOpen.
  DimensionType type = DimensionType::kCategorical;
  double low = 0;    // inclusive; unused for kCategorical.
  double high = 0;   // inclusive; unused for kCategorical.
  std::vector<nlohmann::json> values;  // kCategorical only.
  std::vector<nlohmann::json> grid;    // the literature's discrete values; empty = none given.
  std::string source;                  // paper + table/section.
  std::string rationale;               // why this range (may be empty).
};

// One hyperparameter held at a single value.
struct FixedParam {
  std::string name;
  nlohmann::json value;
  std::string source;
};

struct SearchSpace {
  std::string name;
  std::string description;
  std::string source;
  // Where it came from: "built-in:<name>" or the file path; used in messages.
  std::string origin;
  std::vector<Dimension> dimensions;
  std::vector<FixedParam> fixed;
  ParamNames names = ParamNames::kBundledTrial;  // what it was parsed for.

  // The largest value `param` can take in this space (a dimension's high or
  // largest value, or the fixed value); nullopt if the space does not set it
  // or it is not numeric. The ASHA scheduler takes its max epochs from here.
  std::optional<double> UpperBound(const std::string& param) const;
  // The space in the file format above (what the store keeps with a sweep);
  // ParseSearchSpace(ToJson(), ...) gives back an equal space.
  nlohmann::json ToJson() const;
};

// Resolves `name_or_path`: an existing regular file wins; otherwise a built-in
// name ("bert-devlin2019", with or without ".json"). Errors name the file and
// the JSON path:
//   "spaces/x.json: dimensions[2].range: expected [low, high] with low <= high".
Result<SearchSpace> LoadSearchSpace(const std::string& name_or_path, ParamNames names = ParamNames::kBundledTrial);
// Parses file text; `origin` (a path or "built-in:<name>") prefixes messages.
Result<SearchSpace> ParseSearchSpaceText(const std::string& text, const std::string& origin,
                                         ParamNames names = ParamNames::kBundledTrial);
Result<SearchSpace> ParseSearchSpace(const nlohmann::json& document, const std::string& origin,
                                     ParamNames names = ParamNames::kBundledTrial);

// The names of the shipped spaces, sorted.
std::vector<std::string> BuiltInSearchSpaceNames();
// The shipped file's text, or nullopt for an unknown name.
std::optional<std::string> BuiltInSearchSpaceText(const std::string& name);

}  // namespace cs
