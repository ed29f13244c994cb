#include "controlplane/store/sqlite_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <optional>
#include <utility>

#include "common/logging.h"
#include "common/unique_fd.h"
#include "controlplane/store/reader_pool.h"
#include "controlplane/store/sqlite_connection.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

// The most writes one transaction commits.
constexpr size_t kMaxBatch = 64;

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

// The compaction mark as the current read transaction sees it.
StatusOr<int64_t> CompactedIn(SqliteConnection& db) {
  BH_ASSIGN_OR_RETURN(auto stmt, db.Prepare("SELECT value FROM meta WHERE name = 'compacted'"));
  BH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int(0) : 0;
}

Status CompactedError(int64_t revision, int64_t compacted) {
  return absl::OutOfRangeError(
      fmt::format("revision {} is compacted (oldest available {})", revision, compacted));
}

// One page of a watch's backlog: events in (after, upto] under `prefix`,
// at most about `page_bytes` of values.
StatusOr<BacklogPage> ReadBacklogPage(ReaderPool& readers, const std::string& prefix, int64_t after,
                                      int64_t upto, size_t page_bytes) {
  // Never waits for a reader: a watcher reading its backlog (the API
  // server's one watch thread) must not stall behind busy lists; when every
  // reader is busy this is UNAVAILABLE and the page is read on a later call.
  BH_ASSIGN_OR_RETURN(auto reader, readers.Acquire(std::chrono::milliseconds(0)));
  SqliteConnection& db = *reader;
  BH_RETURN_IF_ERROR(db.Exec("BEGIN"));
  auto page = [&]() -> StatusOr<BacklogPage> {
    BH_ASSIGN_OR_RETURN(int64_t compacted, CompactedIn(db));
    if (after < compacted) {
      return CompactedError(after, compacted);
    }
    BH_ASSIGN_OR_RETURN(auto stmt,
                        db.Prepare("SELECT key, value, create_rev, rev, deleted FROM log "
                                   "WHERE rev > ? AND rev <= ? AND key >= ? AND key < ? "
                                   "ORDER BY rev"));
    stmt.Bind(1, after).Bind(2, upto).Bind(3, prefix).Bind(4, PrefixEnd(prefix));
    BacklogPage result;
    result.through = upto;
    size_t bytes = 0;
    while (true) {
      BH_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) {
        break;
      }
      auto event = std::make_shared<Event>(
          Event{stmt.Int(4) != 0 ? EventType::kDelete : EventType::kPut,
                KeyValue{stmt.Text(0), stmt.Text(1), stmt.Int(2), stmt.Int(3)}});
      bytes += event->kv.key.size() + event->kv.value.size();
      result.events.push_back(std::move(event));
      if (bytes >= page_bytes) {
        result.through = result.events.back()->kv.mod_revision;
        break;
      }
    }
    return result;
  }();
  (void)db.Exec("COMMIT");
  return page;
}

}  // namespace

SqliteStore::SqliteStore(const SqliteStoreOptions& options)
    : options_(options),
      hub_(options.watch_history, options.watch_max_queue, options.watch_max_queue_bytes) {}

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
  readers_ = ReaderPool::Create(path, options_.read_connections);
  {
    // One reader at once, to fail here rather than on the first request.
    BH_ASSIGN_OR_RETURN(auto reader, readers_->Acquire());
  }
  reserve_path_ = path + ".reserve";
  {
    std::lock_guard lock(write_mu_);
    EnsureReserve();
  }
  hub_.Start(revision_);
  Logger(Component::kStore)
      .info("opened store path={} revision={} compacted={}", path, revision_.load(),
            compacted_.load());
  return absl::OkStatus();
}

size_t SqliteStore::reader_count() { return readers_->open_count(); }

void SqliteStore::EnsureReserve() {
  if (options_.reserve_bytes == 0 || reserve_present_) {
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (now < next_reserve_attempt_) {
    return;
  }
  struct stat info {};
  if (::stat(reserve_path_.c_str(), &info) == 0 &&
      static_cast<size_t>(info.st_size) >= options_.reserve_bytes) {
    reserve_present_ = true;  // kept from before: nothing to write
  } else {
    UniqueFd fd(::open(reserve_path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    int error =
        !fd ? errno : ::posix_fallocate(fd.get(), 0, static_cast<off_t>(options_.reserve_bytes));
    if (error != 0) {
      fd.reset();
      ::unlink(reserve_path_.c_str());
      next_reserve_attempt_ = now + std::chrono::seconds(1);
      NoteDiskFull(ErrnoError(error, fmt::format("make reserve {}", reserve_path_)));
      return;
    }
    reserve_present_ = true;
  }
  if (disk_full_.exchange(false)) {
    Logger(Component::kStore).info("store disk has room again path={}; writes accepted", path_);
  }
}

void SqliteStore::ReleaseReserve() {
  if (reserve_present_ && ::unlink(reserve_path_.c_str()) == 0) {
    Logger(Component::kStore)
        .warn("released the disk reserve path={} to let a delete commit", reserve_path_);
  }
  reserve_present_ = false;
}

void SqliteStore::NoteDiskFull(const Status& status) {
  if (!disk_full_.exchange(true)) {
    Logger(Component::kStore)
        .error(
            "store disk full path={} error=\"{}\"; writes are refused until there is room, "
            "reads and deletes go on",
            path_, MessageOf(status));
  }
}

StatusOr<std::optional<KeyValue>> SqliteStore::Get(std::string_view key) {
  BH_ASSIGN_OR_RETURN(auto reader, readers_->Acquire());
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
  BH_ASSIGN_OR_RETURN(auto reader, readers_->Acquire());
  SqliteConnection& db = *reader;
  BH_RETURN_IF_ERROR(db.Exec("BEGIN"));
  auto result = [&]() -> StatusOr<ListResult> {
    ListResult list;
    // The mark read in this transaction: a compaction that committed after
    // the check above and before this read is seen here, not as missing rows.
    BH_ASSIGN_OR_RETURN(int64_t compacted, CompactedIn(db));
    if (revision != 0 && revision < compacted) {
      return CompactedError(revision, compacted);
    }
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
  BH_ASSIGN_OR_RETURN(auto reader, readers_->Acquire());
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
  PendingWrite mine{kind, key, expected_revision, render};
  std::unique_lock lock(queue_mu_);
  queue_.push_back(&mine);
  while (true) {
    queue_changed_.wait(lock, [&] { return mine.done || !leading_; });
    if (mine.done) {
      return std::move(mine.result);
    }
    // Lead: commit what waits, this write included unless too many wait
    // before it (then the next batch).
    leading_ = true;
    std::vector<PendingWrite*> batch;
    // Whatever happens below (an exception included), the batch is answered
    // and the lead handed over, so no writer waits for ever.
    auto hand_over = [&] {
      for (PendingWrite* write : batch) {
        write->done = true;
      }
      leading_ = false;
      queue_changed_.notify_all();
    };
    try {
      size_t count = std::min(queue_.size(), kMaxBatch);
      batch.assign(queue_.begin(), queue_.begin() + static_cast<long>(count));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<long>(count));
      lock.unlock();
      CommitBatch(batch);
      lock.lock();
    } catch (...) {
      if (!lock.owns_lock()) {
        lock.lock();
      }
      // Not taken into the batch (it failed before): out of the queue, as
      // this frame ends.
      if (auto it = std::find(queue_.begin(), queue_.end(), &mine); it != queue_.end()) {
        queue_.erase(it);
      }
      hand_over();
      throw;
    }
    hand_over();
  }
}

void SqliteStore::CommitBatch(const std::vector<PendingWrite*>& batch) {
  std::lock_guard write_lock(write_mu_);
  try {
    if (batch.size() == 1) {
      WriteAlone(*batch.front());
    } else {
      WriteBatch(batch);
    }
  } catch (const std::exception& e) {
    // Out of memory while rendering, say: the open transaction is undone
    // and the writes not yet answered are refused, so the next leader
    // starts clean.
    if (writer_->InTransaction()) {
      (void)writer_->Exec("ROLLBACK");
    }
    for (PendingWrite* write : batch) {
      if (write->result.status().code() == absl::StatusCode::kUnknown) {
        write->result = absl::InternalError(fmt::format("the write failed: {}", e.what()));
      }
    }
  }
}

void SqliteStore::WriteAlone(PendingWrite& write) {
  EnsureReserve();
  const bool reserve_needed = options_.reserve_bytes != 0 && !reserve_present_;
  // Made only when refusing: a successful write formats nothing.
  auto full = [this] {
    return absl::ResourceExhaustedError(
        fmt::format("the store's disk is full ({}): writes are refused until space is freed; "
                    "reads and deletes still work",
                    path_));
  };
  if (write.kind != WriteKind::kDelete && reserve_needed) {
    // The room left is kept for deletes until the reserve can be made again.
    write.result = full();
    return;
  }
  auto written = WriteOnce(write.kind, write.key, write.expected_revision, write.render);
  if (!written.ok() && IsDiskFull(written.status()) && write.kind == WriteKind::kDelete &&
      reserve_present_) {
    NoteDiskFull(written.status());
    ReleaseReserve();
    written = WriteOnce(write.kind, write.key, write.expected_revision, write.render);
  }
  if (!written.ok() && IsDiskFull(written.status())) {
    NoteDiskFull(written.status());
    write.result = full();
    return;
  }
  write.result = std::move(written);
}

void SqliteStore::WriteBatch(const std::vector<PendingWrite*>& batch) {
  EnsureReserve();
  SqliteConnection& db = *writer_;
  auto alone = [&] {
    for (PendingWrite* write : batch) {
      WriteAlone(*write);
    }
  };
  if (!reserve_present_ && options_.reserve_bytes != 0) {
    alone();  // the disk is full: each write as the reserve rules say
    return;
  }
  if (!db.Exec("BEGIN IMMEDIATE").ok()) {
    alone();
    return;
  }
  int64_t revision = revision_.load();
  std::vector<StatusOr<KeyValue>> results;
  results.reserve(batch.size());
  for (PendingWrite* write : batch) {
    if (!db.Exec("SAVEPOINT one").ok()) {
      (void)db.Exec("ROLLBACK");
      alone();
      return;
    }
    bool refused = false;
    auto written = WriteRows(db, *write, revision + 1, &refused);
    if (!written.ok() && (!refused || !db.InTransaction())) {
      // SQLite failed (a full disk, an I/O error; it may have ended the
      // transaction itself): nothing of the batch stays, each write is
      // done again alone.
      if (db.InTransaction()) {
        (void)db.Exec("ROLLBACK");
      }
      alone();
      return;
    }
    if (written.ok()) {
      ++revision;
    } else {
      (void)db.Exec("ROLLBACK TO one");  // this write only
    }
    (void)db.Exec("RELEASE one");
    results.push_back(std::move(written));
  }
  if (!db.Exec("COMMIT").ok()) {
    (void)db.Exec("ROLLBACK");
    alone();
    return;
  }
  ++commits_;
  // Committed: the revision moves on before anything else can fail.
  revision_ = revision;
  std::vector<std::pair<WriteKind, KeyValue>> published;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (results[i].ok()) {
      published.emplace_back(batch[i]->kind, *results[i]);
    }
    batch[i]->result = std::move(results[i]);
  }
  for (const auto& [kind, kv] : published) {
    Published(kind, kv);
  }
}

void SqliteStore::Published(WriteKind kind, const KeyValue& kv) {
  revision_ = kv.mod_revision;
  hub_.Publish(std::make_shared<const Event>(
      Event{kind == WriteKind::kDelete ? EventType::kDelete : EventType::kPut, kv}));
}

StatusOr<KeyValue> SqliteStore::WriteRows(SqliteConnection& db, const PendingWrite& write,
                                          int64_t revision, bool* refused) {
  bool ignored = false;
  bool& refusal = refused != nullptr ? *refused : ignored;
  const WriteKind kind = write.kind;
  const std::string_view key = write.key;
  std::optional<KeyValue> old;
  {
    BH_ASSIGN_OR_RETURN(auto stmt, db.Prepare("SELECT l.value, l.create_rev, l.rev FROM current c "
                                              "JOIN log l ON l.rev = c.rev WHERE c.key = ?"));
    stmt.Bind(1, key);
    BH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (row) {
      old = KeyValue{std::string(key), stmt.Text(0), stmt.Int(1), stmt.Int(2)};
    }
  }
  if (kind == WriteKind::kCreate && old.has_value()) {
    refusal = true;
    return absl::AlreadyExistsError(fmt::format("key {} exists", key));
  }
  if (kind != WriteKind::kCreate) {
    if (!old.has_value()) {
      refusal = true;
      return absl::NotFoundError(fmt::format("key {} not found", key));
    }
    if (write.expected_revision != 0 && old->mod_revision != write.expected_revision) {
      refusal = true;
      return absl::AbortedError(fmt::format("key {} is at revision {}, not {}", key,
                                            old->mod_revision, write.expected_revision));
    }
  }
  KeyValue kv;
  kv.key = std::string(key);
  kv.mod_revision = revision;
  kv.create_revision = kind == WriteKind::kCreate ? revision : old->create_revision;
  if (kind == WriteKind::kDelete) {
    kv.value = std::move(old->value);
  } else {
    auto rendered = (*write.render)(kv.mod_revision, kv.create_revision);
    if (!rendered.ok()) {
      refusal = true;
      return rendered.status();
    }
    kv.value = std::move(*rendered);
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
}

StatusOr<KeyValue> SqliteStore::WriteOnce(WriteKind kind, std::string_view key,
                                          int64_t expected_revision, const RenderValue* render) {
  PendingWrite write{kind, key, expected_revision, render};
  auto written = InTransaction(
      *writer_, [&]() -> StatusOr<KeyValue> { return WriteRows(*writer_, write, revision_ + 1); });
  if (written.ok()) {
    ++commits_;
    Published(kind, *written);
  }
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
  if (after_revision < compacted_.load()) {
    return CompactedError(after_revision, compacted_.load());
  }
  // The backlog before the hub's history is read by the stream, a page at
  // a time, from the reader pool: nothing of it is read here under a lock.
  std::shared_ptr<ReaderPool> readers = readers_;
  size_t page_bytes = options_.watch_backlog_page_bytes;
  return hub_.Subscribe(
      std::string(prefix), after_revision,
      [readers, page_bytes](const std::string& watched, int64_t after, int64_t upto) {
        return ReadBacklogPage(*readers, watched, after, upto, page_bytes);
      });
}

}  // namespace bulkhead::controlplane
