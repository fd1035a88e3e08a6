#include "trials/backbone.h"

#include <exception>

#include "common/files.h"
#include "common/json.h"

namespace cs {

namespace {

std::string JoinPath(const std::string& dir, const std::string& name) { return dir + "/" + name; }

// First line of a libtorch exception: the rest is a C++ stack trace.
std::string FirstLine(const std::exception& error) {
  std::string what = error.what();
  return what.substr(0, what.find('\n'));
}

}  // namespace

Status SaveBackbone(const std::string& dir, Encoder encoder, const WordPieceTokenizer& tokenizer,
                    const nlohmann::json& provenance) {
  if (encoder->config().vocab_size != tokenizer.vocab_size()) {
    return Status::InvalidArgument("backbone: encoder vocab_size " + std::to_string(encoder->config().vocab_size) +
                                   " differs from the vocab's " + std::to_string(tokenizer.vocab_size()) + " tokens");
  }
  CS_RETURN_IF_ERROR(MakeDirs(dir));
  CS_RETURN_IF_ERROR(SaveEncoderWeights(encoder, JoinPath(dir, kBackboneWeightsFile)));
  CS_RETURN_IF_ERROR(tokenizer.SaveVocab(JoinPath(dir, kBackboneVocabFile)));
  nlohmann::json info = {
      {"format", kBackboneFormat},
      {"encoder", EncoderConfigToJson(encoder->config())},
      {"case", tokenizer.case_handling() == CaseHandling::kLowercase ? "lowercase" : "keep"},
      {"vocab_sha256", tokenizer.VocabSha256()},
      {"parameters", CountParameters(*encoder)},
      {"provenance", provenance},
  };
  return WriteFileAtomic(JoinPath(dir, kBackboneInfoFile), info.dump(2) + "\n");
}

Result<LoadedBackbone> LoadBackbone(const std::string& dir, BackboneWeights weights) {
  std::string info_path = JoinPath(dir, kBackboneInfoFile);
  Result<std::string> text = ReadFile(info_path);
  if (!text.ok()) return text.status();
  nlohmann::json info = ParseJsonOrDiscarded(*text);
  if (info.is_discarded() || !info.is_object()) {
    return Status::Corruption(info_path + ": not a JSON object");
  }
  if (!info.contains("format") || info["format"] != kBackboneFormat) {
    return Status::Unsupported(info_path + ": format " + (info.contains("format") ? info["format"].dump() : "missing") +
                               " is not " + std::to_string(kBackboneFormat));
  }
  if (!info.contains("encoder")) return Status::Corruption(info_path + ": encoder: missing");
  Result<EncoderConfig> config = EncoderConfigFromJson(info["encoder"]);
  if (!config.ok()) return config.status().WithPrefix(info_path);
  CaseHandling case_handling = CaseHandling::kLowercase;
  if (info.contains("case") && info["case"] == "keep") case_handling = CaseHandling::kKeepCase;
  Result<WordPieceTokenizer> tokenizer = WordPieceTokenizer::LoadVocab(JoinPath(dir, kBackboneVocabFile), case_handling);
  if (!tokenizer.ok()) return tokenizer.status();
  if (tokenizer->vocab_size() != config->vocab_size) {
    return Status::Corruption(info_path + ": encoder.vocab_size " + std::to_string(config->vocab_size) +
                              " but vocab.txt has " + std::to_string(tokenizer->vocab_size()) + " tokens");
  }
  if (tokenizer->pad_id() != config->pad_id) {
    return Status::Corruption(info_path + ": encoder.pad_id " + std::to_string(config->pad_id) +
                              " but [PAD] is id " + std::to_string(tokenizer->pad_id()) + " in vocab.txt");
  }
  Result<Encoder> encoder = MakeEncoder(*config);
  if (!encoder.ok()) return encoder.status().WithPrefix(info_path);
  if (weights == BackboneWeights::kPretrained) {
    CS_RETURN_IF_ERROR(LoadEncoderWeights(*encoder, JoinPath(dir, kBackboneWeightsFile)));
  }
  LoadedBackbone backbone{dir, *config, std::move(tokenizer).value(), std::move(info), *encoder};
  return backbone;
}

namespace {

// forward's inputs, `self` not counted.
size_t ForwardInputs(torch::jit::Module& module) {
  return module.get_method("forward").function().getSchema().arguments().size() - 1;
}

}  // namespace

torch::Tensor RunScriptedEncoder(torch::jit::Module& module, const torch::Tensor& ids,
                                 const torch::Tensor& attention_mask) {
  std::vector<c10::IValue> inputs = {ids, attention_mask};
  if (ForwardInputs(module) >= 3) inputs.push_back(torch::zeros_like(ids));  // token_type_ids: one segment.
  c10::IValue output = module.forward(inputs);
  if (output.isTensor()) return output.toTensor();
  if (output.isTuple()) return output.toTuple()->elements().at(0).toTensor();
  if (output.isList()) return output.toList().get(0).toTensor();
  if (output.isTensorList()) return output.toTensorList().get(0);
  throw std::runtime_error("the scripted encoder returned " + output.tagKind() +
                           ", not a tensor or a tuple starting with one");
}

Result<ScriptedBackbone> LoadScriptedBackbone(const std::string& model_path, const std::string& vocab_path) {
  if (!FileExists(model_path)) return Status::NotFound(model_path + ": no such TorchScript file");
  Result<WordPieceTokenizer> tokenizer = WordPieceTokenizer::LoadVocab(vocab_path);
  if (!tokenizer.ok()) return tokenizer.status();
  std::vector<std::string> tokens;
  for (int id = 0; id < tokenizer->vocab_size(); ++id) tokens.push_back(tokenizer->TokenOf(id));
  if (WordPieceTokenizer::DetectCaseHandling(tokens) == CaseHandling::kKeepCase) {
    tokenizer = WordPieceTokenizer::FromTokens(std::move(tokens), CaseHandling::kKeepCase);
    if (!tokenizer.ok()) return tokenizer.status().WithPrefix(vocab_path);
  }
  try {
    torch::jit::Module module = torch::jit::load(model_path);
    module.eval();
    torch::NoGradGuard no_grad;
    auto ids = torch::tensor({static_cast<int64_t>(tokenizer->cls_id()), static_cast<int64_t>(tokenizer->sep_id())},
                             torch::kLong)
                   .view({1, 2});
    auto mask = torch::ones({1, 2}, torch::kLong);
    torch::Tensor hidden = RunScriptedEncoder(module, ids, mask);
    if (hidden.dim() != 3 || hidden.size(0) != 1 || hidden.size(1) != 2) {
      return Status::InvalidArgument(model_path + ": forward(ids [1,2], mask [1,2][, token_type_ids]) returned shape " +
                                     c10::str(hidden.sizes()) + ", expected [1, 2, hidden]");
    }
    if (hidden.scalar_type() != torch::kFloat) {
      return Status::InvalidArgument(model_path + ": forward returned " + std::string(c10::toString(hidden.scalar_type())) +
                                     " hidden states, expected float32");
    }
    const bool token_types = ForwardInputs(module) >= 3;
    ScriptedBackbone backbone{module, std::move(tokenizer).value(), static_cast<int>(hidden.size(2)), token_types};
    return backbone;
  } catch (const std::exception& error) {
    return Status::InvalidArgument(model_path + ": cannot use as a TorchScript encoder: " + FirstLine(error));
  }
}

}  // namespace cs
