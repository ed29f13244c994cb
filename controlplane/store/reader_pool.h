// A bounded pool of SQLite reader connections. At most `size` connections
// are ever open; a reader beyond that waits for one to come back instead of
// opening another (one per concurrent request, never closed, before). The
// pool is shared with watch streams, which read their backlog from it and
// may outlive the store.
#ifndef BULKHEAD_CONTROLPLANE_STORE_READER_POOL_H_
#define BULKHEAD_CONTROLPLANE_STORE_READER_POOL_H_

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "controlplane/store/sqlite_connection.h"

namespace bulkhead::controlplane {

class ReaderPool : public std::enable_shared_from_this<ReaderPool> {
 public:
  // A connection on loan, returned to the pool on destruction.
  class Lease {
   public:
    Lease(std::shared_ptr<ReaderPool> pool, std::unique_ptr<SqliteConnection> db)
        : pool_(std::move(pool)), db_(std::move(db)) {}
    ~Lease();
    Lease(Lease&& other) noexcept = default;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;

    SqliteConnection& operator*() { return *db_; }
    SqliteConnection* operator->() { return db_.get(); }

   private:
    std::shared_ptr<ReaderPool> pool_;
    std::unique_ptr<SqliteConnection> db_;
  };

  static std::shared_ptr<ReaderPool> Create(std::string path, size_t size);

  // A free connection, opened when fewer than `size` exist; waits up to
  // `wait` for one to come back (UNAVAILABLE after that).
  StatusOr<Lease> Acquire(std::chrono::milliseconds wait = std::chrono::seconds(30));

  // Connections open now (idle and on loan).
  size_t open_count();

 private:
  ReaderPool(std::string path, size_t size) : path_(std::move(path)), size_(size) {}
  void Return(std::unique_ptr<SqliteConnection> db);

  const std::string path_;
  const size_t size_;
  std::mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<SqliteConnection>> idle_;
  size_t open_ = 0;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_STORE_READER_POOL_H_
