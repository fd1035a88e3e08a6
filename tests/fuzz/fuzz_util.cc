#include "tests/fuzz/fuzz_util.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace cs::fuzz {

namespace {

// Owns the scratch directory; its destructor runs at a normal exit.
class Scratch {
 public:
  Scratch() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/cs-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("cs-fuzz: mkdtemp");
      std::abort();
    }
    path_ = pattern;
  }
  ~Scratch() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

const std::string& ScratchDir() {
  static Scratch scratch;
  return scratch.path();
}

std::string WriteScratchFile(const std::string& name, const std::string& text) {
  std::string path = ScratchDir() + "/" + name;
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!file.flush()) {
    std::fprintf(stderr, "cs-fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

void Finding(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz finding: %s (%s:%d)\n", what, file, line);
  std::abort();
}

}  // namespace cs::fuzz
