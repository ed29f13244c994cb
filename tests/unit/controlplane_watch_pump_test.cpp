// The watch pump (tasks run when woken or due, each once however often it is
// woken, dropped when over) and the event cache the pump's watches share
// (one render per event and type, bounded in entries and bytes).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/apiserver/watch_event_cache.h"
#include "controlplane/apiserver/watch_pump.h"

namespace bulkhead::controlplane {
namespace {

using Clock = WatchPump::Clock;
using std::chrono::milliseconds;

// Counts its runs; runs again at `next` after now, or is over after `runs_left`.
class CountingTask : public WatchPump::Task {
 public:
  explicit CountingTask(std::optional<milliseconds> next = std::nullopt, int runs_left = 1000000)
      : next_(next), runs_left_(runs_left) {}

  std::optional<Clock::time_point> Run(Clock::time_point now) override {
    {
      std::lock_guard lock(mu_);
      ++runs_;
      times_.push_back(Clock::now());
    }
    ran_.notify_all();
    if (--runs_left_ <= 0) {
      return std::nullopt;
    }
    if (next_.has_value()) {
      return now + *next_;
    }
    return Clock::time_point::max();
  }

  // Waits until it has run `count` times (false after 5 s).
  bool WaitRuns(int count) {
    std::unique_lock lock(mu_);
    return ran_.wait_for(lock, std::chrono::seconds(5), [&] { return runs_ >= count; });
  }
  int runs() {
    std::lock_guard lock(mu_);
    return runs_;
  }
  std::vector<Clock::time_point> times() {
    std::lock_guard lock(mu_);
    return times_;
  }

 private:
  std::optional<milliseconds> next_;
  std::atomic<int> runs_left_;
  std::mutex mu_;
  std::condition_variable ran_;
  int runs_ = 0;
  std::vector<Clock::time_point> times_;
};

TEST(WatchPumpTest, AnAddedTaskRunsAtOnceAndAgainWhenWoken) {
  WatchPump pump;
  auto task = std::make_shared<CountingTask>();
  uint64_t id = pump.NewId();
  pump.Add(id, task);
  ASSERT_TRUE(task->WaitRuns(1));
  pump.Wake(id);
  ASSERT_TRUE(task->WaitRuns(2));
  // Not woken and never due: it does not run again.
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(task->runs(), 2);
}

TEST(WatchPumpTest, ManyWakeUpsBeforeARunMakeOneRun) {
  WatchPump pump;
  auto task = std::make_shared<CountingTask>();
  uint64_t id = pump.NewId();
  pump.Add(id, task);
  ASSERT_TRUE(task->WaitRuns(1));
  // A thousand watchers woken one by one: each runs, none is lost.
  std::vector<std::shared_ptr<CountingTask>> others;
  std::vector<uint64_t> ids;
  for (int i = 0; i < 1000; ++i) {
    others.push_back(std::make_shared<CountingTask>());
    ids.push_back(pump.NewId());
    pump.Add(ids.back(), others.back());
  }
  for (auto& other : others) {
    ASSERT_TRUE(other->WaitRuns(1));
  }
  for (uint64_t other : ids) {
    pump.Wake(other);
    pump.Wake(other);
  }
  for (auto& other : others) {
    ASSERT_TRUE(other->WaitRuns(2));
  }
  std::this_thread::sleep_for(milliseconds(50));
  for (auto& other : others) {
    // Two wake-ups are one run, or two when the second came during the first.
    EXPECT_LE(other->runs(), 3);
  }
  EXPECT_EQ(task->runs(), 1);  // never woken again
}

TEST(WatchPumpTest, ADueTaskRunsWithoutAWakeUpAndNotBefore) {
  WatchPump pump;
  auto task = std::make_shared<CountingTask>(milliseconds(100), 3);
  uint64_t id = pump.NewId();
  pump.Add(id, task);
  ASSERT_TRUE(task->WaitRuns(3));
  auto times = task->times();
  ASSERT_EQ(times.size(), 3U);
  EXPECT_GE(times[1] - times[0], milliseconds(100));
  EXPECT_GE(times[2] - times[1], milliseconds(100));
}

TEST(WatchPumpTest, AnOverTaskIsDroppedAndItsIdIgnored) {
  WatchPump pump;
  auto task = std::make_shared<CountingTask>(std::nullopt, 1);
  uint64_t id = pump.NewId();
  pump.Add(id, task);
  ASSERT_TRUE(task->WaitRuns(1));
  for (int i = 0; i < 100 && pump.size() != 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(pump.size(), 0U);
  pump.Wake(id);
  pump.Wake(id + 1000);  // never known
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(task->runs(), 1);
  EXPECT_EQ(task.use_count(), 1);  // the pump holds it no more
}

// A stand-in for an IO loop: one thread running what is posted, in order;
// it counts the posts, and can be held (what is posted then waits).
class TestLoop {
 public:
  TestLoop() : thread_([this] { Run(); }) {}
  ~TestLoop() {
    {
      std::lock_guard lock(mu_);
      held_ = false;
      stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  WatchPump::Lane Lane(uint64_t id) {
    return {id, [this](std::function<void()> work) {
              {
                std::lock_guard lock(mu_);
                ++posts_;
                work_.push_back(std::move(work));
              }
              changed_.notify_all();
            }};
  }
  void Hold(bool held) {
    {
      std::lock_guard lock(mu_);
      held_ = held;
    }
    changed_.notify_all();
  }
  int posts() {
    std::lock_guard lock(mu_);
    return posts_;
  }
  std::thread::id id() const { return thread_.get_id(); }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      changed_.wait(lock, [this] { return stopping_ || (!held_ && !work_.empty()); });
      if (work_.empty() && stopping_) {
        return;
      }
      auto work = std::move(work_.front());
      work_.erase(work_.begin());
      lock.unlock();
      work();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::function<void()>> work_;
  int posts_ = 0;
  bool held_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

// Counts its runs and the threads it ran on.
class ThreadTask : public CountingTask {
 public:
  using CountingTask::CountingTask;
  std::optional<Clock::time_point> Run(Clock::time_point now) override {
    {
      std::lock_guard lock(mu_);
      threads_.insert(std::this_thread::get_id());
    }
    return CountingTask::Run(now);
  }
  std::set<std::thread::id> threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }

 private:
  std::mutex mu_;
  std::set<std::thread::id> threads_;
};

TEST(WatchPumpTest, ALanesTasksRunOnItsThreadInPassesOfAtMost128) {
  TestLoop loop;
  WatchPump pump;
  std::vector<std::shared_ptr<ThreadTask>> tasks;
  std::vector<uint64_t> ids;
  loop.Hold(true);
  for (int i = 0; i < 1000; ++i) {
    tasks.push_back(std::make_shared<ThreadTask>());
    ids.push_back(pump.NewId());
    pump.Add(ids.back(), tasks.back(), loop.Lane(7));
  }
  auto own = std::make_shared<ThreadTask>();
  pump.Add(pump.NewId(), own);  // no lane: the pump's thread
  // Added while the loop is busy: one pass is posted for all of them.
  EXPECT_EQ(loop.posts(), 1);
  loop.Hold(false);
  for (auto& task : tasks) {
    ASSERT_TRUE(task->WaitRuns(1));
  }
  // Run 128 at a time: each pass posts the next, 8 in all.
  EXPECT_EQ(loop.posts(), 8);
  // A write wakes every watcher while the loop is busy: one more pass
  // posted, and 8 run.
  loop.Hold(true);
  for (uint64_t id : ids) {
    pump.Wake(id);
  }
  EXPECT_EQ(loop.posts(), 9);
  loop.Hold(false);
  for (auto& task : tasks) {
    ASSERT_TRUE(task->WaitRuns(2));
    EXPECT_EQ(task->threads(), std::set<std::thread::id>{loop.id()});
  }
  EXPECT_EQ(loop.posts(), 16);
  ASSERT_TRUE(own->WaitRuns(1));
  ASSERT_EQ(own->threads().size(), 1U);
  EXPECT_NE(*own->threads().begin(), loop.id());
}

TEST(WatchPumpTest, ALanesDueTaskRunsThereAndAPassAfterThePumpIsGoneDoesNothing) {
  TestLoop loop;
  auto task = std::make_shared<ThreadTask>(milliseconds(50), 3);
  auto late = std::make_shared<ThreadTask>();
  {
    WatchPump pump;
    pump.Add(pump.NewId(), task, loop.Lane(9));
    // Due twice more without a wake-up, each time on the lane's thread.
    ASSERT_TRUE(task->WaitRuns(3));
    EXPECT_EQ(task->threads(), std::set<std::thread::id>{loop.id()});
    for (int i = 0; i < 100 && pump.size() != 0; ++i) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    EXPECT_EQ(pump.size(), 0U);  // over after its third run
    // A pass is posted to a held loop, and the pump goes first.
    loop.Hold(true);
    pump.Add(pump.NewId(), late, loop.Lane(9));
  }
  loop.Hold(false);
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(late->runs(), 0);
  EXPECT_EQ(late.use_count(), 1);
}

EventPtr MakeEvent(const std::string& key, const std::string& value) {
  auto event = std::make_shared<Event>();
  event->kv.key = key;
  event->kv.value = value;
  return event;
}

TEST(WatchEventCacheTest, AnEventIsRenderedOncePerType) {
  WatchEventCache cache;
  auto pods = std::make_shared<const ResourceType>();
  auto maps = std::make_shared<const ResourceType>();
  EventPtr event = MakeEvent("/a", "{}");
  int renders = 0;
  auto render = [&renders](const Event& e) {
    ++renders;
    WatchEventCache::Rendered r;
    r.json = e.kv.value + std::to_string(renders);
    return r;
  };
  auto first = cache.Get(event, pods, render);
  for (int watcher = 0; watcher < 999; ++watcher) {
    EXPECT_EQ(cache.Get(event, pods, render), first);
  }
  EXPECT_EQ(renders, 1);
  auto other = cache.Get(event, maps, render);
  EXPECT_EQ(renders, 2);
  EXPECT_NE(other->json, first->json);
  // Another event with the same text is another entry.
  cache.Get(MakeEvent("/a", "{}"), pods, render);
  EXPECT_EQ(renders, 3);
}

TEST(WatchEventCacheTest, OnlyTheNewestEntriesAreKept) {
  WatchEventCache cache(/*max_entries=*/4, /*max_bytes=*/1 << 20);
  auto type = std::make_shared<const ResourceType>();
  int renders = 0;
  auto render = [&renders](const Event&) {
    ++renders;
    return WatchEventCache::Rendered{};
  };
  std::vector<EventPtr> events;
  for (int i = 0; i < 5; ++i) {
    events.push_back(MakeEvent("/k" + std::to_string(i), "{}"));
    cache.Get(events.back(), type, render);
  }
  EXPECT_EQ(cache.size(), 4U);
  EXPECT_EQ(renders, 5);
  cache.Get(events[4], type, render);  // kept
  EXPECT_EQ(renders, 5);
  cache.Get(events[0], type, render);  // fell out: rendered again
  EXPECT_EQ(renders, 6);
}

TEST(WatchEventCacheTest, BytesAreBoundedAndTheNewestStaysEvenWhenLarge) {
  WatchEventCache cache(/*max_entries=*/1000, /*max_bytes=*/10000);
  auto type = std::make_shared<const ResourceType>();
  auto render = [](const Event& e) {
    WatchEventCache::Rendered r;
    r.json = e.kv.value;
    return r;
  };
  for (int i = 0; i < 100; ++i) {
    cache.Get(MakeEvent("/k" + std::to_string(i), std::string(1000, 'x')), type, render);
    EXPECT_LE(cache.bytes(), 10000U);
  }
  EXPECT_GE(cache.size(), 2U);
  EventPtr huge = MakeEvent("/huge", std::string(50000, 'y'));
  auto rendered = cache.Get(huge, type, render);
  EXPECT_EQ(cache.size(), 1U);
  EXPECT_EQ(rendered->json.size(), 50000U);
}

}  // namespace
}  // namespace bulkhead::controlplane
