#include "report/text_table.h"

#include <algorithm>
#include <cmath>

namespace cs {

void TextTable::AddRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

void TextTable::AddSeparator() { rows_.emplace_back(); }

size_t TextTable::row_count() const {
  return std::count_if(rows_.begin(), rows_.end(), [](const auto& row) { return !row.empty(); });
}

size_t DisplayWidth(const std::string& text) {
  // Continuation bytes (10xxxxxx) do not start a code point.
  return std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

std::string TextTable::Render(const std::string& indent) const {
  std::vector<size_t> widths(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) widths[i] = DisplayWidth(columns_[i].header);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out = indent;
    for (size_t i = 0; i < columns_.size(); ++i) {
      std::string padding(widths[i] - DisplayWidth(cells[i]), ' ');
      bool last = i + 1 == columns_.size();
      if (columns_[i].align == Align::kRight) {
        out += padding + cells[i];
      } else {
        out += cells[i];
        if (!last) out += padding;
      }
      if (!last) out += "  ";
    }
    // Left-aligned last cells leave no trailing blanks; right-aligned ones have none.
    return out + "\n";
  };
  auto rule = [&]() {
    size_t total = 0;
    for (size_t w : widths) total += w;
    total += 2 * (widths.empty() ? 0 : widths.size() - 1);
    std::string out = indent;
    for (size_t i = 0; i < total; ++i) out += "─";
    return out + "\n";
  };
  std::vector<std::string> headers;
  for (const Column& column : columns_) headers.push_back(column.header);
  std::string out = line(headers) + rule();
  for (const auto& row : rows_) out += row.empty() ? rule() : line(row);
  return out;
}

std::string Sparkline(const std::vector<double>& values, double low, double high) {
  static const char* const kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  if (!(low < high)) {
    low = INFINITY;
    high = -INFINITY;
    for (double v : values) {
      if (std::isfinite(v)) {
        low = std::min(low, v);
        high = std::max(high, v);
      }
    }
  }
  std::string out;
  for (double v : values) {
    if (!std::isfinite(v)) {
      out += ' ';
      continue;
    }
    int level = high > low ? static_cast<int>(std::lround((v - low) / (high - low) * 7)) : 3;
    out += kBlocks[std::clamp(level, 0, 7)];
  }
  return out;
}

}  // namespace cs
