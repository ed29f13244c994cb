// What a tenant's cgroups use right now: CPU time, memory and processes.
//
//   usage     cgroup v1                              cgroup v2
//   cpu       cpuacct.usage (ns; cpuacct or cpu dir)  cpu.stat "usage_usec"
//   memory    memory.usage_in_bytes                   memory.current
//   pids      pids.current                            pids.current
//
// Each of these counts the cgroup and every cgroup below it (v1 memory is
// always hierarchical on the kernels the agent supports), so one read at
// the top says what the whole subtree uses.
#ifndef BULKHEAD_AGENT_BUDGETS_USAGE_H_
#define BULKHEAD_AGENT_BUDGETS_USAGE_H_

#include <cstdint>

#include "agent/budgets/cgroup_place.h"
#include "common/status.h"

namespace bulkhead::agent::budgets {

struct TenantUsage {
  uint64_t cpu_usec = 0;      // CPU time used since the cgroups were made
  uint64_t memory_bytes = 0;  // memory charged now (page cache included)
  uint64_t pids = 0;          // processes and threads now

  TenantUsage& operator+=(const TenantUsage& other);
  bool operator==(const TenantUsage&) const = default;
};

// The usage of the cgroup at `place` and everything below it, for the
// controllers `place` holds (cpu or cpuacct, memory, pids). NOT_FOUND when
// the cgroup is gone.
StatusOr<TenantUsage> ReadCgroupUsage(const CgroupPlace& place);

}  // namespace bulkhead::agent::budgets

#endif  // BULKHEAD_AGENT_BUDGETS_USAGE_H_
