// JSON written by someone else (a trial, a job file, a user's data or
// config), parsed without letting nlohmann::json throw past the caller.
//
// nlohmann::json::parse(..., allow_exceptions=false) still throws
// out_of_range.406 for a number no double holds ("1e400"), so every reader of
// untrusted JSON goes through ParseJson here instead. Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace cs {

// The parsed document, or why there is none: "<origin>: invalid JSON: <what>"
// where <what> is nlohmann's own words without its "[json.exception...]" tag
// (e.g. "parse error at line 3, column 5: ..." or "number overflow parsing '1e400'").
Result<nlohmann::json> ParseJson(std::string_view text, const std::string& origin);

// The parsed document, or a discarded value (is_discarded()) for anything that
// is not valid JSON, for readers that skip a bad line instead of naming it.
nlohmann::json ParseJsonOrDiscarded(std::string_view text);

// object[key] when `object` is an object holding a number there, else `fallback`.
double JsonNumberOr(const nlohmann::json& object, const char* key, double fallback);

}  // namespace cs
