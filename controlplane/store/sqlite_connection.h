// A SQLite connection with cached prepared statements, errors as Status.
#ifndef BULKHEAD_CONTROLPLANE_STORE_SQLITE_CONNECTION_H_
#define BULKHEAD_CONTROLPLANE_STORE_SQLITE_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace bulkhead::controlplane {

// A prepared statement, reset when the Statement goes out of scope.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement& operator=(Statement&&) = delete;

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);
  Statement& BindBlob(int index, std::string_view bytes);

  // True while a row is available; an error ends the iteration.
  StatusOr<bool> Step();
  Status Run();  // steps to the end

  int64_t Int(int column);
  std::string Text(int column);

 private:
  sqlite3_stmt* stmt_;
};

// True when `status` is SQLite's "database or disk is full".
bool IsDiskFull(const Status& status);

class SqliteConnection {
 public:
  // Opens (creating if `create`) the database file.
  static StatusOr<std::unique_ptr<SqliteConnection>> Open(const std::string& path, bool create);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Status Exec(const std::string& sql);
  // True inside a transaction (SQLite may end one itself on an I/O error).
  bool InTransaction() const;
  // `sql` must be a string literal: its address keys the statement cache.
  StatusOr<Statement> Prepare(const char* sql);

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  Status Error(std::string_view what) const;

  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_STORE_SQLITE_CONNECTION_H_
