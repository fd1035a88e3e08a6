// Terminal output helpers for reports: a column-aligned text table and a
// one-line Unicode sparkline. Pure; any thread.
#pragma once

#include <string>
#include <vector>

// StringPrintf and FormatUtc: the renderers that format with this table
// (estimate, compare, render_*) reach them through this include.
#include "common/text.h"

namespace cs {

// A table printed with columns padded to their widest cell. Cells are
// plain UTF-8; widths count code points, so "g CO₂e" lines up.
class TextTable {
 public:
  enum class Align { kLeft = 0, kRight = 1 };
  // kWrap: the one column that gives way when the table is wider than the
  // terminal (free text such as params); its cells wrap onto more lines at
  // spaces. Numbers are never cut: their columns are kKeep.
  enum class Fit { kKeep = 0, kWrap = 1 };
  struct Column {
    std::string header;
    Align align = Align::kLeft;
    Fit fit = Fit::kKeep;
  };
  explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}
  // A row with fewer cells than columns is padded with empty cells.
  void AddRow(std::vector<std::string> cells);
  // A horizontal rule (e.g. above a totals row).
  void AddSeparator();
  size_t row_count() const;
  // Header, a rule, the rows; each line starts with `indent`. With
  // `max_width` > 0, kWrap columns narrow (to no less than 12 code points)
  // so that lines fit in it where they can.
  std::string Render(const std::string& indent = "  ", size_t max_width = 0) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;  // an empty vector is a separator.
};

// One block character per value, scaled between the values' min and max
// ("▁▂▃▅▇"); NaN values print as a space. `low`/`high` fix the scale when
// low < high (so several sparklines share one).
std::string Sparkline(const std::vector<double>& values, double low = 0, double high = 0);

// Number of code points in a UTF-8 string (its width in a terminal for the
// characters reports use).
size_t DisplayWidth(const std::string& text);

// `text` cut into lines of at most `width` code points, at spaces where it
// can; a word longer than the line is cut after a '+' or ',' in it, else mid-word.
std::vector<std::string> WrapText(const std::string& text, size_t width);

// Columns of the terminal on `fd`: $COLUMNS when set to a number, else the
// TIOCGWINSZ size when `fd` is a terminal, else kDefaultTerminalColumns.
constexpr size_t kDefaultTerminalColumns = 100;
size_t TerminalColumns(int fd);

}  // namespace cs
