// Small text helpers for cs_carbon's data files (CSV with quotes, numbers,
// names). Internal to carbon/. Pure functions, any thread.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace cs {

std::string ToLower(std::string text);
std::string Trim(const std::string& text);
// Whitespace-separated words.
std::vector<std::string> SplitWords(const std::string& text);
std::string Join(const std::vector<std::string>& parts, const std::string& separator);
// The whole of `text` as a finite number, else InvalidArgument naming it.
Result<double> ParseDouble(const std::string& text);
// Drops a leading UTF-8 byte order mark.
std::string StripBom(std::string text);
// RFC 4180 CSV: quoted fields may hold commas, doubled quotes and newlines.
// One vector per record; a record's line number is recorded in `line_numbers`
// (1-based, where the record starts) when given. Blank lines are skipped.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text,
                                               std::vector<int>* line_numbers = nullptr);
// Edit distance with adjacent transpositions (optimal string alignment),
// for suggestions and the place search.
size_t EditDistance(const std::string& a, const std::string& b);
// `text` as a place search compares it: lower case, the accents of Latin
// letters (U+00C0..U+017F) dropped ("Montréal" -> "montreal", "ß" -> "ss"),
// '-', '_' and '.' read as spaces, runs of spaces made one, trimmed.
std::string FoldForSearch(const std::string& text);

}  // namespace cs
