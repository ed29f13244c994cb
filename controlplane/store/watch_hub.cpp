#include "controlplane/store/watch_hub.h"

#include <algorithm>
#include <condition_variable>
#include <utility>

namespace bulkhead::controlplane {

struct WatchHub::Subscriber {
  std::string prefix;
  std::mutex mu;
  std::condition_variable ready;
  std::deque<Event> queue;
  bool overflowed = false;
  bool closed = false;
};

class HubWatchStream : public WatchStream {
 public:
  HubWatchStream(std::shared_ptr<WatchHub::Core> core,
                 std::shared_ptr<WatchHub::Subscriber> subscriber)
      : core_(std::move(core)), subscriber_(std::move(subscriber)) {}
  ~HubWatchStream() override { core_->Remove(subscriber_.get()); }
  HubWatchStream(const HubWatchStream&) = delete;
  HubWatchStream& operator=(const HubWatchStream&) = delete;

  StatusOr<std::vector<Event>> Next(std::chrono::steady_clock::time_point deadline) override {
    std::unique_lock lock(subscriber_->mu);
    subscriber_->ready.wait_until(lock, deadline, [this] {
      return !subscriber_->queue.empty() || subscriber_->overflowed || subscriber_->closed;
    });
    if (subscriber_->overflowed) {
      return absl::ResourceExhaustedError("watcher fell too far behind; list again");
    }
    std::vector<Event> events(std::make_move_iterator(subscriber_->queue.begin()),
                              std::make_move_iterator(subscriber_->queue.end()));
    subscriber_->queue.clear();
    if (events.empty() && subscriber_->closed) {
      return absl::CancelledError("store closed");
    }
    return events;
  }

 private:
  std::shared_ptr<WatchHub::Core> core_;
  std::shared_ptr<WatchHub::Subscriber> subscriber_;
};

WatchHub::WatchHub(size_t history, size_t max_queue)
    : history_(history), max_queue_(max_queue), core_(std::make_shared<Core>()) {}

WatchHub::~WatchHub() { Close(); }

void WatchHub::Start(int64_t revision) {
  std::lock_guard lock(core_->mu);
  core_->start_revision = revision;
  core_->recent.clear();
}

void WatchHub::Publish(const Event& event) {
  std::lock_guard lock(core_->mu);
  core_->recent.push_back(event);
  while (core_->recent.size() > history_) {
    core_->start_revision = core_->recent.front().kv.mod_revision;
    core_->recent.pop_front();
  }
  for (const auto& subscriber : core_->subscribers) {
    if (event.kv.key.compare(0, subscriber->prefix.size(), subscriber->prefix) != 0) {
      continue;
    }
    {
      std::lock_guard sub_lock(subscriber->mu);
      if (subscriber->queue.size() >= max_queue_) {
        subscriber->overflowed = true;
      } else {
        subscriber->queue.push_back(event);
      }
    }
    subscriber->ready.notify_one();
  }
}

bool WatchHub::Covers(int64_t after_revision) {
  std::lock_guard lock(core_->mu);
  return after_revision >= core_->start_revision;
}

std::unique_ptr<WatchStream> WatchHub::Subscribe(std::string prefix, int64_t after_revision,
                                                 std::vector<Event> backlog) {
  auto subscriber = std::make_shared<Subscriber>();
  subscriber->prefix = std::move(prefix);
  std::lock_guard lock(core_->mu);
  for (auto& event : backlog) {
    subscriber->queue.push_back(std::move(event));
  }
  int64_t last =
      subscriber->queue.empty() ? after_revision : subscriber->queue.back().kv.mod_revision;
  for (const auto& event : core_->recent) {
    if (event.kv.mod_revision > last &&
        event.kv.key.compare(0, subscriber->prefix.size(), subscriber->prefix) == 0) {
      subscriber->queue.push_back(event);
    }
  }
  subscriber->closed = core_->closed;
  core_->subscribers.push_back(subscriber);
  return std::make_unique<HubWatchStream>(core_, std::move(subscriber));
}

void WatchHub::Close() {
  std::lock_guard lock(core_->mu);
  core_->closed = true;
  for (const auto& subscriber : core_->subscribers) {
    {
      std::lock_guard sub_lock(subscriber->mu);
      subscriber->closed = true;
    }
    subscriber->ready.notify_all();
  }
}

size_t WatchHub::watcher_count() {
  std::lock_guard lock(core_->mu);
  return core_->subscribers.size();
}

void WatchHub::Core::Remove(const Subscriber* subscriber) {
  std::lock_guard lock(mu);
  auto it = std::find_if(subscribers.begin(), subscribers.end(),
                         [subscriber](const auto& s) { return s.get() == subscriber; });
  if (it != subscribers.end()) {
    subscribers.erase(it);
  }
}

}  // namespace bulkhead::controlplane
