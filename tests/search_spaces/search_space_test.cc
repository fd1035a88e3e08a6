#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "search_spaces/search_space.h"
#include "search_spaces/strategy.h"
#include "tests/testing/temp_dir.h"
#include "trials/params.h"

namespace cs {
namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A valid space with one of each dimension type; tests break one field of it.
const char* kValidSpace = R"({
  "name": "t",
  "dimensions": [
    {"name": "learning_rate", "type": "log-uniform", "range": [1e-4, 3e-3], "grid": [1e-4, 1e-3], "source": "s"},
    {"name": "batch_size", "type": "categorical", "values": [16, 32], "source": "s"},
    {"name": "epochs", "type": "integer", "range": [2, 4], "source": "s"},
    {"name": "dropout", "type": "uniform", "range": [0, 0.2], "source": "s"}
  ],
  "fixed": {"warmup_ratio": {"value": 0.1, "source": "s"}}
})";

// The error of loading `text` from a file, or "" when it loads.
std::string LoadError(const testing::TempDir& dir, const std::string& text) {
  std::string path = dir.Write("space.json", text);
  Result<SearchSpace> space = LoadSearchSpace(path);
  if (space.ok()) return "";
  CHECK_MESSAGE(Contains(space.status().message(), path), space.status().message());
  return space.status().message();
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("every shipped space parses, cites its sources and yields valid points") {
  std::vector<std::string> names = BuiltInSearchSpaceNames();
  for (const char* expected : {"bert-devlin2019", "carbonsweep-small", "ci-tiny", "roberta-glue", "turc2019-small-bert"}) {
    CHECK_MESSAGE(std::find(names.begin(), names.end(), expected) != names.end(), expected);
  }
  for (const std::string& name : names) {
    CAPTURE(name);
    Result<SearchSpace> space = LoadSearchSpace(name);
    REQUIRE_MESSAGE(space.ok(), space.status().message());
    CHECK(space->name == name);
    CHECK(space->origin == "built-in:" + name);
    for (const Dimension& dimension : space->dimensions) CHECK(!dimension.source.empty());
    for (const FixedParam& param : space->fixed) CHECK(!param.source.empty());
    // The whole grid is runnable.
    auto grid = MakeStrategy(*space, {StrategyKind::kGrid, /*seed=*/1});
    REQUIRE(grid.ok());
    for (int64_t k = 0; k < *(*grid)->GridSize(); ++k) {
      Result<TrialParams> params = ParseTrialParams(*(*grid)->Point(k));
      REQUIRE_MESSAGE(params.ok(), params.status().message());
    }
  }
}

TEST_CASE("the default space explains every range") {
  Result<SearchSpace> space = LoadSearchSpace(kDefaultSearchSpace);
  REQUIRE(space.ok());
  std::set<std::string> varied;
  for (const Dimension& dimension : space->dimensions) {
    CHECK_MESSAGE(!dimension.rationale.empty(), dimension.name);
    varied.insert(dimension.name);
  }
  CHECK(varied == std::set<std::string>{"learning_rate", "batch_size", "epochs", "warmup_ratio", "weight_decay",
                                        "dropout", "trained_layers"});
  CHECK(space->UpperBound("learning_rate").value() == doctest::Approx(3e-3).scale(0));
  CHECK(space->UpperBound("epochs").value() == 4);
}

TEST_CASE("the BERT space is Devlin et al.'s 18-cell grid") {
  Result<SearchSpace> space = LoadSearchSpace("bert-devlin2019");
  REQUIRE(space.ok());
  auto grid = MakeStrategy(*space, {StrategyKind::kGrid, /*seed=*/0});
  REQUIRE(grid.ok());
  CHECK(*(*grid)->GridSize() == 18);
  CHECK(space->UpperBound("epochs").value() == 4);
  CHECK(LoadSearchSpace("roberta-glue")->UpperBound("epochs").value() == 10);
  CHECK(!space->UpperBound("max_seq_len").has_value());
}

TEST_CASE("built-in spaces load from any working directory, by name or file name") {
  testing::TempDir dir;
  std::filesystem::path previous = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  Result<SearchSpace> by_name = LoadSearchSpace("ci-tiny");
  Result<SearchSpace> by_file_name = LoadSearchSpace("ci-tiny.json");
  std::filesystem::current_path(previous);
  REQUIRE(by_name.ok());
  REQUIRE(by_file_name.ok());
  CHECK(by_name->ToJson() == by_file_name->ToJson());
}

TEST_CASE("a file path loads, and a file of a built-in's name wins over the built-in") {
  testing::TempDir dir;
  std::string path = dir.Write("ci-tiny.json", Replace(kValidSpace, "\"name\": \"t\"", "\"name\": \"mine\""));
  Result<SearchSpace> space = LoadSearchSpace(path);
  REQUIRE_MESSAGE(space.ok(), space.status().message());
  CHECK(space->name == "mine");
  CHECK(space->origin == path);
  CHECK(space->dimensions.size() == 4);
  CHECK(space->dimensions[0].type == DimensionType::kLogUniform);
  CHECK(space->dimensions[0].grid.size() == 2);
}

TEST_CASE("a space file over 1 MiB is refused naming it, before it is parsed") {
  testing::TempDir dir;
  std::string path = dir.Write("huge.json", kValidSpace + std::string(2 << 20, ' '));
  Result<SearchSpace> space = LoadSearchSpace(path);
  CHECK(space.status().code() == Status::Code::kInvalidArgument);
  CHECK_MESSAGE(Contains(space.status().message(), path + ": "), space.status().message());
  CHECK_MESSAGE(Contains(space.status().message(), "allowed"), space.status().message());
}

TEST_CASE("an unknown space names itself and the built-in ones") {
  Result<SearchSpace> space = LoadSearchSpace("no-such-space");
  CHECK(space.status().code() == Status::Code::kNotFound);
  CHECK(Contains(space.status().message(), "'no-such-space'"));
  CHECK(Contains(space.status().message(), "bert-devlin2019"));
}

TEST_CASE("a space survives ToJson and parsing back") {
  for (const std::string& name : BuiltInSearchSpaceNames()) {
    SearchSpace space = LoadSearchSpace(name).value();
    Result<SearchSpace> again = ParseSearchSpace(space.ToJson(), "stored");
    REQUIRE_MESSAGE(again.ok(), again.status().message());
    CHECK(again->ToJson() == space.ToJson());
  }
}

TEST_CASE("bad space files: the error names the file, the JSON path and what was expected") {
  testing::TempDir dir;
  REQUIRE(LoadError(dir, kValidSpace).empty());
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::string valid = kValidSpace;
  std::vector<Case> cases = {
      {"{\"name\": \"t\",\n \"dimensions\": [}", "invalid JSON: parse error at line 2"},
      {"[1, 2]", "(top level): expected a JSON object"},
      {Replace(valid, "\"name\": \"t\",", ""), ": name: missing (expected a non-empty string)"},
      {Replace(valid, "\"name\": \"t\",", "\"name\": \"t\", \"dimension\": [],"), ": dimension: unknown field"},
      {Replace(valid, "\"dimensions\"", "\"dims\""), ": dims: unknown field"},
      {Replace(valid, "\"name\": \"learning_rate\"", "\"name\": \"learnig_rate\""),
       "dimensions[0].name: 'learnig_rate' is not a hyperparameter (known: learning_rate, batch_size"},
      {Replace(valid, "\"type\": \"log-uniform\"", "\"type\": \"loguniform\""),
       "dimensions[0].type: 'loguniform' is not a type (expected categorical, uniform, log-uniform or integer)"},
      {Replace(valid, "\"range\": [2, 4]", "\"range\": [4, 2]"),
       "dimensions[2].range: [4, 2] has low > high, so the space has no valid point"},
      {Replace(valid, "\"range\": [2, 4]", "\"range\": [2]"), "dimensions[2].range: expected [low, high] with two numbers"},
      {Replace(valid, "\"range\": [2, 4]", "\"values\": [2, 4]"), "dimensions[2].values: not allowed with type integer (use range, and grid for discrete values)"},
      {Replace(valid, "\"range\": [1e-4, 3e-3]", "\"range\": [1e-4, 3]"),
       "dimensions[0].range[1]: learning_rate 3 is outside [1e-07, 1]"},
      {Replace(valid, "\"range\": [0, 0.2]", "\"range\": [0, 0.95]"), "dimensions[3].range[1]: dropout 0.95 is outside [0, 0.9]"},
      {Replace(valid, "\"type\": \"uniform\"", "\"type\": \"log-uniform\""),
       "dimensions[3].range[0]: a log-uniform range needs low > 0, got 0"},
      {Replace(valid, "\"type\": \"uniform\", \"range\": [0, 0.2]", "\"type\": \"integer\", \"range\": [0.1, 0.2]"),
       "dimensions[3].range: [0.1, 0.2] holds no integer, so the space has no valid point"},
      {Replace(valid, "\"values\": [16, 32]", "\"values\": []"), "dimensions[1].values: empty, so the space has no valid point"},
      {Replace(valid, "\"values\": [16, 32]", "\"values\": [16, 0]"), "dimensions[1].values[1]: batch_size 0 is outside [1, 4096]"},
      {Replace(valid, "\"values\": [16, 32]", "\"values\": [16, 16]"), "dimensions[1].values[1]: repeats values[0]"},
      {Replace(valid, "\"values\": [16, 32]", "\"values\": [16, \"32\"]"), "dimensions[1].values[1]: batch_size expected an integer"},
      {Replace(valid, "\"type\": \"categorical\", \"values\": [16, 32]", "\"type\": \"uniform\", \"range\": [16, 32]"),
       "dimensions[1].type: batch_size takes integers; use integer or categorical, not uniform"},
      {Replace(valid, "\"grid\": [1e-4, 1e-3]", "\"grid\": [1e-4, 1e-2]"),
       "dimensions[0].grid[1]: 0.01 is outside the range [0.0001, 0.003]"},
      {Replace(valid, "\"grid\": [1e-4, 1e-3]", "\"grid\": []"), "dimensions[0].grid: expected a non-empty array of numbers"},
      {Replace(valid, "\"values\": [16, 32], \"source\": \"s\"", "\"values\": [16, 32]"),
       "dimensions[1].source: missing (expected a non-empty string)"},
      {Replace(valid, "\"name\": \"dropout\", \"type\": \"uniform\", \"range\": [0, 0.2], \"source\": \"s\"",
               "\"name\": \"dropout\", \"type\": \"uniform\", \"rnage\": [0, 0.2], \"source\": \"s\""),
       "dimensions[3].rnage: unknown field"},
      {Replace(valid, "\"name\": \"dropout\"", "\"name\": \"batch_size\""),
       "dimensions[3].name: 'batch_size' is already set by dimensions[1]"},
      {Replace(valid, "\"name\": \"dropout\", \"type\": \"uniform\", \"range\": [0, 0.2]",
               "\"name\": \"truncation\", \"type\": \"uniform\", \"range\": [0, 1]"),
       "dimensions[3].type: truncation takes one of a set of names; use categorical"},
      {Replace(valid, "\"warmup_ratio\"", "\"warmup\""), "fixed.warmup: 'warmup' is not a hyperparameter"},
      {Replace(valid, "\"warmup_ratio\"", "\"epochs\""), "fixed.epochs: 'epochs' is already set by dimensions[2]"},
      {Replace(valid, "\"value\": 0.1", "\"value\": 0.7"), "fixed.warmup_ratio.value: warmup_ratio 0.7 is outside [0, 0.5]"},
      {Replace(valid, "{\"value\": 0.1, \"source\": \"s\"}", "0.1"), "fixed.warmup_ratio: expected {\"value\": ..., \"source\": \"...\"}"},
      {Replace(valid, "\"value\": 0.1, \"source\": \"s\"", "\"value\": 0.1"), "fixed.warmup_ratio.source: missing"},
  };
  for (const Case& c : cases) {
    std::string error = LoadError(dir, c.text);
    CHECK_MESSAGE(Contains(error, c.expected), "expected '" << c.expected << "' in '" << error << "'");
    CHECK(error.find('\n') == std::string::npos);
  }
}

TEST_CASE("a number no double holds is refused as invalid JSON, not thrown") {
  // Found by the search-space fuzzer (nlohmann's out_of_range.406).
  auto space = ParseSearchSpaceText(R"({"values":[1e400]})", "big.json");
  REQUIRE(!space.ok());
  CHECK(space.status().message().rfind("big.json: invalid JSON: ", 0) == 0);
}

}  // namespace cs
