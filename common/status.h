// Status and Result<T>: how expected failures cross module edges.
//
// Every module returns a Status (or a Result<T>) from the functions other
// modules call; exceptions thrown by libraries (libtorch, SQLite wrappers,
// nlohmann::json) are caught inside the module that calls the library and
// turned into a Status whose message names the file, line or field.
// Status is a value type: copy it freely, from any thread.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace cs {

class Status {
 public:
  // Persisted nowhere; the CLI maps codes to exit codes (common/exit_codes.h).
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // bad input from the user: a flag, a file, a field.
    kNotFound,         // a named thing (file, sweep, region) does not exist.
    kIoError,          // the OS refused: permission, disk full, missing device.
    kCorruption,       // a file exists but its content cannot be trusted.
    kBusy,             // held by someone else (a lease, a lock).
    kUnsupported,      // the machine or file lacks a feature (no counter, newer schema).
    kInternal,         // a bug or an unexpected library failure.
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return Status(Code::kInvalidArgument, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status IoError(std::string msg) { return Status(Code::kIoError, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status Busy(std::string msg) { return Status(Code::kBusy, std::move(msg)); }
  static Status Unsupported(std::string msg) { return Status(Code::kUnsupported, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: <message>", for logs; users see message() alone.
  std::string ToString() const;

  // Returns a copy whose message is "<prefix>: <message>" (e.g. the file name).
  Status WithPrefix(const std::string& prefix) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: must not be Ok
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace cs

// Returns early from the enclosing function when `expr` is not Ok.
#define CS_RETURN_IF_ERROR(expr)         \
  do {                                   \
    ::cs::Status cs_status_ = (expr);    \
    if (!cs_status_.ok()) return cs_status_; \
  } while (0)
