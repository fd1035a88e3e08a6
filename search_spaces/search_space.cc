#include "search_spaces/search_space.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "common/files.h"
#include "common/json.h"
#include "common/text.h"
#include "search_spaces/built_in_spaces.h"
#include "trials/params.h"

namespace cs {

namespace {

constexpr const char* kBuiltInPrefix = "built-in:";

std::string JoinKeys(const std::set<std::string>& keys) {
  std::string joined;
  for (const std::string& key : keys) joined += (joined.empty() ? "" : ", ") + key;
  return joined;
}

std::string KnownParamNames() {
  std::string known;
  for (const ParamSpec& spec : TrialParamSpecs()) known += (known.empty() ? "" : ", ") + spec.name;
  return known;
}

// Every error of one document goes through here: "<origin>: <json path>: <problem>".
class SpaceParser {
 public:
  SpaceParser(std::string origin, ParamNames names) : origin_(std::move(origin)), names_(names) {}

  Result<SearchSpace> Parse(const nlohmann::json& document) {
    if (!document.is_object()) return Error("(top level)", "expected a JSON object");
    CS_RETURN_IF_ERROR(CheckKeys(document, "", {"name", "description", "source", "dimensions", "fixed"}));
    SearchSpace space;
    space.origin = origin_;
    space.names = names_;
    CS_RETURN_IF_ERROR(ReadString(document, "", "name", /*required=*/true, &space.name));
    CS_RETURN_IF_ERROR(ReadString(document, "", "description", /*required=*/false, &space.description));
    CS_RETURN_IF_ERROR(ReadString(document, "", "source", /*required=*/false, &space.source));

    auto dimensions = document.find("dimensions");
    if (dimensions == document.end()) return Error("dimensions", "missing (expected an array of dimensions)");
    if (!dimensions->is_array()) return Error("dimensions", "expected an array of dimensions");
    std::map<std::string, std::string> seen;  // parameter -> JSON path that set it
    for (size_t i = 0; i < dimensions->size(); ++i) {
      std::string path = "dimensions[" + std::to_string(i) + "]";
      const nlohmann::json& entry = (*dimensions)[i];
      // A repeated name is reported before anything else about the entry.
      if (entry.is_object() && entry.contains("name") && entry["name"].is_string()) {
        std::string name = entry["name"].get<std::string>();
        auto [it, inserted] = seen.emplace(name, path);
        if (!inserted) return Error(path + ".name", "'" + name + "' is already set by " + it->second);
      }
      Result<Dimension> dimension = ParseDimension(entry, path);
      if (!dimension.ok()) return dimension.status();
      space.dimensions.push_back(std::move(dimension).value());
    }

    auto fixed = document.find("fixed");
    if (fixed != document.end()) {
      if (!fixed->is_object()) return Error("fixed", "expected an object {\"name\": {\"value\": ..., \"source\": ...}}");
      for (const auto& [name, entry] : fixed->items()) {
        std::string path = "fixed." + name;
        auto [it, inserted] = seen.emplace(name, path);
        if (!inserted) return Error(path, "'" + name + "' is already set by " + it->second);
        Result<FixedParam> param = ParseFixed(name, entry, path);
        if (!param.ok()) return param.status();
        space.fixed.push_back(std::move(param).value());
      }
    }
    return space;
  }

 private:
  Status Error(const std::string& path, const std::string& problem) const {
    return Status::InvalidArgument(origin_ + ": " + path + ": " + problem);
  }

  static std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  Status CheckKeys(const nlohmann::json& object, const std::string& path, const std::set<std::string>& allowed) const {
    for (const auto& item : object.items()) {
      if (allowed.count(item.key()) == 0) {
        return Error(Join(path, item.key()), "unknown field (expected one of " + JoinKeys(allowed) + ")");
      }
    }
    return Status::Ok();
  }

  Status ReadString(const nlohmann::json& object, const std::string& path, const char* key, bool required,
                    std::string* out) const {
    auto it = object.find(key);
    if (it == object.end()) {
      return required ? Error(Join(path, key), "missing (expected a non-empty string)") : Status::Ok();
    }
    if (!it->is_string() || it->get<std::string>().empty()) {
      return Error(Join(path, key), "expected a non-empty string");
    }
    *out = it->get<std::string>();
    return Status::Ok();
  }

  // A name the space may use: the bundled trial's, or (open) any short identifier.
  Status CheckName(const std::string& name, const std::string& path) const {
    if (names_ == ParamNames::kBundledTrial) {
      if (FindParamSpec(name) != nullptr) return Status::Ok();
      return Error(path, "'" + name + "' is not a hyperparameter (known: " + KnownParamNames() +
                             "; a training command of your own, run --command, takes any name)");
    }
    const bool well_formed = !name.empty() && name.size() <= 64 && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                             std::all_of(name.begin(), name.end(), IsParamNameChar);
    if (well_formed) return Status::Ok();
    return Error(path, "'" + name + "' is not a hyperparameter name (letters, digits, '_', '.', '-'; at most 64 bytes; "
                       "not starting with a digit)");
  }

  // ValidateParam's message names "params.<name>"; here the JSON path replaces it.
  Status Validate(const std::string& name, const nlohmann::json& value, const std::string& path) const {
    if (names_ == ParamNames::kOpen) {
      // A user's command gets the value as text: any finite number, a short string, a bool.
      const bool scalar = (value.is_number() && std::isfinite(value.get<double>())) || value.is_boolean() ||
                          (value.is_string() && !value.get<std::string>().empty() &&
                           value.get<std::string>().size() <= 256 && IsValidUtf8(value.get<std::string>()));
      if (scalar) return Status::Ok();
      return Error(path, name + " " + value.dump() + " is not a number, a bool or a string of 1 to 256 bytes");
    }
    Status status = ValidateParam(name, value);
    if (status.ok()) return status;
    std::string message = status.message();
    std::string prefix = "params." + name + ": ";
    if (message.rfind(prefix, 0) == 0) message = message.substr(prefix.size());
    return Error(path, name + " " + message);
  }

  Result<Dimension> ParseDimension(const nlohmann::json& object, const std::string& path) const {
    if (!object.is_object()) return Error(path, "expected an object with name, type, range or values, source");
    CS_RETURN_IF_ERROR(CheckKeys(object, path, {"name", "type", "range", "values", "grid", "source", "rationale"}));
    Dimension dimension;
    CS_RETURN_IF_ERROR(ReadString(object, path, "name", /*required=*/true, &dimension.name));
    CS_RETURN_IF_ERROR(CheckName(dimension.name, path + ".name"));
    const ParamSpec* spec = names_ == ParamNames::kBundledTrial ? FindParamSpec(dimension.name) : nullptr;
    std::string type_name;
    CS_RETURN_IF_ERROR(ReadString(object, path, "type", /*required=*/true, &type_name));
    bool type_known = false;
    for (DimensionType type : {DimensionType::kCategorical, DimensionType::kUniform, DimensionType::kLogUniform,
                               DimensionType::kInteger}) {
      if (type_name == DimensionTypeName(type)) {
        dimension.type = type;
        type_known = true;
      }
    }
    if (!type_known) {
      return Error(path + ".type", "'" + type_name + "' is not a type (expected categorical, uniform, log-uniform or integer)");
    }
    CS_RETURN_IF_ERROR(ReadString(object, path, "source", /*required=*/true, &dimension.source));
    CS_RETURN_IF_ERROR(ReadString(object, path, "rationale", /*required=*/false, &dimension.rationale));

    if (dimension.type == DimensionType::kCategorical) {
      CS_RETURN_IF_ERROR(ParseValues(object, path, &dimension));
    } else {
      if (spec != nullptr && spec->kind == ParamSpec::Kind::kChoice) {
        return Error(path + ".type", dimension.name + " takes one of a set of names; use categorical");
      }
      if (spec != nullptr && spec->kind == ParamSpec::Kind::kInteger && dimension.type != DimensionType::kInteger) {
        return Error(path + ".type", dimension.name + " takes integers; use integer or categorical, not " + type_name);
      }
      CS_RETURN_IF_ERROR(ParseRange(object, path, &dimension));
      CS_RETURN_IF_ERROR(ParseGrid(object, path, &dimension));
    }
    return dimension;
  }

  Status ParseValues(const nlohmann::json& object, const std::string& path, Dimension* dimension) const {
    for (const char* forbidden : {"range", "grid"}) {
      if (object.contains(forbidden)) {
        return Error(Join(path, forbidden), "not allowed for a categorical dimension (its values are its grid)");
      }
    }
    auto values = object.find("values");
    if (values == object.end()) return Error(path + ".values", "missing (expected a non-empty array of values)");
    if (!values->is_array()) return Error(path + ".values", "expected a non-empty array of values");
    if (values->empty()) return Error(path + ".values", "empty, so the space has no valid point");
    for (size_t i = 0; i < values->size(); ++i) {
      const nlohmann::json& value = (*values)[i];
      std::string value_path = path + ".values[" + std::to_string(i) + "]";
      CS_RETURN_IF_ERROR(Validate(dimension->name, value, value_path));
      for (size_t j = 0; j < i; ++j) {
        if ((*values)[j] == value) return Error(value_path, "repeats values[" + std::to_string(j) + "]");
      }
      dimension->values.push_back(value);
    }
    return Status::Ok();
  }

  Status ParseRange(const nlohmann::json& object, const std::string& path, Dimension* dimension) const {
    if (object.contains("values")) {
      return Error(path + ".values", std::string("not allowed with type ") + DimensionTypeName(dimension->type) +
                                         " (use range, and grid for discrete values)");
    }
    std::string range_path = path + ".range";
    auto range = object.find("range");
    if (range == object.end()) return Error(range_path, "missing (expected [low, high])");
    if (!range->is_array() || range->size() != 2 || !(*range)[0].is_number() || !(*range)[1].is_number()) {
      return Error(range_path, "expected [low, high] with two numbers");
    }
    dimension->low = (*range)[0].get<double>();
    dimension->high = (*range)[1].get<double>();
    if (!(dimension->low <= dimension->high)) {
      return Error(range_path, "[" + FormatNumber(dimension->low) + ", " + FormatNumber(dimension->high) +
                                   "] has low > high, so the space has no valid point");
    }
    CS_RETURN_IF_ERROR(Validate(dimension->name, (*range)[0], range_path + "[0]"));
    CS_RETURN_IF_ERROR(Validate(dimension->name, (*range)[1], range_path + "[1]"));
    if (dimension->type == DimensionType::kLogUniform && dimension->low <= 0) {
      return Error(range_path + "[0]", "a log-uniform range needs low > 0, got " + FormatNumber(dimension->low));
    }
    if (dimension->type == DimensionType::kInteger && std::ceil(dimension->low) > std::floor(dimension->high)) {
      return Error(range_path, "[" + FormatNumber(dimension->low) + ", " + FormatNumber(dimension->high) +
                                   "] holds no integer, so the space has no valid point");
    }
    return Status::Ok();
  }

  Status ParseGrid(const nlohmann::json& object, const std::string& path, Dimension* dimension) const {
    auto grid = object.find("grid");
    if (grid == object.end()) return Status::Ok();
    if (!grid->is_array() || grid->empty()) return Error(path + ".grid", "expected a non-empty array of numbers");
    for (size_t i = 0; i < grid->size(); ++i) {
      const nlohmann::json& value = (*grid)[i];
      std::string value_path = path + ".grid[" + std::to_string(i) + "]";
      if (!value.is_number()) return Error(value_path, "expected a number");
      double number = value.get<double>();
      if (number < dimension->low || number > dimension->high) {
        return Error(value_path, FormatNumber(number) + " is outside the range [" + FormatNumber(dimension->low) +
                                     ", " + FormatNumber(dimension->high) + "]");
      }
      if (dimension->type == DimensionType::kInteger && number != std::floor(number)) {
        return Error(value_path, FormatNumber(number) + " is not an integer");
      }
      for (size_t j = 0; j < i; ++j) {
        if ((*grid)[j].get<double>() == number) return Error(value_path, "repeats grid[" + std::to_string(j) + "]");
      }
      CS_RETURN_IF_ERROR(Validate(dimension->name, value, value_path));
      dimension->grid.push_back(value);
    }
    return Status::Ok();
  }

  Result<FixedParam> ParseFixed(const std::string& name, const nlohmann::json& entry, const std::string& path) const {
    CS_RETURN_IF_ERROR(CheckName(name, path));
    if (!entry.is_object()) return Error(path, "expected {\"value\": ..., \"source\": \"...\"}");
    CS_RETURN_IF_ERROR(CheckKeys(entry, path, {"value", "source"}));
    FixedParam param;
    param.name = name;
    auto value = entry.find("value");
    if (value == entry.end()) return Error(path + ".value", "missing");
    CS_RETURN_IF_ERROR(Validate(name, *value, path + ".value"));
    param.value = *value;
    CS_RETURN_IF_ERROR(ReadString(entry, path, "source", /*required=*/true, &param.source));
    return param;
  }

  std::string origin_;
  ParamNames names_;
};

// A search space is a few hundred lines of JSON; more is a wrong file.
constexpr size_t kMaxSearchSpaceFileBytes = 1 << 20;

bool IsRegularFile(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

}  // namespace

bool IsParamNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

const char* DimensionTypeName(DimensionType type) {
  switch (type) {
    case DimensionType::kCategorical: return "categorical";
    case DimensionType::kUniform: return "uniform";
    case DimensionType::kLogUniform: return "log-uniform";
    case DimensionType::kInteger: return "integer";
  }
  return "unknown";
}

std::optional<double> SearchSpace::UpperBound(const std::string& param) const {
  for (const Dimension& dimension : dimensions) {
    if (dimension.name != param) continue;
    if (dimension.type != DimensionType::kCategorical) return dimension.high;
    std::optional<double> largest;
    for (const nlohmann::json& value : dimension.values) {
      if (value.is_number()) largest = std::max(largest.value_or(value.get<double>()), value.get<double>());
    }
    return largest;
  }
  for (const FixedParam& fixed_param : fixed) {
    if (fixed_param.name == param && fixed_param.value.is_number()) return fixed_param.value.get<double>();
  }
  return std::nullopt;
}

nlohmann::json SearchSpace::ToJson() const {
  nlohmann::json document = nlohmann::json::object();
  document["name"] = name;
  if (!description.empty()) document["description"] = description;
  if (!source.empty()) document["source"] = source;
  document["dimensions"] = nlohmann::json::array();
  for (const Dimension& dimension : dimensions) {
    nlohmann::json entry = {{"name", dimension.name}, {"type", DimensionTypeName(dimension.type)}};
    if (dimension.type == DimensionType::kCategorical) {
      entry["values"] = dimension.values;
    } else if (dimension.type == DimensionType::kInteger) {
      entry["range"] = {static_cast<int64_t>(dimension.low), static_cast<int64_t>(dimension.high)};
    } else {
      entry["range"] = {dimension.low, dimension.high};
    }
    if (!dimension.grid.empty()) entry["grid"] = dimension.grid;
    entry["source"] = dimension.source;
    if (!dimension.rationale.empty()) entry["rationale"] = dimension.rationale;
    document["dimensions"].push_back(std::move(entry));
  }
  document["fixed"] = nlohmann::json::object();
  for (const FixedParam& param : fixed) {
    document["fixed"][param.name] = {{"value", param.value}, {"source", param.source}};
  }
  return document;
}

Result<SearchSpace> ParseSearchSpace(const nlohmann::json& document, const std::string& origin, ParamNames names) {
  return SpaceParser(origin, names).Parse(document);
}

Result<SearchSpace> ParseSearchSpaceText(const std::string& text, const std::string& origin, ParamNames names) {
  Result<nlohmann::json> document = ParseJson(text, origin);
  if (!document.ok()) return document.status();
  return ParseSearchSpace(*document, origin, names);
}

std::vector<std::string> BuiltInSearchSpaceNames() {
  std::vector<std::string> names;
  for (const BuiltInSpaceFile& file : BuiltInSpaceFiles()) names.emplace_back(file.name);
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<std::string> BuiltInSearchSpaceText(const std::string& name) {
  for (const BuiltInSpaceFile& file : BuiltInSpaceFiles()) {
    if (name == file.name) return std::string(file.text);
  }
  return std::nullopt;
}

Result<SearchSpace> LoadSearchSpace(const std::string& name_or_path, ParamNames names) {
  if (IsRegularFile(name_or_path)) {
    Result<std::string> text = ReadFileUpTo(name_or_path, kMaxSearchSpaceFileBytes);
    if (!text.ok()) return text.status();
    return ParseSearchSpaceText(*text, name_or_path, names);
  }
  std::string name = name_or_path;
  const std::string extension = ".json";
  if (name.size() > extension.size() && name.compare(name.size() - extension.size(), extension.size(), extension) == 0) {
    name.resize(name.size() - extension.size());
  }
  if (std::optional<std::string> text = BuiltInSearchSpaceText(name)) {
    return ParseSearchSpaceText(*text, kBuiltInPrefix + name, names);
  }
  std::string known;
  for (const std::string& built_in : BuiltInSearchSpaceNames()) known += (known.empty() ? "" : ", ") + built_in;
  return Status::NotFound("search space '" + name_or_path + "': no such file and no such built-in space (built-in: " +
                          known + ")");
}

}  // namespace cs
