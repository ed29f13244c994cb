#include "controlplane/apiserver/watch_event_cache.h"

namespace bulkhead::controlplane {

WatchEventCache::WatchEventCache(size_t max_entries, size_t max_bytes)
    : max_entries_(std::max<size_t>(max_entries, 1)), max_bytes_(max_bytes) {}

WatchEventCache::RenderedPtr WatchEventCache::Get(const EventPtr& event,
                                                  const ResourceTypePtr& type,
                                                  const Render& render) {
  Key key(event.get(), type.get());
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(key); it != entries_.end()) {
    return it->second.rendered;
  }
  auto rendered = std::make_shared<const Rendered>(render(*event));
  // The parsed object takes about as much again as its text.
  size_t bytes = event->kv.key.size() + event->kv.value.size() + 2 * rendered->json.size();
  entries_.emplace(key, Entry{event, type, rendered, bytes});
  order_.push_back(key);
  bytes_ += bytes;
  EvictLocked();
  return rendered;
}

void WatchEventCache::EvictLocked() {
  // The newest entry stays even when it alone is over the byte bound.
  while (order_.size() > 1 && (order_.size() > max_entries_ || bytes_ > max_bytes_)) {
    auto it = entries_.find(order_.front());
    order_.pop_front();
    if (it != entries_.end()) {
      bytes_ -= it->second.bytes;
      entries_.erase(it);
    }
  }
}

size_t WatchEventCache::size() {
  std::lock_guard lock(mu_);
  return entries_.size();
}

size_t WatchEventCache::bytes() {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace bulkhead::controlplane
