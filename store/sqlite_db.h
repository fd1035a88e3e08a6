// SqliteDb: the thin layer over the SQLite C API that SweepStore uses, and the
// only place that turns SQLite result codes into Status. Internal to store/
// (nothing outside the folder includes it). A SqliteDb is one connection with
// a cache of prepared statements; it is not thread-safe (SweepStore's mutex
// guards it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace cs {

class SqliteDb;

// A cached prepared statement, borrowed for one use: it is reset and its
// bindings cleared when this object goes away. Parameters are 1-based.
class SqliteStatement {
 public:
  SqliteStatement(sqlite3_stmt* stmt, SqliteDb* db) : stmt_(stmt), db_(db) {}
  SqliteStatement(SqliteStatement&& other) noexcept : stmt_(other.stmt_), db_(other.db_) { other.stmt_ = nullptr; }
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  SqliteStatement(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Binds `values` to parameters 1..n in order. Accepts integers, doubles,
  // strings, nullptr (NULL) and std::optional of those (nullopt is NULL).
  template <typename... Values>
  SqliteStatement& BindAll(const Values&... values) {
    int index = 0;
    (Bind(++index, values), ...);
    return *this;
  }

  // Steps once: true when a row is ready, false when done.
  Result<bool> Step(const std::string& doing);
  // Steps to the end, ignoring rows (INSERT/UPDATE/DELETE).
  Status Run(const std::string& doing);

  int64_t Int(int column) const;
  double Double(int column) const;
  std::string Text(int column) const;
  bool IsNull(int column) const;
  std::optional<int64_t> OptionalInt(int column) const;
  std::optional<double> OptionalDouble(int column) const;

 private:
  void Bind(int index, int value) { Bind(index, static_cast<int64_t>(value)); }
  void Bind(int index, int64_t value);
  void Bind(int index, double value);
  void Bind(int index, const std::string& value);
  void Bind(int index, const char* value) { Bind(index, std::string(value)); }
  void Bind(int index, std::nullptr_t);
  template <typename T>
  void Bind(int index, const std::optional<T>& value) {
    if (value) {
      Bind(index, *value);
    } else {
      Bind(index, nullptr);
    }
  }

  sqlite3_stmt* stmt_;
  SqliteDb* db_;
};

// Whether a transaction takes the write lock at BEGIN. Writers take it up
// front so that they wait (busy timeout) instead of failing when a reader
// would have to upgrade its lock.
enum class TransactionKind { kRead, kWrite };

class SqliteDb {
 public:
  // Opens `path` with sqlite3_open_v2 flags `flags`. Does not read or write
  // the file yet (SQLite opens lazily).
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path, int flags, int busy_timeout_ms);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // A cached statement for `sql` (prepared on first use).
  Result<SqliteStatement> Prepare(const std::string& sql);
  // Runs one or more statements without caching (schema, pragmas).
  Status Exec(const std::string& sql, const std::string& doing);
  // One integer from a one-row query (PRAGMA user_version, COUNT(*)).
  Result<int64_t> QueryInt(const std::string& sql, const std::string& doing);

  // Runs `body` inside BEGIN [IMMEDIATE] ... COMMIT; rolls back when `body`
  // or COMMIT fails, so a failed call leaves the file as it was.
  Status InTransaction(TransactionKind kind, const std::string& doing, const std::function<Status()>& body);

  // The Status for SQLite result code `rc`, its message starting with the
  // path and saying what was being done.
  Status Error(int rc, const std::string& doing) const;

  int64_t Changes() const;
  int64_t LastInsertRowId() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  SqliteDb(std::string path, sqlite3* db, int busy_timeout_ms)
      : path_(std::move(path)), db_(db), busy_timeout_ms_(busy_timeout_ms) {}
  void RollbackIfOpen();

  std::string path_;
  sqlite3* db_;
  int busy_timeout_ms_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

}  // namespace cs
