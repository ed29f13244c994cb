#include "controlplane/controllers/work_queue.h"

#include <algorithm>

namespace bulkhead::controlplane::controllers {
namespace {

constexpr auto kBaseDelay = std::chrono::milliseconds(5);
constexpr auto kMaxDelay = std::chrono::seconds(30);

}  // namespace

WorkQueue::Clock::duration WorkQueue::Backoff(size_t failures) {
  Clock::duration delay = kBaseDelay;
  for (size_t i = 0; i < failures && delay < kMaxDelay; ++i) {
    delay *= 2;
  }
  return std::min<Clock::duration>(delay, kMaxDelay);
}

void WorkQueue::AddLocked(const std::string& key) {
  if (shut_down_ || dirty_.contains(key)) {
    return;
  }
  dirty_.insert(key);
  if (!processing_.contains(key)) {
    queue_.push_back(key);
    changed_.notify_one();
  }
}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard lock(mu_);
  AddLocked(key);
}

void WorkQueue::AddAfter(const std::string& key, Clock::duration delay) {
  std::lock_guard lock(mu_);
  if (shut_down_) {
    return;
  }
  if (delay <= Clock::duration::zero()) {
    AddLocked(key);
    return;
  }
  // One delayed entry per key, the earliest: a key added again and again
  // while it waits does not come back once per add.
  Clock::time_point at = Clock::now() + delay;
  auto known = delayed_at_.find(key);
  if (known != delayed_at_.end()) {
    if (known->second <= at) {
      return;
    }
    auto [first, last] = delayed_.equal_range(known->second);
    for (auto it = first; it != last; ++it) {
      if (it->second == key) {
        delayed_.erase(it);
        break;
      }
    }
  }
  delayed_.emplace(at, key);
  delayed_at_[key] = at;
  changed_.notify_one();
}

void WorkQueue::AddRateLimited(const std::string& key) {
  Clock::duration delay;
  {
    std::lock_guard lock(mu_);
    delay = Backoff(failures_[key]++);
  }
  AddAfter(key, delay);
}

void WorkQueue::Forget(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

size_t WorkQueue::Failures(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

std::optional<std::string> WorkQueue::Get() {
  std::unique_lock lock(mu_);
  while (true) {
    if (shut_down_) {
      return std::nullopt;
    }
    // Delayed keys that are due join the queue.
    auto now = Clock::now();
    while (!delayed_.empty() && delayed_.begin()->first <= now) {
      std::string key = delayed_.begin()->second;
      delayed_.erase(delayed_.begin());
      delayed_at_.erase(key);
      AddLocked(key);
    }
    if (!queue_.empty()) {
      std::string key = std::move(queue_.front());
      queue_.pop_front();
      dirty_.erase(key);
      processing_.insert(key);
      return key;
    }
    if (delayed_.empty()) {
      changed_.wait(lock);
    } else {
      // A copy: wait_until keeps a reference while the lock is released, and
      // another worker may take (erase) this entry meanwhile.
      const Clock::time_point next_due = delayed_.begin()->first;
      changed_.wait_until(lock, next_due);
    }
  }
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.contains(key) && !shut_down_) {
    queue_.push_back(key);
    changed_.notify_one();
  }
}

void WorkQueue::ShutDown() {
  std::lock_guard lock(mu_);
  shut_down_ = true;
  changed_.notify_all();
}

}  // namespace bulkhead::controlplane::controllers
