#include "trials/baseline.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>
#include <unordered_map>

#include "common/text.h"
#include "common/units.h"
#include "trials/malloc_tuning.h"
#include "trials/tokenizer.h"

namespace cs {

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The features of one text: unigrams and (optionally) bigrams, as strings.
std::vector<std::string> TextFeatures(const WordPieceTokenizer& words, const std::string& text,
                                      const BaselineOptions& options) {
  std::vector<std::string> tokens = words.BasicTokenize(text);
  if (options.max_words > 0 && static_cast<int>(tokens.size()) > options.max_words) tokens.resize(options.max_words);
  std::vector<std::string> features = tokens;
  if (options.use_bigrams) {
    for (size_t i = 1; i < tokens.size(); ++i) features.push_back(tokens[i - 1] + " " + tokens[i]);
  }
  return features;
}

struct Vocabulary {
  std::unordered_map<std::string, int64_t> index;
  std::vector<float> idf;
};

Vocabulary FitVocabulary(const std::vector<std::vector<std::string>>& documents, int min_document_frequency) {
  std::unordered_map<std::string, int64_t> document_frequency;
  for (const auto& features : documents) {
    std::vector<std::string> unique = features;
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    for (const std::string& feature : unique) ++document_frequency[feature];
  }
  // Sorted names give feature ids that do not depend on hash order.
  std::vector<std::pair<std::string, int64_t>> kept;
  for (const auto& [feature, count] : document_frequency) {
    if (count >= min_document_frequency) kept.emplace_back(feature, count);
  }
  std::sort(kept.begin(), kept.end());
  Vocabulary vocabulary;
  const double n = static_cast<double>(documents.size());
  for (const auto& [feature, count] : kept) {
    vocabulary.index.emplace(feature, static_cast<int64_t>(vocabulary.idf.size()));
    vocabulary.idf.push_back(static_cast<float>(std::log((1.0 + n) / (1.0 + static_cast<double>(count))) + 1.0));
  }
  return vocabulary;
}

// Rows of L2-normalised sublinear TF-IDF as a sparse [rows, features] tensor.
torch::Tensor Vectorize(const std::vector<std::vector<std::string>>& documents, const Vocabulary& vocabulary) {
  std::vector<int64_t> rows, columns;
  std::vector<float> values;
  for (size_t r = 0; r < documents.size(); ++r) {
    std::unordered_map<int64_t, int> counts;
    for (const std::string& feature : documents[r]) {
      auto it = vocabulary.index.find(feature);
      if (it != vocabulary.index.end()) ++counts[it->second];
    }
    std::vector<std::pair<int64_t, float>> row;
    double norm = 0;
    for (const auto& [column, count] : counts) {
      float value = (1.0f + std::log(static_cast<float>(count))) * vocabulary.idf[column];
      row.emplace_back(column, value);
      norm += static_cast<double>(value) * value;
    }
    std::sort(row.begin(), row.end());
    const float scale = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
    for (const auto& [column, value] : row) {
      rows.push_back(static_cast<int64_t>(r));
      columns.push_back(column);
      values.push_back(value * scale);
    }
  }
  const int64_t nnz = static_cast<int64_t>(values.size());
  auto indices = torch::stack({torch::tensor(rows, torch::kLong), torch::tensor(columns, torch::kLong)});
  if (nnz == 0) indices = torch::zeros({2, 0}, torch::kLong);
  auto value_tensor = torch::tensor(values, torch::kFloat);
  return torch::sparse_coo_tensor(indices, value_tensor,
                                  {static_cast<int64_t>(documents.size()), static_cast<int64_t>(vocabulary.idf.size())})
      .coalesce();
}

double Accuracy(const torch::Tensor& features, const torch::Tensor& weight, const torch::Tensor& bias,
                const std::vector<int>& labels) {
  if (labels.empty()) return 0;
  torch::NoGradGuard no_grad;
  auto predicted = (torch::mm(features, weight) + bias).argmax(1);
  auto truth = torch::tensor(std::vector<int64_t>(labels.begin(), labels.end()), torch::kLong);
  return predicted.eq(truth).to(torch::kDouble).mean().item<double>();
}

}  // namespace

nlohmann::json BaselineResult::ToJson() const {
  return {{"model", "tfidf_logistic_regression"},
          {"val_accuracy", val_accuracy},
          {"test_accuracy", test_accuracy},
          {"l2", l2},
          {"features", features},
          {"seconds", seconds}};
}

Result<BaselineResult> RunBaseline(const TaskSplit& split, const BaselineOptions& options) {
  const double start = Now();
  if (split.train.size() == 0) return Status::InvalidArgument("train: no examples to fit the baseline on");
  if (options.l2_grid.empty()) return Status::InvalidArgument("baseline.l2_grid: empty");
  KeepFreedMemoryForReuse();
  torch::set_num_threads(options.threads > 0 ? options.threads
                                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  Result<WordPieceTokenizer> words = WordPieceTokenizer::FromTokens({kPadToken, kUnkToken, kClsToken, kSepToken});
  if (!words.ok()) return words.status();

  auto featurize = [&](const LabeledTexts& part) {
    std::vector<std::vector<std::string>> documents(part.size());
    at::parallel_for(0, static_cast<int64_t>(part.size()), 64, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) documents[i] = TextFeatures(*words, part.texts[i], options);
    });
    return documents;
  };
  auto train_documents = featurize(split.train);
  Vocabulary vocabulary = FitVocabulary(train_documents, options.min_document_frequency);
  if (vocabulary.idf.empty()) {
    return Status::InvalidArgument("baseline: no feature occurs in " + std::to_string(options.min_document_frequency) +
                                   " training texts");
  }
  torch::Tensor train = Vectorize(train_documents, vocabulary);
  torch::Tensor validation = Vectorize(featurize(split.validation), vocabulary);
  torch::Tensor test = Vectorize(featurize(split.test), vocabulary);
  auto train_labels =
      torch::tensor(std::vector<int64_t>(split.train.labels.begin(), split.train.labels.end()), torch::kLong);

  const int64_t features = static_cast<int64_t>(vocabulary.idf.size());
  auto report = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  report(std::to_string(features) + " TF-IDF features from " + std::to_string(split.train.size()) +
         " training texts (" + FormatSeconds(Now() - start) + ")");
  const int64_t classes = std::max<int64_t>(2, split.num_classes());
  BaselineResult best;
  best.val_accuracy = -1;
  for (double l2 : options.l2_grid) {
    auto weight = torch::zeros({features, classes}, torch::requires_grad());
    auto bias = torch::zeros({classes}, torch::requires_grad());
    torch::optim::LBFGS optimizer({weight, bias}, torch::optim::LBFGSOptions(1.0)
                                                      .max_iter(options.lbfgs_iterations)
                                                      .history_size(20)
                                                      .line_search_fn("strong_wolfe"));
    auto closure = [&]() -> torch::Tensor {
      optimizer.zero_grad();
      auto logits = torch::mm(train, weight) + bias;
      auto loss = torch::nn::functional::cross_entropy(logits, train_labels) + 0.5 * l2 * weight.pow(2).sum();
      loss.backward();
      return loss;
    };
    optimizer.step(closure);
    double val_accuracy = Accuracy(validation, weight, bias, split.validation.labels);
    report(StringPrintf("l2 %g: val accuracy %.4f (%s)", l2, val_accuracy, FormatSeconds(Now() - start).c_str()));
    if (val_accuracy > best.val_accuracy) {
      best.val_accuracy = val_accuracy;
      best.l2 = l2;
      best.test_accuracy = Accuracy(test, weight, bias, split.test.labels);
    }
  }
  best.features = features;
  best.seconds = Now() - start;
  return best;
}

}  // namespace cs
