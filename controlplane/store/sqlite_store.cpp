#include "controlplane/store/sqlite_store.h"

#include <utility>

#include "common/logging.h"
#include "controlplane/store/sqlite_connection.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS log(
  rev INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  create_rev INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  value BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS log_key_rev ON log(key, rev);
CREATE TABLE IF NOT EXISTS current(
  key TEXT PRIMARY KEY,
  rev INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta(
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL) WITHOUT ROWID;
)sql";

// The first key after every key that starts with `prefix`.
std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return "\xff\xff\xff\xff";
}

// Runs `body` inside BEGIN IMMEDIATE ... COMMIT, rolling back on error.
template <typename Body>
auto InTransaction(SqliteConnection& db, Body&& body) -> decltype(body()) {
  BH_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  auto result = body();
  if (!result.ok()) {
    (void)db.Exec("ROLLBACK");
    return result;
  }
  if (Status commit = db.Exec("COMMIT"); !commit.ok()) {
    (void)db.Exec("ROLLBACK");
    return commit;
  }
  return result;
}

}  // namespace

class SqliteStore::ReadLease {
 public:
  ReadLease(SqliteStore* store, std::unique_ptr<SqliteConnection> db)
      : store_(store), db_(std::move(db)) {}
  ~ReadLease() {
    if (db_ != nullptr) {
      std::lock_guard lock(store_->readers_mu_);
      store_->idle_readers_.push_back(std::move(db_));
    }
  }
  ReadLease(ReadLease&& other) noexcept : store_(other.store_), db_(std::move(other.db_)) {}
  ReadLease(const ReadLease&) = delete;
  ReadLease& operator=(const ReadLease&) = delete;
  ReadLease& operator=(ReadLease&&) = delete;

  SqliteConnection* get() { return db_.get(); }
  SqliteConnection* operator->() { return db_.get(); }

 private:
  SqliteStore* store_;
  std::unique_ptr<SqliteConnection> db_;
};

SqliteStore::SqliteStore(const SqliteStoreOptions& options)
    : options_(options), hub_(options.watch_history, options.watch_max_queue) {}

SqliteStore::~SqliteStore() { hub_.Close(); }

StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                         const SqliteStoreOptions& options) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(options));
  BH_RETURN_IF_ERROR(store->Init(path));
  return store;
}

Status SqliteStore::Init(const std::string& path) {
  path_ = path;
  BH_ASSIGN_OR_RETURN(writer_, SqliteConnection::Open(path, /*create=*/true));
  BH_RETURN_IF_ERROR(writer_->Exec("PRAGMA journal_mode=WAL"));
  BH_RETURN_IF_ERROR(writer_->Exec(options_.durability == Durability::kPowerLoss
                                       ? "PRAGMA synchronous=FULL"
                                       : "PRAGMA synchronous=NORMAL"));
  BH_RETURN_IF_ERROR(writer_->Exec(kSchema));
  {
    BH_ASSIGN_OR_RETURN(auto stmt, writer_->Prepare("SELECT COALESCE(MAX(rev), 0) FROM log"));
    BH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    revision_ = row ? stmt.Int(0) : 0;
  }
  {
    BH_ASSIGN_OR_RETURN(auto stmt,
                        writer_->Prepare("SELECT value FROM meta WHERE name = 'compacted'"));
    BH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    compacted_ = row ? stmt.Int(0) : 0;
  }
  for (size_t i = 0; i < options_.read_connections; ++i) {
    BH_ASSIGN_OR_RETURN(auto reader, SqliteConnection::Open(path, /*create=*/false));
    idle_readers_.push_back(std::move(reader));
  }
  hub_.Start(revision_);
  Logger(Component::kStore)
      .info("opened store path={} revision={} compacted={}", path, revision_.load(),
            compacted_.load());
  return absl::OkStatus();
}

SqliteStore::ReadLease SqliteStore::AcquireReader() {
  {
    std::lock_guard lock(readers_mu_);
    if (!idle_readers_.empty()) {
      auto db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return {this, std::move(db)};
    }
  }
  // Every pooled reader is busy: open another; it joins the pool after.
  auto db = SqliteConnection::Open(path_, /*create=*/false);
  if (!db.ok()) {
    Logger(Component::kStore).error("open reader: {}", db.status());
    return {this, nullptr};
  }
  return {this, std::move(db).value()};
}

StatusOr<std::optional<KeyValue>> SqliteStore::Get(std::string_view key) {
  auto reader = AcquireReader();
  if (reader.get() == nullptr) {
    return absl::UnavailableError("no store connection");
  }
  BH_ASSIGN_OR_RETURN(auto stmt,
                      reader->Prepare("SELECT l.value, l.create_rev, l.rev FROM current c "
                                      "JOIN log l ON l.rev = c.rev WHERE c.key = ?"));
  stmt.Bind(1, key);
  BH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) {
    return std::optional<KeyValue>();
  }
  return std::optional<KeyValue>(
      KeyValue{std::string(key), stmt.Text(0), stmt.Int(1), stmt.Int(2)});
}

StatusOr<ListResult> SqliteStore::List(std::string_view prefix, std::string_view start_after,
                                       size_t limit, int64_t revision) {
  if (revision != 0 && revision < compacted_.load()) {
    return absl::OutOfRangeError(
        fmt::format("revision {} is compacted (oldest available {})", revision, compacted_.load()));
  }
  auto reader = AcquireReader();
  if (reader.get() == nullptr) {
    return absl::UnavailableError("no store connection");
  }
  SqliteConnection& db = *reader.get();
  BH_RETURN_IF_ERROR(db.Exec("BEGIN"));
  auto result = [&]() -> StatusOr<ListResult> {
    ListResult list;
    {
      BH_ASSIGN_OR_RETURN(auto stmt, db.Prepare("SELECT COALESCE(MAX(rev), 0) FROM log"));
      BH_ASSIGN_OR_RETURN(bool row, stmt.Step());
      list.revision = row ? stmt.Int(0) : 0;
    }
    std::string lower = start_after.empty() || start_after < prefix ? std::string(prefix)
                                                                    : std::string(start_after);
    bool inclusive = start_after.empty() || start_after < prefix;
    std::string upper = PrefixEnd(prefix);
    auto fetch = static_cast<int64_t>(limit == 0 ? -1 : static_cast<int64_t>(limit) + 1);
    const bool at_past = revision != 0 && revision < list.revision;
    StatusOr<Statement> stmt =
        at_past ? db.Prepare(
                      "SELECT l.key, l.value, l.create_rev, l.rev FROM log l "
                      "WHERE l.key >= ?1 AND l.key < ?2 AND l.rev <= ?3 AND l.deleted = 0 "
                      "AND (?5 OR l.key <> ?1) "
                      "AND l.rev = (SELECT MAX(rev) FROM log l2 WHERE l2.key = l.key "
                      "AND l2.rev <= ?3) ORDER BY l.key LIMIT ?4")
                : db.Prepare(
                      "SELECT c.key, l.value, l.create_rev, l.rev FROM current c "
                      "JOIN log l ON l.rev = c.rev WHERE c.key >= ?1 AND c.key < ?2 "
                      "AND (?5 OR c.key <> ?1) ORDER BY c.key LIMIT ?4");
    if (!stmt.ok()) {
      return stmt.status();
    }
    stmt->Bind(1, lower);
    if (at_past) {
      stmt->Bind(3, revision);
    }
    stmt->Bind(2, upper).Bind(4, fetch).Bind(5, static_cast<int64_t>(inclusive ? 1 : 0));
    while (true) {
      BH_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) {
        break;
      }
      if (limit != 0 && list.items.size() == limit) {
        list.more = true;
        break;
      }
      list.items.push_back(KeyValue{stmt->Text(0), stmt->Text(1), stmt->Int(2), stmt->Int(3)});
    }
    if (at_past) {
      list.revision = revision;
    }
    return list;
  }();
  (void)db.Exec("COMMIT");
  return result;
}

StatusOr<int64_t> SqliteStore::Count(std::string_view prefix) {
  auto reader = AcquireReader();
  if (reader.get() == nullptr) {
    return absl::UnavailableError("no store connection");
  }
  BH_ASSIGN_OR_RETURN(auto stmt,
                      reader->Prepare("SELECT COUNT(*) FROM current WHERE key >= ? AND key < ?"));
  stmt.Bind(1, prefix).Bind(2, PrefixEnd(prefix));
  BH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int(0) : 0;
}

StatusOr<KeyValue> SqliteStore::Create(std::string_view key, const RenderValue& render) {
  return Write(WriteKind::kCreate, key, 0, &render);
}

StatusOr<KeyValue> SqliteStore::Update(std::string_view key, int64_t expected_revision,
                                       const RenderValue& render) {
  return Write(WriteKind::kUpdate, key, expected_revision, &render);
}

StatusOr<KeyValue> SqliteStore::Delete(std::string_view key, int64_t expected_revision) {
  return Write(WriteKind::kDelete, key, expected_revision, nullptr);
}

StatusOr<KeyValue> SqliteStore::Write(WriteKind kind, std::string_view key,
                                      int64_t expected_revision, const RenderValue* render) {
  std::lock_guard lock(write_mu_);
  SqliteConnection& db = *writer_;
  const int64_t revision = revision_.load() + 1;
  auto written = InTransaction(db, [&]() -> StatusOr<KeyValue> {
    std::optional<KeyValue> old;
    {
      BH_ASSIGN_OR_RETURN(auto stmt,
                          db.Prepare("SELECT l.value, l.create_rev, l.rev FROM current c "
                                     "JOIN log l ON l.rev = c.rev WHERE c.key = ?"));
      stmt.Bind(1, key);
      BH_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (row) {
        old = KeyValue{std::string(key), stmt.Text(0), stmt.Int(1), stmt.Int(2)};
      }
    }
    if (kind == WriteKind::kCreate && old.has_value()) {
      return absl::AlreadyExistsError(fmt::format("key {} exists", key));
    }
    if (kind != WriteKind::kCreate) {
      if (!old.has_value()) {
        return absl::NotFoundError(fmt::format("key {} not found", key));
      }
      if (expected_revision != 0 && old->mod_revision != expected_revision) {
        return absl::AbortedError(fmt::format("key {} is at revision {}, not {}", key,
                                              old->mod_revision, expected_revision));
      }
    }
    KeyValue kv;
    kv.key = std::string(key);
    kv.mod_revision = revision;
    kv.create_revision = kind == WriteKind::kCreate ? revision : old->create_revision;
    if (kind == WriteKind::kDelete) {
      kv.value = std::move(old->value);
    } else {
      BH_ASSIGN_OR_RETURN(kv.value, (*render)(kv.mod_revision, kv.create_revision));
    }
    {
      BH_ASSIGN_OR_RETURN(auto stmt, db.Prepare("INSERT INTO log(rev, key, create_rev, deleted, "
                                                "value) VALUES (?, ?, ?, ?, ?)"));
      BH_RETURN_IF_ERROR(stmt.Bind(1, revision)
                             .Bind(2, key)
                             .Bind(3, kv.create_revision)
                             .Bind(4, static_cast<int64_t>(kind == WriteKind::kDelete ? 1 : 0))
                             .BindBlob(5, kv.value)
                             .Run());
    }
    if (kind == WriteKind::kDelete) {
      BH_ASSIGN_OR_RETURN(auto stmt, db.Prepare("DELETE FROM current WHERE key = ?"));
      BH_RETURN_IF_ERROR(stmt.Bind(1, key).Run());
    } else {
      BH_ASSIGN_OR_RETURN(auto stmt,
                          db.Prepare("INSERT OR REPLACE INTO current(key, rev) VALUES (?, ?)"));
      BH_RETURN_IF_ERROR(stmt.Bind(1, key).Bind(2, revision).Run());
    }
    return kv;
  });
  if (!written.ok()) {
    return written.status();
  }
  revision_ = revision;
  hub_.Publish(Event{kind == WriteKind::kDelete ? EventType::kDelete : EventType::kPut, *written});
  return written;
}

Status SqliteStore::Compact(int64_t revision) {
  std::lock_guard lock(write_mu_);
  if (revision <= compacted_.load()) {
    return absl::OkStatus();
  }
  if (revision > revision_.load()) {
    return absl::InvalidArgumentError(
        fmt::format("cannot compact to {}: newest revision is {}", revision, revision_.load()));
  }
  SqliteConnection& db = *writer_;
  auto done = InTransaction(db, [&]() -> StatusOr<int64_t> {
    // Keep, per key, the newest row at or before `revision` unless it is a
    // delete; keep the newest row of all so the revision survives restarts.
    BH_ASSIGN_OR_RETURN(
        auto stmt,
        db.Prepare("DELETE FROM log WHERE rev <= ?1 AND rev < (SELECT MAX(rev) FROM log) AND "
                   "(deleted = 1 OR rev < (SELECT MAX(rev) FROM log l2 WHERE l2.key = log.key "
                   "AND l2.rev <= ?1))"));
    BH_RETURN_IF_ERROR(stmt.Bind(1, revision).Run());
    BH_ASSIGN_OR_RETURN(auto meta, db.Prepare("INSERT OR REPLACE INTO meta(name, value) "
                                              "VALUES ('compacted', ?)"));
    BH_RETURN_IF_ERROR(meta.Bind(1, revision).Run());
    return revision;
  });
  if (!done.ok()) {
    return done.status();
  }
  compacted_ = revision;
  Logger(Component::kStore).info("compacted revision={}", revision);
  return absl::OkStatus();
}

StatusOr<std::unique_ptr<WatchStream>> SqliteStore::Watch(std::string_view prefix,
                                                          int64_t after_revision) {
  std::lock_guard lock(write_mu_);
  if (after_revision < compacted_.load()) {
    return absl::OutOfRangeError(fmt::format("revision {} is compacted (oldest available {})",
                                             after_revision, compacted_.load()));
  }
  std::vector<Event> backlog;
  if (!hub_.Covers(after_revision)) {
    BH_ASSIGN_OR_RETURN(auto stmt,
                        writer_->Prepare("SELECT key, value, create_rev, rev, deleted FROM log "
                                         "WHERE rev > ? AND key >= ? AND key < ? ORDER BY rev"));
    stmt.Bind(1, after_revision).Bind(2, prefix).Bind(3, PrefixEnd(prefix));
    while (true) {
      BH_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) {
        break;
      }
      backlog.push_back(Event{stmt.Int(4) != 0 ? EventType::kDelete : EventType::kPut,
                              KeyValue{stmt.Text(0), stmt.Text(1), stmt.Int(2), stmt.Int(3)}});
    }
  }
  return hub_.Subscribe(std::string(prefix), after_revision, std::move(backlog));
}

}  // namespace bulkhead::controlplane
