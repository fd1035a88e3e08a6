// The space files shipped in search_spaces/spaces/, compiled in by CMake
// (built_in_spaces.cc is generated). Internal to cs_spaces: other modules use
// LoadSearchSpace() / BuiltInSearchSpaceNames() from search_space.h.
// Immutable static data; any thread.
#pragma once

#include <vector>

namespace cs {

struct BuiltInSpaceFile {
  const char* name;  // the file name without ".json".
  const char* text;  // the file's bytes.
};

// Sorted by name.
const std::vector<BuiltInSpaceFile>& BuiltInSpaceFiles();

}  // namespace cs
