#include "trials/checkpoint.h"

#include <cstdio>
#include <exception>

#include "common/files.h"

namespace cs {

namespace {

constexpr int kCheckpointFormat = 1;

std::string FirstLine(const std::exception& error) {
  std::string what = error.what();
  return what.substr(0, what.find('\n'));
}

// Archive keys cannot hold dots; parameters are stored by position and their
// names kept in the JSON to check the match.
std::string ParameterKey(const char* prefix, size_t index) { return std::string(prefix) + std::to_string(index); }

}  // namespace

nlohmann::json TrialProgressToJson(const TrialProgress& progress) {
  return {{"format", kCheckpointFormat},
          {"epochs_done", progress.epochs_done},
          {"steps", progress.steps},
          {"examples", progress.examples},
          {"seconds", progress.seconds},
          {"epochs", progress.epochs},
          {"best_epoch", progress.best_epoch},
          {"best_val_accuracy", progress.best_val_accuracy},
          {"fingerprint", progress.fingerprint}};
}

Result<TrialProgress> TrialProgressFromJson(const nlohmann::json& object) {
  try {
    if (object.at("format").get<int>() != kCheckpointFormat) {
      return Status::Unsupported("checkpoint format " + object.at("format").dump() + " is not " +
                                 std::to_string(kCheckpointFormat));
    }
    TrialProgress progress;
    progress.epochs_done = object.at("epochs_done").get<int>();
    progress.steps = object.at("steps").get<int64_t>();
    progress.examples = object.at("examples").get<int64_t>();
    progress.seconds = object.at("seconds").get<double>();
    progress.epochs = object.at("epochs");
    progress.best_epoch = object.at("best_epoch").get<int>();
    progress.best_val_accuracy = object.at("best_val_accuracy").get<double>();
    progress.fingerprint = object.at("fingerprint").get<std::string>();
    return progress;
  } catch (const nlohmann::json::exception& error) {
    return Status::Corruption(std::string("checkpoint progress: ") + error.what());
  }
}

Status SaveTrialCheckpoint(const std::string& path, SequenceClassifier& model, torch::optim::Optimizer& optimizer,
                           const TrialProgress& progress, const std::vector<torch::Tensor>& best_weights) {
  std::string temp = path + ".tmp";
  try {
    torch::serialize::OutputArchive archive;
    nlohmann::json state = TrialProgressToJson(progress);
    nlohmann::json names = nlohmann::json::array();
    auto named = model.NamedParameters();
    for (size_t i = 0; i < named.size(); ++i) {
      names.push_back(named[i].first);
      archive.write(ParameterKey("model_", i), named[i].second.detach());
      if (!best_weights.empty()) archive.write(ParameterKey("best_", i), best_weights.at(i));
    }
    state["parameters"] = names;
    state["has_best"] = !best_weights.empty();
    archive.write("state_json", c10::IValue(state.dump()));
    torch::serialize::OutputArchive optimizer_archive;
    optimizer.save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
    {
      at::Generator generator = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(generator.mutex());
      archive.write("rng_torch", generator.get_state());
    }
    archive.save_to(temp);
  } catch (const std::exception& error) {
    return Status::IoError(path + ": cannot write checkpoint: " + FirstLine(error));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return Status::IoError(path + ": cannot rename " + temp + " into place");
  }
  return Status::Ok();
}

Result<TrialProgress> LoadTrialCheckpoint(const std::string& path, SequenceClassifier& model,
                                          torch::optim::Optimizer& optimizer, std::vector<torch::Tensor>* best_weights) {
  if (!FileExists(path)) return Status::NotFound(path + ": no checkpoint");
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    c10::IValue state_value;
    archive.read("state_json", state_value);
    nlohmann::json state = nlohmann::json::parse(state_value.toStringRef());
    Result<TrialProgress> progress = TrialProgressFromJson(state);
    if (!progress.ok()) return progress.status().WithPrefix(path);
    auto named = model.NamedParameters();
    const nlohmann::json& names = state.at("parameters");
    if (names.size() != named.size()) {
      return Status::Corruption(path + ": holds " + std::to_string(names.size()) + " parameters, the model has " +
                                std::to_string(named.size()));
    }
    const bool has_best = state.at("has_best").get<bool>();
    best_weights->clear();
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < named.size(); ++i) {
      if (names[i].get<std::string>() != named[i].first) {
        return Status::Corruption(path + ": parameter " + std::to_string(i) + " is " + names[i].dump() +
                                  ", the model's is " + named[i].first);
      }
      torch::Tensor value;
      archive.read(ParameterKey("model_", i), value);
      if (!value.sizes().equals(named[i].second.sizes())) {
        return Status::Corruption(path + ": " + named[i].first + " has shape " + c10::str(value.sizes()) +
                                  ", the model's is " + c10::str(named[i].second.sizes()));
      }
      named[i].second.copy_(value);
      if (has_best) {
        torch::Tensor best;
        archive.read(ParameterKey("best_", i), best);
        best_weights->push_back(best);
      }
    }
    torch::serialize::InputArchive optimizer_archive;
    archive.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
    torch::Tensor rng;
    archive.read("rng_torch", rng);
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng);
    return progress;
  } catch (const std::exception& error) {
    return Status::Corruption(path + ": cannot read checkpoint: " + FirstLine(error));
  }
}

std::vector<torch::Tensor> SnapshotParameters(const SequenceClassifier& model) {
  std::vector<torch::Tensor> snapshot;
  for (const auto& [name, parameter] : model.NamedParameters()) snapshot.push_back(parameter.detach().clone());
  return snapshot;
}

void RestoreParameters(SequenceClassifier& model, const std::vector<torch::Tensor>& snapshot) {
  torch::NoGradGuard no_grad;
  auto named = model.NamedParameters();
  for (size_t i = 0; i < named.size(); ++i) named[i].second.copy_(snapshot.at(i));
}

}  // namespace cs
