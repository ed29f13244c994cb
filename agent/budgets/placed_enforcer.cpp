// BudgetEnforcer where the agent places the pods: TenantCgroups, with a pod
// cgroup below its tenant for each pod the identity source reports.
#include <map>
#include <set>

#include "agent/budgets/cgroup_place.h"
#include "agent/budgets/enforcer.h"
#include "agent/budgets/tenant_cgroups.h"
#include "common/file.h"
#include "common/logging.h"
#include "common/strings.h"

namespace bulkhead::agent::budgets {
namespace {

class PlacedEnforcer : public BudgetEnforcer {
 public:
  PlacedEnforcer(TenantCgroups cgroups, bool swap) : cgroups_(std::move(cgroups)), swap_(swap) {}

  [[nodiscard]] std::string_view Mode() const override { return "placed"; }
  [[nodiscard]] bool SwapLimited() const override { return swap_; }

  Status Apply(const std::string& tenant, const TenantBudget& budget,
               const std::vector<BudgetPod>& pods) override {
    BH_RETURN_IF_ERROR(ValidateName("tenant", tenant));
    BH_RETURN_IF_ERROR(ValidateBudget(budget));
    std::set<std::string> wanted;
    for (const BudgetPod& pod : pods) {
      BH_RETURN_IF_ERROR(ValidateName("pod", pod.pod));
      wanted.insert(pod.pod);
    }
    auto previous = cgroups_.Budget(tenant);
    BH_RETURN_IF_ERROR(cgroups_.SetBudget(tenant, budget));
    std::set<std::string>& placed = pods_[tenant];
    std::vector<std::string> added;
    for (const std::string& pod : wanted) {
      if (placed.contains(pod)) {
        continue;
      }
      auto limits = cgroups_.AddPod(tenant, pod);
      if (!limits.ok()) {
        Undo(tenant, added, previous);
        return limits.status();
      }
      added.push_back(pod);
    }
    placed.insert(added.begin(), added.end());
    // Pods the source no longer lists lose their cgroups once nothing runs
    // in them; the agent never kills a pod because a source stopped listing
    // it (a half-written file must not cost running processes).
    for (auto it = placed.begin(); it != placed.end();) {
      if (wanted.contains(*it) || !RemoveIfEmpty(tenant, *it)) {
        ++it;
        continue;
      }
      it = placed.erase(it);
    }
    return absl::OkStatus();
  }

  StatusOr<TenantUsage> Usage(std::string_view tenant) override {
    BH_ASSIGN_OR_RETURN(CgroupPlace place, cgroups_.TenantPlace(std::string(tenant)));
    return ReadCgroupUsage(place);
  }

  StatusOr<TenantEvents> Events(std::string_view tenant) override {
    return cgroups_.Events(tenant);
  }
  [[nodiscard]] std::vector<std::string> Tenants() const override { return cgroups_.Tenants(); }

 private:
  // True when the cgroup at `place` or one below it holds a process.
  static bool HasProcesses(const CgroupPlace& place) {
    for (const std::string& top : place.Paths()) {
      for (const std::string& dir : CgroupSubtree(top)) {
        auto procs = ReadFile(dir + "/cgroup.procs");
        if (procs.ok() && !TrimSpace(*procs).empty()) {
          return true;
        }
      }
    }
    return false;
  }

  // Removes the pod's cgroups if nothing runs in them; false when they stay.
  bool RemoveIfEmpty(const std::string& tenant, const std::string& pod) {
    auto place = cgroups_.PodPlace(tenant, pod);
    if (place.ok() && HasProcesses(*place)) {
      Logger(Component::kBudget)
          .warn(
              "pod left the source but processes still run in its cgroup; it stays below its "
              "tenant until they end tenant={} pod={}",
              tenant, pod);
      return false;
    }
    Status removed = cgroups_.RemovePod(tenant, pod);
    if (!removed.ok()) {
      Logger(Component::kBudget)
          .warn("pod cgroup not removed; retrying at the next change tenant={} pod={} error=\"{}\"",
                tenant, pod, MessageOf(removed));
      return false;
    }
    return true;
  }

  // Takes back a failed Apply without killing anything: the pod cgroups it
  // added go if they are empty, and the previous budget is written again.
  // A tenant that had no budget before keeps its cgroup (and the new limits)
  // if processes run in it, since removing it would kill them.
  void Undo(const std::string& tenant, const std::vector<std::string>& added,
            const StatusOr<TenantBudget>& previous) {
    for (const std::string& pod : added) {
      if (!RemoveIfEmpty(tenant, pod)) {
        pods_[tenant].insert(pod);
      }
    }
    Status undone;
    if (previous.ok()) {
      undone = cgroups_.SetBudget(tenant, *previous);
    } else if (auto place = cgroups_.TenantPlace(tenant);
               place.ok() && !HasProcesses(*place) && pods_[tenant].empty()) {
      pods_.erase(tenant);
      undone = cgroups_.RemoveTenant(tenant);
    } else {
      undone = absl::FailedPreconditionError(
          "processes run in the tenant's cgroups, so they keep the new limits");
    }
    if (!undone.ok()) {
      Logger(Component::kBudget)
          .error("tenant budget not restored after a failed change tenant={} error=\"{}\"", tenant,
                 MessageOf(undone));
    }
  }

  TenantCgroups cgroups_;
  std::map<std::string, std::set<std::string>, std::less<>> pods_;
  bool swap_ = false;
};

}  // namespace

StatusOr<std::unique_ptr<BudgetEnforcer>> MakePlacedEnforcer(CgroupLayout layout,
                                                             std::string root) {
  bool swap = LayoutLimitsSwap(layout);
  BH_ASSIGN_OR_RETURN(TenantCgroups cgroups,
                      TenantCgroups::Open(std::move(layout), std::move(root)));
  return std::unique_ptr<BudgetEnforcer>(
      std::make_unique<PlacedEnforcer>(std::move(cgroups), swap));
}

}  // namespace bulkhead::agent::budgets
