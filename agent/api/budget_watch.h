// Turns the kernel's budget counters into agent events. Observe() is given
// each tenant's counters every few seconds; when OOM kills or refused forks
// grew, one event says by how much; CPU throttling, which a tenant at its
// CPU budget meets all the time, gives at most one event per tenant per
// `throttle_interval`. Counters start at zero when the agent starts
// managing a tenant, so a restarted agent tells once more what the
// tenant's cgroups counted before (the message gives the total).
#ifndef BULKHEAD_AGENT_API_BUDGET_WATCH_H_
#define BULKHEAD_AGENT_API_BUDGET_WATCH_H_

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "agent/api/event_hub.h"
#include "agent/api/tenant_registry.h"
#include "agent/budgets/events.h"

namespace bulkhead::agent::api {

class BudgetWatch {
 public:
  using Clock = std::chrono::steady_clock;

  explicit BudgetWatch(EventHub& events,
                       std::chrono::seconds throttle_interval = std::chrono::seconds(60))
      : events_(events), throttle_interval_(throttle_interval) {}

  void Observe(const std::vector<BudgetReport>& reports, Clock::time_point now = Clock::now());

 private:
  struct Seen {
    budgets::TenantEvents counters;
    // Throttled periods already told in an event, and when.
    uint64_t throttled_told = 0;
    Clock::time_point throttle_event_at{};
  };

  EventHub& events_;
  const std::chrono::seconds throttle_interval_;
  std::map<std::string, Seen> seen_;
};

}  // namespace bulkhead::agent::api

#endif  // BULKHEAD_AGENT_API_BUDGET_WATCH_H_
