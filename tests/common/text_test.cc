#include <doctest/doctest.h>

#include "common/text.h"

namespace cs {

TEST_CASE("StringPrintf formats like printf, at any length") {
  CHECK(StringPrintf("%d trials, %s, %.2f g", 3, "done", 1.5) == "3 trials, done, 1.50 g");
  CHECK(StringPrintf("%s", "") == "");
  // Far longer than the 8- to 64-byte buffers it replaced; over 1 KB.
  const std::string long_name(5000, 'x');
  const std::string printed = StringPrintf("[%s] %d", long_name.c_str(), 42);
  CHECK(printed.size() == 5005);
  CHECK(printed == "[" + long_name + "] 42");
}

TEST_CASE("FormatUtc prints the second the time falls in, in UTC") {
  CHECK(FormatUtc(1700000000, "%Y-%m-%d %H:%M:%S UTC") == "2023-11-14 22:13:20 UTC");
  CHECK(FormatUtc(1700000000.999, "%Y-%m-%dT%H:%M:%SZ") == "2023-11-14T22:13:20Z");
  CHECK(FormatUtc(0, "%Y-%m-%d %H:%M UTC") == "1970-01-01 00:00 UTC");
  // Rounded down, not towards zero: half a second before the epoch is still 1969.
  CHECK(FormatUtc(-0.5, "%Y-%m-%d %H:%M:%S") == "1969-12-31 23:59:59");
  // A result that does not fit is empty rather than cut.
  CHECK(FormatUtc(0, "%Y-%m-%d %Y-%m-%d %Y-%m-%d %Y-%m-%d %Y-%m-%d %Y-%m-%d") == "");
}

TEST_CASE("terminal escaping writes control bytes as \\xNN and keeps the rest") {
  CHECK(EscapeForTerminal("plain, é and ₂") == "plain, é and ₂");
  CHECK(EscapeForTerminal("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m");
  CHECK(EscapeForTerminal("two\nlines\r") == "two\\x0alines\\x0d");
  CHECK(EscapeForTerminal(std::string("nul\0del\x7f", 8)) == "nul\\x00del\\x7f");
}

TEST_CASE("UTF-8 validation refuses stray, truncated, overlong and surrogate sequences") {
  CHECK(IsValidUtf8("sweep-é-₂-😀"));
  CHECK(!IsValidUtf8("\xff"));
  CHECK(!IsValidUtf8("caf\xc3"));          // truncated
  CHECK(!IsValidUtf8("\xc0\xaf"));         // overlong '/'
  CHECK(!IsValidUtf8("\xed\xa0\x80"));     // a surrogate
  CHECK(!IsValidUtf8("\xf4\x90\x80\x80")); // above U+10FFFF
}

TEST_CASE("CSV text cells that a spreadsheet would run as a formula get a leading quote") {
  for (const char* formula : {"=HYPERLINK(\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"}) {
    CHECK(NeutraliseCsvText(formula) == std::string("'") + formula);
  }
  CHECK(NeutraliseCsvText("random-a") == "random-a");
  CHECK(NeutraliseCsvText("") == "");
}

}  // namespace cs
