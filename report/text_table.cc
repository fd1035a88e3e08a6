#include "report/text_table.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

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

namespace {

// The first `count` code points of `text`.
std::string Prefix(const std::string& text, size_t count) {
  size_t points = 0, i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (points == count) break;
      ++points;
    }
  }
  return text.substr(0, i);
}

}  // namespace

std::vector<std::string> WrapText(const std::string& text, size_t width) {
  if (width == 0 || DisplayWidth(text) <= width) return {text};
  std::vector<std::string> lines;
  std::string current;
  auto flush = [&]() {
    if (!current.empty()) lines.push_back(current);
    current.clear();
  };
  size_t start = 0;
  while (start <= text.size()) {
    size_t space = text.find(' ', start);
    std::string word = text.substr(start, space == std::string::npos ? std::string::npos : space - start);
    if (!word.empty()) {
      if (!current.empty() && DisplayWidth(current) + 1 + DisplayWidth(word) > width) flush();
      if (!current.empty()) current += ' ';
      current += word;
      while (DisplayWidth(current) > width) {
        // Cut after the last '+' or ',' that fits ("cpu:rapl+" / "gpu:nvml-energy"), else mid-word.
        std::string head = Prefix(current, width);
        size_t joint = head.find_last_of("+,");
        if (joint != std::string::npos && joint > 0) head = head.substr(0, joint + 1);
        lines.push_back(head);
        current = current.substr(head.size());
      }
    }
    if (space == std::string::npos) break;
    start = space + 1;
  }
  flush();
  return lines;
}

size_t TerminalColumns(int fd) {
  if (const char* env = std::getenv("COLUMNS"); env != nullptr) {
    char* end = nullptr;
    long columns = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && columns >= 20 && columns <= 10000) return static_cast<size_t>(columns);
  }
  struct winsize size {};
  if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col >= 20) return size.ws_col;
  return kDefaultTerminalColumns;
}

std::string TextTable::Render(const std::string& indent, size_t max_width) const {
  std::vector<size_t> widths(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) widths[i] = DisplayWidth(columns_[i].header);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  if (max_width > 0) {
    size_t total = DisplayWidth(indent);
    for (size_t w : widths) total += w;
    total += 2 * (widths.empty() ? 0 : widths.size() - 1);
    // Narrow the widest wrap column a code point at a time, so the free-text
    // columns share what room there is instead of the first one losing all.
    constexpr size_t kNarrowest = 12;
    while (total > max_width) {
      size_t widest = columns_.size();
      for (size_t i = 0; i < columns_.size(); ++i) {
        size_t floor = std::max(kNarrowest, DisplayWidth(columns_[i].header));
        if (columns_[i].fit != Fit::kWrap || widths[i] <= floor) continue;
        if (widest == columns_.size() || widths[i] > widths[widest]) widest = i;
      }
      if (widest == columns_.size()) break;  // nothing left to give: the line stays wider
      --widths[widest];
      --total;
    }
  }
  auto one_line = [&](const std::vector<std::string>& cells) {
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
  // A row whose wrap cells are too wide takes more lines; the other cells
  // stand on its first line.
  auto line = [&](const std::vector<std::string>& cells) {
    std::vector<std::vector<std::string>> wrapped(cells.size());
    size_t lines = 1;
    for (size_t i = 0; i < cells.size(); ++i) {
      wrapped[i] = columns_[i].fit == Fit::kWrap ? WrapText(cells[i], widths[i]) : std::vector<std::string>{cells[i]};
      lines = std::max(lines, wrapped[i].size());
    }
    std::string out;
    for (size_t l = 0; l < lines; ++l) {
      std::vector<std::string> part(cells.size());
      for (size_t i = 0; i < cells.size(); ++i) part[i] = l < wrapped[i].size() ? wrapped[i][l] : "";
      out += one_line(part);
    }
    return out;
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
