// What the fuzzers under tests/fuzz share: the input as text, a scratch
// directory for readers that take a path, and CS_FUZZ_CHECK for a promise a
// reader's header makes beyond "does not crash". Fuzzers only (one thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace cs::fuzz {

// The fuzzer's bytes as a string (NULs and invalid UTF-8 kept).
inline std::string Text(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// A directory made on first use under $TMPDIR (default /tmp) and removed
// when the fuzzer exits normally; after a finding it is left behind.
const std::string& ScratchDir();

// Writes `text` to ScratchDir()/name, replacing it, and returns the path.
std::string WriteScratchFile(const std::string& name, const std::string& text);

// Prints "fuzz finding: <what>" and aborts, which libFuzzer reports as a
// crash and saves the input for.
[[noreturn]] void Finding(const char* what, const char* file, int line);

}  // namespace cs::fuzz

// A promise of the reader under test; breaking it is a finding like a crash.
#define CS_FUZZ_CHECK(condition, what) \
  do {                                 \
    if (!(condition)) ::cs::fuzz::Finding(what, __FILE__, __LINE__); \
  } while (0)
