#include <doctest/doctest.h>

#include "common/text.h"

namespace cs {

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
