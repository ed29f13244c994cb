// The SQLite store: revisions, optimistic concurrency, lists at a revision,
// pagination, compaction and watches (including 410-style OUT_OF_RANGE).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/store/reader_pool.h"
#include "controlplane/store/sqlite_store.h"

namespace bulkhead::controlplane {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "bh-store-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen(SqliteStoreOptions options = {}) {
    store_.reset();
    auto store = SqliteStore::Open(dir_ + "/state.db", options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
  }
  static RenderValue Value(const std::string& text) {
    return [text](int64_t rev, int64_t) -> StatusOr<std::string> {
      return text + "@" + std::to_string(rev);
    };
  }
  KeyValue MustCreate(const std::string& key, const std::string& text) {
    auto kv = store_->Create(key, Value(text));
    EXPECT_TRUE(kv.ok()) << kv.status();
    return kv.ok() ? *kv : KeyValue{};
  }

  // Events from `watch` until `count` came or five seconds passed.
  static std::vector<EventPtr> NextEvents(WatchStream& watch, size_t count) {
    std::vector<EventPtr> seen;
    auto deadline = steady_clock::now() + std::chrono::seconds(5);
    while (seen.size() < count && steady_clock::now() < deadline) {
      auto events = watch.Next(deadline);
      EXPECT_TRUE(events.ok()) << events.status();
      if (!events.ok()) {
        break;
      }
      seen.insert(seen.end(), events->begin(), events->end());
    }
    return seen;
  }

  std::string dir_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(StoreTest, RevisionsAreGlobalAndValuesSeeTheirRevision) {
  EXPECT_EQ(store_->Revision(), 0);
  auto a = MustCreate("/a/1", "x");
  auto b = MustCreate("/b/1", "y");
  EXPECT_EQ(a.mod_revision, 1);
  EXPECT_EQ(b.mod_revision, 2);
  EXPECT_EQ(a.value, "x@1");
  auto got = store_->Get("/a/1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, "x@1");
  EXPECT_EQ((*got)->create_revision, 1);
  auto updated = store_->Update("/a/1", 1, Value("z"));
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->mod_revision, 3);
  EXPECT_EQ(updated->create_revision, 1);
  EXPECT_EQ(store_->Revision(), 3);
}

// Writes that arrive while one commits are committed together, in one
// transaction, and each still gets its own answer: a duplicate or a failed
// render in the batch is refused alone, the others are written, revisions
// stay contiguous and every watcher sees each write once, in order.
TEST_F(StoreTest, ConcurrentWritesShareACommitAndEachGetsItsOwnAnswer) {
  Reopen(SqliteStoreOptions{.durability = Durability::kPowerLoss});
  MustCreate("/a/taken", "first");
  auto watch = store_->Watch("/a/", store_->Revision());
  ASSERT_TRUE(watch.ok()) << watch.status();
  const uint64_t commits_before = store_->commit_count();

  // The first writer holds the commit (its render waits) while the others queue.
  std::mutex mu;
  std::condition_variable released_cv;
  bool released = false;
  std::thread first([&] {
    auto kv = store_->Create("/a/first", [&](int64_t rev, int64_t) -> StatusOr<std::string> {
      std::unique_lock lock(mu);
      released_cv.wait(lock, [&] { return released; });
      return "first@" + std::to_string(rev);
    });
    EXPECT_TRUE(kv.ok()) << kv.status();
  });
  std::this_thread::sleep_for(milliseconds(100));  // the first holds the commit now
  constexpr int kWriters = 10;
  std::vector<StatusOr<KeyValue>> results(kWriters, absl::UnknownError("not run"));
  std::vector<std::thread> writers;
  writers.reserve(kWriters);
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      std::string key = "/a/k" + std::to_string(i);
      if (i == 3) {
        results[static_cast<size_t>(i)] = store_->Create("/a/taken", Value("again"));
      } else if (i == 6) {
        results[static_cast<size_t>(i)] =
            store_->Create(key, [](int64_t, int64_t) -> StatusOr<std::string> {
              return absl::InvalidArgumentError("refused by its render");
            });
      } else {
        results[static_cast<size_t>(i)] = store_->Create(key, Value("v" + std::to_string(i)));
      }
    });
  }
  std::this_thread::sleep_for(milliseconds(500));  // every writer is queued
  {
    std::lock_guard lock(mu);
    released = true;
  }
  released_cv.notify_all();
  first.join();
  for (auto& writer : writers) {
    writer.join();
  }
  // The first writer's commit and one for the ten that waited behind it.
  EXPECT_EQ(store_->commit_count() - commits_before, 2U);
  EXPECT_EQ(results[3].status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(results[6].status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<int64_t> revisions;
  for (int i = 0; i < kWriters; ++i) {
    if (i == 3 || i == 6) {
      continue;
    }
    ASSERT_TRUE(results[static_cast<size_t>(i)].ok()) << results[static_cast<size_t>(i)].status();
    const KeyValue& kv = *results[static_cast<size_t>(i)];
    EXPECT_EQ(kv.value, "v" + std::to_string(i) + "@" + std::to_string(kv.mod_revision));
    revisions.push_back(kv.mod_revision);
  }
  std::sort(revisions.begin(), revisions.end());
  for (size_t i = 1; i < revisions.size(); ++i) {
    EXPECT_EQ(revisions[i], revisions[i - 1] + 1);
  }
  // The watcher sees the first write and the eight, each once, in order.
  auto events = NextEvents(**watch, 9);
  ASSERT_EQ(events.size(), 9U);
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_EQ(events[i]->kv.mod_revision, events[i - 1]->kv.mod_revision + 1);
  }
  EXPECT_EQ(events.back()->kv.mod_revision, store_->Revision());
  // What was acknowledged is there after a restart; what was refused is not.
  Reopen();
  for (int i = 0; i < kWriters; ++i) {
    auto kv = store_->Get("/a/k" + std::to_string(i));
    ASSERT_TRUE(kv.ok()) << kv.status();
    EXPECT_EQ(kv->has_value(), i != 3 && i != 6) << i;
  }
  auto taken = store_->Get("/a/taken");
  ASSERT_TRUE(taken.ok() && taken->has_value());
  EXPECT_EQ((*taken)->value.substr(0, 6), "first@");
}

TEST_F(StoreTest, CreateTwiceIsAlreadyExists) {
  MustCreate("/a/1", "x");
  EXPECT_EQ(store_->Create("/a/1", Value("y")).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->Revision(), 1);
}

TEST_F(StoreTest, StaleRevisionIsAbortedAndNothingChanges) {
  MustCreate("/a/1", "x");
  ASSERT_TRUE(store_->Update("/a/1", 1, Value("y")).ok());
  EXPECT_EQ(store_->Update("/a/1", 1, Value("z")).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_->Delete("/a/1", 1).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ((*store_->Get("/a/1"))->value, "y@2");
  EXPECT_EQ(store_->Update("/nope", 0, Value("z")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, RenderErrorAbortsTheWrite) {
  auto failed = store_->Create("/a/1", [](int64_t, int64_t) -> StatusOr<std::string> {
    return absl::InvalidArgumentError("bad");
  });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Revision(), 0);
  EXPECT_FALSE(store_->Get("/a/1")->has_value());
}

TEST_F(StoreTest, ListByPrefixWithPagination) {
  for (int i = 0; i < 5; ++i) {
    MustCreate("/pods/ns/p" + std::to_string(i), "v");
  }
  MustCreate("/pods/nt/q", "v");
  MustCreate("/podsx/z", "v");
  auto page = store_->List("/pods/ns/", "", 2, 0);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->items.size(), 2U);
  EXPECT_TRUE(page->more);
  EXPECT_EQ(page->items[1].key, "/pods/ns/p1");
  EXPECT_EQ(page->revision, 7);
  auto rest = store_->List("/pods/ns/", page->items.back().key, 10, 0);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->items.size(), 3U);
  EXPECT_FALSE(rest->more);
  EXPECT_EQ(rest->items[0].key, "/pods/ns/p2");
  EXPECT_EQ(*store_->Count("/pods/"), 6);
}

TEST_F(StoreTest, ListAtAPastRevisionSeesThatState) {
  MustCreate("/k/a", "a1");
  MustCreate("/k/b", "b1");
  int64_t before = store_->Revision();
  ASSERT_TRUE(store_->Update("/k/a", 0, Value("a2")).ok());
  ASSERT_TRUE(store_->Delete("/k/b", 0).ok());
  MustCreate("/k/c", "c1");
  auto past = store_->List("/k/", "", 0, before);
  ASSERT_TRUE(past.ok()) << past.status();
  ASSERT_EQ(past->items.size(), 2U);
  EXPECT_EQ(past->items[0].value, "a1@1");
  EXPECT_EQ(past->items[1].key, "/k/b");
  EXPECT_EQ(past->revision, before);
  auto now = store_->List("/k/", "", 0, 0);
  ASSERT_EQ(now->items.size(), 2U);
  EXPECT_EQ(now->items[0].value, "a2@3");
  EXPECT_EQ(now->items[1].key, "/k/c");
}

TEST_F(StoreTest, CompactionKeepsCurrentStateAndRefusesOldRevisions) {
  MustCreate("/k/a", "a1");
  ASSERT_TRUE(store_->Update("/k/a", 0, Value("a2")).ok());
  MustCreate("/k/b", "b1");
  ASSERT_TRUE(store_->Delete("/k/b", 0).ok());
  int64_t compact_at = store_->Revision();
  MustCreate("/k/c", "c1");
  ASSERT_TRUE(store_->Compact(compact_at).ok());
  EXPECT_EQ(store_->CompactedRevision(), compact_at);
  EXPECT_EQ(store_->List("/k/", "", 0, 1).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(store_->Watch("/k/", 1).status().code(), absl::StatusCode::kOutOfRange);
  auto at = store_->List("/k/", "", 0, compact_at);
  ASSERT_TRUE(at.ok()) << at.status();
  ASSERT_EQ(at->items.size(), 1U);
  EXPECT_EQ(at->items[0].value, "a2@2");
  auto watch = store_->Watch("/k/", compact_at);
  ASSERT_TRUE(watch.ok()) << watch.status();
  auto events = (*watch)->Next(steady_clock::now() + milliseconds(100));
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1U);
  EXPECT_EQ((*events)[0]->kv.key, "/k/c");
  // Survives a restart: revision and compaction point are durable.
  int64_t revision = store_->Revision();
  Reopen();
  EXPECT_EQ(store_->Revision(), revision);
  EXPECT_EQ(store_->CompactedRevision(), compact_at);
  EXPECT_EQ(store_->Get("/k/a")->value().value, "a2@2");
}

TEST_F(StoreTest, CompactionOfEverythingKeepsTheRevision) {
  MustCreate("/k/a", "a1");
  ASSERT_TRUE(store_->Delete("/k/a", 0).ok());
  ASSERT_TRUE(store_->Compact(2).ok());
  Reopen();
  EXPECT_EQ(store_->Revision(), 2);
  EXPECT_EQ(MustCreate("/k/b", "b").mod_revision, 3);
}

TEST_F(StoreTest, WatchFromNowSeesPutsAndDeletesUnderItsPrefixOnly) {
  MustCreate("/k/a", "a1");
  auto watch = store_->Watch("/k/", store_->Revision());
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(store_->Update("/k/a", 0, Value("a2")).ok());
  MustCreate("/other/x", "x");
  ASSERT_TRUE(store_->Delete("/k/a", 0).ok());
  std::vector<EventPtr> seen;
  auto deadline = steady_clock::now() + std::chrono::seconds(5);
  while (seen.size() < 2 && steady_clock::now() < deadline) {
    auto events = (*watch)->Next(deadline);
    ASSERT_TRUE(events.ok());
    seen.insert(seen.end(), events->begin(), events->end());
  }
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[0]->type, EventType::kPut);
  EXPECT_EQ(seen[0]->kv.mod_revision, 2);
  EXPECT_EQ(seen[1]->type, EventType::kDelete);
  EXPECT_EQ(seen[1]->kv.value, "a2@2");
  EXPECT_EQ(seen[1]->kv.mod_revision, 4);
  auto none = (*watch)->Next(steady_clock::now() + milliseconds(20));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(StoreTest, AWatchNotifiesWhenEventsWaitSoNoThreadNeedsToWaitInNext) {
  MustCreate("/k/a", "a1");
  auto watch = store_->Watch("/k/", store_->Revision());
  ASSERT_TRUE(watch.ok());
  std::atomic<int> notified{0};
  ASSERT_TRUE((*watch)->SetNotify([&notified] { ++notified; }));
  EXPECT_EQ(notified, 0);  // nothing waits yet
  MustCreate("/other/x", "x");
  EXPECT_EQ(notified, 0);  // not under the prefix
  ASSERT_TRUE(store_->Update("/k/a", 0, Value("a2")).ok());
  ASSERT_TRUE(store_->Update("/k/a", 0, Value("a3")).ok());
  EXPECT_EQ(notified, 1);  // once until the queue is taken
  auto events = (*watch)->Next(steady_clock::now());
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 2U);
  ASSERT_TRUE(store_->Delete("/k/a", 0).ok());
  EXPECT_EQ(notified, 2);
  // Set on a stream with events waiting: told at once.
  auto late = store_->Watch("/k/", 1);
  ASSERT_TRUE(late.ok());
  std::atomic<int> late_notified{0};
  ASSERT_TRUE((*late)->SetNotify([&late_notified] { ++late_notified; }));
  EXPECT_EQ(late_notified, 1);
}

TEST_F(StoreTest, WatchFromAnOldRevisionReplaysTheLogAfterRestart) {
  MustCreate("/k/a", "a1");
  MustCreate("/k/b", "b1");
  ASSERT_TRUE(store_->Delete("/k/a", 0).ok());
  Reopen();  // the in-memory history is empty now
  auto watch = store_->Watch("/k/", 1);
  ASSERT_TRUE(watch.ok()) << watch.status();
  MustCreate("/k/c", "c1");
  std::vector<EventPtr> events = NextEvents(**watch, 3);
  ASSERT_EQ(events.size(), 3U);
  EXPECT_EQ(events[0]->kv.key, "/k/b");
  EXPECT_EQ(events[1]->type, EventType::kDelete);
  EXPECT_EQ(events[2]->kv.key, "/k/c");
}

TEST_F(StoreTest, SlowWatcherIsEndedNotBuffered) {
  SqliteStoreOptions options;
  options.watch_max_queue = 3;
  Reopen(options);
  auto watch = store_->Watch("/k/", 0);
  ASSERT_TRUE(watch.ok());
  for (int i = 0; i < 5; ++i) {
    MustCreate("/k/" + std::to_string(i), "v");
  }
  EXPECT_EQ((*watch)->Next(steady_clock::now()).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(StoreTest, AWatcherBehindByMoreThanItsBytesIsEndedOneBigEventPasses) {
  SqliteStoreOptions options;
  options.watch_max_queue_bytes = 1000;
  Reopen(options);
  auto watch = store_->Watch("/k/", store_->Revision());
  ASSERT_TRUE(watch.ok());
  // One value larger than the bound waits alone in an empty queue.
  MustCreate("/k/big", std::string(5000, 'b'));
  EXPECT_FALSE((*watch)->FellBehind());
  auto big = (*watch)->Next(steady_clock::now());
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(big->size(), 1U);
  // Under the bound: kept (each event counted once: two of 450 bytes fit in
  // 1000). Past it: the watcher fell behind.
  MustCreate("/k/a", std::string(450, 'a'));
  MustCreate("/k/b", std::string(450, 'b'));
  EXPECT_FALSE((*watch)->FellBehind());
  MustCreate("/k/c", std::string(200, 'c'));
  EXPECT_TRUE((*watch)->FellBehind());
  EXPECT_EQ((*watch)->Next(steady_clock::now()).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(StoreTest, DataSurvivesReopen) {
  MustCreate("/k/a", "a1");
  Reopen();
  auto got = store_->Get("/k/a");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, "a1@1");
  EXPECT_EQ(store_->watcher_count(), 0U);
}

}  // namespace
}  // namespace bulkhead::controlplane

namespace bulkhead::controlplane {
namespace {

TEST_F(StoreTest, AWatchOutlivingTheStoreIsCancelled) {
  auto watch = store_->Watch("/k/", 0);
  ASSERT_TRUE(watch.ok());
  store_.reset();
  auto events = (*watch)->Next(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  EXPECT_EQ(events.status().code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace bulkhead::controlplane

namespace bulkhead::controlplane {
namespace {

TEST_F(StoreTest, WatchersShareOneCopyOfEachEvent) {
  auto first = store_->Watch("/k/", 0);
  auto second = store_->Watch("/k/", 0);
  ASSERT_TRUE(first.ok() && second.ok());
  MustCreate("/k/a", std::string(4096, 'v'));
  auto a = NextEvents(**first, 1);
  auto b = NextEvents(**second, 1);
  ASSERT_EQ(a.size(), 1U);
  ASSERT_EQ(b.size(), 1U);
  EXPECT_EQ(a[0].get(), b[0].get());
}

TEST_F(StoreTest, BacklogIsServedInPagesAndWritesGoOnMeanwhile) {
  SqliteStoreOptions options;
  options.watch_history = 4;
  options.watch_backlog_page_bytes = 2048;
  Reopen(options);
  for (int i = 0; i < 200; ++i) {
    MustCreate("/k/" + std::to_string(i), std::string(100, 'v'));
    MustCreate("/other/" + std::to_string(i), "o");
  }
  auto watch = store_->Watch("/k/", 0);
  ASSERT_TRUE(watch.ok()) << watch.status();
  // One page, not the whole backlog.
  auto page = (*watch)->Next(steady_clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_GT(page->size(), 0U);
  EXPECT_LT(page->size(), 40U);
  // Writes are not held up by a watcher that has not read its backlog.
  MustCreate("/k/late", "l");
  std::vector<EventPtr> all(page->begin(), page->end());
  auto rest = NextEvents(**watch, 201 - all.size());
  all.insert(all.end(), rest.begin(), rest.end());
  ASSERT_EQ(all.size(), 201U);
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_LT(all[i - 1]->kv.mod_revision, all[i]->kv.mod_revision);
    EXPECT_EQ(all[i]->kv.key.rfind("/k/", 0), 0U) << all[i]->kv.key;
  }
  EXPECT_EQ(all.back()->kv.key, "/k/late");
}

// A second store on the same file compacts behind this one's back: the
// check before the read passes, the read itself must see the compaction.
class CompactionRaceTest : public StoreTest {
 protected:
  std::unique_ptr<SqliteStore> Other() {
    auto other = SqliteStore::Open(dir_ + "/state.db");
    EXPECT_TRUE(other.ok()) << other.status();
    return other.ok() ? std::move(other).value() : nullptr;
  }
};

TEST_F(CompactionRaceTest, ListAtACompactedRevisionIsOutOfRangeNeverIncomplete) {
  for (int i = 0; i < 5; ++i) {
    MustCreate("/k/" + std::to_string(i), "v");
  }
  const int64_t revision = store_->Revision();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->Update("/k/" + std::to_string(i), 0, Value("w")).ok());
  }
  auto other = Other();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->Compact(other->Revision()).ok());
  EXPECT_EQ(store_->CompactedRevision(), 0);  // this store has not seen it
  auto list = store_->List("/k/", "", 2, revision);
  EXPECT_EQ(list.status().code(), absl::StatusCode::kOutOfRange)
      << (list.ok() ? std::to_string(list->items.size()) + " items" : "");
}

TEST_F(CompactionRaceTest, WatchBacklogCompactedMeanwhileIsOutOfRange) {
  SqliteStoreOptions options;
  options.watch_history = 1;
  Reopen(options);
  for (int i = 0; i < 5; ++i) {
    MustCreate("/k/" + std::to_string(i), "v");
  }
  ASSERT_TRUE(store_->Delete("/k/0", 0).ok());
  auto watch = store_->Watch("/k/", 1);
  ASSERT_TRUE(watch.ok());
  auto other = Other();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->Compact(other->Revision()).ok());
  auto events = (*watch)->Next(steady_clock::now() + std::chrono::seconds(5));
  EXPECT_EQ(events.status().code(), absl::StatusCode::kOutOfRange);
}

TEST_F(StoreTest, ReaderConnectionsAreBoundedAndReused) {
  SqliteStoreOptions options;
  options.read_connections = 3;
  Reopen(options);
  for (int i = 0; i < 50; ++i) {
    MustCreate("/k/" + std::to_string(i), std::string(1000, 'v'));
  }
  std::vector<std::thread> readers;
  readers.reserve(16);
  for (int t = 0; t < 16; ++t) {
    readers.emplace_back([this] {
      for (int i = 0; i < 20; ++i) {
        EXPECT_TRUE(store_->List("/k/", "", 0, 0).ok());
        EXPECT_TRUE(store_->Get("/k/1").ok());
      }
    });
  }
  for (auto& reader : readers) {
    reader.join();
  }
  EXPECT_LE(store_->reader_count(), 3U);
  EXPECT_GE(store_->reader_count(), 1U);
}

TEST(ReaderPool, WaitsForAFreeConnectionInsteadOfOpeningMore) {
  std::string pattern = (std::filesystem::temp_directory_path() / "bh-pool-XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  {
    auto store = SqliteStore::Open(pattern + "/state.db");
    ASSERT_TRUE(store.ok());
    auto pool = ReaderPool::Create(pattern + "/state.db", 2);
    auto a = pool->Acquire();
    auto b = pool->Acquire();
    ASSERT_TRUE(a.ok() && b.ok());
    auto c = pool->Acquire(milliseconds(50));
    EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(pool->open_count(), 2U);
    std::thread give_back([lease = std::move(a).value()]() mutable {
      std::this_thread::sleep_for(milliseconds(20));
      auto returned = std::move(lease);
    });
    auto d = pool->Acquire(std::chrono::seconds(5));
    EXPECT_TRUE(d.ok()) << d.status();
    give_back.join();
    EXPECT_EQ(pool->open_count(), 2U);
  }
  std::filesystem::remove_all(pattern);
}

}  // namespace
}  // namespace bulkhead::controlplane
