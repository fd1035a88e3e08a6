// Building blocks of carbonsweep's self-contained HTML pages (report and
// compare): the page shell with its inline stylesheet, and tables. No
// scripts, fonts or images from the network: a page opens offline. Pure; any thread.
#pragma once

#include <string>
#include <vector>

namespace cs {

// <!doctype html> page with `title` and `body_html` (already escaped HTML).
// `refresh_seconds` > 0: the page reloads itself that often (a live report).
std::string HtmlPage(const std::string& title, const std::string& body_html, int refresh_seconds = 0);

// A <table>; cells are escaped text. Columns listed in `numeric_columns`
// are right-aligned. `row_classes[i]` (optional) is row i's CSS class.
std::string HtmlTable(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows,
                      const std::vector<size_t>& numeric_columns = {},
                      const std::vector<std::string>& row_classes = {});

// A "key: value" list as a two-column table with the keys as row headers.
std::string HtmlDefinitionTable(const std::vector<std::pair<std::string, std::string>>& items);

// A highlighted figure: big `value`, small `label` under it.
std::string HtmlStat(const std::string& value, const std::string& label);

// Colours for series 0, 1, 2, ... (colour-blind-safe Okabe–Ito palette).
const std::string& SeriesColor(size_t index);

}  // namespace cs
