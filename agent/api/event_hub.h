// Agent events (a policy applied, bounds or a budget set, a change refused,
// the source changed, and what the kernel did to hold a tenant to its
// budget: OOM kills, forks refused, CPU throttled) fanned out to StreamEvents clients and counted
// per tenant and kind for the metrics.
#ifndef BULKHEAD_AGENT_API_EVENT_HUB_H_
#define BULKHEAD_AGENT_API_EVENT_HUB_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace bulkhead::agent::api {

enum class EventKind {
  kPolicyApplied,
  kBoundsSet,
  kBudgetSet,
  kRefused,
  kSourceChanged,
  kOomKill,
  kPidsRefused,
  kCpuThrottled,
};

std::string_view EventKindName(EventKind kind);

struct AgentEvent {
  EventKind kind = EventKind::kPolicyApplied;
  std::string tenant;  // empty: the whole node
  std::string message;
  std::chrono::system_clock::time_point time = std::chrono::system_clock::now();
};

class EventHub {
 public:
  using Listener = std::function<void(const AgentEvent&)>;

  // Listeners run on the publisher's thread with no hub lock held, so a
  // listener may call the hub; they must only queue. A listener may still
  // run once for an event published while Unsubscribe ran, so it must stay
  // safe to call after the stream it feeds is over.
  void Publish(const AgentEvent& event);
  std::uint64_t Subscribe(Listener listener);
  void Unsubscribe(std::uint64_t id);

  // Events so far per (tenant, kind).
  [[nodiscard]] std::map<std::pair<std::string, EventKind>, std::uint64_t> Counts() const;

 private:
  mutable std::mutex mutex_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::shared_ptr<const Listener>> listeners_;
  std::map<std::pair<std::string, EventKind>, std::uint64_t> counts_;
};

}  // namespace bulkhead::agent::api

#endif  // BULKHEAD_AGENT_API_EVENT_HUB_H_
