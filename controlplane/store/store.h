// The storage interface of a virtual control plane: a key-value store with a
// global revision, like etcd v3. Every change gets the next revision; that
// revision is the Kubernetes resourceVersion of the object it wrote. The
// SQLite store (sqlite_store.h) implements it; an etcd v3 store will too.
//
// Errors: NOT_FOUND (no such key), ALREADY_EXISTS (create of an existing
// key), ABORTED (the key changed since the expected revision), OUT_OF_RANGE
// (a revision older than the last compaction: Kubernetes' 410 Gone),
// RESOURCE_EXHAUSTED (the store's disk is full: the write is refused; reads
// go on, and deletes commit from space the store keeps in reserve).
#ifndef BULKHEAD_CONTROLPLANE_STORE_STORE_H_
#define BULKHEAD_CONTROLPLANE_STORE_STORE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace bulkhead::controlplane {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
};

enum class EventType { kPut, kDelete };

// A change. For a put, `kv` is the new value (create_revision ==
// mod_revision means it was created). For a delete, `kv.value` is the last
// value and `kv.mod_revision` the revision of the delete.
struct Event {
  EventType type = EventType::kPut;
  KeyValue kv;
};

// Events are shared by every watcher that gets them, never copied per watcher.
using EventPtr = std::shared_ptr<const Event>;

struct ListResult {
  std::vector<KeyValue> items;
  int64_t revision = 0;  // the store revision the list was read at
  bool more = false;     // items remain after the last one returned
};

// Makes the value to store once the revision it will be stored at is known,
// so an object can carry its own resourceVersion. Called under the store's
// write lock; an error aborts the write.
using RenderValue =
    std::function<StatusOr<std::string>(int64_t mod_revision, int64_t create_revision)>;

// Events after a revision, in revision order, for keys under a prefix.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // Waits until `deadline` for events. Empty when none came in time.
  // RESOURCE_EXHAUSTED when the watcher fell too far behind (it must
  // re-list), CANCELLED when the store closed.
  // OUT_OF_RANGE when history the watcher still had to read was compacted.
  // UNAVAILABLE when a page of the backlog could not be read now (every
  // reader busy): nothing is lost, call again a little later.
  virtual StatusOr<std::vector<EventPtr>> Next(std::chrono::steady_clock::time_point deadline) = 0;
  // Asks for `notify` to be called whenever Next would return at once
  // (events, overflow, close), so a watcher needs no thread waiting in Next:
  // it calls Next with a past deadline when told. `notify` runs on the
  // publishing thread under the store's locks: it must only signal, never
  // block or call back into the stream. Set once, before the first Next;
  // called at once when events are already waiting. A stream that cannot
  // notify returns false (the caller then polls).
  virtual bool SetNotify(const std::function<void()>& notify) {
    (void)notify;
    return false;
  }
  // True once the watcher fell too far behind (Next then gives
  // RESOURCE_EXHAUSTED); lets a watcher whose client reads nothing be ended
  // without taking any more events.
  [[nodiscard]] virtual bool FellBehind() const = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual StatusOr<std::optional<KeyValue>> Get(std::string_view key) = 0;

  // Keys under `prefix` greater than `start_after`, in key order, at most
  // `limit` (0: all). `revision` 0 reads the newest state; otherwise the
  // state at that revision (OUT_OF_RANGE once compacted).
  virtual StatusOr<ListResult> List(std::string_view prefix, std::string_view start_after,
                                    size_t limit, int64_t revision) = 0;

  // Number of keys under `prefix` now.
  virtual StatusOr<int64_t> Count(std::string_view prefix) = 0;

  virtual StatusOr<KeyValue> Create(std::string_view key, const RenderValue& render) = 0;

  // Replaces the value when the key's mod_revision is `expected_revision`
  // (0: whatever it is).
  virtual StatusOr<KeyValue> Update(std::string_view key, int64_t expected_revision,
                                    const RenderValue& render) = 0;

  // Removes the key (same precondition as Update). Returns the last value
  // with mod_revision set to the revision of the delete.
  virtual StatusOr<KeyValue> Delete(std::string_view key, int64_t expected_revision) = 0;

  // The newest revision, and the revision up to which history is gone.
  virtual int64_t Revision() = 0;
  virtual int64_t CompactedRevision() = 0;

  // Forgets history at and before `revision`: superseded values and deletes.
  virtual Status Compact(int64_t revision) = 0;

  // Events on keys under `prefix` with revision greater than
  // `after_revision`. OUT_OF_RANGE when that history is compacted.
  virtual StatusOr<std::unique_ptr<WatchStream>> Watch(std::string_view prefix,
                                                       int64_t after_revision) = 0;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_STORE_STORE_H_
