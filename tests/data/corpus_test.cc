#include <doctest/doctest.h>

#include "common/files.h"
#include "trials/corpus.h"

namespace cs {

TEST_CASE("the pre-training corpus reads SOTU, Brown without tags and Moby Dick by chapter") {
  if (!FileExists(DataDir() + "/brown-1.9.80/package/ca01")) {
    MESSAGE("skipped: corpora not in the data cache " << DataDir() << " (run scripts/setup.sh)");
    return;
  }
  Result<PretrainCorpus> corpus = LoadPretrainCorpus(PretrainCorpusOptions());
  REQUIRE_MESSAGE(corpus.ok(), corpus.status().message());
  const nlohmann::json& sources = corpus->provenance["sources"];
  REQUIRE(sources.size() == 3);
  CHECK(sources[0]["name"] == "sotu");
  CHECK(sources[0]["documents"] == 233);
  CHECK(sources[1]["name"] == "brown");
  CHECK(sources[1]["documents"] == 500);
  CHECK(sources[2]["name"] == "moby_dick");
  CHECK(sources[2]["documents"] == 135);
  CHECK(corpus->documents.size() == 868);
  CHECK(corpus->provenance["words"] > 3000000);
  // Brown's first file, tags gone.
  const std::string& brown = corpus->documents[233];
  CHECK(brown.rfind("The Fulton County Grand Jury said Friday an investigation of Atlanta's", 0) == 0);
  CHECK(brown.find("/nn") == std::string::npos);
  CHECK(corpus->documents[233 + 500].rfind("CHAPTER 1. Loomings.", 0) == 0);
  CHECK(corpus->provenance["sha256"] == PartSha256(corpus->documents, {}));
}

TEST_CASE("the pre-training corpus adds a split's unlabelled pool and names it") {
  if (!FileExists("/usr/share/games/fortunes/computers") || !FileExists(DataDir() + "/moby-dick-0.2.3/package/data/data.txt")) {
    MESSAGE("skipped: fortunes or Moby Dick missing (run scripts/setup.sh)");
    return;
  }
  PretrainCorpusOptions options;
  options.sources = {CorpusSource::kMobyDick};
  options.pool_task = DefaultTaskSpec("fortunes");
  Result<PretrainCorpus> corpus = LoadPretrainCorpus(options);
  REQUIRE_MESSAGE(corpus.ok(), corpus.status().message());
  Result<TaskSplit> split = LoadTask(DefaultTaskSpec("fortunes"));
  REQUIRE(split.ok());
  CHECK(corpus->documents.size() == 135 + split->unlabeled_pool.size());
  CHECK(corpus->provenance["pool"]["split_sha256"] == split->provenance["split_sha256"]);
  CHECK(corpus->documents.back() == split->unlabeled_pool.back());
}

TEST_CASE("a missing corpus cache says to run the set-up script") {
  PretrainCorpusOptions options;
  options.data_dir = "/nonexistent/cache";
  Result<PretrainCorpus> corpus = LoadPretrainCorpus(options);
  REQUIRE(!corpus.ok());
  CHECK(corpus.status().message().find("run scripts/setup.sh") != std::string::npos);
  CHECK(corpus.status().message().find("/nonexistent/cache/sotu-0.2.3") == 0);
}

}  // namespace cs
