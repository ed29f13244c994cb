// What tenants and the platform admin asked of this node's agent, checked
// against each other and merged with the endpoints source into the one
// state the datapath enforces.
//
// The source (today the endpoints file) says which tenants and pods exist;
// a tenant's policy (mode, egress default, grants of its pods to other
// tenants) and budget come over the API; the admin's bounds say what a
// tenant may ask for. Every change is checked, merged and enforced first,
// and stored only when the datapath took it: on any error nothing changes
// and the previous state stays enforced. Accepted changes are written to a
// state file so a restarted agent enforces them again at once.
//
// Budgets go to the budget enforcer (when the agent has one) together with
// the tenant's pods on this node: on SetBudget (refused if the cgroups
// refuse it) and whenever the source changes the tenant's pods (a failure
// there is kept, shown in the tenant's status and retried by SyncBudgets).
// Who may set a budget: the admin, within the tenant's ceiling (raise the
// ceiling first); a tenant only within a ceiling the admin set (no ceiling:
// only the admin). Lowering a ceiling lowers the budget under it, in the
// cgroups too, or is refused with nothing changed.
#ifndef BULKHEAD_AGENT_API_TENANT_REGISTRY_H_
#define BULKHEAD_AGENT_API_TENANT_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/budgets/budget.h"
#include "agent/budgets/enforcer.h"
#include "agent/endpoints/source.h"
#include "agent/netpol/datapath.h"
#include "common/status.h"

namespace bulkhead::agent::api {

// Opens pod `pod` of the policy's tenant to `to_tenant`.
struct PolicyGrant {
  std::string to_tenant;
  std::string pod;
  std::uint16_t port = 0;
  netpol::Protocol protocol = netpol::Protocol::kAny;
  bool operator==(const PolicyGrant&) const = default;
};

struct TenantPolicy {
  std::string tenant;
  std::uint64_t generation = 0;
  netpol::TenantMode mode = netpol::TenantMode::kEnforce;
  netpol::EgressDefault egress_default = netpol::EgressDefault::kAllow;
  std::vector<PolicyGrant> grants;
  bool operator==(const TenantPolicy&) const = default;
};

struct TenantBounds {
  std::string tenant;
  bool allow_audit = false;
  std::vector<std::string> may_grant_to;  // "*": any tenant
  budgets::Limits budget_ceiling;
  std::vector<std::string> dedicated_nodes;
  // The tenant's pods keep CAP_NET_RAW (default: dropped; docs/netpol.md).
  bool allow_net_raw = false;
  bool operator==(const TenantBounds&) const = default;
};

// Limits that keep one request from growing the agent without bound.
inline constexpr size_t kMaxGrantsPerPolicy = 256;
inline constexpr size_t kMaxBoundsListEntries = 1024;

struct TenantView {
  std::string name;
  size_t endpoints = 0;
  size_t local_endpoints = 0;
  std::optional<TenantPolicy> policy;
  std::optional<TenantBounds> bounds;
  std::optional<budgets::TenantBudget> budget;
  // Why the budget is not in force on every local pod (empty: it is).
  std::string budget_error;
};

// What a tenant's budget costs on this node now, for metrics and status.
struct BudgetReport {
  std::string tenant;
  std::optional<budgets::TenantUsage> usage;    // unset: could not be read
  std::optional<budgets::TenantEvents> events;  // unset: could not be read
};

// Who asks for a budget: the admin, or the tenant itself (its own or its
// control plane's certificate).
enum class BudgetSetter { kAdmin, kTenant };

// `budget` lowered, resource by resource, to fit `ceiling` (unset ceiling
// values leave the budget as it is); the pod default is lowered to the
// new total where it is above it.
budgets::TenantBudget ClampToCeiling(budgets::TenantBudget budget, const budgets::Limits& ceiling);

struct ApplyResult {
  std::uint64_t generation = 0;
  bool changed = false;
};

class TenantRegistry {
 public:
  // Makes the datapath enforce exactly this state (all or nothing).
  using Enforcer = std::function<Status(const netpol::DesiredState&)>;

  // `state_file` empty: nothing is kept across restarts. `budgets` null:
  // budgets are validated and kept but no cgroup is written. The enforcer
  // must outlive the registry.
  TenantRegistry(std::string node_name, Enforcer enforcer, std::string state_file,
                 budgets::BudgetEnforcer* budgets = nullptr);

  // Reads the state file (if any) written by a previous agent. Call before
  // the first SetSource.
  Status Load();

  // A new state from the source: merged with the stored policies and
  // enforced. On error nothing changes. Then every budget is applied to
  // its tenant's pods as the source now lists them.
  Status SetSource(SourceState source);

  StatusOr<ApplyResult> ApplyPolicy(const TenantPolicy& policy);
  Status SetBounds(const TenantBounds& bounds);
  // PERMISSION_DENIED for a tenant with no ceiling or above it;
  // FAILED_PRECONDITION for the admin above the tenant's ceiling.
  Status SetBudget(const std::string& tenant, const budgets::TenantBudget& budget,
                   BudgetSetter setter = BudgetSetter::kAdmin);
  // True when budgets are written to cgroups (a budget enforcer is set).
  [[nodiscard]] bool EnforcesBudgets() const { return budgets_enforcer_ != nullptr; }
  // True when memory budgets hold swap too.
  [[nodiscard]] bool BudgetSwapLimited() const {
    return budgets_enforcer_ != nullptr && budgets_enforcer_->SwapLimited();
  }
  // "kubelet", "placed", or "off".
  [[nodiscard]] std::string BudgetMode() const;
  // Applies again the budgets whose last application failed (a pod's
  // cgroup not there yet, a refused write). Cheap when none failed.
  void SyncBudgets();
  // Applies every budget again to its tenant's pods as they are now: a pod
  // cgroup resized or made again behind the agent's back gets its ceiling
  // back. Reads each pod's cgroup; writes only what drifted.
  void ResyncBudgets();
  // Usage and events of every tenant with a budget in force.
  [[nodiscard]] std::vector<BudgetReport> BudgetReports() const;

  [[nodiscard]] std::vector<TenantView> Tenants() const;
  [[nodiscard]] std::optional<TenantView> Tenant(const std::string& name) const;
  [[nodiscard]] bool HasSource() const;

  // The state the datapath should enforce for `source` with these
  // policies and bounds on node `node_name` (pure; exposed for tests).
  static netpol::DesiredState Merge(const netpol::DesiredState& source,
                                    const std::map<std::string, TenantPolicy>& policies,
                                    const std::map<std::string, TenantBounds>& bounds,
                                    const std::string& node_name);

 private:
  Status CheckPolicy(const TenantPolicy& policy) const;
  Status Enforce(const std::map<std::string, TenantPolicy>& policies,
                 const std::map<std::string, TenantBounds>& bounds);
  Status Save() const;
  [[nodiscard]] std::vector<budgets::BudgetPod> BudgetPods(const std::string& tenant) const;
  // Applies the budgets of `tenants`, or (when empty) every budget whose
  // tenant's pods changed or whose last application failed; records failures.
  void ApplyBudgets(const std::set<std::string>& tenants);
  [[nodiscard]] TenantView ViewOf(const std::string& name) const;

  const std::string node_name_;
  const Enforcer enforcer_;
  const std::string state_file_;
  mutable std::mutex mutex_;
  budgets::BudgetEnforcer* const budgets_enforcer_;
  std::optional<netpol::DesiredState> source_;
  std::vector<PodIdentity> identities_;
  std::map<std::string, TenantPolicy> policies_;
  std::map<std::string, TenantBounds> bounds_;
  std::map<std::string, budgets::TenantBudget> budgets_;
  std::map<std::string, std::string> budget_errors_;  // tenant -> why not in force
  // The pods each budget was last applied to: a source change re-applies a
  // budget only when its tenant's pods changed.
  std::map<std::string, std::vector<budgets::BudgetPod>> budget_pods_;
};

}  // namespace bulkhead::agent::api

#endif  // BULKHEAD_AGENT_API_TENANT_REGISTRY_H_
