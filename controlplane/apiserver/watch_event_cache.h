// The objects of recent store events as watchers see them, parsed and
// serialised once for every watcher of the same resource type instead of
// once per watcher: with a thousand watchers of one collection, one write
// costs one parse and one serialisation.
//
// Entries are kept for the most recent events only, bounded in number and in
// bytes (each entry pins its event); an event that fell out is rendered again.
// Thread-safe; a render runs under the cache's lock, so two watchers never
// render the same event twice.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_WATCH_EVENT_CACHE_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_WATCH_EVENT_CACHE_H_

#include <boost/json.hpp>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "controlplane/apiserver/resource_registry.h"
#include "controlplane/store/store.h"

namespace bulkhead::controlplane {

class WatchEventCache {
 public:
  struct Rendered {
    std::optional<boost::json::object> object;  // nothing: the value is unreadable
    std::string json;                           // the object serialised
  };
  using RenderedPtr = std::shared_ptr<const Rendered>;
  using Render = std::function<Rendered(const Event& event)>;

  explicit WatchEventCache(size_t max_entries = 4096, size_t max_bytes = size_t{32} << 20);

  // `event` as served for `type`, rendered by `render` unless it is cached.
  RenderedPtr Get(const EventPtr& event, const ResourceTypePtr& type, const Render& render);

  size_t size();
  size_t bytes();

 private:
  using Key = std::pair<const Event*, const ResourceType*>;
  struct Entry {
    EventPtr event;  // keeps the key's pointers valid
    ResourceTypePtr type;
    RenderedPtr rendered;
    size_t bytes = 0;
  };
  void EvictLocked();

  const size_t max_entries_;
  const size_t max_bytes_;
  std::mutex mu_;
  std::map<Key, Entry> entries_;
  std::deque<Key> order_;  // oldest first
  size_t bytes_ = 0;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_WATCH_EVENT_CACHE_H_
