// Per-pod ceilings under a kubelet: how a tenant budget is shared among the
// tenant's pods when they cannot sit below one parent cgroup.
//
// For each resource (CPU bandwidth, memory, pids) every pod has a demand: its
// own limit if it set one, else the budget's pod default, else unlimited.
// When the demands fit in the tenant total, each pod gets its demand. When
// they do not, the total is shared max-min fairly (water filling): there is
// one level L such that every pod gets min(demand, L) and the sum stays
// within the total. A pod never gets more than its own limit. The algorithm
// is written out in docs/budgets.md.
#ifndef BULKHEAD_AGENT_BUDGETS_CEILING_H_
#define BULKHEAD_AGENT_BUDGETS_CEILING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/budgets/budget.h"
#include "common/status.h"

namespace bulkhead::agent::budgets {

struct PodDemand {
  std::string uid;
  // The limits the pod set for itself (what the kubelet wrote into its cgroup);
  // unset = none. cpu_period_us is the pod cgroup's period, which the ceiling
  // keeps. cpu_weight is not used: weights stay as the kubelet set them.
  Limits own;
};

struct PodCeiling {
  std::string uid;
  // What the pod may use: never more than `own`, and together with the other
  // pods' ceilings within the tenant total. cpu_period_us is the pod's.
  Limits ceiling;
  bool operator==(const PodCeiling&) const = default;
};

// Shares `total` among `demands` max-min fairly; every result is at most its
// demand and the results sum to at most `total`. An unset demand is
// unlimited; an unset total leaves every demand as it is.
std::vector<std::optional<int64_t>> ShareMaxMinFair(
    const std::vector<std::optional<int64_t>>& demands, std::optional<int64_t> total);

// The ceilings of a tenant's pods, in the order of `pods`. Memory ceilings
// are rounded down to `page_size` (the kernel rounds limits down to pages, so
// what is written reads back the same). RESOURCE_EXHAUSTED when the budget
// cannot give every pod at least the minimum of a resource (kMinCpuQuotaUs,
// kMinMemoryBytes, kMinPids): too many pods for the budget.
StatusOr<std::vector<PodCeiling>> ComputeCeilings(const TenantBudget& budget,
                                                  const std::vector<PodDemand>& pods,
                                                  int64_t page_size = 4096);

}  // namespace bulkhead::agent::budgets

#endif  // BULKHEAD_AGENT_BUDGETS_CEILING_H_
