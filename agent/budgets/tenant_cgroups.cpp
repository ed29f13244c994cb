#include "agent/budgets/tenant_cgroups.h"

#include <sys/stat.h>

#include "agent/budgets/cgroup_files.h"
#include "agent/budgets/libcgroup_writer.h"
#include "agent/budgets/write_plan.h"
#include "common/cgroup_dir.h"
#include "common/file.h"
#include "common/logging.h"
#include "fmt/format.h"

namespace bulkhead::agent::budgets {
namespace {

const std::vector<std::string> kControllers = {"cpu", "memory", "pids"};
// On v1 cpuacct may be its own hierarchy; the tenant's CPU usage is read there.
const std::vector<std::string> kAccounting = {"cpuacct"};

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Creates the directories of `place` that do not exist yet, through
// libcgroup. The owners remove them again unless the caller releases them
// once everything else has worked.
StatusOr<std::vector<CgroupDir>> CreateMissing(const CgroupPlace& place) {
  std::vector<CgroupDir> created;
  for (const ControllerDir& dir : place.dirs) {
    if (Exists(dir.path)) {
      continue;
    }
    BH_RETURN_IF_ERROR(CreateCgroup(dir.controller, dir.path));
    BH_ASSIGN_OR_RETURN(CgroupDir owner, CgroupDir::Create(dir.path, /*adopt_existing=*/true));
    created.push_back(std::move(owner));
  }
  return created;
}

void Keep(std::vector<CgroupDir>& created) {
  for (CgroupDir& dir : created) {
    (void)dir.Release();
  }
}

}  // namespace

Limits EffectivePodLimits(const TenantBudget& budget, const Limits& own) {
  const Limits& fallback = budget.pod_default;
  const Limits& total = budget.total;
  Limits out;
  if (own.cpu_quota_us) {
    out.cpu_quota_us = own.cpu_quota_us;
    out.cpu_period_us = own.cpu_period_us;
  } else {
    out.cpu_quota_us = fallback.cpu_quota_us;
    out.cpu_period_us = fallback.cpu_period_us;
  }
  if (CpuRatioLess(total.cpu_quota_us, total.cpu_period_us, out.cpu_quota_us, out.cpu_period_us)) {
    out.cpu_quota_us = *total.cpu_quota_us * out.cpu_period_us / total.cpu_period_us;
  }
  out.cpu_weight = own.cpu_weight ? own.cpu_weight : fallback.cpu_weight;
  out.memory_bytes =
      MinLimit(own.memory_bytes ? own.memory_bytes : fallback.memory_bytes, total.memory_bytes);
  out.pids = MinLimit(own.pids ? own.pids : fallback.pids, total.pids);
  return out;
}

StatusOr<TenantCgroups> TenantCgroups::Open(CgroupLayout layout, std::string root) {
  BH_RETURN_IF_ERROR(ResolveCgroupPlace(layout, root, kControllers).status());
  BH_RETURN_IF_ERROR(InitLibcgroup());
  return TenantCgroups(std::move(layout), std::move(root));
}

StatusOr<CgroupPlace> TenantCgroups::Place(std::string_view relative) const {
  return ResolveCgroupPlace(layout_, JoinCgroupPath(root_, relative), kControllers, kAccounting);
}

StatusOr<const TenantCgroups::TenantState*> TenantCgroups::FindTenant(
    std::string_view tenant) const {
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) {
    return absl::NotFoundError(fmt::format(
        "tenant \"{}\" has no budget on this node; set its budget before placing its pods",
        tenant));
  }
  return &it->second;
}

Status TenantCgroups::SetBudget(const std::string& tenant, const TenantBudget& budget) {
  BH_RETURN_IF_ERROR(ValidateName("tenant", tenant));
  BH_RETURN_IF_ERROR(ValidateBudget(budget));
  BH_ASSIGN_OR_RETURN(CgroupPlace place, Place(tenant));
  auto existing = tenants_.find(tenant);
  BH_ASSIGN_OR_RETURN(std::vector<CgroupDir> created, CreateMissing(place));

  BH_ASSIGN_OR_RETURN(std::vector<PlannedWrite> plan,
                      PlanLimits(place, budget.total, Knobs{}, ReadFile));
  std::map<std::string, Limits, std::less<>> pod_limits;
  if (existing != tenants_.end()) {
    for (const auto& [pod, state] : existing->second.pods) {
      BH_ASSIGN_OR_RETURN(CgroupPlace pod_place, Place(JoinCgroupPath(tenant, pod)));
      Limits limits = EffectivePodLimits(budget, state.own);
      BH_ASSIGN_OR_RETURN(std::vector<PlannedWrite> pod_plan,
                          PlanLimits(pod_place, limits, Knobs{}, ReadFile));
      plan.insert(plan.end(), pod_plan.begin(), pod_plan.end());
      pod_limits[pod] = limits;
    }
  }
  BH_RETURN_IF_ERROR(ApplyWrites(std::move(plan), WriteCgroupValue));
  Keep(created);

  TenantState& state = tenants_[tenant];
  state.budget = budget;
  for (auto& [pod, limits] : pod_limits) {
    state.pods[pod].applied = limits;
  }
  Logger(Component::kBudget)
      .info("budget set tenant={} total=\"{}\" pod_default=\"{}\" cgroup={}", tenant,
            DescribeLimits(budget.total), DescribeLimits(budget.pod_default), place.relative);
  return absl::OkStatus();
}

StatusOr<Limits> TenantCgroups::AddPod(const std::string& tenant, const std::string& pod,
                                       const Limits& own) {
  BH_ASSIGN_OR_RETURN(const TenantState* found, FindTenant(tenant));
  BH_RETURN_IF_ERROR(ValidateName("pod", pod));
  BH_RETURN_IF_ERROR(ValidateLimits(own, fmt::format("pod {} own", pod)));
  if (found->pods.contains(pod)) {
    return absl::AlreadyExistsError(
        fmt::format("pod \"{}\" of tenant \"{}\" is placed already; remove it first", pod, tenant));
  }
  BH_ASSIGN_OR_RETURN(CgroupPlace place, Place(JoinCgroupPath(tenant, pod)));
  BH_ASSIGN_OR_RETURN(std::vector<CgroupDir> created, CreateMissing(place));
  Limits limits = EffectivePodLimits(found->budget, own);
  BH_ASSIGN_OR_RETURN(std::vector<PlannedWrite> plan, PlanLimits(place, limits, Knobs{}, ReadFile));
  BH_RETURN_IF_ERROR(ApplyWrites(std::move(plan), WriteCgroupValue));
  Keep(created);
  tenants_[tenant].pods[pod] = PodState{own, limits};
  Logger(Component::kBudget)
      .info("pod placed tenant={} pod={} limits=\"{}\"", tenant, pod, DescribeLimits(limits));
  return limits;
}

Status TenantCgroups::AddProcess(const std::string& tenant, const std::string& pod,
                                 pid_t pid) const {
  BH_ASSIGN_OR_RETURN(CgroupPlace place, PodPlace(tenant, pod));
  for (const std::string& dir : place.Paths()) {
    BH_RETURN_IF_ERROR(WriteFile(dir + "/cgroup.procs", fmt::format("{}", pid)));
  }
  return absl::OkStatus();
}

Status TenantCgroups::RemovePod(const std::string& tenant, const std::string& pod) {
  BH_ASSIGN_OR_RETURN(CgroupPlace place, PodPlace(tenant, pod));
  TenantState& state = tenants_.find(tenant)->second;
  // The pod's counters would be lost with its cgroup.
  auto events = ReadCgroupEvents(place);
  if (events.ok()) {
    state.retired += *events;
  }
  for (const std::string& dir : place.Paths()) {
    BH_RETURN_IF_ERROR(RemoveCgroupTree(dir));
  }
  state.pods.erase(pod);
  Logger(Component::kBudget).info("pod removed tenant={} pod={}", tenant, pod);
  return absl::OkStatus();
}

Status TenantCgroups::RemoveTenant(const std::string& tenant) {
  BH_ASSIGN_OR_RETURN(CgroupPlace place, TenantPlace(tenant));
  for (const std::string& dir : place.Paths()) {
    BH_RETURN_IF_ERROR(RemoveCgroupTree(dir));
  }
  tenants_.erase(tenant);
  Logger(Component::kBudget).info("tenant removed tenant={}", tenant);
  return absl::OkStatus();
}

StatusOr<CgroupPlace> TenantCgroups::TenantPlace(const std::string& tenant) const {
  BH_RETURN_IF_ERROR(FindTenant(tenant).status());
  return Place(tenant);
}

StatusOr<CgroupPlace> TenantCgroups::PodPlace(const std::string& tenant,
                                              const std::string& pod) const {
  BH_ASSIGN_OR_RETURN(const TenantState* state, FindTenant(tenant));
  if (!state->pods.contains(pod)) {
    return absl::NotFoundError(fmt::format(
        "pod \"{}\" of tenant \"{}\" is not placed on this node; add the pod first", pod, tenant));
  }
  return Place(JoinCgroupPath(tenant, pod));
}

StatusOr<TenantBudget> TenantCgroups::Budget(const std::string& tenant) const {
  BH_ASSIGN_OR_RETURN(const TenantState* state, FindTenant(tenant));
  return state->budget;
}

StatusOr<Limits> TenantCgroups::PodLimits(const std::string& tenant, const std::string& pod) const {
  BH_ASSIGN_OR_RETURN(const TenantState* state, FindTenant(tenant));
  auto it = state->pods.find(pod);
  if (it == state->pods.end()) {
    return absl::NotFoundError(
        fmt::format("pod \"{}\" of tenant \"{}\" is not placed on this node", pod, tenant));
  }
  return it->second.applied;
}

StatusOr<TenantEvents> TenantCgroups::Events(std::string_view tenant) {
  BH_ASSIGN_OR_RETURN(const TenantState* state, FindTenant(tenant));
  BH_ASSIGN_OR_RETURN(CgroupPlace place, Place(tenant));
  BH_ASSIGN_OR_RETURN(TenantEvents events, ReadCgroupEvents(place));
  events += state->retired;
  return events;
}

std::vector<std::string> TenantCgroups::Tenants() const {
  std::vector<std::string> names;
  for (const auto& [name, state] : tenants_) {
    names.push_back(name);
  }
  return names;
}

}  // namespace bulkhead::agent::budgets
