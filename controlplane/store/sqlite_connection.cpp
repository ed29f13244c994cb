#include "controlplane/store/sqlite_connection.h"

#include <sqlite3.h>

#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

constexpr const char* kDiskFullPayload = "bulkhead.dev/store-disk-full";

Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string message = fmt::format("sqlite {}: {} ({})", what,
                                    db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_FULL: {
      Status full = absl::ResourceExhaustedError(message);
      full.SetPayload(kDiskFullPayload, absl::Cord("1"));
      return full;
    }
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return absl::PermissionDeniedError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

bool IsDiskFull(const Status& status) {
  return status.code() == absl::StatusCode::kResourceExhausted &&
         status.GetPayload(kDiskFullPayload).has_value();
}

Statement::~Statement() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

StatusOr<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  return SqliteError(sqlite3_db_handle(stmt_), rc, "step");
}

Status Statement::Run() {
  while (true) {
    BH_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) {
      return absl::OkStatus();
    }
  }
}

int64_t Statement::Int(int column) { return sqlite3_column_int64(stmt_, column); }

std::string Statement::Text(int column) {
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) {
    return {};
  }
  return {static_cast<const char*>(data), static_cast<size_t>(size)};
}

StatusOr<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const std::string& path,
                                                                   bool create) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status status = SqliteError(db, rc, fmt::format("open {}", path));
    sqlite3_close(db);
    return status;
  }
  sqlite3_busy_timeout(db, 10000);
  return std::unique_ptr<SqliteConnection>(new SqliteConnection(db));
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, stmt] : statements_) {
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db_);
}

bool SqliteConnection::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

Status SqliteConnection::Error(std::string_view what) const {
  return SqliteError(db_, sqlite3_extended_errcode(db_), what);
}

Status SqliteConnection::Exec(const std::string& sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error != nullptr ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    return SqliteError(nullptr, rc, fmt::format("exec \"{}\": {}", sql, message));
  }
  return absl::OkStatus();
}

StatusOr<Statement> SqliteConnection::Prepare(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) {
    return Statement(it->second);
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return Error(fmt::format("prepare \"{}\"", sql));
  }
  statements_.emplace(sql, stmt);
  return Statement(stmt);
}

}  // namespace bulkhead::controlplane
