#include "carbon/text_util.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace cs {

std::string ToLower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string Trim(const std::string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

std::vector<std::string> SplitWords(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  std::string word;
  while (in >> word) words.push_back(word);
  return words;
}

std::string Join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string joined;
  for (size_t i = 0; i < parts.size(); ++i) joined += (i ? separator : "") + parts[i];
  return joined;
}

Result<double> ParseDouble(const std::string& text) {
  std::string trimmed = Trim(text);
  if (trimmed.empty()) return Status::InvalidArgument("empty number");
  char* end = nullptr;
  double value = std::strtod(trimmed.c_str(), &end);
  if (end != trimmed.c_str() + trimmed.size() || !std::isfinite(value)) {
    return Status::InvalidArgument("'" + trimmed + "' is not a number");
  }
  return value;
}

std::string StripBom(std::string text) {
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  return text;
}

std::vector<std::vector<std::string>> ParseCsv(const std::string& text, std::vector<int>* line_numbers) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, field_started = false;
  int line = 1, record_line = 1;
  auto end_record = [&] {
    if (field_started || !field.empty() || !record.empty()) {
      record.push_back(field);
      bool blank = record.size() == 1 && Trim(record[0]).empty();
      if (!blank) {
        records.push_back(record);
        if (line_numbers) line_numbers->push_back(record_line);
      }
    }
    record.clear();
    field.clear();
    field_started = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
      field_started = true;
    } else if (c == ',') {
      record.push_back(field);
      field.clear();
      field_started = true;
    } else if (c == '\n') {
      end_record();
      ++line;
      record_line = line;
    } else if (c != '\r') {
      field += c;
    }
  }
  end_record();
  return records;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  // Optimal string alignment: Levenshtein plus adjacent transpositions
  // ("inida" is one typo from "india"), three rows of the matrix.
  std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      row[j] = std::min({previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) row[j] = std::min(row[j], before[j - 2] + 1);
    }
    before.swap(previous);
    previous.swap(row);
  }
  return previous[b.size()];
}

std::string FoldForSearch(const std::string& text) {
  // Base letters of U+00C0..U+00FF and U+0100..U+017F, one per code point
  // ('*': kept as is).
  static const char kLatin1[] = "AAAAAAACEEEEIIIIDNOOOOO*OUUUUYT*aaaaaaaceeeeiiiidnooooo*ouuuuyty";
  static const char kLatinExtendedA[] =
      "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiJjJjKkkLlLlLlLlLlNnNnNnnNnOoOoOoOoRrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";
  std::string folded;
  auto append = [&folded](char c) {
    if (c == '-' || c == '_' || c == '.' || std::isspace(static_cast<unsigned char>(c))) c = ' ';
    if (c == ' ' && (folded.empty() || folded.back() == ' ')) return;
    folded += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char lead = static_cast<unsigned char>(text[i]);
    if (lead >= 0xC3 && lead <= 0xC5 && i + 1 < text.size()) {
      unsigned char next = static_cast<unsigned char>(text[i + 1]);
      if ((next & 0xC0) == 0x80) {
        unsigned code_point = ((lead & 0x1Fu) << 6) | (next & 0x3Fu);
        char base = '*';
        if (code_point >= 0xC0 && code_point <= 0xFF) base = kLatin1[code_point - 0xC0];
        if (code_point >= 0x100 && code_point <= 0x17F) base = kLatinExtendedA[code_point - 0x100];
        if (code_point == 0xDF) {  // ß
          folded += "ss";
          ++i;
          continue;
        }
        if (base != '*') {
          append(base);
          ++i;
          continue;
        }
      }
    }
    append(text[i]);
  }
  while (!folded.empty() && folded.back() == ' ') folded.pop_back();
  return folded;
}

}  // namespace cs
