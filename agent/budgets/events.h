// Budget events per tenant: OOM kills, CPU throttling, forks refused by a
// pids limit. Read from the kernel's own counters; the agent's metrics and
// gRPC services consume them through TenantEventSource.
//
//   counter            cgroup v1                        cgroup v2
//   OOM kills          memory.oom_control "oom_kill"    memory.events.local "oom_kill"
//   throttled periods  cpu.stat "nr_throttled"          cpu.stat "nr_throttled"
//   throttled time     cpu.stat "throttled_time" (ns)   cpu.stat "throttled_usec"
//   pids refusals      pids.events "max"                pids.events.local "max"
//
// Each counter is read where the kernel counts it once (in the cgroup of
// the OOM victim, of the throttled bandwidth, of the pids limit hit) and
// summed over the top cgroup and every cgroup below it. (v1 counts these
// locally; v2 adds OOM kills, and on Linux 6.13+ pids refusals, to every
// ancestor too, so v2 reads the ".local" files; without them, the top
// cgroup's hierarchical file is read alone.)
#ifndef BULKHEAD_AGENT_BUDGETS_EVENTS_H_
#define BULKHEAD_AGENT_BUDGETS_EVENTS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/budgets/cgroup_place.h"
#include "common/status.h"

namespace bulkhead::agent::budgets {

struct TenantEvents {
  uint64_t oom_kills = 0;              // processes killed for the memory limit
  uint64_t cpu_throttled_periods = 0;  // CFS periods a cgroup of the tenant spent throttled
  uint64_t cpu_throttled_usec = 0;     // time spent throttled
  uint64_t pids_refusals = 0;          // fork/clone calls refused by a pids limit

  TenantEvents& operator+=(const TenantEvents& other);
  bool operator==(const TenantEvents&) const = default;
};

// What a tenant's cgroups report; implemented by TenantCgroups (the agent
// places the pods) and KubeletBudgets (a kubelet places them).
class TenantEventSource {
 public:
  virtual ~TenantEventSource() = default;
  // Counters since the agent began managing the tenant on this node. They
  // never go down: the counts of pods that are gone are kept. NOT_FOUND for
  // a tenant without a budget here.
  virtual StatusOr<TenantEvents> Events(std::string_view tenant) = 0;
  // The tenants with a budget on this node.
  [[nodiscard]] virtual std::vector<std::string> Tenants() const = 0;
};

// Parsers for the kernel's text (exposed for unit tests).
// `version` is the cgroup version of the file's controller (1 or 2).
StatusOr<uint64_t> ParseOomKills(int version, std::string_view text);
// {throttled periods, throttled microseconds}.
StatusOr<std::pair<uint64_t, uint64_t>> ParseThrottling(int version, std::string_view cpu_stat);
StatusOr<uint64_t> ParsePidsRefusals(std::string_view pids_events);

// The counters of the cgroup at `place` and the cgroups below it, for the
// controllers `place` holds (memory, cpu, pids). NOT_FOUND when it is gone.
StatusOr<TenantEvents> ReadCgroupEvents(const CgroupPlace& place);

}  // namespace bulkhead::agent::budgets

#endif  // BULKHEAD_AGENT_BUDGETS_EVENTS_H_
