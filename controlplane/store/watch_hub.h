// Fan-out of store events to watchers, with a bounded in-memory history so a
// watch from a recent revision needs no read of the store's log.
//
// The store publishes every committed change, in revision order, under its
// write lock. Each watcher has its own queue; one that falls more than
// `max_queue` events behind is ended (RESOURCE_EXHAUSTED) rather than
// holding memory for ever.
#ifndef BULKHEAD_CONTROLPLANE_STORE_WATCH_HUB_H_
#define BULKHEAD_CONTROLPLANE_STORE_WATCH_HUB_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controlplane/store/store.h"

namespace bulkhead::controlplane {

class WatchHub {
 public:
  struct Subscriber;

  WatchHub(size_t history, size_t max_queue);
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // The revision the hub starts at (nothing before it is in its history).
  void Start(int64_t revision);

  // Adds one committed change (revisions are consecutive).
  void Publish(const Event& event);

  // True when every event after `after_revision` is in memory.
  bool Covers(int64_t after_revision);

  // A watcher of `prefix` that first gets `backlog` (already filtered, read
  // from the log by the caller) and then the in-memory events after
  // `after_revision`, then every new one. The caller keeps publishers out
  // (the store's write lock) while subscribing, so nothing is missed.
  std::unique_ptr<WatchStream> Subscribe(std::string prefix, int64_t after_revision,
                                         std::vector<Event> backlog);

  // Ends every watcher (CANCELLED).
  void Close();

  size_t watcher_count();

 private:
  // Shared with the streams, so a stream may outlive the hub (it then
  // reports CANCELLED).
  struct Core {
    std::mutex mu;
    std::deque<Event> recent;
    int64_t start_revision = 0;
    bool closed = false;
    std::vector<std::shared_ptr<Subscriber>> subscribers;
    void Remove(const Subscriber* subscriber);
  };
  friend class HubWatchStream;

  const size_t history_;
  const size_t max_queue_;
  std::shared_ptr<Core> core_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_STORE_WATCH_HUB_H_
