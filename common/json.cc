#include "common/json.h"

namespace cs {

namespace {

// "[json.exception.parse_error.101] parse error at ..." -> "parse error at ...".
std::string WithoutExceptionTag(const std::string& what) {
  size_t bracket = what.find("] ");
  return bracket == std::string::npos ? what : what.substr(bracket + 2);
}

}  // namespace

Result<nlohmann::json> ParseJson(std::string_view text, const std::string& origin) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    return Status::InvalidArgument(origin + ": invalid JSON: " + WithoutExceptionTag(error.what()));
  }
}

nlohmann::json ParseJsonOrDiscarded(std::string_view text) {
  try {
    return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  } catch (const nlohmann::json::exception&) {
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
}

double JsonNumberOr(const nlohmann::json& object, const char* key, double fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<double>() : fallback;
}

}  // namespace cs
