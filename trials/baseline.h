// The cheap baseline: TF-IDF features + multinomial logistic regression,
// trained in libtorch on the same split as the trials, in seconds. Users see
// what a linear bag-of-words model gets for almost no CO2 before and beside
// any sweep.
//
// Features: the tokenizer's basic words (lowercased, punctuation split) as
// unigrams and adjacent-word bigrams, kept when they occur in at least
// min_document_frequency training texts (the vocabulary is fit on the TRAIN
// part only); sublinear tf (1 + log count) times smoothed idf
// (log((1 + n) / (1 + df)) + 1), each row L2-normalised (scikit-learn's
// TfidfVectorizer(sublinear_tf=True) conventions). The model: a Linear layer
// with L2 penalty trained full-batch with L-BFGS; the penalty is picked from
// a small grid on the validation part, never on test.
//
// Callers: cli/baseline_command.cc, tests. Thread safety: one call at a time
// per process (torch's thread pool).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "trials/dataset.h"

namespace cs {

struct BaselineOptions {
  // Words per text considered: 0 = the whole text; e.g. 127 mimics what a
  // 128-token encoder window sees (head truncation).
  int max_words = 0;
  bool use_bigrams = true;           // add adjacent-word pairs as features.
  int min_document_frequency = 2;    // drop features seen in fewer training texts.
  // L2 penalties tried (per example, on the weights only); the best on
  // validation is kept.
  std::vector<double> l2_grid = {1e-5, 1e-4, 1e-3};
  int lbfgs_iterations = 100;        // L-BFGS iterations per penalty.
  int threads = 0;                   // 0 = every core.
  // Called with one line after the features are built and after each penalty
  // is fitted, so a user sees the tens of seconds go by; may be empty.
  std::function<void(const std::string&)> progress;
};

struct BaselineResult {
  double val_accuracy = 0;
  double test_accuracy = 0;
  double l2 = 0;             // the penalty chosen on validation.
  int64_t features = 0;      // vocabulary size of the TF-IDF.
  double seconds = 0;        // wall seconds: features + training + evaluation.
  nlohmann::json ToJson() const;
};

Result<BaselineResult> RunBaseline(const TaskSplit& split, const BaselineOptions& options);

}  // namespace cs
