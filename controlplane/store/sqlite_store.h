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
#ifndef BULKHEAD_CONTROLPLANE_STORE_SQLITE_STORE_H_
#define BULKHEAD_CONTROLPLANE_STORE_SQLITE_STORE_H_

#include <atomic>
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
  size_t watch_history = 4096;      // events kept in memory for watches
  size_t watch_max_queue = 100000;  // events a watcher may fall behind
};

class SqliteConnection;

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

 private:
  explicit SqliteStore(const SqliteStoreOptions& options);
  Status Init(const std::string& path);

  enum class WriteKind { kCreate, kUpdate, kDelete };
  StatusOr<KeyValue> Write(WriteKind kind, std::string_view key, int64_t expected_revision,
                           const RenderValue* render);

  // A read connection from the pool, returned on destruction.
  class ReadLease;
  ReadLease AcquireReader();

  SqliteStoreOptions options_;
  std::mutex write_mu_;  // one writer; also orders publishing to watchers
  std::unique_ptr<SqliteConnection> writer_;
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<SqliteConnection>> idle_readers_;
  std::string path_;
  std::atomic<int64_t> revision_{0};
  std::atomic<int64_t> compacted_{0};
  WatchHub hub_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_STORE_SQLITE_STORE_H_
