// The checkpoint of a trial after a finished epoch: model weights, the best
// epoch's weights, the AdamW state (step counts and moments), torch's
// generator state (dropout masks and anything else random), and the
// progress so far (epochs, steps, examples, seconds, the epoch events).
// The learning-rate schedule needs no state of its own: it is a function of
// the global step, which the progress holds. The data order is a function of
// (seed, epoch). So a resumed trial replays exactly what the uninterrupted
// one would have done.
//
// One file (trials/protocol.h kTrialCheckpointFile), a torch::serialize
// archive written to "<path>.tmp" and renamed, so a kill at any moment leaves
// the previous epoch's checkpoint or the new one, never half of one.
//
// Callers: the fine-tuning loop. Thread safety: one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/status.h"
#include "trials/classifier.h"

namespace cs {

// What a trial has done so far, beside the tensors.
struct TrialProgress {
  int epochs_done = 0;
  int64_t steps = 0;          // optimizer steps over all finished epochs.
  int64_t examples = 0;       // training sequences seen.
  double seconds = 0;         // wall seconds of the finished epochs (training + validation).
  nlohmann::json epochs = nlohmann::json::array();  // the epoch events, in order.
  int best_epoch = 0;         // 1-based; 0 = none yet.
  double best_val_accuracy = -1;
  // Names what the checkpoint belongs to (params, task split, backbone): a
  // checkpoint with another fingerprint is refused instead of resumed.
  std::string fingerprint;
};

nlohmann::json TrialProgressToJson(const TrialProgress& progress);
Result<TrialProgress> TrialProgressFromJson(const nlohmann::json& object);

// best_weights: the best epoch's parameters, in model.NamedParameters() order.
Status SaveTrialCheckpoint(const std::string& path, SequenceClassifier& model, torch::optim::Optimizer& optimizer,
                           const TrialProgress& progress, const std::vector<torch::Tensor>& best_weights);

// Restores weights, optimizer and generator state into objects built exactly
// as for the original run; refuses a file whose parameter names or shapes
// differ. Returns the progress.
Result<TrialProgress> LoadTrialCheckpoint(const std::string& path, SequenceClassifier& model,
                                          torch::optim::Optimizer& optimizer, std::vector<torch::Tensor>* best_weights);

// Copies of the current parameter values (for "keep the best epoch").
std::vector<torch::Tensor> SnapshotParameters(const SequenceClassifier& model);
// Writes `snapshot` back into the model's parameters.
void RestoreParameters(SequenceClassifier& model, const std::vector<torch::Tensor>& snapshot);

}  // namespace cs
