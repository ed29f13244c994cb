// Runs every open watch of an API server on one thread, so a watch holds no
// thread while it waits. A watch is a task that is run when its store stream
// has events (the stream's notify), when its client goes away, or at the
// latest at the time it asked for (its timeout, its next bookmark); each run
// takes what is waiting without blocking and queues it on the watch's
// response stream, which never blocks either.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_WATCH_PUMP_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_WATCH_PUMP_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace bulkhead::controlplane {

class WatchPump {
 public:
  using Clock = std::chrono::steady_clock;

  class Task {
   public:
    virtual ~Task() = default;
    // Does what is due at `now`; returns when to run again at the latest,
    // or nothing when the watch is over (the task is then dropped).
    virtual std::optional<Clock::time_point> Run(Clock::time_point now) = 0;
  };

  WatchPump();
  // Drops every task.
  ~WatchPump();
  WatchPump(const WatchPump&) = delete;
  WatchPump& operator=(const WatchPump&) = delete;

  // An id for a task about to be added (its wake-ups can be set up first).
  uint64_t NewId();
  // Adds a task to be run at once.
  void Add(uint64_t id, std::shared_ptr<Task> task);
  // Runs the task soon. Never blocks: safe from a store's publisher or an
  // IO thread. An id no longer known is ignored.
  void Wake(uint64_t id);
  size_t size();

 private:
  struct Entry {
    std::shared_ptr<Task> task;
    Clock::time_point due;
    bool ready = false;  // in ready_
  };
  // Queues a known task to run (once, however often it is woken).
  void MakeReadyLocked(uint64_t id, Entry& entry);
  void Loop();

  // Each pass costs what is ready, not the number of tasks: a thousand
  // watchers woken one by one by a write are run in a few passes.
  std::mutex mu_;
  std::condition_variable changed_;
  bool stopping_ = false;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Entry> tasks_;
  std::vector<uint64_t> ready_;
  std::set<std::pair<Clock::time_point, uint64_t>> timers_;  // (due, id) of every task
  std::thread thread_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_WATCH_PUMP_H_
