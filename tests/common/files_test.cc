#include <sys/stat.h>

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

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

// The names in `dir`, sorted: what a write left behind.
std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

mode_t ModeOf(const std::string& path) {
  struct stat info;
  REQUIRE(::lstat(path.c_str(), &info) == 0);
  return info.st_mode;
}

// Sets the umask for one test and puts the old one back.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST_CASE("writing to a FIFO writes through it and leaves it a FIFO") {
  testing::TempDir dir;
  std::string fifo = dir.File("out.fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // A reader is waiting (non-blocking, so a writer that never comes fails the check, not the run).
  int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  REQUIRE(reader >= 0);
  REQUIRE(WriteFileAtomic(fifo, "report\n").ok());
  char buffer[64];
  ssize_t n = ::read(reader, buffer, sizeof buffer);
  ::close(reader);
  CHECK(std::string(buffer, n > 0 ? static_cast<size_t>(n) : 0) == "report\n");
  CHECK(S_ISFIFO(ModeOf(fifo)));
  CHECK(Listing(dir.path()) == std::vector<std::string>{"out.fifo"});
}

TEST_CASE("writing to a character device (a private /dev/null node) leaves it a device") {
  testing::TempDir dir;
  std::string null_node = dir.File("null");
  if (::mknod(null_node.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) != 0) {
    MESSAGE("skipped: mknod needs root");  // never the real /dev/null: a broken write would replace it.
    return;
  }
  REQUIRE(WriteFileAtomic(null_node, "report\n").ok());
  CHECK(S_ISCHR(ModeOf(null_node)));
  CHECK(Listing(dir.path()) == std::vector<std::string>{"null"});
}

TEST_CASE("a symlink planted at <path>.tmp is not followed") {
  testing::TempDir dir;
  std::string victim = dir.Write("victim", "keep me");
  std::string path = dir.File("out.csv");
  REQUIRE(::symlink(victim.c_str(), (path + ".tmp").c_str()) == 0);
  REQUIRE(WriteFileAtomic(path, "report").ok());
  CHECK(ReadFile(victim).value() == "keep me");
  CHECK(ReadFile(path).value() == "report");
  CHECK(S_ISREG(ModeOf(path)));
  CHECK(Listing(dir.path()) == std::vector<std::string>{"out.csv", "out.csv.tmp", "victim"});
}

TEST_CASE("a failed write keeps the old content and leaves no temp file") {
  testing::TempDir dir;
  std::string path = dir.Write("out.csv", "old");
  // A file-size limit makes the write fail with EFBIG part-way.
  struct rlimit old_limit;
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  struct rlimit small = old_limit;
  small.rlim_cur = 4;
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  Status written = WriteFileAtomic(path, std::string(100, 'x'));
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);
  CHECK(written.code() == Status::Code::kIoError);
  CHECK(written.message().find(path) != std::string::npos);
  CHECK(ReadFile(path).value() == "old");
  CHECK(Listing(dir.path()) == std::vector<std::string>{"out.csv"});
}

TEST_CASE("a replaced file gets the mode asked for, less the umask") {
  testing::TempDir dir;
  ScopedUmask umask(022);
  REQUIRE(WriteFileAtomic(dir.File("report.csv"), "a").ok());
  CHECK((ModeOf(dir.File("report.csv")) & 07777) == 0644);
  ScopedUmask no_umask(0);
  REQUIRE(WriteFileAtomic(dir.File("private.json"), "a", 0600).ok());
  CHECK((ModeOf(dir.File("private.json")) & 07777) == 0600);
}

TEST_CASE("a directory is refused as an output") {
  testing::TempDir dir;
  Status written = WriteFileAtomic(dir.path(), "a");
  CHECK(written.code() == Status::Code::kInvalidArgument);
  CHECK(written.message().find(dir.path()) != std::string::npos);
}

TEST_CASE("an output that is the store or any SQLite file is refused") {
  testing::TempDir dir;
  std::string store = dir.Write("store.db", std::string("SQLite format 3\0", 16) + "pages...");
  std::string other_db = dir.Write("other.sqlite", std::string("SQLite format 3\0", 16) + "pages...");
  std::string empty_store = dir.Write("empty.db", "");
  std::string csv = dir.Write("old.csv", "a,b\n");
  REQUIRE(::symlink(empty_store.c_str(), dir.File("link.csv").c_str()) == 0);

  CHECK(CheckSafeOutputPath(dir.File("new.csv"), {store}).ok());
  CHECK(CheckSafeOutputPath(csv, {store}).ok());
  CHECK(CheckSafeOutputPath("/dev/null", {store}).ok());
  Status same = CheckSafeOutputPath(store, {store});
  CHECK(same.code() == Status::Code::kInvalidArgument);
  CHECK(same.message().find(store) != std::string::npos);
  // The same file by another name: device and inode decide, not the text.
  CHECK(!CheckSafeOutputPath(dir.path() + "/./store.db", {store}).ok());
  CHECK(!CheckSafeOutputPath(dir.File("link.csv"), {empty_store}).ok());
  Status sqlite = CheckSafeOutputPath(other_db, {store});
  CHECK(sqlite.code() == Status::Code::kInvalidArgument);
  CHECK(sqlite.message().find("SQLite") != std::string::npos);
  CHECK(!CheckSafeOutputPath(other_db, {}).ok());
}

TEST_CASE("private dirs are made 0700 whatever the umask") {
  testing::TempDir dir;
  ScopedUmask no_umask(0);
  REQUIRE(MakePrivateDirs(dir.File("work/sweep/trial-1")).ok());
  CHECK((ModeOf(dir.File("work")) & 07777) == 0700);
  CHECK((ModeOf(dir.File("work/sweep")) & 07777) == 0700);
  CHECK((ModeOf(dir.File("work/sweep/trial-1")) & 07777) == 0700);
  CHECK(MakePrivateDirs(dir.File("work/sweep/trial-1/")).ok());  // again: it is ours.
  ScopedUmask strict(0777);
  REQUIRE(MakePrivateDirs(dir.File("strict")).ok());
  CHECK((ModeOf(dir.File("strict")) & 07777) == 0700);
}

TEST_CASE("an existing work dir others may write to, or not ours, is refused by name") {
  testing::TempDir dir;
  std::string open_dir = dir.File("open");
  REQUIRE(::mkdir(open_dir.c_str(), 0700) == 0);
  REQUIRE(::chmod(open_dir.c_str(), 0777) == 0);
  Status open = MakePrivateDirs(open_dir);
  CHECK(open.code() == Status::Code::kInvalidArgument);
  CHECK(open.message().find(open_dir) != std::string::npos);
  CHECK(open.message().find("0777") != std::string::npos);

  std::string link = dir.File("link");
  REQUIRE(::symlink(dir.path().c_str(), link.c_str()) == 0);
  CHECK(MakePrivateDirs(link).code() == Status::Code::kInvalidArgument);
  CHECK(MakePrivateDirs(link + "/").code() == Status::Code::kInvalidArgument);

  dir.Write("file", "x");
  CHECK(MakePrivateDirs(dir.File("file")).code() == Status::Code::kInvalidArgument);

  if (::geteuid() == 0) {  // only root can give a dir away.
    std::string theirs = dir.File("theirs");
    REQUIRE(::mkdir(theirs.c_str(), 0700) == 0);
    REQUIRE(::chown(theirs.c_str(), 65534, 65534) == 0);
    Status not_ours = MakePrivateDirs(theirs);
    CHECK(not_ours.code() == Status::Code::kInvalidArgument);
    CHECK(not_ours.message().find("owned by uid 65534") != std::string::npos);
  }
}

TEST_CASE("missing files are reported by name") {
  auto result = ReadFile("/nonexistent/file.txt");
  CHECK(result.status().code() == Status::Code::kNotFound);
  CHECK(result.status().message().find("/nonexistent/file.txt") != std::string::npos);
}

TEST_CASE("files someone else writes are read only when regular and small enough") {
  testing::TempDir dir;
  std::string path = dir.Write("events.log", "0123456789");
  CHECK(ReadFileUpTo(path, 10).value() == "0123456789");
  auto too_big = ReadFileUpTo(path, 9);
  CHECK(too_big.status().code() == Status::Code::kInvalidArgument);
  CHECK(too_big.status().message().find("10 bytes, more than the 9 allowed") != std::string::npos);
  CHECK(ReadFileUpTo(dir.File("none"), 10).status().code() == Status::Code::kNotFound);
  // A FIFO (never written: a blocking open would wait for ever) and a device are refused at once.
  std::string fifo = dir.File("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(ReadFileUpTo(fifo, 10).status().message().find("not a regular file") != std::string::npos);
  CHECK(ReadFileUpTo("/dev/zero", 10).status().code() == Status::Code::kInvalidArgument);
  CHECK(ReadFileUpTo(dir.path(), 10).status().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("a file the user names must be a regular file under the size cap") {
  testing::TempDir dir;
  std::string small = dir.Write("small.ini", "budget = 5g\n");
  CHECK(ReadFileUpTo(small, 1024).value() == "budget = 5g\n");
  auto too_big = ReadFileUpTo(small, 4);
  CHECK(too_big.status().code() == Status::Code::kInvalidArgument);
  CHECK(too_big.status().message().find(small) != std::string::npos);
  // /dev/zero never ends and a FIFO would block: both are refused at once.
  CHECK(ReadFileUpTo("/dev/zero", 1 << 20).status().message() == "/dev/zero: not a regular file");
  std::string fifo = dir.File("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(ReadFileUpTo(fifo, 1 << 20).status().message() == fifo + ": not a regular file");
  CHECK(ReadFileUpTo(dir.path(), 1 << 20).status().code() == Status::Code::kInvalidArgument);
}

}  // namespace cs
