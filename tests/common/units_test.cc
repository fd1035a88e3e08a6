#include <doctest/doctest.h>

#include "common/units.h"

namespace cs {

TEST_CASE("budgets parse with their unit into grams") {
  CHECK(ParseGramsCo2e("50g").value() == doctest::Approx(50));
  CHECK(ParseGramsCo2e("0.05kg").value() == doctest::Approx(50));
  CHECK(ParseGramsCo2e("1t").value() == doctest::Approx(1e6));
  CHECK(ParseGramsCo2e(" 2.5 KG").value() == doctest::Approx(2500));
  CHECK(ParseGramsCo2e("300mg").value() == doctest::Approx(0.3));
}

TEST_CASE("bad budgets are refused with the text in the message") {
  CHECK(ParseGramsCo2e("50").status().message().find("has no unit") != std::string::npos);
  CHECK(ParseGramsCo2e("0kg").status().message().find("greater than zero") != std::string::npos);
  CHECK(ParseGramsCo2e("-3g").status().message().find("greater than zero") != std::string::npos);
  CHECK(ParseGramsCo2e("5lb").status().message().find("unknown unit 'lb'") != std::string::npos);
  CHECK(!ParseGramsCo2e("kg").ok());
  CHECK(!ParseGramsCo2e("inf g").ok());
  // Found by the budget fuzzer: finite in their unit, out of range in grams.
  CHECK(ParseGramsCo2e("5e-324mg").status().message().find("out of range") != std::string::npos);
  CHECK(ParseGramsCo2e("1e308t").status().message().find("out of range") != std::string::npos);
  CHECK(ParseSeconds(".5e308m").status().message().find("out of range") != std::string::npos);
}

TEST_CASE("energy and CO2 conversions match hand-computed values") {
  // 1 kWh at 475 g/kWh is 475 g.
  CHECK(GramsCo2e(3.6e6, 475) == doctest::Approx(475));
  // 100 W for one hour at Mumbai's 920 g/kWh: 0.1 kWh -> 92 g.
  CHECK(GramsCo2e(100 * 3600, 920) == doctest::Approx(92));
  CHECK(JoulesToKwh(7.2e6) == doctest::Approx(2));
  CHECK(FormatGrams(1250) == "1.25 kg");
  CHECK(FormatGrams(0.5) == "500 mg");
  CHECK(FormatJoules(7.2e6) == "2 kWh");
}

TEST_CASE("durations parse") {
  CHECK(ParseSeconds("90s").value() == doctest::Approx(90));
  CHECK(ParseSeconds("2h").value() == doctest::Approx(7200));
  CHECK(!ParseSeconds("2").ok());
}

}  // namespace cs
