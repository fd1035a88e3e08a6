// Small text helpers shared by the data loaders (dataset.cc, corpus.cc):
// whitespace clean-up, UTF-8 validation with a line number, word counts.
// Pure functions; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cs {

// Runs of ASCII whitespace (space, \t, \n, \r, \v, \f) become one space;
// leading and trailing whitespace is dropped.
std::string CollapseWhitespace(std::string_view text);

// The offset of the first byte that is not part of valid UTF-8 (overlong
// forms, surrogates and code points above U+10FFFF count as invalid), or
// std::string_view::npos when all of `text` is valid.
size_t FirstInvalidUtf8(std::string_view text);

// The 1-based line number of byte `offset` in `text`.
int LineOfOffset(std::string_view text, size_t offset);

// Whitespace-separated words, as reported in provenance JSON.
size_t CountWords(std::string_view text);

// Calls fn(line, line_number) for each '\n'-separated line of `text`, with a
// trailing "\r" removed; a final '\n' starts no extra line. Numbers from 1.
template <typename Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  size_t start = 0;
  int line_number = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    fn(line, ++line_number);
    start = end + 1;
  }
}

}  // namespace cs
