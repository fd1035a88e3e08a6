#include "report/html.h"

#include <algorithm>

#include "report/svg_plot.h"

namespace cs {

namespace {

constexpr const char* kStyle = R"css(
:root { --ink: #1d2733; --muted: #5b6675; --line: #dde3ea; --accent: #0b7a5a; --warn: #b4490f; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); background: #f5f7f9; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
p.sub { color: var(--muted); margin: 0 0 18px; }
.stats { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0 4px; }
.stat { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 150px; }
.stat b { display: block; font-size: 20px; color: var(--accent); }
.stat span { color: var(--muted); font-size: 12px; }
.warning { background: #fff4ec; border: 1px solid #f2c4a5; color: var(--warn); border-radius: 8px;
           padding: 10px 14px; margin: 12px 0; }
.live { background: #eef7f0; border: 1px solid #b6dcc0; color: #1d5a2c; border-radius: 8px;
        padding: 8px 14px; margin: 0 0 12px; }
table { border-collapse: collapse; background: #fff; border: 1px solid var(--line); border-radius: 6px;
        font-size: 13px; width: 100%; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { background: #eef2f5; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.best td { background: #e6f5ee; font-weight: 600; }
tr.reference td { background: #f3f0fa; font-style: italic; }
tr.dim td { color: var(--muted); }
table.kv th { width: 160px; background: #f8fafb; font-weight: 600; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 16px; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px; }
figcaption { color: var(--muted); font-size: 12px; padding: 4px 6px 2px; }
svg.plot { width: 100%; height: auto; display: block; }
svg .plot-area { fill: #fbfcfd; stroke: #c9d1da; }
svg .grid { stroke: #e7ecf0; }
svg .tick { font-size: 11px; fill: #5b6675; }
svg .axis-label { font-size: 12px; fill: #1d2733; }
svg .plot-title { font-size: 13px; font-weight: 600; fill: #1d2733; }
svg .series-line { stroke-width: 2; }
svg .point { stroke: #fff; stroke-width: 1; }
svg .reference { stroke: #7a5ea8; stroke-dasharray: 5 4; stroke-width: 1.5; }
svg .reference-label { font-size: 11px; fill: #7a5ea8; }
svg .legend { font-size: 11px; fill: #1d2733; }
svg .no-data { font-size: 14px; fill: #9aa5b1; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
)css";

}  // namespace

std::string HtmlPage(const std::string& title, const std::string& body_html, int refresh_seconds) {
  const std::string refresh =
      refresh_seconds > 0 ? "<meta http-equiv=\"refresh\" content=\"" + std::to_string(refresh_seconds) + "\">\n" : "";
  return "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" + refresh +
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
         EscapeHtml(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<main>\n" + body_html +
         "</main>\n</body>\n</html>\n";
}

std::string HtmlTable(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows,
                      const std::vector<size_t>& numeric_columns, const std::vector<std::string>& row_classes) {
  auto numeric = [&](size_t column) {
    return std::find(numeric_columns.begin(), numeric_columns.end(), column) != numeric_columns.end();
  };
  std::string out = "<table>\n<thead><tr>";
  for (size_t i = 0; i < headers.size(); ++i) {
    out += numeric(i) ? "<th class=\"num\">" : "<th>";
    out += EscapeHtml(headers[i]) + "</th>";
  }
  out += "</tr></thead>\n<tbody>\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    bool has_class = r < row_classes.size() && !row_classes[r].empty();
    out += has_class ? "<tr class=\"" + EscapeHtml(row_classes[r]) + "\">" : "<tr>";
    for (size_t i = 0; i < rows[r].size(); ++i) {
      out += numeric(i) ? "<td class=\"num\">" : "<td>";
      out += EscapeHtml(rows[r][i]) + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n";
}

std::string HtmlDefinitionTable(const std::vector<std::pair<std::string, std::string>>& items) {
  std::string out = "<table class=\"kv\">\n";
  for (const auto& [key, value] : items) {
    out += "<tr><th>" + EscapeHtml(key) + "</th><td>" + EscapeHtml(value) + "</td></tr>\n";
  }
  return out + "</table>\n";
}

std::string HtmlStat(const std::string& value, const std::string& label) {
  return "<div class=\"stat\"><b>" + EscapeHtml(value) + "</b><span>" + EscapeHtml(label) + "</span></div>";
}

const std::string& SeriesColor(size_t index) {
  static const std::vector<std::string> kColors = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                                   "#E69F00", "#56B4E9", "#000000"};
  return kColors[index % kColors.size()];
}

}  // namespace cs
