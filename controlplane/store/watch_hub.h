// Fan-out of store events to watchers, with a bounded in-memory history so a
// watch from a recent revision needs no read of the store's log.
//
// The store publishes every committed change, in revision order. Events are
// shared (EventPtr): the history and every watcher's queue hold pointers to
// one copy. Each watcher has its own queue; one that falls more than
// `max_queue` events or `max_queue_bytes` of stored values behind is ended
// (RESOURCE_EXHAUSTED) rather than holding memory for ever (one event larger
// than the byte bound is let into an empty queue).
//
// A watch from before the in-memory history reads the older events itself,
// a page at a time through a BacklogReader, while new events queue behind
// them: no lock of the store or the hub is held while it reads, and no more
// than a page of the backlog is in memory.
#ifndef BULKHEAD_CONTROLPLANE_STORE_WATCH_HUB_H_
#define BULKHEAD_CONTROLPLANE_STORE_WATCH_HUB_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controlplane/store/store.h"

namespace bulkhead::controlplane {

// Events on keys under a prefix with revision in (after, upto], in revision
// order, at most one page; `through` is the revision the page covers up to
// (upto once nothing is left). OUT_OF_RANGE when that history is compacted.
struct BacklogPage {
  std::vector<EventPtr> events;
  int64_t through = 0;
};
using BacklogReader =
    std::function<StatusOr<BacklogPage>(const std::string& prefix, int64_t after, int64_t upto)>;

class WatchHub {
 public:
  struct Subscriber;

  WatchHub(size_t history, size_t max_queue, size_t max_queue_bytes = SIZE_MAX);
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // The revision the hub starts at (nothing before it is in its history).
  void Start(int64_t revision);

  // Adds one committed change (revisions are consecutive).
  void Publish(EventPtr event);

  // A watcher of `prefix` that gets every event after `after_revision`:
  // those before the in-memory history through `backlog`, then the
  // in-memory ones, then every new one.
  std::unique_ptr<WatchStream> Subscribe(std::string prefix, int64_t after_revision,
                                         BacklogReader backlog);

  // Ends every watcher (CANCELLED).
  void Close();

  size_t watcher_count();

 private:
  // Shared with the streams, so a stream may outlive the hub (it then
  // reports CANCELLED).
  struct Core {
    std::mutex mu;
    std::deque<EventPtr> recent;
    int64_t start_revision = 0;
    bool closed = false;
    std::vector<std::shared_ptr<Subscriber>> subscribers;
    void Remove(const Subscriber* subscriber);
  };
  friend class HubWatchStream;

  const size_t history_;
  const size_t max_queue_;
  const size_t max_queue_bytes_;
  std::shared_ptr<Core> core_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_STORE_WATCH_HUB_H_
