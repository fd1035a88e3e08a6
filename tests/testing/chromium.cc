#include "tests/testing/chromium.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <iostream>

#include "common/files.h"

namespace cs::testing {

namespace {

// Chromium flags for a container: no sandbox, no GPU, a throwaway profile.
std::string Chromium(const TempDir& dir) {
  return "timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run "
         "--user-data-dir=" + dir.File("profile") + " --hide-scrollbars ";
}

}  // namespace

bool HaveChromium() {
  std::string output;
  return RunShell("command -v chromium", &output) == 0;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::string DumpDom(const TempDir& dir, const std::string& page) {
  std::string output;
  int status = RunShell(Chromium(dir) + "--dump-dom file://" + page + " 2>/dev/null", &output);
  INFO(output.substr(0, 2000));
  REQUIRE(status == 0);
  return output;
}

std::string Screenshot(const TempDir& dir, const std::string& page, const std::string& artifact_dir,
                       const std::string& name, int height_px) {
  std::filesystem::create_directories(artifact_dir);
  std::string png = artifact_dir + "/" + name;
  std::filesystem::remove(png);
  std::string output;
  int status = RunShell(Chromium(dir) + "--window-size=1200," + std::to_string(height_px) + " --screenshot=" + png +
                            " file://" + page,
                        &output);
  INFO(output);
  CHECK(status == 0);
  Result<std::string> bytes = ReadFile(png);
  REQUIRE(bytes.ok());
  CHECK(bytes->size() > 10000);  // a blank page's PNG is far smaller than a drawn one.
  CHECK(bytes->compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  std::cerr << "screenshot kept: " << std::filesystem::absolute(png).string() << "\n";
  return png;
}

}  // namespace cs::testing
