#include "agent/api/flow_hub.h"

#include <algorithm>

namespace bulkhead::agent::api {

void FlowHub::Publish(const netpol::FlowRecord& record) {
  std::scoped_lock lock(mutex_);
  records_.push_back(record);
  if (records_.size() > capacity_) {
    records_.pop_front();
    ++evicted_;
  }
  for (const auto& [id, entry] : listeners_) {
    if (entry.first.Matches(record)) {
      entry.second(record);
    }
  }
}

std::vector<netpol::FlowRecord> FlowHub::RecentLocked(const netpol::FlowFilter& filter,
                                                      size_t limit) const {
  std::vector<netpol::FlowRecord> out;
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
    if (limit != 0 && out.size() >= limit) {
      break;
    }
    if (filter.Matches(*it)) {
      out.push_back(*it);
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<netpol::FlowRecord> FlowHub::Recent(const netpol::FlowFilter& filter,
                                                size_t limit) const {
  std::scoped_lock lock(mutex_);
  return RecentLocked(filter, limit);
}

std::uint64_t FlowHub::Subscribe(const netpol::FlowFilter& filter, size_t limit, Listener listener,
                                 std::vector<netpol::FlowRecord>& history) {
  std::scoped_lock lock(mutex_);
  history = RecentLocked(filter, limit);
  std::uint64_t id = next_id_++;
  listeners_.emplace(id, std::make_pair(filter, std::move(listener)));
  return id;
}

void FlowHub::Unsubscribe(std::uint64_t id) {
  std::scoped_lock lock(mutex_);
  listeners_.erase(id);
}

std::uint64_t FlowHub::evicted() const {
  std::scoped_lock lock(mutex_);
  return evicted_;
}

}  // namespace bulkhead::agent::api
