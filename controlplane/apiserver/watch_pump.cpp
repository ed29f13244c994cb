#include "controlplane/apiserver/watch_pump.h"

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/logging.h"

namespace bulkhead::controlplane {

using Post = std::function<void(std::function<void()>)>;

namespace {
// Watches one lane pass runs at most; the rest go in the passes after it,
// so the loop's other connections are served in between.
constexpr size_t kMaxTasksPerPass = 128;
}  // namespace

struct WatchPump::State : std::enable_shared_from_this<State> {
  struct Entry {
    std::shared_ptr<Task> task;
    uint64_t lane = 0;
    // Its timer in `timers`; max while it is ready (its run sets the next).
    Clock::time_point due = Clock::time_point::max();
    bool ready = false;  // in its lane's ready list
  };
  struct LaneState {
    Post post;  // unset for the pump's own thread (lane 0)
    std::vector<uint64_t> ready;
    bool scheduled = false;  // a pass is posted and has not started
    size_t tasks = 0;
  };
  using Batch = std::vector<std::pair<uint64_t, std::shared_ptr<Task>>>;
  using Results = std::vector<std::pair<uint64_t, std::optional<Clock::time_point>>>;
  // Lanes whose pass is to be posted once the lock is let go.
  using Posts = std::vector<std::pair<uint64_t, Post>>;

  // Queues a known task to run (once, however often it is woken). Returns
  // whether the pump's thread must be woken; a lane's first ready task
  // adds its pass to `posts`.
  bool MakeReadyLocked(uint64_t id, Entry& entry, Posts& posts) {
    if (entry.ready) {
      return false;
    }
    entry.ready = true;
    timers.erase({entry.due, id});
    entry.due = Clock::time_point::max();
    LaneState& lane = lanes.at(entry.lane);
    lane.ready.push_back(id);
    if (entry.lane == 0) {
      return lane.ready.size() == 1;
    }
    if (!lane.scheduled) {
      lane.scheduled = true;
      posts.emplace_back(entry.lane, lane.post);
    }
    return false;
  }

  void PostPasses(Posts& posts) {
    for (auto& [lane, post] : posts) {
      post([weak = weak_from_this(), lane = lane] {
        if (auto state = weak.lock()) {
          state->RunLane(lane);
        }
      });
    }
    posts.clear();
  }

  // The first `max` ready tasks of a lane, oldest first.
  Batch TakeLocked(LaneState& lane, size_t max) {
    const size_t count = std::min(max, lane.ready.size());
    Batch batch;
    batch.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      Entry& entry = tasks.at(lane.ready[i]);
      entry.ready = false;  // woken again while it runs: it runs again
      batch.emplace_back(lane.ready[i], entry.task);
    }
    lane.ready.erase(lane.ready.begin(), lane.ready.begin() + static_cast<std::ptrdiff_t>(count));
    return batch;
  }

  static Results RunBatch(Batch& batch, Clock::time_point now) {
    Results results;
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
    return results;
  }

  // Sets each run task's next timer, or drops it when it is over (into
  // `finished`, to be destroyed without the lock). Returns whether the
  // earliest timer moved earlier (the pump's thread must look again).
  bool SettleLocked(const Results& results, std::vector<std::shared_ptr<Task>>& finished) {
    const auto earliest = timers.empty() ? Clock::time_point::max() : timers.begin()->first;
    for (const auto& [id, due] : results) {
      auto it = tasks.find(id);
      if (it == tasks.end()) {
        continue;
      }
      Entry& entry = it->second;
      if (due.has_value()) {
        if (!entry.ready) {  // else it runs again at once and sets its timer then
          timers.erase({entry.due, id});
          entry.due = *due;
          timers.emplace(entry.due, id);
        }
        continue;
      }
      LaneState& lane = lanes.at(entry.lane);
      if (entry.ready) {
        lane.ready.erase(std::find(lane.ready.begin(), lane.ready.end(), id));
      }
      timers.erase({entry.due, id});
      --lane.tasks;
      if (entry.lane != 0 && lane.tasks == 0 && !lane.scheduled) {
        lanes.erase(entry.lane);
      }
      finished.push_back(std::move(entry.task));
      tasks.erase(it);
    }
    return !timers.empty() && timers.begin()->first < earliest;
  }

  // A lane's pass, on the lane's thread.
  void RunLane(uint64_t lane_id) {
    Batch batch;
    Posts next;
    {
      std::lock_guard lock(mu);
      auto it = lanes.find(lane_id);
      if (stopping || it == lanes.end()) {
        return;
      }
      LaneState& lane = it->second;
      batch = TakeLocked(lane, kMaxTasksPerPass);
      // More ready than one pass runs: the next pass queues behind the
      // loop's other work.
      lane.scheduled = !lane.ready.empty();
      if (lane.scheduled) {
        next.emplace_back(lane_id, lane.post);
      }
      if (lane.tasks == 0) {
        lanes.erase(it);
      }
      ++passes_running;
    }
    PostPasses(next);
    Results results = RunBatch(batch, Clock::now());
    std::vector<std::shared_ptr<Task>> finished;
    bool notify = false;
    {
      std::lock_guard lock(mu);
      // The pump's thread waits for an earlier timer; a stopping pump for
      // this pass to end.
      notify = SettleLocked(results, finished) || stopping;
      --passes_running;
    }
    if (notify) {
      changed.notify_all();
    }
    finished.clear();
  }

  std::mutex mu;
  std::condition_variable changed;
  bool stopping = false;
  int passes_running = 0;  // lane passes between taking and settling
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, Entry> tasks;
  std::unordered_map<uint64_t, LaneState> lanes;
  std::set<std::pair<Clock::time_point, uint64_t>> timers;  // (due, id) of tasks not ready
};

WatchPump::WatchPump() : state_(std::make_shared<State>()) {
  state_->lanes.emplace(0, State::LaneState{});
  thread_ = std::thread([this] { Loop(); });
}

WatchPump::~WatchPump() {
  std::unordered_map<uint64_t, State::Entry> tasks;
  {
    std::unique_lock lock(state_->mu);
    state_->stopping = true;
    // No task runs once the pump is gone: a lane pass under way ends first.
    state_->changed.notify_all();
    state_->changed.wait(lock, [this] { return state_->passes_running == 0; });
  }
  thread_.join();
  {
    std::lock_guard lock(state_->mu);
    tasks.swap(state_->tasks);
  }
  // Tasks are destroyed without the lock: their streams may call Wake.
}

uint64_t WatchPump::NewId() {
  std::lock_guard lock(state_->mu);
  return state_->next_id++;
}

void WatchPump::Add(uint64_t id, std::shared_ptr<Task> task, Lane lane) {
  bool notify = false;
  State::Posts posts;
  {
    std::lock_guard lock(state_->mu);
    if (!lane.post) {
      lane.id = 0;
    }
    auto [it, added] = state_->tasks.emplace(id, State::Entry{std::move(task), lane.id});
    if (!added) {
      return;
    }
    auto lane_it = state_->lanes.try_emplace(lane.id).first;
    if (lane.id != 0 && !lane_it->second.post) {
      lane_it->second.post = std::move(lane.post);
    }
    ++lane_it->second.tasks;
    notify = state_->MakeReadyLocked(id, it->second, posts);
  }
  if (notify) {
    state_->changed.notify_all();
  }
  state_->PostPasses(posts);
}

void WatchPump::Wake(uint64_t id) {
  bool notify = false;
  State::Posts posts;
  {
    std::lock_guard lock(state_->mu);
    auto it = state_->tasks.find(id);
    if (it == state_->tasks.end()) {
      return;
    }
    // Only the first wake-up of a pass needs a thread woken.
    notify = state_->MakeReadyLocked(id, it->second, posts);
  }
  if (notify) {
    state_->changed.notify_all();
  }
  state_->PostPasses(posts);
}

size_t WatchPump::size() {
  std::lock_guard lock(state_->mu);
  return state_->tasks.size();
}

void WatchPump::Loop() {
  State& state = *state_;
  State::Posts posts;
  std::vector<std::shared_ptr<Task>> finished;
  while (true) {
    Clock::time_point now;
    State::Batch batch;
    {
      std::unique_lock lock(state.mu);
      State::LaneState& own = state.lanes.at(0);
      while (true) {
        if (state.stopping) {
          return;
        }
        now = Clock::now();
        while (!state.timers.empty() && state.timers.begin()->first <= now) {
          uint64_t id = state.timers.begin()->second;
          state.MakeReadyLocked(id, state.tasks.at(id), posts);  // takes it off the timers
        }
        if (!own.ready.empty() || !posts.empty()) {
          break;
        }
        if (state.timers.empty()) {
          state.changed.wait(lock);
        } else {
          // A copy: other threads change the timers while this waits.
          const Clock::time_point until = state.timers.begin()->first;
          state.changed.wait_until(lock, until);
        }
      }
      batch = state.TakeLocked(own, own.ready.size());
    }
    state.PostPasses(posts);
    if (batch.empty()) {
      continue;
    }
    State::Results results = State::RunBatch(batch, now);
    {
      std::lock_guard lock(state.mu);
      state.SettleLocked(results, finished);
    }
    finished.clear();
  }
}

}  // namespace bulkhead::controlplane
