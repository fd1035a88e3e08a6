#include "trials/params.h"

#include <cmath>
#include <sstream>

namespace cs {

namespace {

std::string FormatNumber(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

const std::vector<ParamSpec>& TrialParamSpecs() {
  using Kind = ParamSpec::Kind;
  static const std::vector<ParamSpec> kSpecs = {
      {"learning_rate", Kind::kReal, 1e-7, 1.0, {}, "peak AdamW learning rate"},
      {"batch_size", Kind::kInteger, 1, 4096, {}, "sequences per optimizer step"},
      {"epochs", Kind::kInteger, 1, 100, {}, "passes over the training set"},
      {"warmup_ratio", Kind::kReal, 0.0, 0.5, {}, "share of steps with linear warmup"},
      {"weight_decay", Kind::kReal, 0.0, 1.0, {}, "AdamW decoupled weight decay"},
      {"dropout", Kind::kReal, 0.0, 0.9, {}, "dropout probability in the encoder and head"},
      {"max_seq_len", Kind::kInteger, 8, 512, {}, "tokens per sequence including [CLS] and [SEP]"},
      {"trained_layers", Kind::kInteger, -1, 64, {}, "top encoder layers trained (0 = head only, -1 = all)"},
      {"truncation", Kind::kChoice, 0, 0, {"head", "head_tail"}, "how long texts are cut to max_seq_len"},
      {"seed", Kind::kInteger, 0, 2147483647, {}, "seed of initialisation, shuffling and dropout"},
  };
  return kSpecs;
}

const ParamSpec* FindParamSpec(const std::string& name) {
  for (const ParamSpec& spec : TrialParamSpecs()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

Status ValidateParam(const std::string& name, const nlohmann::json& value) {
  const ParamSpec* spec = FindParamSpec(name);
  std::string field = "params." + name;
  if (spec == nullptr) {
    std::string known;
    for (const ParamSpec& s : TrialParamSpecs()) known += (known.empty() ? "" : ", ") + s.name;
    return Status::InvalidArgument(field + ": unknown hyperparameter (known: " + known + ")");
  }
  std::string range = "[" + FormatNumber(spec->min) + ", " + FormatNumber(spec->max) + "]";
  switch (spec->kind) {
    case ParamSpec::Kind::kChoice: {
      if (!value.is_string()) return Status::InvalidArgument(field + ": expected a string");
      for (const std::string& choice : spec->choices) {
        if (value.get<std::string>() == choice) return Status::Ok();
      }
      std::string choices;
      for (const std::string& c : spec->choices) choices += (choices.empty() ? "" : ", ") + c;
      return Status::InvalidArgument(field + ": '" + value.get<std::string>() + "' is not one of " + choices);
    }
    case ParamSpec::Kind::kInteger: {
      if (!value.is_number()) return Status::InvalidArgument(field + ": expected an integer in " + range);
      double number = value.get<double>();
      if (number != std::floor(number)) {
        return Status::InvalidArgument(field + ": " + FormatNumber(number) + " is not an integer");
      }
      if (number < spec->min || number > spec->max) {
        return Status::InvalidArgument(field + ": " + FormatNumber(number) + " is outside " + range);
      }
      return Status::Ok();
    }
    case ParamSpec::Kind::kReal: {
      if (!value.is_number()) return Status::InvalidArgument(field + ": expected a number in " + range);
      double number = value.get<double>();
      if (!std::isfinite(number) || number < spec->min || number > spec->max) {
        return Status::InvalidArgument(field + ": " + FormatNumber(number) + " is outside " + range);
      }
      return Status::Ok();
    }
  }
  return Status::Internal("unhandled parameter kind");
}

Result<TrialParams> ParseTrialParams(const nlohmann::json& object) {
  if (!object.is_object()) return Status::InvalidArgument("params: expected a JSON object");
  for (const auto& [name, value] : object.items()) CS_RETURN_IF_ERROR(ValidateParam(name, value));
  TrialParams params;
  auto read = [&](const char* name, auto* field) {
    auto it = object.find(name);
    if (it != object.end()) *field = it->get<std::decay_t<decltype(*field)>>();
  };
  read("learning_rate", &params.learning_rate);
  read("batch_size", &params.batch_size);
  read("epochs", &params.epochs);
  read("warmup_ratio", &params.warmup_ratio);
  read("weight_decay", &params.weight_decay);
  read("dropout", &params.dropout);
  read("max_seq_len", &params.max_seq_len);
  read("trained_layers", &params.trained_layers);
  read("seed", &params.seed);
  auto truncation = object.find("truncation");
  if (truncation != object.end()) {
    params.truncation = truncation->get<std::string>() == "head" ? Truncation::kHead : Truncation::kHeadTail;
  }
  return params;
}

nlohmann::json TrialParamsToJson(const TrialParams& params) {
  return {{"learning_rate", params.learning_rate}, {"batch_size", params.batch_size},
          {"epochs", params.epochs},               {"warmup_ratio", params.warmup_ratio},
          {"weight_decay", params.weight_decay},   {"dropout", params.dropout},
          {"max_seq_len", params.max_seq_len},     {"trained_layers", params.trained_layers},
          {"truncation", TruncationName(params.truncation)}, {"seed", params.seed}};
}

const char* TruncationName(Truncation truncation) {
  return truncation == Truncation::kHead ? "head" : "head_tail";
}

}  // namespace cs
