#include "controlplane/store/watch_hub.h"

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <utility>

namespace bulkhead::controlplane {
namespace {

bool UnderPrefix(const Event& event, const std::string& prefix) {
  return event.kv.key.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

struct WatchHub::Subscriber {
  std::string prefix;
  std::mutex mu;
  std::condition_variable ready;
  std::deque<EventPtr> queue;
  size_t queue_bytes = 0;  // stored values in `queue`
  bool overflowed = false;
  bool closed = false;
  // The part of the history read from the log: (backlog_after, backlog_upto].
  BacklogReader backlog;
  int64_t backlog_after = 0;
  int64_t backlog_upto = 0;
  std::function<void()> notify;
};

class HubWatchStream : public WatchStream {
 public:
  HubWatchStream(std::shared_ptr<WatchHub::Core> core,
                 std::shared_ptr<WatchHub::Subscriber> subscriber)
      : core_(std::move(core)), subscriber_(std::move(subscriber)) {}
  ~HubWatchStream() override { core_->Remove(subscriber_.get()); }
  HubWatchStream(const HubWatchStream&) = delete;
  HubWatchStream& operator=(const HubWatchStream&) = delete;

  bool SetNotify(const std::function<void()>& notify) override {
    bool ready = false;
    {
      std::lock_guard lock(subscriber_->mu);
      subscriber_->notify = notify;
      ready = !subscriber_->queue.empty() || subscriber_->overflowed || subscriber_->closed ||
              subscriber_->backlog_after < subscriber_->backlog_upto;
    }
    if (ready) {
      notify();
    }
    return true;
  }

  [[nodiscard]] bool FellBehind() const override {
    std::lock_guard lock(subscriber_->mu);
    return subscriber_->overflowed;
  }

  StatusOr<std::vector<EventPtr>> Next(std::chrono::steady_clock::time_point deadline) override {
    WatchHub::Subscriber& sub = *subscriber_;
    // Only this stream touches the backlog fields, so they are read without
    // the subscriber's lock, and the page is read without any lock.
    while (sub.backlog_after < sub.backlog_upto) {
      {
        std::lock_guard lock(sub.mu);
        if (sub.closed) {
          return absl::CancelledError("store closed");
        }
        if (sub.overflowed) {
          return absl::ResourceExhaustedError("watcher fell too far behind; list again");
        }
      }
      BH_ASSIGN_OR_RETURN(BacklogPage page,
                          sub.backlog(sub.prefix, sub.backlog_after, sub.backlog_upto));
      sub.backlog_after = std::max(sub.backlog_after + 1, page.through);
      if (!page.events.empty()) {
        return std::move(page.events);
      }
    }
    std::unique_lock lock(sub.mu);
    sub.ready.wait_until(lock, deadline,
                         [&sub] { return !sub.queue.empty() || sub.overflowed || sub.closed; });
    if (sub.overflowed) {
      return absl::ResourceExhaustedError("watcher fell too far behind; list again");
    }
    std::vector<EventPtr> events(std::make_move_iterator(sub.queue.begin()),
                                 std::make_move_iterator(sub.queue.end()));
    sub.queue.clear();
    sub.queue_bytes = 0;
    if (events.empty() && sub.closed) {
      return absl::CancelledError("store closed");
    }
    return events;
  }

 private:
  std::shared_ptr<WatchHub::Core> core_;
  std::shared_ptr<WatchHub::Subscriber> subscriber_;
};

WatchHub::WatchHub(size_t history, size_t max_queue, size_t max_queue_bytes)
    : history_(history),
      max_queue_(max_queue),
      max_queue_bytes_(max_queue_bytes),
      core_(std::make_shared<Core>()) {}

WatchHub::~WatchHub() { Close(); }

void WatchHub::Start(int64_t revision) {
  std::lock_guard lock(core_->mu);
  core_->start_revision = revision;
  core_->recent.clear();
}

void WatchHub::Publish(EventPtr event) {
  std::lock_guard lock(core_->mu);
  for (const auto& subscriber : core_->subscribers) {
    if (!UnderPrefix(*event, subscriber->prefix)) {
      continue;
    }
    std::function<void()> notify;
    {
      std::lock_guard sub_lock(subscriber->mu);
      // Told once per batch: when the queue stops being empty.
      bool was_idle = subscriber->queue.empty() && !subscriber->overflowed;
      size_t bytes = event->kv.value.size();
      if (subscriber->queue.size() >= max_queue_ ||
          (!subscriber->queue.empty() && subscriber->queue_bytes + bytes > max_queue_bytes_)) {
        subscriber->overflowed = true;
        subscriber->queue.clear();
        subscriber->queue_bytes = 0;
      } else if (!subscriber->overflowed) {
        subscriber->queue.push_back(event);
        subscriber->queue_bytes += bytes;
      }
      if (was_idle) {
        notify = subscriber->notify;
      }
    }
    subscriber->ready.notify_one();
    if (notify) {
      notify();
    }
  }
  core_->recent.push_back(std::move(event));
  while (core_->recent.size() > history_) {
    core_->start_revision = core_->recent.front()->kv.mod_revision;
    core_->recent.pop_front();
  }
}

std::unique_ptr<WatchStream> WatchHub::Subscribe(std::string prefix, int64_t after_revision,
                                                 BacklogReader backlog) {
  auto subscriber = std::make_shared<Subscriber>();
  subscriber->prefix = std::move(prefix);
  std::lock_guard lock(core_->mu);
  if (after_revision < core_->start_revision) {
    subscriber->backlog = std::move(backlog);
    subscriber->backlog_after = after_revision;
    subscriber->backlog_upto = core_->start_revision;
  }
  for (const auto& event : core_->recent) {
    if (event->kv.mod_revision > after_revision && UnderPrefix(*event, subscriber->prefix)) {
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
    std::function<void()> notify;
    {
      std::lock_guard sub_lock(subscriber->mu);
      subscriber->closed = true;
      notify = subscriber->notify;
    }
    subscriber->ready.notify_all();
    if (notify) {
      notify();
    }
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
