#include "controlplane/apiserver/watch_pump.h"

#include <algorithm>
#include <exception>
#include <utility>
#include <vector>

#include "common/logging.h"

namespace bulkhead::controlplane {

WatchPump::WatchPump() : thread_([this] { Loop(); }) {}

WatchPump::~WatchPump() {
  std::unordered_map<uint64_t, Entry> tasks;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
  {
    std::lock_guard lock(mu_);
    tasks.swap(tasks_);
  }
  // Tasks are destroyed without the lock: their streams may call Wake.
}

uint64_t WatchPump::NewId() {
  std::lock_guard lock(mu_);
  return next_id_++;
}

void WatchPump::Add(uint64_t id, std::shared_ptr<Task> task) {
  bool notify = false;
  {
    std::lock_guard lock(mu_);
    auto now = Clock::now();
    auto [it, added] = tasks_.emplace(id, Entry{std::move(task), now});
    if (!added) {
      return;
    }
    timers_.emplace(now, id);
    notify = ready_.empty();
    MakeReadyLocked(id, it->second);
  }
  if (notify) {
    changed_.notify_one();
  }
}

void WatchPump::MakeReadyLocked(uint64_t id, Entry& entry) {
  if (!entry.ready) {
    entry.ready = true;
    ready_.push_back(id);
  }
}

void WatchPump::Wake(uint64_t id) {
  bool notify = false;
  {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) {
      return;
    }
    // Only the first wake-up of a pass needs the pump's thread woken.
    notify = ready_.empty();
    MakeReadyLocked(id, it->second);
  }
  if (notify) {
    changed_.notify_one();
  }
}

size_t WatchPump::size() {
  std::lock_guard lock(mu_);
  return tasks_.size();
}

void WatchPump::Loop() {
  std::vector<uint64_t> ids;
  std::vector<std::pair<uint64_t, std::shared_ptr<Task>>> batch;
  std::vector<std::shared_ptr<Task>> finished;
  while (true) {
    Clock::time_point now;
    {
      std::unique_lock lock(mu_);
      while (true) {
        if (stopping_) {
          return;
        }
        now = Clock::now();
        for (auto it = timers_.begin(); it != timers_.end() && it->first <= now; ++it) {
          MakeReadyLocked(it->second, tasks_.at(it->second));
        }
        if (!ready_.empty()) {
          break;
        }
        if (timers_.empty()) {
          changed_.wait(lock);
        } else {
          changed_.wait_until(lock, timers_.begin()->first);
        }
      }
      ids.swap(ready_);
      for (uint64_t id : ids) {
        Entry& entry = tasks_.at(id);
        entry.ready = false;  // woken again while it runs: it runs again
        batch.emplace_back(id, entry.task);
      }
      ids.clear();
    }
    std::vector<std::pair<uint64_t, std::optional<Clock::time_point>>> results;
    results.reserve(batch.size());
    for (auto& [id, task] : batch) {
      // A task that throws (out of memory, a bug) ends that watch only.
      std::optional<Clock::time_point> due;
      try {
        due = task->Run(now);
      } catch (const std::exception& e) {
        Logger(Component::kApiserver).error("watch failed and is ended: {}", e.what());
      }
      results.emplace_back(id, due);
    }
    batch.clear();
    {
      std::lock_guard lock(mu_);
      for (const auto& [id, due] : results) {
        auto it = tasks_.find(id);
        if (it == tasks_.end()) {
          continue;
        }
        Entry& entry = it->second;
        timers_.erase({entry.due, id});
        if (due.has_value()) {
          entry.due = *due;
          timers_.emplace(entry.due, id);
        } else {
          if (entry.ready) {
            ready_.erase(std::find(ready_.begin(), ready_.end(), id));
          }
          finished.push_back(std::move(entry.task));
          tasks_.erase(it);
        }
      }
    }
    finished.clear();
  }
}

}  // namespace bulkhead::controlplane
