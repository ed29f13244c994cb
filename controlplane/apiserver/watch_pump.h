// Runs every open watch of an API server, so a watch holds no thread while
// it waits. A watch is a task that is run when its store stream has events
// (the stream's notify), when its client goes away, or at the latest at the
// time it asked for (its timeout, its next bookmark); each run takes what is
// waiting without blocking and queues it on the watch's response stream,
// which never blocks either.
//
// A task may name a lane: the thread that writes its response (its
// connection's IO loop). It then runs there, so what it writes costs no
// thread hand-off, and the watches of a server are run by all its IO loops
// at once. A lane's woken tasks run in passes of at most 128: a write that
// wakes a thousand watchers posts a few passes to each loop, not a thousand,
// and the loop serves its other connections between them. Tasks
// without a lane run on the pump's own thread, which also keeps every
// task's timer.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_WATCH_PUMP_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_WATCH_PUMP_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

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

  // Where a task runs. `post` runs work soon on the lane's thread, never
  // inline, and may be called from any thread; `id` names the lane in the
  // process (lanes with the same id are one). Id 0: the pump's own thread.
  struct Lane {
    uint64_t id = 0;
    std::function<void(std::function<void()>)> post;
  };

  WatchPump();
  // Drops every task. A lane pass posted earlier and run later does nothing.
  ~WatchPump();
  WatchPump(const WatchPump&) = delete;
  WatchPump& operator=(const WatchPump&) = delete;

  // An id for a task about to be added (its wake-ups can be set up first).
  uint64_t NewId();
  // Adds a task to be run at once, on its lane (none: the pump's thread).
  void Add(uint64_t id, std::shared_ptr<Task> task, Lane lane);
  void Add(uint64_t id, std::shared_ptr<Task> task) { Add(id, std::move(task), Lane()); }
  // Runs the task soon. Never blocks: safe from a store's publisher or an
  // IO thread. An id no longer known is ignored.
  void Wake(uint64_t id);
  size_t size();

 private:
  struct State;
  void Loop();

  std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_WATCH_PUMP_H_
