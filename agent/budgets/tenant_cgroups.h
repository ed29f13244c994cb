// Budgets where the agent places the pods itself (single-machine mode, the
// local runtime, tests): each tenant is a parent cgroup and its pods are its
// children, so the kernel enforces the tenant's sum directly.
//
//   <hierarchy>/<root>/<tenant>          the tenant budget (total)
//   <hierarchy>/<root>/<tenant>/<pod>    the pod's own limits or the default
//
// on every hierarchy that holds cpu, memory and pids (and cpuacct on v1 for
// CPU accounting). <root> is "bulkhead" for the agent. Every change is all
// or nothing (write_plan.h): a refused value leaves the previous limits in
// force, and a cgroup made for a failed call is removed again.
#ifndef BULKHEAD_AGENT_BUDGETS_TENANT_CGROUPS_H_
#define BULKHEAD_AGENT_BUDGETS_TENANT_CGROUPS_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/budgets/budget.h"
#include "agent/budgets/cgroup_place.h"
#include "agent/budgets/events.h"
#include "agent/cgroups/layout.h"
#include "common/status.h"

namespace bulkhead::agent::budgets {

// Not thread-safe: the agent drives it from one thread.
class TenantCgroups : public TenantEventSource {
 public:
  static constexpr std::string_view kAgentRoot = "bulkhead";

  // FAILED_PRECONDITION when the node lacks the cpu, memory or pids
  // controller (the message says which and what to do), or libcgroup
  // cannot start. `root` is relative to every hierarchy root.
  static StatusOr<TenantCgroups> Open(CgroupLayout layout,
                                      std::string root = std::string(kAgentRoot));

  // Creates the tenant's cgroup or changes its budget. Pods already placed
  // get their limits again under the new budget (a pod never gets more than
  // the tenant total). INVALID_ARGUMENT for a bad name or a budget below the
  // minimums; on any error nothing changed.
  Status SetBudget(const std::string& tenant, const TenantBudget& budget);

  // Creates the pod's cgroup below its tenant with the pod's own limits,
  // the budget's pod default where it sets none, each capped at the tenant
  // total; returns the limits applied. NOT_FOUND for a tenant without a
  // budget, ALREADY_EXISTS for a pod placed before.
  StatusOr<Limits> AddPod(const std::string& tenant, const std::string& pod,
                          const Limits& own = {});

  // Moves a process into the pod's cgroups (cgroup.procs on each hierarchy).
  Status AddProcess(const std::string& tenant, const std::string& pod, pid_t pid) const;

  // Removes the pod's cgroups, killing what still runs in them.
  Status RemovePod(const std::string& tenant, const std::string& pod);
  // Removes the tenant's cgroups and its pods'.
  Status RemoveTenant(const std::string& tenant);

  [[nodiscard]] StatusOr<CgroupPlace> TenantPlace(const std::string& tenant) const;
  [[nodiscard]] StatusOr<CgroupPlace> PodPlace(const std::string& tenant,
                                               const std::string& pod) const;
  [[nodiscard]] StatusOr<TenantBudget> Budget(const std::string& tenant) const;
  [[nodiscard]] StatusOr<Limits> PodLimits(const std::string& tenant, const std::string& pod) const;

  StatusOr<TenantEvents> Events(std::string_view tenant) override;
  [[nodiscard]] std::vector<std::string> Tenants() const override;

 private:
  struct PodState {
    Limits own;
    Limits applied;
  };
  struct TenantState {
    TenantBudget budget;
    std::map<std::string, PodState, std::less<>> pods;
    TenantEvents retired;  // counters of removed pods
  };

  TenantCgroups(CgroupLayout layout, std::string root)
      : layout_(std::move(layout)), root_(std::move(root)) {}

  [[nodiscard]] StatusOr<CgroupPlace> Place(std::string_view relative) const;
  [[nodiscard]] StatusOr<const TenantState*> FindTenant(std::string_view tenant) const;

  CgroupLayout layout_;
  std::string root_;
  std::map<std::string, TenantState, std::less<>> tenants_;
};

// A pod's limits under a budget: its own where set, else the pod default,
// each capped at the tenant total (CPU compared as quota/period).
Limits EffectivePodLimits(const TenantBudget& budget, const Limits& own);

}  // namespace bulkhead::agent::budgets

#endif  // BULKHEAD_AGENT_BUDGETS_TENANT_CGROUPS_H_
