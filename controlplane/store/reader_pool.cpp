#include "controlplane/store/reader_pool.h"

#include <utility>

#include "fmt/format.h"

namespace bulkhead::controlplane {

ReaderPool::Lease::~Lease() {
  if (db_ != nullptr && pool_ != nullptr) {
    pool_->Return(std::move(db_));
  }
}

std::shared_ptr<ReaderPool> ReaderPool::Create(std::string path, size_t size) {
  return std::shared_ptr<ReaderPool>(new ReaderPool(std::move(path), size == 0 ? 1 : size));
}

StatusOr<ReaderPool::Lease> ReaderPool::Acquire(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  bool ready = returned_.wait_for(lock, wait, [this] { return !idle_.empty() || open_ < size_; });
  if (!ready) {
    return absl::UnavailableError(
        fmt::format("all {} store reader connections stayed busy for {} ms", size_, wait.count()));
  }
  if (!idle_.empty()) {
    auto db = std::move(idle_.back());
    idle_.pop_back();
    return Lease(shared_from_this(), std::move(db));
  }
  ++open_;
  lock.unlock();
  auto db = SqliteConnection::Open(path_, /*create=*/false);
  if (!db.ok()) {
    lock.lock();
    --open_;
    returned_.notify_one();
    return db.status();
  }
  return Lease(shared_from_this(), std::move(db).value());
}

void ReaderPool::Return(std::unique_ptr<SqliteConnection> db) {
  {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(db));
  }
  returned_.notify_one();
}

size_t ReaderPool::open_count() {
  std::lock_guard lock(mu_);
  return open_;
}

}  // namespace bulkhead::controlplane
