#include <doctest/doctest.h>

#include "common/json.h"

namespace cs {

TEST_CASE("a number no double holds is a parse failure, not an exception") {
  // nlohmann throws out_of_range.406 for these even with allow_exceptions=false
  // (the dataset fuzzer found " 1.7976937e308").
  for (const char* text : {" 1.7976937e308", "1e400", "{\"joules\": -1e999}", "[1, 2e308]"}) {
    CAPTURE(text);
    CHECK(ParseJsonOrDiscarded(text).is_discarded());
    Result<nlohmann::json> parsed = ParseJson(text, "energy.log:3");
    REQUIRE(!parsed.ok());
    CHECK(parsed.status().message().rfind("energy.log:3: invalid JSON: number overflow parsing", 0) == 0);
  }
}

TEST_CASE("syntax errors name the origin and nlohmann's position, without its exception tag") {
  Result<nlohmann::json> parsed = ParseJson("{\"a\": }", "space.json");
  REQUIRE(!parsed.ok());
  CHECK(parsed.status().message().rfind("space.json: invalid JSON: parse error at line 1, column 7", 0) == 0);
  CHECK(ParseJsonOrDiscarded("{").is_discarded());
  CHECK(ParseJsonOrDiscarded("").is_discarded());
}

TEST_CASE("valid JSON parses the same both ways") {
  CHECK(ParseJson("{\"a\": [1, 2.5]}", "x").value()["a"][1] == 2.5);
  CHECK(ParseJsonOrDiscarded("1.7976931348623157e308").get<double>() > 1e308);
}

TEST_CASE("JsonNumberOr takes a number and falls back on anything else") {
  nlohmann::json object = {{"pue", 1.2}, {"name", "x"}, {"count", 3}};
  CHECK(JsonNumberOr(object, "pue", 1.0) == 1.2);
  CHECK(JsonNumberOr(object, "count", 0) == 3);
  CHECK(JsonNumberOr(object, "name", 7) == 7);
  CHECK(JsonNumberOr(object, "missing", 7) == 7);
  CHECK(JsonNumberOr(nlohmann::json::array({1}), "pue", 7) == 7);
}

}  // namespace cs
