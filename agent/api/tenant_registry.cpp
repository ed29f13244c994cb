#include "agent/api/tenant_registry.h"

#include <algorithm>
#include <set>
#include <utility>

#include "agent/api/state_file.h"
#include "common/file.h"
#include "common/logging.h"
#include "fmt/format.h"

namespace bulkhead::agent::api {
namespace {

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool MayGrantTo(const TenantBounds* bounds, const std::string& to_tenant) {
  return bounds != nullptr &&
         (Contains(bounds->may_grant_to, "*") || Contains(bounds->may_grant_to, to_tenant));
}

template <typename Map>
const typename Map::mapped_type* Find(const Map& map, const std::string& key) {
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

// Each set limit of `limits` no larger than the same limit of `ceiling`.
Status CheckCeiling(const budgets::Limits& limits, const budgets::Limits& ceiling,
                    std::string_view what) {
  auto check = [&](std::string_view name, std::optional<int64_t> value,
                   std::optional<int64_t> max) -> Status {
    if (!max) {
      return absl::OkStatus();
    }
    if (!value || *value > *max) {
      return absl::PermissionDeniedError(
          fmt::format("{} {} {} is above the ceiling {} the admin set; ask for at most {}", what,
                      name, value ? std::to_string(*value) : "unlimited", *max, *max));
    }
    return absl::OkStatus();
  };
  if (ceiling.cpu_quota_us &&
      (!limits.cpu_quota_us || budgets::CpuRatioLess(ceiling.cpu_quota_us, ceiling.cpu_period_us,
                                                     limits.cpu_quota_us, limits.cpu_period_us))) {
    return absl::PermissionDeniedError(
        fmt::format("{} cpu is above the ceiling of {}us per {}us the admin set", what,
                    *ceiling.cpu_quota_us, ceiling.cpu_period_us));
  }
  BH_RETURN_IF_ERROR(check("cpu weight", limits.cpu_weight, ceiling.cpu_weight));
  BH_RETURN_IF_ERROR(check("memory bytes", limits.memory_bytes, ceiling.memory_bytes));
  return check("pids", limits.pids, ceiling.pids);
}

bool HasAnyLimit(const budgets::Limits& limits) {
  return limits.cpu_quota_us || limits.cpu_weight || limits.memory_bytes || limits.pids;
}

// The tenant's budget moved under a ceiling: the same budget when it fits.
std::map<std::string, budgets::TenantBudget> ClampedBudgets(
    const std::map<std::string, budgets::TenantBudget>& budgets_by_tenant,
    const std::map<std::string, TenantBounds>& bounds) {
  std::map<std::string, budgets::TenantBudget> clamped = budgets_by_tenant;
  for (auto& [tenant, budget] : clamped) {
    if (const TenantBounds* bound = Find(bounds, tenant)) {
      budget = ClampToCeiling(budget, bound->budget_ceiling);
    }
  }
  return clamped;
}

}  // namespace

budgets::TenantBudget ClampToCeiling(budgets::TenantBudget budget, const budgets::Limits& ceiling) {
  budgets::Limits& total = budget.total;
  budgets::Limits& pod = budget.pod_default;
  if (ceiling.cpu_quota_us && budgets::CpuRatioLess(ceiling.cpu_quota_us, ceiling.cpu_period_us,
                                                    total.cpu_quota_us, total.cpu_period_us)) {
    total.cpu_quota_us = ceiling.cpu_quota_us;
    total.cpu_period_us = ceiling.cpu_period_us;
  }
  total.cpu_weight = budgets::MinLimit(total.cpu_weight, ceiling.cpu_weight);
  total.memory_bytes = budgets::MinLimit(total.memory_bytes, ceiling.memory_bytes);
  total.pids = budgets::MinLimit(total.pids, ceiling.pids);
  if (pod.cpu_quota_us && budgets::CpuRatioLess(total.cpu_quota_us, total.cpu_period_us,
                                                pod.cpu_quota_us, pod.cpu_period_us)) {
    pod.cpu_quota_us = total.cpu_quota_us;
    pod.cpu_period_us = total.cpu_period_us;
  }
  if (pod.memory_bytes) {
    pod.memory_bytes = budgets::MinLimit(pod.memory_bytes, total.memory_bytes);
  }
  if (pod.pids) {
    pod.pids = budgets::MinLimit(pod.pids, total.pids);
  }
  if (pod.cpu_weight) {
    pod.cpu_weight = budgets::MinLimit(pod.cpu_weight, total.cpu_weight);
  }
  return budget;
}

TenantRegistry::TenantRegistry(std::string node_name, Enforcer enforcer, std::string state_file,
                               budgets::BudgetEnforcer* budgets)
    : node_name_(std::move(node_name)),
      enforcer_(std::move(enforcer)),
      state_file_(std::move(state_file)),
      budgets_enforcer_(budgets) {}

Status TenantRegistry::Load() {
  if (state_file_.empty()) {
    return absl::OkStatus();
  }
  auto text = ReadFile(state_file_);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) {
      return absl::OkStatus();
    }
    return text.status();
  }
  std::scoped_lock lock(mutex_);
  BH_RETURN_IF_ERROR(Annotate(DecodeState(*text, policies_, bounds_, budgets_),
                              fmt::format("state file {}", state_file_)));
  // A state file of an older agent may hold a budget above its ceiling.
  budgets_ = ClampedBudgets(budgets_, bounds_);
  return absl::OkStatus();
}

Status TenantRegistry::Save() const {
  if (state_file_.empty()) {
    return absl::OkStatus();
  }
  return WriteStateFile(state_file_, EncodeState(policies_, bounds_, budgets_));
}

netpol::DesiredState TenantRegistry::Merge(const netpol::DesiredState& source,
                                           const std::map<std::string, TenantPolicy>& policies,
                                           const std::map<std::string, TenantBounds>& bounds,
                                           const std::string& node_name) {
  netpol::DesiredState state = source;
  std::set<std::string> tenants;
  for (netpol::Tenant& tenant : state.tenants) {
    tenants.insert(tenant.name);
    const TenantPolicy* policy = Find(policies, tenant.name);
    if (policy == nullptr) {
      continue;
    }
    const TenantBounds* bound = Find(bounds, tenant.name);
    bool audit =
        policy->mode == netpol::TenantMode::kAudit && bound != nullptr && bound->allow_audit;
    tenant.mode = audit ? netpol::TenantMode::kAudit : netpol::TenantMode::kEnforce;
    tenant.egress_default = policy->egress_default;
  }

  std::map<std::pair<std::string, std::string>, const netpol::Endpoint*> pods;
  for (const netpol::Endpoint& endpoint : state.endpoints) {
    pods[{endpoint.tenant, endpoint.pod}] = &endpoint;
  }
  std::set<netpol::Grant> grants(state.grants.begin(), state.grants.end());
  for (const auto& [name, policy] : policies) {
    if (tenants.count(name) == 0) {
      continue;
    }
    const TenantBounds* bound = Find(bounds, name);
    for (const PolicyGrant& grant : policy.grants) {
      auto pod = pods.find({name, grant.pod});
      if (tenants.count(grant.to_tenant) == 0 || !MayGrantTo(bound, grant.to_tenant) ||
          pod == pods.end()) {
        continue;  // the tenant, the pod or the permission is gone
      }
      for (const netpol::IpAddress& address : pod->second->addresses) {
        grants.insert({grant.to_tenant, netpol::Cidr::Host(address), grant.port, grant.protocol});
      }
    }
  }
  state.grants.assign(grants.begin(), grants.end());

  // Dedicated nodes: a node reserved for some tenants refuses the local
  // pods of every other tenant, and a tenant reserved to other nodes has
  // its local pods refused here. A refused pod keeps its addresses but
  // loses its cgroup, so the fail-closed rule denies what it sends.
  std::set<std::string> reserved_for;
  for (const auto& [name, bound] : bounds) {
    if (Contains(bound.dedicated_nodes, node_name)) {
      reserved_for.insert(name);
    }
  }
  for (netpol::Endpoint& endpoint : state.endpoints) {
    if (endpoint.cgroup.empty()) {
      continue;
    }
    const TenantBounds* bound = Find(bounds, endpoint.tenant);
    bool elsewhere = bound != nullptr && !bound->dedicated_nodes.empty() &&
                     !Contains(bound->dedicated_nodes, node_name);
    bool foreign = !reserved_for.empty() && reserved_for.count(endpoint.tenant) == 0;
    if (elsewhere || foreign) {
      endpoint.cgroup.clear();
    }
  }
  return state;
}

Status TenantRegistry::Enforce(const std::map<std::string, TenantPolicy>& policies,
                               const std::map<std::string, TenantBounds>& bounds) {
  if (!source_) {
    return absl::OkStatus();  // nothing to enforce until the source speaks
  }
  return enforcer_(Merge(*source_, policies, bounds, node_name_));
}

Status TenantRegistry::SetSource(SourceState source) {
  std::scoped_lock lock(mutex_);
  std::optional<netpol::DesiredState> previous = std::move(source_);
  source_ = std::move(source.network);
  Status status = Enforce(policies_, bounds_);
  if (!status.ok()) {
    source_ = std::move(previous);
    return status;
  }
  identities_ = std::move(source.identities);
  ApplyBudgets({});
  return status;
}

std::vector<budgets::BudgetPod> TenantRegistry::BudgetPods(const std::string& tenant) const {
  std::vector<budgets::BudgetPod> pods;
  if (!source_) {
    return pods;
  }
  for (const netpol::Endpoint& endpoint : source_->endpoints) {
    if (endpoint.tenant != tenant || endpoint.cgroup.empty()) {
      continue;  // another tenant's pod, or a pod on another node
    }
    budgets::BudgetPod pod{endpoint.pod, "", budgets::QosClass::kBurstable};
    for (const PodIdentity& identity : identities_) {
      if (identity.tenant == tenant && identity.pod == endpoint.pod) {
        pod.uid = identity.uid;
        pod.qos = identity.qos;
      }
    }
    pods.push_back(std::move(pod));
  }
  return pods;
}

void TenantRegistry::ApplyBudgets(const std::set<std::string>& tenants) {
  if (budgets_enforcer_ == nullptr) {
    return;
  }
  for (const auto& [tenant, budget] : budgets_) {
    if (!tenants.empty() && tenants.count(tenant) == 0) {
      continue;
    }
    std::vector<budgets::BudgetPod> pods = BudgetPods(tenant);
    auto failed = budget_errors_.find(tenant);
    auto last = budget_pods_.find(tenant);
    if (tenants.empty() && failed == budget_errors_.end() && last != budget_pods_.end() &&
        last->second == pods) {
      continue;  // in force on exactly these pods already
    }
    Status status = budgets_enforcer_->Apply(tenant, budget, pods);
    if (status.ok()) {
      budget_pods_[tenant] = std::move(pods);
      if (failed != budget_errors_.end()) {
        Logger(Component::kBudget).info("budget in force again tenant={}", tenant);
        budget_errors_.erase(failed);
      }
      continue;
    }
    std::string message = MessageOf(status);
    if (failed == budget_errors_.end() || failed->second != message) {
      Logger(Component::kBudget)
          .error("budget not applied to the tenant's pods; retrying tenant={} error=\"{}\"", tenant,
                 message);
    }
    budget_errors_[tenant] = std::move(message);
  }
}

void TenantRegistry::SyncBudgets() {
  std::scoped_lock lock(mutex_);
  if (budget_errors_.empty()) {
    return;
  }
  std::set<std::string> failed;
  for (const auto& [tenant, unused] : budget_errors_) {
    failed.insert(tenant);
  }
  ApplyBudgets(failed);
}

void TenantRegistry::ResyncBudgets() {
  std::scoped_lock lock(mutex_);
  std::set<std::string> tenants;
  for (const auto& [tenant, unused] : budgets_) {
    tenants.insert(tenant);
  }
  if (!tenants.empty()) {
    ApplyBudgets(tenants);
  }
}

std::string TenantRegistry::BudgetMode() const {
  return budgets_enforcer_ == nullptr ? "off" : std::string(budgets_enforcer_->Mode());
}

std::vector<BudgetReport> TenantRegistry::BudgetReports() const {
  std::vector<BudgetReport> reports;
  std::scoped_lock lock(mutex_);
  if (budgets_enforcer_ == nullptr) {
    return reports;
  }
  for (const std::string& tenant : budgets_enforcer_->Tenants()) {
    BudgetReport report{tenant, std::nullopt, std::nullopt};
    if (auto usage = budgets_enforcer_->Usage(tenant); usage.ok()) {
      report.usage = *usage;
    }
    if (auto events = budgets_enforcer_->Events(tenant); events.ok()) {
      report.events = *events;
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

Status TenantRegistry::CheckPolicy(const TenantPolicy& policy) const {
  BH_RETURN_IF_ERROR(budgets::ValidateName("tenant", policy.tenant));
  if (policy.generation == 0) {
    return absl::InvalidArgumentError(
        "generation must be at least 1 and grow with every change of the policy");
  }
  if (policy.grants.size() > kMaxGrantsPerPolicy) {
    return absl::InvalidArgumentError(fmt::format("{} grants: a policy holds at most {}",
                                                  policy.grants.size(), kMaxGrantsPerPolicy));
  }
  if (!source_) {
    return absl::FailedPreconditionError(
        "the agent does not know this node's tenants yet (no endpoints source has been read)");
  }
  std::set<std::string> tenants;
  for (const netpol::Tenant& tenant : source_->tenants) {
    tenants.insert(tenant.name);
  }
  if (tenants.count(policy.tenant) == 0) {
    return absl::NotFoundError(
        fmt::format("tenant {} is not known on node {}: the endpoints source has no such tenant",
                    policy.tenant, node_name_));
  }
  if (const TenantPolicy* current = Find(policies_, policy.tenant)) {
    if (policy.generation < current->generation) {
      return absl::FailedPreconditionError(fmt::format(
          "stale generation {} for tenant {}: generation {} is already applied; send a newer one",
          policy.generation, policy.tenant, current->generation));
    }
    if (policy.generation == current->generation && !(policy == *current)) {
      return absl::FailedPreconditionError(fmt::format(
          "generation {} of tenant {} was already applied with other content; a change needs a "
          "new generation",
          policy.generation, policy.tenant));
    }
  }
  const TenantBounds* bound = Find(bounds_, policy.tenant);
  if (policy.mode == netpol::TenantMode::kAudit && (bound == nullptr || !bound->allow_audit)) {
    return absl::PermissionDeniedError(fmt::format(
        "tenant {} may not use audit mode: the admin's bounds do not allow it", policy.tenant));
  }
  std::set<std::string> pods;
  for (const netpol::Endpoint& endpoint : source_->endpoints) {
    if (endpoint.tenant == policy.tenant) {
      pods.insert(endpoint.pod);
    }
  }
  for (size_t i = 0; i < policy.grants.size(); ++i) {
    const PolicyGrant& grant = policy.grants[i];
    std::string field = fmt::format("grants[{}]", i);
    BH_RETURN_IF_ERROR(Annotate(budgets::ValidateName("tenant", grant.to_tenant), field));
    if (grant.to_tenant == policy.tenant) {
      return absl::InvalidArgumentError(
          fmt::format("{}: a tenant needs no grant to reach its own pods", field));
    }
    if (tenants.count(grant.to_tenant) == 0) {
      return absl::NotFoundError(
          fmt::format("{}: tenant {} is not known on node {}", field, grant.to_tenant, node_name_));
    }
    if (!MayGrantTo(bound, grant.to_tenant)) {
      return absl::PermissionDeniedError(
          fmt::format("{}: the admin's bounds do not let tenant {} grant to tenant {}", field,
                      policy.tenant, grant.to_tenant));
    }
    if (pods.count(grant.pod) == 0) {
      return absl::NotFoundError(
          fmt::format("{}: tenant {} has no pod '{}'", field, policy.tenant, grant.pod));
    }
  }
  return absl::OkStatus();
}

StatusOr<ApplyResult> TenantRegistry::ApplyPolicy(const TenantPolicy& policy) {
  std::scoped_lock lock(mutex_);
  BH_RETURN_IF_ERROR(CheckPolicy(policy));
  const TenantPolicy* current = Find(policies_, policy.tenant);
  if (current != nullptr && current->generation == policy.generation) {
    return ApplyResult{policy.generation, false};
  }
  auto policies = policies_;
  policies[policy.tenant] = policy;
  BH_RETURN_IF_ERROR(Enforce(policies, bounds_));
  policies_ = std::move(policies);
  if (Status saved = Save(); !saved.ok()) {
    Logger(Component::kAgent)
        .error(
            "state file not written; the policy is enforced but not kept across restarts "
            "error=\"{}\"",
            MessageOf(saved));
  }
  return ApplyResult{policy.generation, true};
}

Status TenantRegistry::SetBounds(const TenantBounds& bounds) {
  BH_RETURN_IF_ERROR(budgets::ValidateName("tenant", bounds.tenant));
  if (bounds.may_grant_to.size() > kMaxBoundsListEntries ||
      bounds.dedicated_nodes.size() > kMaxBoundsListEntries) {
    return absl::InvalidArgumentError(
        fmt::format("bounds lists hold at most {} entries", kMaxBoundsListEntries));
  }
  for (const std::string& to : bounds.may_grant_to) {
    if (to != "*") {
      BH_RETURN_IF_ERROR(Annotate(budgets::ValidateName("tenant", to), "may_grant_to"));
    }
  }
  BH_RETURN_IF_ERROR(budgets::ValidateLimits(bounds.budget_ceiling, "budget ceiling"));
  std::scoped_lock lock(mutex_);
  auto all = bounds_;
  all[bounds.tenant] = bounds;
  // A lower ceiling lowers the budget under it, in the cgroups first: when
  // they refuse (pods using more than the new ceiling, too many pods for
  // it), nothing changes.
  std::map<std::string, budgets::TenantBudget> clamped = ClampedBudgets(budgets_, all);
  const budgets::TenantBudget* before = Find(budgets_, bounds.tenant);
  const budgets::TenantBudget* after = Find(clamped, bounds.tenant);
  bool lowered = before != nullptr && !(*before == *after);
  if (lowered && budgets_enforcer_ != nullptr) {
    std::vector<budgets::BudgetPod> pods = BudgetPods(bounds.tenant);
    Status applied = budgets_enforcer_->Apply(bounds.tenant, *after, pods);
    if (!applied.ok()) {
      return Status(
          applied.code(),
          fmt::format("the new ceiling lowers the budget of tenant {} to {}, which the "
                      "cgroups refused: {}; the bounds were not changed",
                      bounds.tenant, budgets::DescribeLimits(after->total), MessageOf(applied)));
    }
    budget_pods_[bounds.tenant] = std::move(pods);
  }
  if (Status enforced = Enforce(policies_, all); !enforced.ok()) {
    if (lowered && budgets_enforcer_ != nullptr) {
      if (Status undone =
              budgets_enforcer_->Apply(bounds.tenant, *before, BudgetPods(bounds.tenant));
          !undone.ok()) {
        budget_errors_[bounds.tenant] = MessageOf(undone);
      }
    }
    return enforced;
  }
  if (lowered) {
    Logger(Component::kBudget)
        .info("budget lowered to the tenant's new ceiling tenant={} budget=\"{}\"", bounds.tenant,
              budgets::DescribeLimits(after->total));
    budget_errors_.erase(bounds.tenant);
  }
  bounds_ = std::move(all);
  budgets_ = std::move(clamped);
  if (Status saved = Save(); !saved.ok()) {
    Logger(Component::kAgent).error("state file not written error=\"{}\"", MessageOf(saved));
  }
  return absl::OkStatus();
}

Status TenantRegistry::SetBudget(const std::string& tenant, const budgets::TenantBudget& budget,
                                 BudgetSetter setter) {
  BH_RETURN_IF_ERROR(budgets::ValidateName("tenant", tenant));
  BH_RETURN_IF_ERROR(budgets::ValidateBudget(budget));
  std::scoped_lock lock(mutex_);
  bool known = source_ && std::any_of(source_->tenants.begin(), source_->tenants.end(),
                                      [&](const netpol::Tenant& t) { return t.name == tenant; });
  if (!known) {
    return absl::NotFoundError(
        fmt::format("tenant {} is not known on node {}", tenant, node_name_));
  }
  const TenantBounds* bound = Find(bounds_, tenant);
  if (setter == BudgetSetter::kTenant &&
      (bound == nullptr || !HasAnyLimit(bound->budget_ceiling))) {
    return absl::PermissionDeniedError(fmt::format(
        "tenant {} has no budget ceiling on node {}, so only the admin sets its budget; ask the "
        "admin to set one (budget_ceiling in the tenant's bounds) or to set the budget",
        tenant, node_name_));
  }
  if (bound != nullptr) {
    Status within = CheckCeiling(budget.total, bound->budget_ceiling, "budget");
    if (!within.ok() && setter == BudgetSetter::kAdmin) {
      return absl::FailedPreconditionError(
          fmt::format("{}; raise the tenant's budget_ceiling (bulkhead tenant bounds) first",
                      MessageOf(within)));
    }
    BH_RETURN_IF_ERROR(within);
  }
  if (budgets_enforcer_ != nullptr) {
    std::vector<budgets::BudgetPod> pods = BudgetPods(tenant);
    BH_RETURN_IF_ERROR(budgets_enforcer_->Apply(tenant, budget, pods));
    budget_errors_.erase(tenant);
    budget_pods_[tenant] = std::move(pods);
  }
  budgets_[tenant] = budget;
  if (Status saved = Save(); !saved.ok()) {
    Logger(Component::kAgent).error("state file not written error=\"{}\"", MessageOf(saved));
  }
  return absl::OkStatus();
}

TenantView TenantRegistry::ViewOf(const std::string& name) const {
  TenantView view;
  view.name = name;
  if (source_) {
    for (const netpol::Endpoint& endpoint : source_->endpoints) {
      if (endpoint.tenant == name) {
        ++view.endpoints;
        view.local_endpoints += endpoint.cgroup.empty() ? 0 : 1;
      }
    }
  }
  if (const TenantPolicy* policy = Find(policies_, name)) {
    view.policy = *policy;
  }
  if (const TenantBounds* bound = Find(bounds_, name)) {
    view.bounds = *bound;
  }
  if (const budgets::TenantBudget* budget = Find(budgets_, name)) {
    view.budget = *budget;
  }
  if (const std::string* error = Find(budget_errors_, name)) {
    view.budget_error = *error;
  }
  return view;
}

std::vector<TenantView> TenantRegistry::Tenants() const {
  std::scoped_lock lock(mutex_);
  std::set<std::string> names;
  if (source_) {
    for (const netpol::Tenant& tenant : source_->tenants) {
      names.insert(tenant.name);
    }
  }
  for (const auto& [name, unused] : policies_) {
    names.insert(name);
  }
  for (const auto& [name, unused] : bounds_) {
    names.insert(name);
  }
  std::vector<TenantView> views;
  views.reserve(names.size());
  for (const std::string& name : names) {
    views.push_back(ViewOf(name));
  }
  return views;
}

std::optional<TenantView> TenantRegistry::Tenant(const std::string& name) const {
  std::scoped_lock lock(mutex_);
  return ViewOf(name);
}

bool TenantRegistry::HasSource() const {
  std::scoped_lock lock(mutex_);
  return source_.has_value();
}

}  // namespace bulkhead::agent::api
