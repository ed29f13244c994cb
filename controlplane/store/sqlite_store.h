// The default store: one SQLite file in WAL mode. Each change is one row in
// a log table whose integer key is the revision; a `current` table maps each
// live key to its newest row. Gets and lists of the newest state read
// `current`; lists at an older revision and watches from an old revision
// read the log. Compaction drops superseded rows and deletes.
//
// Durability: a change is acknowledged after its transaction commits to the
// WAL file. With synchronous=NORMAL (the default) that commit is a write(2)
// into the WAL, which survives kill -9 of the process (the kernel holds the
// page) but not a power cut; synchronous=FULL also fsyncs every commit and
// survives a power cut, at the cost of one fsync per write.
//
// Readers: a bounded pool of connections (reader_pool.h). A list at a past
// revision and a watch's backlog page read the compaction mark in the same
// read transaction as the rows, so a compaction racing them is reported
// (OUT_OF_RANGE) rather than giving a page with rows missing.
//
// A full disk: a write that finds no room is refused (RESOURCE_EXHAUSTED,
// logged once until room returns). The store keeps a reserve file of
// `reserve_bytes` beside the database; a delete that finds no room releases
// it and commits, so space can always be freed through the API. The reserve
// is made again as soon as there is room for it.
#ifndef BULKHEAD_CONTROLPLANE_STORE_SQLITE_STORE_H_
#define BULKHEAD_CONTROLPLANE_STORE_SQLITE_STORE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controlplane/store/store.h"
#include "controlplane/store/watch_hub.h"

namespace bulkhead::controlplane {

enum class Durability { kProcessCrash, kPowerLoss };

struct SqliteStoreOptions {
  Durability durability = Durability::kProcessCrash;
  size_t read_connections = 4;
  size_t watch_history = 4096;                        // events kept in memory for watches
  size_t watch_max_queue = 100000;                    // events a watcher may fall behind
  size_t watch_max_queue_bytes = size_t{4} << 20;     // stored bytes a watcher may fall behind
  size_t watch_backlog_page_bytes = size_t{4} << 20;  // a page of a watch's backlog
  size_t reserve_bytes = size_t{8} << 20;             // 0: no reserve
};

class SqliteConnection;
class ReaderPool;

class SqliteStore : public Store {
 public:
  static StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                     const SqliteStoreOptions& options = {});
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  StatusOr<std::optional<KeyValue>> Get(std::string_view key) override;
  StatusOr<ListResult> List(std::string_view prefix, std::string_view start_after, size_t limit,
                            int64_t revision) override;
  StatusOr<int64_t> Count(std::string_view prefix) override;
  StatusOr<KeyValue> Create(std::string_view key, const RenderValue& render) override;
  StatusOr<KeyValue> Update(std::string_view key, int64_t expected_revision,
                            const RenderValue& render) override;
  StatusOr<KeyValue> Delete(std::string_view key, int64_t expected_revision) override;
  int64_t Revision() override { return revision_.load(); }
  int64_t CompactedRevision() override { return compacted_.load(); }
  Status Compact(int64_t revision) override;
  StatusOr<std::unique_ptr<WatchStream>> Watch(std::string_view prefix,
                                               int64_t after_revision) override;

  size_t watcher_count() { return hub_.watcher_count(); }
  size_t reader_count();
  // True while writes find the disk full.
  bool disk_full() const { return disk_full_.load(); }
  // Transactions committed by writes (a batch of concurrent writes is one).
  uint64_t commit_count() const { return commits_.load(); }

 private:
  explicit SqliteStore(const SqliteStoreOptions& options);
  Status Init(const std::string& path);

  enum class WriteKind { kCreate, kUpdate, kDelete };
  // A write waiting for its commit.
  struct PendingWrite {
    WriteKind kind;
    std::string_view key;
    int64_t expected_revision;
    const RenderValue* render;
    StatusOr<KeyValue> result = absl::UnknownError("not written");
    bool done = false;
  };
  // Group commit: writes that arrive while one commits wait, and the first
  // of them then commits them all in one transaction (each in a savepoint,
  // so one refused write leaves the others), so N concurrent writers pay
  // for one commit, one WAL sync and one set of file locks instead of N.
  StatusOr<KeyValue> Write(WriteKind kind, std::string_view key, int64_t expected_revision,
                           const RenderValue* render);
  // Takes write_mu_ and writes the batch; an exception refuses what is not
  // yet answered.
  void CommitBatch(const std::vector<PendingWrite*>& batch);
  // Under write_mu_: one write in its own transaction, with the disk-full
  // handling (reserve kept for deletes).
  void WriteAlone(PendingWrite& write);
  // Under write_mu_: several writes in one transaction; falls back to
  // WriteAlone for each when the transaction as a whole fails.
  void WriteBatch(const std::vector<PendingWrite*>& batch);
  // The rows of one write at `revision`, inside the caller's transaction.
  // `refused` (when given) is set when the write itself is refused (it
  // exists, is missing, is stale, or its render failed) rather than SQLite
  // failing.
  StatusOr<KeyValue> WriteRows(SqliteConnection& db, const PendingWrite& write, int64_t revision,
                               bool* refused = nullptr);
  // Makes a committed write current and tells the watchers.
  void Published(WriteKind kind, const KeyValue& kv);

  StatusOr<KeyValue> WriteOnce(WriteKind kind, std::string_view key, int64_t expected_revision,
                               const RenderValue* render);
  // Makes the reserve file when it is missing and there is room (at most
  // once a second while the disk is full). Called under write_mu_.
  void EnsureReserve();
  void ReleaseReserve();
  void NoteDiskFull(const Status& status);

  SqliteStoreOptions options_;
  std::mutex write_mu_;  // one writer; also orders publishing to watchers
  std::mutex queue_mu_;  // the writes waiting for a commit
  std::condition_variable queue_changed_;
  std::deque<PendingWrite*> queue_;
  bool leading_ = false;  // a writer is committing a batch
  std::unique_ptr<SqliteConnection> writer_;
  std::shared_ptr<ReaderPool> readers_;
  std::string path_;
  std::string reserve_path_;
  bool reserve_present_ = false;
  std::chrono::steady_clock::time_point next_reserve_attempt_{};
  std::atomic<bool> disk_full_{false};
  std::atomic<uint64_t> commits_{0};
  std::atomic<int64_t> revision_{0};
  std::atomic<int64_t> compacted_{0};
  WatchHub hub_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_STORE_SQLITE_STORE_H_
