#include "agent/budgets/kubelet_budgets.h"

#include <sys/stat.h>

#include <algorithm>

#include "agent/budgets/cgroup_files.h"
#include "agent/budgets/libcgroup_writer.h"
#include "common/file.h"
#include "common/logging.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::agent::budgets {
namespace {

const std::vector<std::string> kAllControllers = {"cpu", "memory", "pids"};

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

Knobs KnobsFor(const TenantBudget& budget) {
  Knobs knobs;
  knobs.cpu_quota = budget.total.cpu_quota_us || budget.pod_default.cpu_quota_us;
  knobs.cpu_weight = false;  // the kubelet's, from the pod's requests
  knobs.memory = budget.total.memory_bytes || budget.pod_default.memory_bytes;
  knobs.pids = budget.total.pids || budget.pod_default.pids;
  return knobs;
}

// The pod's own limits: what its cgroup holds now, except where that is the
// ceiling the agent wrote, which hides the own limit remembered before.
Limits OwnLimits(const Limits& current, const Limits* known_own, const Limits* written) {
  if (known_own == nullptr || written == nullptr) {
    return current;
  }
  Limits own = current;
  if (current.cpu_quota_us == written->cpu_quota_us &&
      current.cpu_period_us == written->cpu_period_us) {
    own.cpu_quota_us = known_own->cpu_quota_us;
  }
  if (current.memory_bytes == written->memory_bytes) {
    own.memory_bytes = known_own->memory_bytes;
  }
  if (current.pids == written->pids) {
    own.pids = known_own->pids;
  }
  return own;
}

}  // namespace

StatusOr<std::vector<PlannedWrite>> PlanV1ChildQuotas(const std::string& cpu_dir,
                                                      std::optional<int64_t> quota_us,
                                                      int64_t period_us,
                                                      std::map<std::string, std::string>& clamped) {
  std::vector<PlannedWrite> writes;
  std::map<std::string, std::string> now_clamped;
  std::vector<std::string> dirs = CgroupSubtree(cpu_dir);
  for (size_t i = 1; i < dirs.size(); ++i) {
    BH_ASSIGN_OR_RETURN(std::string period_text, ReadFile(dirs[i] + "/cpu.cfs_period_us"));
    BH_ASSIGN_OR_RETURN(std::string quota_text, ReadFile(dirs[i] + "/cpu.cfs_quota_us"));
    std::optional<int64_t> child_period = ParseInteger<int64_t>(TrimSpace(period_text));
    if (!child_period || *child_period <= 0) {
      return absl::DataLossError(fmt::format("malformed {}/cpu.cfs_period_us", dirs[i]));
    }
    std::string current(TrimSpace(quota_text));
    auto remembered = clamped.find(dirs[i]);
    std::string own = remembered != clamped.end() ? remembered->second : current;
    BH_ASSIGN_OR_RETURN(std::optional<int64_t> own_quota, ParseV1CpuQuota(own));
    BH_ASSIGN_OR_RETURN(std::optional<int64_t> current_quota, ParseV1CpuQuota(current));
    std::string target = own;
    std::optional<int64_t> target_quota = own_quota;
    if (CpuRatioLess(quota_us, period_us, own_quota, *child_period)) {
      target_quota = std::max(kMinCpuQuotaUs, *quota_us * *child_period / period_us);
      target = fmt::format("{}", *target_quota);
      now_clamped[dirs[i]] = own;
    }
    if (target != current) {
      writes.push_back({{"cpu", dirs[i], "cpu.cfs_quota_us", target},
                        current,
                        CpuRatioLess(target_quota, *child_period, current_quota, *child_period)});
    }
  }
  clamped = std::move(now_clamped);
  return writes;
}

KubeletBudgets::KubeletBudgets(CgroupLayout layout, KubeletCgroupConfig config, int64_t page_size)
    : layout_(std::move(layout)), config_(std::move(config)), page_size_(page_size) {}

std::vector<std::string> KubeletBudgets::Controllers(const TenantBudget& budget) const {
  Knobs knobs = KnobsFor(budget);
  std::vector<std::string> controllers;
  if (knobs.cpu_quota) {
    controllers.emplace_back("cpu");
  }
  if (knobs.memory) {
    controllers.emplace_back("memory");
  }
  if (knobs.pids) {
    controllers.emplace_back("pids");
  }
  return controllers;
}

StatusOr<CgroupPlace> KubeletBudgets::PodPlace(const KubeletPod& pod) const {
  BH_ASSIGN_OR_RETURN(std::string path, PodCgroupPath(config_, pod.qos, pod.uid));
  // cpuacct (v1, where it is its own hierarchy) for the pod's CPU usage.
  std::vector<std::string> controllers = kAllControllers;
  controllers.emplace_back("cpuacct");
  return ResolveCgroupPlace(layout_, path, {}, controllers);
}

Status KubeletBudgets::SetBudget(const std::string& tenant, const TenantBudget& budget) {
  BH_RETURN_IF_ERROR(ValidateName("tenant", tenant));
  BH_RETURN_IF_ERROR(ValidateBudget(budget));
  std::vector<KubeletPod> pods;
  if (auto it = tenants_.find(tenant); it != tenants_.end()) {
    for (const PodState& state : it->second.pods) {
      pods.push_back(state.pod);
    }
  }
  BH_RETURN_IF_ERROR(Apply(tenant, budget, pods));
  Logger(Component::kBudget)
      .info("budget set tenant={} total=\"{}\" pod_default=\"{}\" pods={} driver={}", tenant,
            DescribeLimits(budget.total), DescribeLimits(budget.pod_default), pods.size(),
            CgroupDriverName(config_.driver));
  return absl::OkStatus();
}

Status KubeletBudgets::SyncPods(const std::string& tenant, const std::vector<KubeletPod>& pods) {
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) {
    return absl::NotFoundError(fmt::format(
        "tenant \"{}\" has no budget on this node; set its budget before syncing its pods",
        tenant));
  }
  return Apply(tenant, it->second.budget, pods);
}

Status KubeletBudgets::Apply(const std::string& tenant, const TenantBudget& budget,
                             const std::vector<KubeletPod>& pods) {
  const Knobs knobs = KnobsFor(budget);
  const std::vector<std::string> controllers = Controllers(budget);
  // A controller the budget needs and the node lacks fails before anything.
  BH_RETURN_IF_ERROR(ResolveCgroupPlace(layout_, config_.hierarchy_prefix, controllers).status());
  TenantState* previous = nullptr;
  if (auto it = tenants_.find(tenant); it != tenants_.end()) {
    previous = &it->second;
  }
  auto known = [&](const std::string& uid) -> const PodState* {
    if (previous == nullptr) {
      return nullptr;
    }
    auto found = std::find_if(previous->pods.begin(), previous->pods.end(),
                              [&](const PodState& s) { return s.pod.uid == uid; });
    return found == previous->pods.end() ? nullptr : &*found;
  };

  // 1. Find every pod's cgroup and read its limits; nothing is written yet.
  std::vector<CgroupPlace> places;
  std::vector<PodDemand> demands;
  for (const KubeletPod& pod : pods) {
    BH_ASSIGN_OR_RETURN(std::string path, PodCgroupPath(config_, pod.qos, pod.uid));
    BH_ASSIGN_OR_RETURN(CgroupPlace place,
                        ResolveCgroupPlace(layout_, path, controllers, kAllControllers));
    for (const ControllerDir& dir : place.dirs) {
      if (!Exists(dir.path)) {
        return absl::NotFoundError(fmt::format(
            "cgroup of pod {} ({}) not found at {}: the pod is gone or its QoS class is not {}; "
            "resync the tenant's pod list; nothing applied",
            pod.uid, QosClassName(pod.qos), dir.path, QosClassName(pod.qos)));
      }
    }
    BH_ASSIGN_OR_RETURN(Limits current, ReadLimits(place, knobs, ReadFile));
    const PodState* state = known(pod.uid);
    Limits own =
        OwnLimits(current, state ? &state->own : nullptr, state ? &state->written : nullptr);
    if (pod.declared) {
      own.cpu_quota_us = pod.declared->cpu_quota_us;
      own.cpu_period_us =
          pod.declared->cpu_quota_us ? pod.declared->cpu_period_us : current.cpu_period_us;
      own.memory_bytes = pod.declared->memory_bytes;
      own.pids = pod.declared->pids;
    }
    places.push_back(std::move(place));
    demands.push_back({pod.uid, own});
  }

  // 2. The ceilings; a budget too small for the pods fails here.
  BH_ASSIGN_OR_RETURN(std::vector<PodCeiling> ceilings,
                      ComputeCeilings(budget, demands, page_size_));

  // 3. The writes, each with the value it replaces.
  std::vector<PlannedWrite> plan;
  std::vector<std::map<std::string, std::string>> clamped(pods.size());
  for (size_t i = 0; i < pods.size(); ++i) {
    BH_ASSIGN_OR_RETURN(std::vector<PlannedWrite> writes,
                        PlanLimits(places[i], ceilings[i].ceiling, knobs, ReadFile));
    plan.insert(plan.end(), writes.begin(), writes.end());
    const ControllerDir* cpu = places[i].Find("cpu");
    const Limits& ceiling = ceilings[i].ceiling;
    if (const PodState* state = known(pods[i].uid)) {
      clamped[i] = state->clamped_children;
    }
    if (knobs.cpu_quota && cpu != nullptr && cpu->version == 1) {
      BH_ASSIGN_OR_RETURN(
          std::vector<PlannedWrite> children,
          PlanV1ChildQuotas(cpu->path, ceiling.cpu_quota_us, ceiling.cpu_period_us, clamped[i]));
      plan.insert(plan.end(), children.begin(), children.end());
    }
  }
  // Pods that left the list but whose cgroup is still there get their own
  // limits back.
  std::vector<const PodState*> leaving;
  if (previous != nullptr) {
    for (const PodState& state : previous->pods) {
      bool stays = std::any_of(pods.begin(), pods.end(),
                               [&](const KubeletPod& p) { return p.uid == state.pod.uid; });
      if (stays) {
        continue;
      }
      leaving.push_back(&state);
      auto restore = RestorePlan(state, KnobsFor(previous->budget));
      if (restore.ok()) {
        plan.insert(plan.end(), restore->begin(), restore->end());
      }
    }
  }

  // 4. All or nothing.
  BH_RETURN_IF_ERROR(ApplyWrites(std::move(plan), WriteCgroupValue));

  // 5. The new state.
  TenantState next;
  next.budget = budget;
  if (previous != nullptr) {
    next.retired = previous->retired;
    for (const PodState* state : leaving) {
      next.retired += state->last_events;
    }
  }
  for (size_t i = 0; i < pods.size(); ++i) {
    const PodState* state = known(pods[i].uid);
    next.pods.push_back({pods[i], demands[i].own, ceilings[i].ceiling,
                         state ? state->last_events : TenantEvents{}, std::move(clamped[i])});
    Logger(Component::kBudget)
        .debug("pod ceiling tenant={} pod={} own=\"{}\" ceiling=\"{}\"", tenant, pods[i].uid,
               DescribeLimits(demands[i].own), DescribeLimits(ceilings[i].ceiling));
  }
  tenants_[tenant] = std::move(next);
  return absl::OkStatus();
}

StatusOr<std::vector<PlannedWrite>> KubeletBudgets::RestorePlan(const PodState& state,
                                                                const Knobs& knobs) const {
  BH_ASSIGN_OR_RETURN(CgroupPlace place, PodPlace(state.pod));
  if (place.dirs.empty() || !Exists(place.dirs.front().path)) {
    return std::vector<PlannedWrite>();  // the pod is gone already
  }
  BH_ASSIGN_OR_RETURN(std::vector<PlannedWrite> plan,
                      PlanLimits(place, state.own, knobs, ReadFile));
  const ControllerDir* cpu = place.Find("cpu");
  if (knobs.cpu_quota && cpu != nullptr && cpu->version == 1) {
    std::map<std::string, std::string> clamped = state.clamped_children;
    BH_ASSIGN_OR_RETURN(
        std::vector<PlannedWrite> children,
        PlanV1ChildQuotas(cpu->path, std::nullopt, state.own.cpu_period_us, clamped));
    plan.insert(plan.end(), children.begin(), children.end());
  }
  return plan;
}

Status KubeletBudgets::RemoveTenant(const std::string& tenant) {
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) {
    return absl::NotFoundError(fmt::format("tenant \"{}\" has no budget on this node", tenant));
  }
  const Knobs knobs = KnobsFor(it->second.budget);
  std::vector<PlannedWrite> plan;
  for (const PodState& state : it->second.pods) {
    BH_ASSIGN_OR_RETURN(std::vector<PlannedWrite> writes, RestorePlan(state, knobs));
    plan.insert(plan.end(), writes.begin(), writes.end());
  }
  BH_RETURN_IF_ERROR(ApplyWrites(std::move(plan), WriteCgroupValue));
  tenants_.erase(it);
  Logger(Component::kBudget).info("budget removed tenant={}", tenant);
  return absl::OkStatus();
}

StatusOr<std::vector<PodCeiling>> KubeletBudgets::Ceilings(const std::string& tenant) const {
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) {
    return absl::NotFoundError(fmt::format("tenant \"{}\" has no budget on this node", tenant));
  }
  std::vector<PodCeiling> ceilings;
  for (const PodState& state : it->second.pods) {
    ceilings.push_back({state.pod.uid, state.written});
  }
  return ceilings;
}

StatusOr<TenantEvents> KubeletBudgets::Events(std::string_view tenant) {
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) {
    return absl::NotFoundError(fmt::format("tenant \"{}\" has no budget on this node", tenant));
  }
  TenantEvents events = it->second.retired;
  for (PodState& state : it->second.pods) {
    BH_ASSIGN_OR_RETURN(CgroupPlace place, PodPlace(state.pod));
    auto now = ReadCgroupEvents(place);
    if (now.ok()) {
      state.last_events = *now;  // a pod whose cgroup vanished keeps its last counts
    }
    events += state.last_events;
  }
  return events;
}

std::vector<std::string> KubeletBudgets::Tenants() const {
  std::vector<std::string> names;
  for (const auto& [name, state] : tenants_) {
    names.push_back(name);
  }
  return names;
}

}  // namespace bulkhead::agent::budgets
