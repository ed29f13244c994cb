#include "agent/api/budget_watch.h"

#include "fmt/format.h"

namespace bulkhead::agent::api {

void BudgetWatch::Observe(const std::vector<BudgetReport>& reports, Clock::time_point now) {
  for (const BudgetReport& report : reports) {
    if (!report.events) {
      continue;
    }
    const budgets::TenantEvents& counters = *report.events;
    Seen& seen = seen_[report.tenant];
    const std::string& tenant = report.tenant;
    if (counters.oom_kills > seen.counters.oom_kills) {
      uint64_t kills = counters.oom_kills - seen.counters.oom_kills;
      events_.Publish({EventKind::kOomKill, tenant,
                       fmt::format("{} process{} killed at the memory budget ({} in all)", kills,
                                   kills == 1 ? "" : "es", counters.oom_kills)});
    }
    if (counters.pids_refusals > seen.counters.pids_refusals) {
      uint64_t refused = counters.pids_refusals - seen.counters.pids_refusals;
      events_.Publish({EventKind::kPidsRefused, tenant,
                       fmt::format("{} fork{} refused at the pids budget ({} in all)", refused,
                                   refused == 1 ? "" : "s", counters.pids_refusals)});
    }
    if (counters.cpu_throttled_periods > seen.throttled_told &&
        (seen.throttled_told == 0 || now - seen.throttle_event_at >= throttle_interval_)) {
      uint64_t periods = counters.cpu_throttled_periods - seen.throttled_told;
      events_.Publish({EventKind::kCpuThrottled, tenant,
                       fmt::format("throttled in {} CPU periods at the CPU budget ({} in all)",
                                   periods, counters.cpu_throttled_periods)});
      seen.throttled_told = counters.cpu_throttled_periods;
      seen.throttle_event_at = now;
    }
    seen.counters = counters;
  }
}

}  // namespace bulkhead::agent::api
