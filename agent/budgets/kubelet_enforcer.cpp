// BudgetEnforcer under a kubelet: KubeletBudgets with the pods the identity
// source reports, found by UID and QoS class.
#include <algorithm>
#include <map>

#include "agent/budgets/enforcer.h"
#include "agent/budgets/kubelet_budgets.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

namespace bulkhead::agent::budgets {
namespace {

class KubeletEnforcer : public BudgetEnforcer {
 public:
  KubeletEnforcer(CgroupLayout layout, KubeletCgroupConfig config)
      : swap_(LayoutLimitsSwap(layout)), budgets_(std::move(layout), std::move(config)) {}

  [[nodiscard]] std::string_view Mode() const override { return "kubelet"; }
  [[nodiscard]] bool SwapLimited() const override { return swap_; }

  Status Apply(const std::string& tenant, const TenantBudget& budget,
               const std::vector<BudgetPod>& pods) override {
    BH_RETURN_IF_ERROR(ValidateName("tenant", tenant));
    BH_RETURN_IF_ERROR(ValidateBudget(budget));
    std::vector<KubeletPod> kubelet_pods;
    std::vector<std::string> unidentified;
    for (const BudgetPod& pod : pods) {
      if (pod.uid.empty()) {
        unidentified.push_back(pod.pod);
      } else {
        kubelet_pods.push_back({pod.uid, pod.qos, std::nullopt});
      }
    }
    if (!unidentified.empty()) {
      // Without its UID the kubelet's cgroup of a pod cannot be found, and a
      // budget that leaves pods out is not the tenant's budget.
      return absl::FailedPreconditionError(fmt::format(
          "pod(s) {} of tenant {} have no uid in the endpoints source, so their kubelet cgroups "
          "cannot be found; give each local pod its uid and qos, or run the agent with "
          "--budgets placed",
          fmt::join(unidentified, ", "), tenant));
    }
    BH_RETURN_IF_ERROR(budgets_.Apply(tenant, budget, kubelet_pods));
    // CPU time of pods that left stays in the tenant's total (a counter).
    for (const KubeletPod& pod : pods_[tenant]) {
      bool stays = std::any_of(kubelet_pods.begin(), kubelet_pods.end(),
                               [&](const KubeletPod& p) { return p.uid == pod.uid; });
      if (!stays) {
        retired_cpu_usec_[tenant] += last_cpu_usec_[pod.uid];
        last_cpu_usec_.erase(pod.uid);
      }
    }
    pods_[tenant] = std::move(kubelet_pods);
    return absl::OkStatus();
  }

  StatusOr<TenantUsage> Usage(std::string_view tenant) override {
    auto it = pods_.find(tenant);
    if (it == pods_.end()) {
      return absl::NotFoundError(fmt::format("tenant \"{}\" has no budget on this node", tenant));
    }
    TenantUsage usage;
    usage.cpu_usec = retired_cpu_usec_[std::string(tenant)];
    for (const KubeletPod& pod : it->second) {
      BH_ASSIGN_OR_RETURN(CgroupPlace place, budgets_.PodPlace(pod));
      auto pod_usage = ReadCgroupUsage(place);
      if (absl::IsNotFound(pod_usage.status())) {
        continue;  // the pod is gone; the next sync lets it go
      }
      BH_RETURN_IF_ERROR(pod_usage.status());
      last_cpu_usec_[pod.uid] = pod_usage->cpu_usec;
      usage += *pod_usage;
    }
    return usage;
  }

  StatusOr<TenantEvents> Events(std::string_view tenant) override {
    return budgets_.Events(tenant);
  }
  [[nodiscard]] std::vector<std::string> Tenants() const override { return budgets_.Tenants(); }

 private:
  bool swap_;
  KubeletBudgets budgets_;
  std::map<std::string, std::vector<KubeletPod>, std::less<>> pods_;
  // CPU time per pod at the last read, and of each tenant's pods that left.
  std::map<std::string, uint64_t> last_cpu_usec_;
  std::map<std::string, uint64_t> retired_cpu_usec_;
};

}  // namespace

bool LayoutLimitsSwap(const CgroupLayout& layout) {
  auto memory = layout.Find("memory");
  return memory && memory->swap;
}

std::unique_ptr<BudgetEnforcer> MakeKubeletEnforcer(CgroupLayout layout,
                                                    KubeletCgroupConfig config) {
  return std::make_unique<KubeletEnforcer>(std::move(layout), std::move(config));
}

}  // namespace bulkhead::agent::budgets
