#include "trials/data_text.h"

#include <algorithm>

namespace cs {

namespace {

bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

std::string CollapseWhitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char c : text) {
    if (IsAsciiSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

size_t FirstInvalidUtf8(std::string_view text) {
  size_t pos = 0;
  const size_t n = text.size();
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  auto continuation = [&](size_t i) { return i < n && (byte(i) & 0xC0) == 0x80; };
  while (pos < n) {
    unsigned char lead = byte(pos);
    if (lead < 0x80) {
      ++pos;
      continue;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
      if (!continuation(pos + 1)) return pos;
      pos += 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      if (!continuation(pos + 1) || !continuation(pos + 2)) return pos;
      unsigned char second = byte(pos + 1);
      if (lead == 0xE0 && second < 0xA0) return pos;   // overlong.
      if (lead == 0xED && second >= 0xA0) return pos;  // surrogate.
      pos += 3;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      if (!continuation(pos + 1) || !continuation(pos + 2) || !continuation(pos + 3)) return pos;
      unsigned char second = byte(pos + 1);
      if (lead == 0xF0 && second < 0x90) return pos;   // overlong.
      if (lead == 0xF4 && second >= 0x90) return pos;  // above U+10FFFF.
      pos += 4;
    } else {
      return pos;
    }
  }
  return std::string_view::npos;
}

int LineOfOffset(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + offset, '\n'));
}

size_t CountWords(std::string_view text) {
  size_t words = 0;
  bool in_word = false;
  for (char c : text) {
    bool space = IsAsciiSpace(c);
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

}  // namespace cs
