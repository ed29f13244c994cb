#include "agent/api/flow_hub.h"

#include <algorithm>

namespace bulkhead::agent::api {

bool FlowSubscription::Offer(const netpol::FlowRecord& record) {
  std::scoped_lock lock(mutex_);
  if (queue_.size() >= kMaxQueued) {
    ++dropped_;
    return false;
  }
  queue_.push_back(record);
  return queue_.size() == 1;
}

std::vector<netpol::FlowRecord> FlowSubscription::Take() {
  std::scoped_lock lock(mutex_);
  std::vector<netpol::FlowRecord> out(std::make_move_iterator(queue_.begin()),
                                      std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

std::uint64_t FlowSubscription::dropped() const {
  std::scoped_lock lock(mutex_);
  return dropped_;
}

const std::string& FlowHub::ChargedTenant(const netpol::FlowRecord& record) {
  return record.src_tenant.empty() ? record.dst_tenant : record.src_tenant;
}

void FlowHub::EvictOldestOf(const std::string& tenant) {
  auto it = by_tenant_.find(tenant);
  if (it == by_tenant_.end() || it->second.empty()) {
    return;
  }
  sizes_.erase({it->second.size(), tenant});
  it->second.pop_front();
  --kept_;
  ++evicted_;
  ++evicted_by_tenant_[tenant];
  if (it->second.empty()) {
    by_tenant_.erase(it);
  } else {
    sizes_.emplace(it->second.size(), tenant);
  }
}

void FlowHub::Publish(const netpol::FlowRecord& record) {
  std::vector<std::shared_ptr<FlowSubscription>> to_wake;
  {
    std::scoped_lock lock(mutex_);
    const std::string& tenant = ChargedTenant(record);
    auto existing = by_tenant_.find(tenant);
    if (existing != by_tenant_.end() && existing->second.size() >= per_tenant_) {
      EvictOldestOf(tenant);
    } else if (kept_ >= capacity_ && !sizes_.empty()) {
      // The largest holder pays; ties go to the last name, which is stable.
      std::string largest = sizes_.rbegin()->second;
      EvictOldestOf(largest);
    }
    std::deque<Kept>& kept = by_tenant_[tenant];
    if (!kept.empty()) {
      sizes_.erase({kept.size(), tenant});
    }
    kept.push_back({next_seq_++, record});
    sizes_.emplace(kept.size(), tenant);
    ++kept_;
    for (const auto& subscription : subscriptions_) {
      if (subscription->filter().Matches(record) && subscription->Offer(record)) {
        to_wake.push_back(subscription);
      }
    }
  }
  for (const auto& subscription : to_wake) {
    subscription->wake_(subscription);
  }
}

std::vector<netpol::FlowRecord> FlowHub::RecentLocked(const netpol::FlowFilter& filter,
                                                      size_t limit) const {
  std::vector<const Kept*> matches;
  for (const auto& [tenant, kept] : by_tenant_) {
    for (const Kept& k : kept) {
      if (filter.Matches(k.record)) {
        matches.push_back(&k);
      }
    }
  }
  std::sort(matches.begin(), matches.end(),
            [](const Kept* a, const Kept* b) { return a->seq < b->seq; });
  size_t skip = limit != 0 && matches.size() > limit ? matches.size() - limit : 0;
  std::vector<netpol::FlowRecord> out;
  out.reserve(matches.size() - skip);
  for (size_t i = skip; i < matches.size(); ++i) {
    out.push_back(matches[i]->record);
  }
  return out;
}

std::vector<netpol::FlowRecord> FlowHub::Recent(const netpol::FlowFilter& filter,
                                                size_t limit) const {
  std::scoped_lock lock(mutex_);
  return RecentLocked(filter, limit);
}

std::shared_ptr<FlowSubscription> FlowHub::Subscribe(const netpol::FlowFilter& filter, size_t limit,
                                                     FlowSubscription::Wake wake,
                                                     std::vector<netpol::FlowRecord>& history) {
  auto subscription = std::make_shared<FlowSubscription>(filter, std::move(wake));
  std::scoped_lock lock(mutex_);
  history = RecentLocked(filter, limit);
  subscriptions_.insert(subscription);
  return subscription;
}

void FlowHub::Unsubscribe(const std::shared_ptr<FlowSubscription>& subscription) {
  std::scoped_lock lock(mutex_);
  subscriptions_.erase(subscription);
}

std::uint64_t FlowHub::evicted() const {
  std::scoped_lock lock(mutex_);
  return evicted_;
}

std::map<std::string, std::uint64_t> FlowHub::EvictedByTenant() const {
  std::scoped_lock lock(mutex_);
  return evicted_by_tenant_;
}

size_t FlowHub::subscriptions() const {
  std::scoped_lock lock(mutex_);
  return subscriptions_.size();
}

}  // namespace bulkhead::agent::api
