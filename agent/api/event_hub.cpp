#include "agent/api/event_hub.h"

#include <vector>

namespace bulkhead::agent::api {

std::string_view EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kPolicyApplied:
      return "policy-applied";
    case EventKind::kBoundsSet:
      return "bounds-set";
    case EventKind::kBudgetSet:
      return "budget-set";
    case EventKind::kRefused:
      return "refused";
    case EventKind::kSourceChanged:
      return "source-changed";
    case EventKind::kOomKill:
      return "oom-kill";
    case EventKind::kPidsRefused:
      return "pids-refused";
    case EventKind::kCpuThrottled:
      return "cpu-throttled";
  }
  return "unknown";
}

void EventHub::Publish(const AgentEvent& event) {
  std::vector<std::shared_ptr<const Listener>> listeners;
  {
    std::scoped_lock lock(mutex_);
    ++counts_[{event.tenant, event.kind}];
    listeners.reserve(listeners_.size());
    for (const auto& [id, listener] : listeners_) {
      listeners.push_back(listener);
    }
  }
  for (const auto& listener : listeners) {
    (*listener)(event);
  }
}

std::uint64_t EventHub::Subscribe(Listener listener) {
  std::scoped_lock lock(mutex_);
  std::uint64_t id = next_id_++;
  listeners_.emplace(id, std::make_shared<const Listener>(std::move(listener)));
  return id;
}

void EventHub::Unsubscribe(std::uint64_t id) {
  std::scoped_lock lock(mutex_);
  listeners_.erase(id);
}

std::map<std::pair<std::string, EventKind>, std::uint64_t> EventHub::Counts() const {
  std::scoped_lock lock(mutex_);
  return counts_;
}

}  // namespace bulkhead::agent::api
