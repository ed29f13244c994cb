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
  HubWatchStream(WatchHub* hub, std::shared_ptr<WatchHub::Subscriber> subscriber)
      : hub_(hub), subscriber_(std::move(subscriber)) {}
  ~HubWatchStream() override { hub_->Remove(subscriber_.get()); }
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
  WatchHub* hub_;
  std::shared_ptr<WatchHub::Subscriber> subscriber_;
};

WatchHub::WatchHub(size_t history, size_t max_queue) : history_(history), max_queue_(max_queue) {}

WatchHub::~WatchHub() { Close(); }

void WatchHub::Start(int64_t revision) {
  std::lock_guard lock(mu_);
  start_revision_ = revision;
  recent_.clear();
}

void WatchHub::Publish(const Event& event) {
  std::lock_guard lock(mu_);
  recent_.push_back(event);
  while (recent_.size() > history_) {
    start_revision_ = recent_.front().kv.mod_revision;
    recent_.pop_front();
  }
  for (const auto& subscriber : subscribers_) {
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
  std::lock_guard lock(mu_);
  return after_revision >= start_revision_;
}

std::unique_ptr<WatchStream> WatchHub::Subscribe(std::string prefix, int64_t after_revision,
                                                 std::vector<Event> backlog) {
  auto subscriber = std::make_shared<Subscriber>();
  subscriber->prefix = std::move(prefix);
  std::lock_guard lock(mu_);
  for (auto& event : backlog) {
    subscriber->queue.push_back(std::move(event));
  }
  int64_t last =
      subscriber->queue.empty() ? after_revision : subscriber->queue.back().kv.mod_revision;
  for (const auto& event : recent_) {
    if (event.kv.mod_revision > last &&
        event.kv.key.compare(0, subscriber->prefix.size(), subscriber->prefix) == 0) {
      subscriber->queue.push_back(event);
    }
  }
  subscriber->closed = closed_;
  subscribers_.push_back(subscriber);
  return std::make_unique<HubWatchStream>(this, std::move(subscriber));
}

void WatchHub::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  for (const auto& subscriber : subscribers_) {
    {
      std::lock_guard sub_lock(subscriber->mu);
      subscriber->closed = true;
    }
    subscriber->ready.notify_all();
  }
}

size_t WatchHub::watcher_count() {
  std::lock_guard lock(mu_);
  return subscribers_.size();
}

void WatchHub::Remove(const Subscriber* subscriber) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(subscribers_.begin(), subscribers_.end(),
                         [subscriber](const auto& s) { return s.get() == subscriber; });
  if (it != subscribers_.end()) {
    subscribers_.erase(it);
  }
}

}  // namespace bulkhead::controlplane
