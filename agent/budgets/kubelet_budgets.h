// Budgets under a kubelet: the kubelet places each pod in its own cgroup
// below kubepods, so a tenant's pods share no parent the agent could limit.
// Instead the agent finds each pod's cgroup from its UID and QoS class
// (kubelet_paths.h), computes per-pod ceilings that keep the tenant's pods
// together within the budget (ceiling.h) and writes them into the pods'
// cgroups: CPU quota, memory and pids. CPU weights stay as the kubelet set
// them from the pods' requests.
//
// A pod's own limits are what its cgroup held before the agent first wrote
// to it, or what the kubelet wrote since (an in-place resize): a value found
// that differs from the one the agent wrote is the pod's own again. A
// ceiling is never above the pod's own limit.
//
// Each call is all or nothing (write_plan.h): a vanished pod cgroup, a value
// the kernel refuses or a budget too small for the pods leaves every pod's
// previous limits in force.
#ifndef BULKHEAD_AGENT_BUDGETS_KUBELET_BUDGETS_H_
#define BULKHEAD_AGENT_BUDGETS_KUBELET_BUDGETS_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/budgets/budget.h"
#include "agent/budgets/ceiling.h"
#include "agent/budgets/cgroup_files.h"
#include "agent/budgets/cgroup_place.h"
#include "agent/budgets/events.h"
#include "agent/budgets/kubelet_paths.h"
#include "agent/budgets/write_plan.h"
#include "agent/cgroups/layout.h"
#include "common/status.h"

namespace bulkhead::agent::budgets {

struct KubeletPod {
  std::string uid;  // metadata.uid
  QosClass qos = QosClass::kBurstable;
  // The pod's own limits from its spec (pod level: the sum of its
  // containers' limits), when the caller knows them. Without them the agent
  // takes what it finds in the pod's cgroup (see above), which after an
  // agent restart may be a ceiling it wrote itself.
  std::optional<Limits> declared;
};

// Not thread-safe: the agent drives it from one thread.
class KubeletBudgets : public TenantEventSource {
 public:
  KubeletBudgets(CgroupLayout layout, KubeletCgroupConfig config, int64_t page_size = 4096);

  // Sets or changes a tenant's budget and applies it to the tenant's known
  // pods. INVALID_ARGUMENT for a bad name or budget, FAILED_PRECONDITION for
  // a controller the budget needs and the node lacks.
  Status SetBudget(const std::string& tenant, const TenantBudget& budget);

  // The tenant's complete list of pods on this node: pods new to the list
  // get a ceiling, pods gone from it are forgotten, and everyone's ceiling
  // is recomputed. NOT_FOUND for a tenant without a budget or a pod whose
  // cgroup does not exist (vanished, or a wrong QoS class).
  Status SyncPods(const std::string& tenant, const std::vector<KubeletPod>& pods);

  // SetBudget and SyncPods in one step: the budget and the tenant's
  // complete pod list, all or nothing.
  Status Apply(const std::string& tenant, const TenantBudget& budget,
               const std::vector<KubeletPod>& pods);

  // Lifts the agent's ceilings from the tenant's pods (their own limits
  // again) and forgets the tenant.
  Status RemoveTenant(const std::string& tenant);

  // The ceilings in force, in the order of the last SyncPods.
  [[nodiscard]] StatusOr<std::vector<PodCeiling>> Ceilings(const std::string& tenant) const;
  // The cgroup of a pod (usage, tests and diagnostics).
  [[nodiscard]] StatusOr<CgroupPlace> PodPlace(const KubeletPod& pod) const;

  StatusOr<TenantEvents> Events(std::string_view tenant) override;
  [[nodiscard]] std::vector<std::string> Tenants() const override;

 private:
  struct PodState {
    KubeletPod pod;
    Limits own;      // what the pod set for itself
    Limits written;  // the ceiling the agent wrote
    TenantEvents last_events;
    // v1: containers whose CPU quota the agent lowered, with their own quota.
    std::map<std::string, std::string> clamped_children;
  };
  struct TenantState {
    TenantBudget budget;
    std::vector<PodState> pods;
    TenantEvents retired;  // counters of pods that are gone
  };

  [[nodiscard]] std::vector<std::string> Controllers(const TenantBudget& budget) const;
  // The writes that give a pod its own limits back (none if it is gone).
  [[nodiscard]] StatusOr<std::vector<PlannedWrite>> RestorePlan(const PodState& state,
                                                                const Knobs& knobs) const;

  CgroupLayout layout_;
  KubeletCgroupConfig config_;
  int64_t page_size_;
  std::map<std::string, TenantState, std::less<>> tenants_;
};

// cgroup v1 refuses a CPU quota below a child's (EINVAL), so a pod's
// ceiling must first bring its containers down. The writes that put every
// cgroup below `cpu_dir` at its own quota capped at `quota_us` per
// `period_us` (unset: no cap). `clamped` holds, per directory, the own
// quota of containers lowered before (restored when the cap allows) and is
// updated to the ones lowered now.
StatusOr<std::vector<PlannedWrite>> PlanV1ChildQuotas(const std::string& cpu_dir,
                                                      std::optional<int64_t> quota_us,
                                                      int64_t period_us,
                                                      std::map<std::string, std::string>& clamped);

}  // namespace bulkhead::agent::budgets

#endif  // BULKHEAD_AGENT_BUDGETS_KUBELET_BUDGETS_H_
