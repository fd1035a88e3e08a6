#include <sys/stat.h>

#include <doctest/doctest.h>

#include "common/files.h"
#include "tests/testing/temp_dir.h"

namespace cs {

TEST_CASE("sha256 matches the FIPS test vectors") {
  CHECK(Sha256OfString("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256OfString("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256OfString(std::string(1000, 'a')) ==
        "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

TEST_CASE("atomic writes replace the whole file") {
  testing::TempDir dir;
  std::string path = dir.File("out.json");
  REQUIRE(WriteFileAtomic(path, "first").ok());
  REQUIRE(WriteFileAtomic(path, "second").ok());
  CHECK(ReadFile(path).value() == "second");
  CHECK(!FileExists(path + ".tmp"));
  CHECK(Sha256OfFile(path).value() == Sha256OfString("second"));
}

TEST_CASE("missing files are reported by name") {
  auto result = ReadFile("/nonexistent/file.txt");
  CHECK(result.status().code() == Status::Code::kNotFound);
  CHECK(result.status().message().find("/nonexistent/file.txt") != std::string::npos);
}

TEST_CASE("a file the user names must be a regular file under the size cap") {
  testing::TempDir dir;
  std::string small = dir.Write("small.ini", "budget = 5g\n");
  CHECK(ReadUserFile(small, 1024).value() == "budget = 5g\n");
  auto too_big = ReadUserFile(small, 4);
  CHECK(too_big.status().code() == Status::Code::kInvalidArgument);
  CHECK(too_big.status().message().find(small) != std::string::npos);
  // /dev/zero never ends and a FIFO would block: both are refused at once.
  CHECK(ReadUserFile("/dev/zero", 1 << 20).status().message() == "/dev/zero: not a regular file");
  std::string fifo = dir.File("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(ReadUserFile(fifo, 1 << 20).status().message() == fifo + ": not a regular file");
  CHECK(ReadUserFile(dir.path(), 1 << 20).status().code() == Status::Code::kInvalidArgument);
}

}  // namespace cs
