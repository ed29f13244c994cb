#include "controlplane/apiserver/watch_pump.h"

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
  {
    std::lock_guard lock(mu_);
    tasks_.emplace(id, Entry{std::move(task), Clock::now()});
    woken_.insert(id);
  }
  changed_.notify_one();
}

void WatchPump::Wake(uint64_t id) {
  {
    std::lock_guard lock(mu_);
    if (tasks_.count(id) == 0) {
      return;
    }
    woken_.insert(id);
  }
  changed_.notify_one();
}

size_t WatchPump::size() {
  std::lock_guard lock(mu_);
  return tasks_.size();
}

void WatchPump::Loop() {
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
        auto earliest = Clock::time_point::max();
        for (auto& [id, entry] : tasks_) {
          if (woken_.count(id) > 0 || entry.due <= now) {
            batch.emplace_back(id, entry.task);
          } else {
            earliest = std::min(earliest, entry.due);
          }
        }
        woken_.clear();
        if (!batch.empty()) {
          break;
        }
        if (earliest == Clock::time_point::max()) {
          changed_.wait(lock);
        } else {
          changed_.wait_until(lock, earliest);
        }
      }
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
        if (due.has_value()) {
          it->second.due = *due;
        } else {
          finished.push_back(std::move(it->second.task));
          tasks_.erase(it);
          woken_.erase(id);
        }
      }
    }
    finished.clear();
  }
}

}  // namespace bulkhead::controlplane
