#include "controlplane/http/handler_pool.h"

#include <exception>
#include <utility>

#include "common/logging.h"

namespace bulkhead::controlplane {

HandlerPool::HandlerPool(unsigned threads) {
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

HandlerPool::~HandlerPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  ready_.notify_all();
  for (auto& thread : threads_) {
    thread.join();
  }
}

void HandlerPool::Post(std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return;
    }
    queue_.push_back(std::move(work));
  }
  ready_.notify_one();
}

void HandlerPool::Run() {
  while (true) {
    std::function<void()> work;
    {
      std::unique_lock lock(mu_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        return;
      }
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    // A handler that throws (out of memory, a bug) loses its own request:
    // its writer answers 500 as it unwinds; the server goes on.
    try {
      work();
    } catch (const std::exception& e) {
      Logger(Component::kApiserver).error("request handler failed: {}", e.what());
    } catch (...) {
      Logger(Component::kApiserver).error("request handler failed: unknown exception");
    }
  }
}

}  // namespace bulkhead::controlplane
