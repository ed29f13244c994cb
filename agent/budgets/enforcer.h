// What the agent drives to enforce tenant budgets on its node, whichever
// way the pods are placed (decision 6 of the architecture):
//
//   kubelet  a kubelet places each pod in its own cgroup below kubepods; the
//            agent writes per-pod ceilings computed from the tenant's budget
//            into those cgroups (kubelet_budgets.h). Pods are found by UID
//            and QoS class.
//   placed   the agent's own runtime places the pods: each tenant is a
//            parent cgroup holding the budget and its pods are children
//            (tenant_cgroups.h), so the kernel enforces the sum.
//
// The agent's tenant registry calls Apply whenever a budget or a tenant's
// list of local pods changes, and reads usage and events for its metrics
// and event stream. Not thread-safe: the registry serialises the calls.
#ifndef BULKHEAD_AGENT_BUDGETS_ENFORCER_H_
#define BULKHEAD_AGENT_BUDGETS_ENFORCER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/budgets/budget.h"
#include "agent/budgets/events.h"
#include "agent/budgets/kubelet_paths.h"
#include "agent/budgets/usage.h"
#include "agent/cgroups/layout.h"
#include "common/status.h"

namespace bulkhead::agent::budgets {

// One of a tenant's pods on this node, as the identity source knows it.
struct BudgetPod {
  std::string pod;
  std::string uid;  // metadata.uid; empty when the source does not say
  QosClass qos = QosClass::kBurstable;
  bool operator==(const BudgetPod&) const = default;
};

class BudgetEnforcer : public TenantEventSource {
 public:
  // "kubelet" or "placed".
  [[nodiscard]] virtual std::string_view Mode() const = 0;
  // True when memory budgets hold swap too (the node's memory controller
  // accounts swap; cgroup_files.h says how).
  [[nodiscard]] virtual bool SwapLimited() const { return false; }

  // Sets the tenant's budget and applies it to `pods`, the tenant's complete
  // list of pods on this node (pods not listed any more are let go). All or
  // nothing: on error the previous budget and every pod's previous limits
  // stay in force.
  virtual Status Apply(const std::string& tenant, const TenantBudget& budget,
                       const std::vector<BudgetPod>& pods) = 0;

  // What the tenant's pods on this node use now. NOT_FOUND for a tenant
  // without a budget here.
  virtual StatusOr<TenantUsage> Usage(std::string_view tenant) = 0;
};

// Budgets under a kubelet with this cgroup driver and root.
// Whether `layout`'s memory controller accounts swap.
bool LayoutLimitsSwap(const CgroupLayout& layout);

std::unique_ptr<BudgetEnforcer> MakeKubeletEnforcer(CgroupLayout layout,
                                                    KubeletCgroupConfig config);

// Budgets as tenant parent cgroups below `root` in every hierarchy. The
// pods' cgroups are <root>/<tenant>/<pod>; whoever starts a pod's processes
// puts them there. FAILED_PRECONDITION when the node lacks a controller.
StatusOr<std::unique_ptr<BudgetEnforcer>> MakePlacedEnforcer(CgroupLayout layout, std::string root);

}  // namespace bulkhead::agent::budgets

#endif  // BULKHEAD_AGENT_BUDGETS_ENFORCER_H_
