// Debian's headless `chromium` for the suites that look at carbonsweep's HTML
// pages as a user does: the DOM Chromium built, and a screenshot kept for a
// person to look at. Test code only.
#pragma once

#include <string>

#include "tests/testing/temp_dir.h"

namespace cs::testing {

// Whether `chromium` is on the PATH (scripts/setup.sh installs it).
bool HaveChromium();
// The DOM of `page` (a file path) after Chromium loaded it; REQUIREs success.
std::string DumpDom(const TempDir& dir, const std::string& page);
// Screenshots `page` into `artifact_dir`/`name` (a PNG of 1200 x `height_px`,
// which crops the page) and checks a drawn PNG came out. Returns its path.
std::string Screenshot(const TempDir& dir, const std::string& page, const std::string& artifact_dir,
                       const std::string& name, int height_px = 1600);
// How often `needle` occurs in `text`.
size_t Count(const std::string& text, const std::string& needle);

}  // namespace cs::testing
