#include "agent/budgets/ceiling.h"

#include <algorithm>
#include <numeric>

#include "fmt/format.h"

namespace bulkhead::agent::budgets {
namespace {

Status TooManyPods(std::string_view resource, size_t pods, int64_t total, int64_t share,
                   int64_t minimum) {
  return absl::ResourceExhaustedError(fmt::format(
      "tenant total {} {} cannot give {} pods at least {} each (fair share {}); raise the "
      "tenant's budget or run fewer of its pods on this node",
      resource, total, pods, minimum, share));
}

}  // namespace

std::vector<std::optional<int64_t>> ShareMaxMinFair(
    const std::vector<std::optional<int64_t>>& demands, std::optional<int64_t> total) {
  std::vector<std::optional<int64_t>> shares = demands;
  if (!total) {
    return shares;
  }
  // Visit the demands from the smallest up (unset = unlimited = last): each
  // one either fits in an equal split of what is left, or the split is the
  // level every remaining pod gets.
  std::vector<size_t> order(demands.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return demands[a].has_value() && (!demands[b].has_value() || *demands[a] < *demands[b]);
  });
  int64_t remaining = std::max<int64_t>(*total, 0);
  for (size_t k = 0; k < order.size(); ++k) {
    int64_t split = remaining / static_cast<int64_t>(order.size() - k);
    const std::optional<int64_t>& demand = demands[order[k]];
    if (demand && *demand <= split) {
      remaining -= *demand;
      continue;
    }
    for (size_t rest = k; rest < order.size(); ++rest) {
      shares[order[rest]] = split;
    }
    break;
  }
  return shares;
}

StatusOr<std::vector<PodCeiling>> ComputeCeilings(const TenantBudget& budget,
                                                  const std::vector<PodDemand>& pods,
                                                  int64_t page_size) {
  const Limits& total = budget.total;
  const Limits& fallback = budget.pod_default;
  const size_t n = pods.size();
  std::vector<PodCeiling> ceilings(n);

  // CPU: demands in each pod's own period, compared in the budget's period.
  std::vector<std::optional<int64_t>> cpu_demand(n);
  std::vector<std::optional<int64_t>> cpu_demand_in_budget(n);
  for (size_t i = 0; i < n; ++i) {
    const Limits& own = pods[i].own;
    if (own.cpu_quota_us) {
      cpu_demand[i] = own.cpu_quota_us;
    } else if (fallback.cpu_quota_us) {
      cpu_demand[i] = *fallback.cpu_quota_us * own.cpu_period_us / fallback.cpu_period_us;
    }
    if (cpu_demand[i]) {
      cpu_demand_in_budget[i] = *cpu_demand[i] * total.cpu_period_us / own.cpu_period_us;
    }
  }
  std::vector<std::optional<int64_t>> cpu_share =
      ShareMaxMinFair(cpu_demand_in_budget, total.cpu_quota_us);
  // Memory and pids: demands are the pod's own limit or the default.
  std::vector<std::optional<int64_t>> memory_demand(n);
  std::vector<std::optional<int64_t>> pids_demand(n);
  for (size_t i = 0; i < n; ++i) {
    memory_demand[i] = pods[i].own.memory_bytes ? pods[i].own.memory_bytes : fallback.memory_bytes;
    pids_demand[i] = pods[i].own.pids ? pods[i].own.pids : fallback.pids;
  }
  std::vector<std::optional<int64_t>> memory_share =
      ShareMaxMinFair(memory_demand, total.memory_bytes);
  std::vector<std::optional<int64_t>> pids_share = ShareMaxMinFair(pids_demand, total.pids);

  for (size_t i = 0; i < n; ++i) {
    PodCeiling& out = ceilings[i];
    out.uid = pods[i].uid;
    out.ceiling.cpu_period_us = pods[i].own.cpu_period_us;
    out.ceiling.cpu_weight = pods[i].own.cpu_weight;

    if (cpu_share[i] == cpu_demand_in_budget[i]) {
      out.ceiling.cpu_quota_us = cpu_demand[i];
    } else {
      int64_t quota = *cpu_share[i] * pods[i].own.cpu_period_us / total.cpu_period_us;
      if (quota < kMinCpuQuotaUs) {
        return TooManyPods("cpu quota (us per period)", n, *total.cpu_quota_us, *cpu_share[i],
                           kMinCpuQuotaUs);
      }
      out.ceiling.cpu_quota_us = cpu_demand[i] ? std::min(quota, *cpu_demand[i]) : quota;
    }

    if (memory_share[i]) {
      int64_t memory = *memory_share[i] / page_size * page_size;
      if (memory_share[i] != memory_demand[i] && memory < kMinMemoryBytes) {
        return TooManyPods("memory (bytes)", n, *total.memory_bytes, memory, kMinMemoryBytes);
      }
      out.ceiling.memory_bytes = memory;
    }

    if (pids_share[i]) {
      if (pids_share[i] != pids_demand[i] && *pids_share[i] < kMinPids) {
        return TooManyPods("pids", n, *total.pids, *pids_share[i], kMinPids);
      }
      out.ceiling.pids = pids_share[i];
    }
  }
  return ceilings;
}

}  // namespace bulkhead::agent::budgets
