#include "trials/classifier.h"

#include "trials/backbone.h"

namespace cs {

namespace {

torch::nn::Linear MakeHead(int hidden, int num_classes) {
  torch::nn::Linear head(hidden, num_classes);
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(head->weight, 0.0, 0.02);
  torch::nn::init::zeros_(head->bias);
  return head;
}

void AddTrainable(const torch::Tensor& parameter, TrainableParameters* out) {
  parameter.requires_grad_(true);
  (parameter.dim() <= 1 ? out->no_decay : out->decay).push_back(parameter);
}

}  // namespace

torch::Tensor MeanPool(const torch::Tensor& hidden, const torch::Tensor& attention_mask) {
  auto weights = attention_mask.to(hidden.scalar_type()).unsqueeze(-1);  // [B, T, 1]
  auto counts = weights.sum(1).clamp_min(1.0);                           // [B, 1]
  return (hidden * weights).sum(1) / counts;
}

SequenceClassifier::SequenceClassifier(Encoder encoder, int num_classes, double dropout)
    : encoder_(std::move(encoder)),
      head_(MakeHead(encoder_->config().hidden, num_classes)),
      num_classes_(num_classes),
      dropout_(dropout) {
  encoder_->set_dropout(dropout);
}

SequenceClassifier::SequenceClassifier(torch::jit::Module scripted, int hidden, int num_classes, double dropout)
    : scripted_(std::move(scripted)), head_(MakeHead(hidden, num_classes)), num_classes_(num_classes),
      dropout_(dropout) {}

torch::Tensor SequenceClassifier::Forward(const torch::Tensor& ids, const torch::Tensor& attention_mask) {
  torch::Tensor hidden =
      encoder_ ? encoder_->forward(ids, attention_mask) : RunScriptedEncoder(*scripted_, ids, attention_mask);
  return head_(EncoderDropout(MeanPool(hidden, attention_mask), dropout_, training_));
}

void SequenceClassifier::SetTraining(bool training) {
  training_ = training;
  head_->train(training);
  if (encoder_) encoder_->train(training);
  if (scripted_) scripted_->train(training);
}

TrainableParameters SequenceClassifier::Freeze(int trained_layers) {
  for (auto& [name, parameter] : NamedParameters()) parameter.requires_grad_(false);
  TrainableParameters trainable;
  if (encoder_) {
    const int layers = encoder_->num_layers();
    const bool all = trained_layers < 0 || trained_layers >= layers;
    if (all) {
      for (const auto& p : encoder_->EmbeddingParameters()) AddTrainable(p, &trainable);
    }
    const int first = all ? 0 : layers - trained_layers;
    for (int i = first; i < layers; ++i) {
      for (const auto& p : encoder_->layer(i)->parameters()) AddTrainable(p, &trainable);
    }
    if (all || trained_layers > 0) {
      for (const auto& p : encoder_->final_norm()->parameters()) AddTrainable(p, &trainable);
    }
  } else if (trained_layers != 0) {
    for (const auto& p : scripted_->parameters()) AddTrainable(p, &trainable);
  }
  for (const auto& p : head_->parameters()) AddTrainable(p, &trainable);
  return trainable;
}

std::vector<std::pair<std::string, torch::Tensor>> SequenceClassifier::NamedParameters() const {
  std::vector<std::pair<std::string, torch::Tensor>> named;
  if (encoder_) {
    for (const auto& item : encoder_->named_parameters()) named.emplace_back("encoder." + item.key(), item.value());
  } else {
    for (const auto& item : scripted_->named_parameters(/*recurse=*/true)) {
      named.emplace_back("encoder." + item.name, item.value);
    }
  }
  for (const auto& item : head_->named_parameters()) named.emplace_back("head." + item.key(), item.value());
  return named;
}

}  // namespace cs
