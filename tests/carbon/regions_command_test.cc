// End-to-end: `carbonsweep regions` run as a user would, from another directory.
#include <doctest/doctest.h>

#include "tests/testing/temp_dir.h"

namespace cs {

TEST_CASE("regions lists the table from any working directory") {
  testing::TempDir dir;
  std::string output;
  int status = testing::RunShell("cd " + dir.path() + " && " + testing::BinaryPath() + " regions", &output);
  CHECK(status == 0);
  CHECK(output.find("aws:ap-south-1") != std::string::npos);
  CHECK(output.find("us:california") != std::string::npos);
  CHECK(output.find("ASSUMED") != std::string::npos);
}

TEST_CASE("regions looks one up, filters by part of a name, and suggests on a typo") {
  std::string output;
  CHECK(testing::RunShell(testing::BinaryPath() + " regions aws:ap-south-1", &output) == 0);
  CHECK(output.find("920.0") != std::string::npos);
  CHECK(output.find("Mumbai") != std::string::npos);

  CHECK(testing::RunShell(testing::BinaryPath() + " regions montr", &output) == 0);
  CHECK(output.find("gcp:northamerica-northeast1") != std::string::npos);

  CHECK(testing::RunShell(testing::BinaryPath() + " regions Frnace", &output) == 2);
  CHECK(output.find("unknown region 'Frnace'") != std::string::npos);
  CHECK(output.find("FRA (France)") != std::string::npos);
}

}  // namespace cs
