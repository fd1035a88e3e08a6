#include "store/sqlite_db.h"

#include <sqlite3.h>

namespace cs {

SqliteStatement::~SqliteStatement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void SqliteStatement::Bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
void SqliteStatement::Bind(int index, double value) { sqlite3_bind_double(stmt_, index, value); }
void SqliteStatement::Bind(int index, const std::string& value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
}
void SqliteStatement::Bind(int index, std::nullptr_t) { sqlite3_bind_null(stmt_, index); }

Result<bool> SqliteStatement::Step(const std::string& doing) {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error(rc, doing);
}

Status SqliteStatement::Run(const std::string& doing) {
  while (true) {
    Result<bool> row = Step(doing);
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
  }
}

int64_t SqliteStatement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }
double SqliteStatement::Double(int column) const { return sqlite3_column_double(stmt_, column); }
std::string SqliteStatement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt_, column));
}
bool SqliteStatement::IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
std::optional<int64_t> SqliteStatement::OptionalInt(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Int(column);
}
std::optional<double> SqliteStatement::OptionalDouble(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Double(column);
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, int flags, int busy_timeout_ms) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  std::unique_ptr<SqliteDb> wrapper(new SqliteDb(path, db, busy_timeout_ms));
  if (rc != SQLITE_OK) return wrapper->Error(rc, "opening the store");
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return wrapper;
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  // A transaction still open here (there should be none) is rolled back by
  // close: a destructor never commits.
  sqlite3_close_v2(db_);
}

Result<SqliteStatement> SqliteDb::Prepare(const std::string& sql) {
  auto found = statements_.find(sql);
  if (found != statements_.end()) return SqliteStatement(found->second, this);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(rc, "preparing \"" + sql.substr(0, 60) + "...\"");
  }
  statements_.emplace(sql, stmt);
  return SqliteStatement(stmt, this);
}

Status SqliteDb::Exec(const std::string& sql, const std::string& doing) {
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, doing);
  return Status::Ok();
}

Result<int64_t> SqliteDb::QueryInt(const std::string& sql, const std::string& doing) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(rc, doing);
  }
  rc = sqlite3_step(stmt);
  int64_t value = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error(rc, doing);
  return value;
}

void SqliteDb::RollbackIfOpen() {
  if (sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Status SqliteDb::InTransaction(TransactionKind kind, const std::string& doing,
                               const std::function<Status()>& body) {
  CS_RETURN_IF_ERROR(Exec(kind == TransactionKind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN", doing));
  Status status = body();
  if (status.ok()) status = Exec("COMMIT", doing);
  if (!status.ok()) RollbackIfOpen();
  return status;
}

Status SqliteDb::Error(int rc, const std::string& doing) const {
  const char* detail = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  std::string where = path_ + ": ";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Busy(where + "the store is locked by another process (waited " +
                          std::to_string(busy_timeout_ms_) + " ms) while " + doing);
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return Status::Corruption(where + "not a SQLite database or damaged (" + detail + ") while " + doing +
                                "; the file was not modified");
    case SQLITE_FULL:
      return Status::IoError(where + "disk full while " + doing +
                             "; that write was rolled back and the store is consistent");
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_IOERR:
    case SQLITE_AUTH:
      return Status::IoError(where + "cannot access the file (" + detail + ") while " + doing +
                             "; nothing from this call was written");
    default:
      return Status::Internal(where + "SQLite error while " + doing + ": " + detail);
  }
}

int64_t SqliteDb::Changes() const { return sqlite3_changes(db_); }
int64_t SqliteDb::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

}  // namespace cs
