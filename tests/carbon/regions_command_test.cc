// End-to-end: `carbonsweep regions` run as a user would, from another directory.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

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

  CHECK(testing::RunShell(testing::BinaryPath() + " regions Frnace", &output) == 0);  // one typo: France
  CHECK(output.find("FRA ") != std::string::npos);

  CHECK(testing::RunShell(testing::BinaryPath() + " regions Atlantis", &output) == 2);
  CHECK(output.find("unknown region 'Atlantis'") != std::string::npos);
}

TEST_CASE("regions finds a city, accents and typos forgiven, with its zone and cloud regions") {
  std::string output;
  CHECK(testing::RunShell(testing::BinaryPath() + " regions Montréal", &output) == 0);
  for (const char* key : {"CAN ", "ca:quebec", "aws:ca-central-1", "gcp:northamerica-northeast1", "azure:canadaeast"}) {
    CHECK_MESSAGE(output.find(key) != std::string::npos, key);
  }
  CHECK(output.find("us:montana") == std::string::npos);

  CHECK(testing::RunShell(testing::BinaryPath() + " regions Mumbay", &output) == 0);
  for (const char* key : {"IND ", "aws:ap-south-1", "azure:westindia", "gcp:asia-south1"}) {
    CHECK_MESSAGE(output.find(key) != std::string::npos, key);
  }
  CHECK(output.find("CUB") == std::string::npos);
}

TEST_CASE("regions --json lists each region with its place and why it matched") {
  std::string output;
  CHECK(testing::RunShell(testing::BinaryPath() + " regions Mumbai --json --kind cloud 2>/dev/null", &output) == 0);
  nlohmann::json json = nlohmann::json::parse(output);
  CHECK(json["regions_version"] == 1);
  CHECK(json["query"] == "Mumbai");
  REQUIRE(!json["regions"].empty());
  for (const auto& region : json["regions"]) CHECK(region["kind"] == "cloud");
  CHECK(json["regions"][0]["why"].get<std::string>().rfind("in ", 0) == 0);
  CHECK(json["world_average"]["grams_per_kwh"].get<double>() == doctest::Approx(475));
}

}  // namespace cs
