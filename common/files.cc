#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "common/text.h"

namespace cs {

namespace {

std::string ErrnoText() { return std::strerror(errno); }

// FIPS 180-4 SHA-256, small and dependency-free: used for data-set pins and
// split checksums, where OpenSSL would be a dependency for one function.
class Sha256 {
 public:
  Sha256() { Reset(); }
  void Update(const unsigned char* data, size_t size) {
    for (size_t i = 0; i < size; ++i) {
      block_[block_size_++] = data[i];
      if (block_size_ == 64) {
        Transform();
        bit_count_ += 512;
        block_size_ = 0;
      }
    }
  }
  std::string HexDigest() {
    uint64_t total_bits = bit_count_ + block_size_ * 8ULL;
    unsigned char pad = 0x80;
    Update(&pad, 1);
    unsigned char zero = 0;
    while (block_size_ != 56) Update(&zero, 1);
    unsigned char length[8];
    for (int i = 0; i < 8; ++i) length[7 - i] = static_cast<unsigned char>(total_bits >> (8 * i));
    Update(length, 8);
    static const char* kHex = "0123456789abcdef";
    std::string hex;
    for (uint32_t word : state_) {
      for (int shift = 28; shift >= 0; shift -= 4) hex.push_back(kHex[(word >> shift) & 0xF]);
    }
    return hex;
  }

 private:
  static uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
  void Reset() {
    static const uint32_t kInit[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::memcpy(state_, kInit, sizeof state_);
    block_size_ = 0;
    bit_count_ = 0;
  }
  void Transform() {
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = (uint32_t(block_[4 * i]) << 24) | (uint32_t(block_[4 * i + 1]) << 16) |
             (uint32_t(block_[4 * i + 2]) << 8) | uint32_t(block_[4 * i + 3]);
    }
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = Rotr(w[i - 15], 7) ^ Rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = Rotr(w[i - 2], 17) ^ Rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
    uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
    for (int i = 0; i < 64; ++i) {
      uint32_t s1 = Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25);
      uint32_t ch = (e & f) ^ (~e & g);
      uint32_t t1 = h + s1 + ch + k[i] + w[i];
      uint32_t s0 = Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22);
      uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      uint32_t t2 = s0 + maj;
      h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    state_[0] += a; state_[1] += b; state_[2] += c; state_[3] += d;
    state_[4] += e; state_[5] += f; state_[6] += g; state_[7] += h;
  }

  uint32_t state_[8];
  unsigned char block_[64];
  size_t block_size_;
  uint64_t bit_count_;
};

}  // namespace

namespace {

// Reads `fd` to its end into `content`, stopping with InvalidArgument once
// more than `max_bytes` came; closes `fd`.
Status ReadAllAndClose(int fd, const std::string& path, size_t max_bytes, std::string* content) {
  char buffer[1 << 16];
  while (content->size() < max_bytes) {
    ssize_t n = ::read(fd, buffer, std::min(sizeof buffer, max_bytes - content->size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string error = ErrnoText();
      ::close(fd);
      return Status::IoError(path + ": read failed (" + error + ")");
    }
    if (n == 0) break;
    content->append(buffer, static_cast<size_t>(n));
    if (content->size() > max_bytes) {
      ::close(fd);
      return Status::InvalidArgument(path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  ::close(fd);
  return Status::Ok();
}

}  // namespace

Result<std::string> ReadFile(const std::string& path) {
  // One read into a pre-sized string: the 64 MB IMDB file is read per trial.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound(path + ": cannot open (" + ErrnoText() + ")");
  struct stat info;
  std::string content;
  if (::fstat(fd, &info) == 0 && info.st_size > 0) content.reserve(static_cast<size_t>(info.st_size));
  CS_RETURN_IF_ERROR(ReadAllAndClose(fd, path, content.max_size(), &content));
  return content;
}

Result<std::string> ReadFileUpTo(const std::string& path, size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Status::NotFound(path + ": cannot open (" + ErrnoText() + ")");
  struct stat info;
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + ": not a regular file");
  }
  if (static_cast<uint64_t>(info.st_size) > max_bytes) {
    ::close(fd);
    return Status::InvalidArgument(path + ": " + std::to_string(info.st_size) + " bytes, more than the " +
                                   std::to_string(max_bytes) + " allowed");
  }
  std::string content;
  content.reserve(static_cast<size_t>(info.st_size));
  CS_RETURN_IF_ERROR(ReadAllAndClose(fd, path, max_bytes, &content));  // a file that grows while read stops here.
  return content;
}

namespace {

// The process umask, read without changing it (umask(2) would, racing other
// threads that create files). 022 where /proc does not say.
mode_t CurrentUmask() {
  auto status = ReadFile("/proc/self/status");
  if (status.ok()) {
    size_t at = status->find("\nUmask:");
    if (at != std::string::npos) return static_cast<mode_t>(std::strtoul(status->c_str() + at + 7, nullptr, 8));
  }
  return 022;
}

// Writes all of `content` to `fd`; false (errno set) on failure.
bool WriteAll(int fd, const std::string& content) {
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    written += static_cast<size_t>(n);
  }
  return true;
}

// `path` with its trailing slashes removed ("/" stays "/").
std::string WithoutTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// Writes in place to an existing file that is not a regular one (a device,
// a FIFO, a tty or pipe behind /dev/stdout). NotFound (nothing done) when
// `path` turns out to be a regular file once open: the caller replaces it.
Status WriteInPlace(const std::string& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return Status::IoError(path + ": cannot open for writing (" + ErrnoText() + ")");
  struct stat info;
  if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode)) {
    ::close(fd);
    return Status::NotFound(path + ": became a regular file");
  }
  bool written = WriteAll(fd, content);
  std::string error = ErrnoText();
  if (::close(fd) != 0 && written) {
    written = false;
    error = ErrnoText();
  }
  if (!written) return Status::IoError(path + ": write failed (" + error + ")");
  return Status::Ok();
}

// Temp file beside `path`, fsync, rename over it.
Status ReplaceFile(const std::string& path, const std::string& content, mode_t mode) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string temp = dir + "." + base + ".tmp-XXXXXX";
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);  // O_EXCL: never follows a planted link.
  if (fd < 0) return Status::IoError(path + ": cannot create a temp file beside it (" + ErrnoText() + ")");
  auto fail = [&](const std::string& what) {
    std::string error = ErrnoText();
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    return Status::IoError(path + ": " + what + " (" + error + ")");
  };
  if (::fchmod(fd, mode & ~CurrentUmask() & 07777) != 0) return fail("cannot set the mode");
  if (!WriteAll(fd, content)) return fail("write failed");
  if (::fsync(fd) != 0) return fail("sync failed");
  int closed = ::close(fd);
  fd = -1;
  if (closed != 0) return fail("sync failed");
  if (::rename(temp.c_str(), path.c_str()) != 0) return fail("rename failed");
  return Status::Ok();
}

}  // namespace

Status WriteFileAtomic(const std::string& path, const std::string& content, mode_t mode) {
  struct stat info;
  if (::stat(path.c_str(), &info) == 0 && !S_ISREG(info.st_mode)) {
    if (S_ISDIR(info.st_mode)) return Status::InvalidArgument(path + ": is a directory, not a file");
    if (S_ISBLK(info.st_mode)) return Status::InvalidArgument(path + ": is a block device; refusing to write to it");
    if (S_ISSOCK(info.st_mode)) return Status::InvalidArgument(path + ": is a socket, not a file");
    Status written = WriteInPlace(path, content);
    if (written.code() != Status::Code::kNotFound) return written;
  }
  return ReplaceFile(path, content, mode);
}

Status CheckSafeOutputPath(const std::string& path, const std::vector<std::string>& protected_paths) {
  struct stat target;
  if (::stat(path.c_str(), &target) != 0) return Status::Ok();  // a new file.
  for (const std::string& kept : protected_paths) {
    struct stat info;
    if (::stat(kept.c_str(), &info) == 0 && info.st_dev == target.st_dev && info.st_ino == target.st_ino) {
      return Status::InvalidArgument(path + ": is the store " + kept + "; refusing to overwrite it");
    }
  }
  if (!S_ISREG(target.st_mode)) return Status::Ok();  // /dev/null, a FIFO: no header to read.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Status::Ok();  // unreadable: the write will say why it fails, if it does.
  static const char kSqliteHeader[16] = {'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f', 'o', 'r', 'm', 'a', 't', ' ', '3', '\0'};
  char header[16];
  ssize_t n = ::read(fd, header, sizeof header);
  ::close(fd);
  if (n == static_cast<ssize_t>(sizeof header) && std::memcmp(header, kSqliteHeader, sizeof header) == 0) {
    return Status::InvalidArgument(path + ": is a SQLite database; refusing to overwrite it");
  }
  return Status::Ok();
}

Result<std::string> Sha256OfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open (" + ErrnoText() + ")");
  Sha256 hash;
  char buffer[1 << 16];
  while (in) {
    in.read(buffer, sizeof buffer);
    hash.Update(reinterpret_cast<unsigned char*>(buffer), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return Status::IoError(path + ": read failed");
  return hash.HexDigest();
}

std::string Sha256OfString(const std::string& bytes) {
  Sha256 hash;
  hash.Update(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return hash.HexDigest();
}

Status MakeDirs(const std::string& path) {
  if (path.empty()) return Status::Ok();
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      partial = path.substr(0, i);
      if (partial.empty()) continue;
      if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
        return Status::IoError(partial + ": cannot create directory (" + ErrnoText() + ")");
      }
    }
  }
  return Status::Ok();
}

Status MakePrivateDirs(const std::string& path) {
  if (path.empty()) return Status::Ok();
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    std::string partial = path.substr(0, i);
    if (partial.back() == '/') continue;
    if (::mkdir(partial.c_str(), 0700) == 0) {
      if (::chmod(partial.c_str(), 0700) != 0) {  // the umask may have taken owner bits.
        return Status::IoError(partial + ": cannot set mode 0700 (" + ErrnoText() + ")");
      }
    } else if (errno != EEXIST) {
      return Status::IoError(partial + ": cannot create directory (" + ErrnoText() + ")");
    }
  }
  const std::string dir = WithoutTrailingSlashes(path);
  struct stat info;
  if (::lstat(dir.c_str(), &info) != 0) return Status::IoError(dir + ": cannot stat (" + ErrnoText() + ")");
  if (S_ISLNK(info.st_mode)) return Status::InvalidArgument(dir + ": work dir is a symlink; refusing to use it");
  if (!S_ISDIR(info.st_mode)) return Status::InvalidArgument(dir + ": work dir is not a directory");
  if (info.st_uid != ::geteuid()) {
    return Status::InvalidArgument(dir + ": work dir is owned by uid " + std::to_string(info.st_uid) +
                                   ", not by this user (uid " + std::to_string(::geteuid()) + "); refusing to use it");
  }
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Status::InvalidArgument(dir + ": work dir is writable by group or others (mode " +
                                   StringPrintf("%04o", static_cast<unsigned>(info.st_mode & 07777)) +
                                   "); refusing to use it (chmod go-w)");
  }
  return Status::Ok();
}

bool FileExists(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0;
}

}  // namespace cs
