// BudgetEnforcer where the agent places the pods: TenantCgroups, with a pod
// cgroup below its tenant for each pod the identity source reports.
#include <map>
#include <set>

#include "agent/budgets/enforcer.h"
#include "agent/budgets/tenant_cgroups.h"
#include "common/logging.h"

namespace bulkhead::agent::budgets {
namespace {

class PlacedEnforcer : public BudgetEnforcer {
 public:
  explicit PlacedEnforcer(TenantCgroups cgroups) : cgroups_(std::move(cgroups)) {}

  [[nodiscard]] std::string_view Mode() const override { return "placed"; }

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
    // Pods the source no longer lists: their cgroups (and anything still
    // running there) go.
    for (auto it = placed.begin(); it != placed.end();) {
      if (wanted.contains(*it)) {
        ++it;
        continue;
      }
      if (Status removed = cgroups_.RemovePod(tenant, *it); !removed.ok()) {
        Logger(Component::kBudget)
            .warn("pod cgroup not removed tenant={} pod={} error=\"{}\"", tenant, *it,
                  MessageOf(removed));
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
  // Takes back a failed Apply: the pods it placed and the budget it set.
  void Undo(const std::string& tenant, const std::vector<std::string>& added,
            const StatusOr<TenantBudget>& previous) {
    for (const std::string& pod : added) {
      (void)cgroups_.RemovePod(tenant, pod);
    }
    Status undone;
    if (previous.ok()) {
      undone = cgroups_.SetBudget(tenant, *previous);
    } else {
      pods_.erase(tenant);
      undone = cgroups_.RemoveTenant(tenant);
    }
    if (!undone.ok()) {
      Logger(Component::kBudget)
          .error("tenant budget not restored after a failed change tenant={} error=\"{}\"", tenant,
                 MessageOf(undone));
    }
  }

  TenantCgroups cgroups_;
  std::map<std::string, std::set<std::string>, std::less<>> pods_;
};

}  // namespace

StatusOr<std::unique_ptr<BudgetEnforcer>> MakePlacedEnforcer(CgroupLayout layout,
                                                             std::string root) {
  BH_ASSIGN_OR_RETURN(TenantCgroups cgroups,
                      TenantCgroups::Open(std::move(layout), std::move(root)));
  return std::unique_ptr<BudgetEnforcer>(std::make_unique<PlacedEnforcer>(std::move(cgroups)));
}

}  // namespace bulkhead::agent::budgets
