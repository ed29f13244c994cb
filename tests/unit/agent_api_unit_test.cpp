// The agent API's pure parts: who may do what, roles from certificates,
// the merge of policies and bounds into the enforced state (audit only
// when allowed, grants only when bounded, dedicated nodes), the state
// file, budgets handed to the enforcer with the tenant's pods, budget
// counters turned into events, the flow hub and the metrics text.
#include <gtest/gtest.h>

#include "fmt/format.h"

#include "agent/api/authz.h"
#include "agent/api/budget_watch.h"
#include "agent/api/flow_hub.h"
#include "agent/api/state_file.h"
#include "agent/api/tenant_registry.h"
#include "agent/metrics/http_server.h"
#include "agent/metrics/prometheus_text.h"
#include "common/pki/identity.h"
#include "tests/support/command.h"

namespace bulkhead::agent::api {
namespace {

using netpol::Endpoint;
using netpol::IpAddress;

pki::Role Tenant(const std::string& name) { return {pki::Role::Kind::kTenant, name}; }

TEST(AgentAuthz, RolesAndActions) {
  pki::Role admin{pki::Role::Kind::kAdmin, ""};
  pki::Role agent{pki::Role::Kind::kAgent, ""};
  pki::Role control_plane{pki::Role::Kind::kControlplane, "team-a"};
  for (Action action :
       {Action::kApplyPolicy, Action::kSetBounds, Action::kSetBudget, Action::kReadStatus,
        Action::kReadFlows, Action::kReadCounters, Action::kReadEvents}) {
    EXPECT_TRUE(Authorize(admin, action, "team-b").ok());
    EXPECT_TRUE(absl::IsPermissionDenied(Authorize(agent, action, "team-a")));
    EXPECT_TRUE(absl::IsPermissionDenied(Authorize(Tenant("team-a"), action, "team-b")));
    bool admin_only = action == Action::kSetBounds;
    EXPECT_EQ(Authorize(Tenant("team-a"), action, "team-a").ok(), !admin_only);
    EXPECT_EQ(Authorize(control_plane, action, "team-a").ok(), !admin_only);
  }
  // Reads of "everything I may see" are narrowed later; writes must name the tenant.
  EXPECT_TRUE(Authorize(Tenant("team-a"), Action::kReadFlows, "").ok());
  EXPECT_TRUE(absl::IsPermissionDenied(Authorize(Tenant("team-a"), Action::kApplyPolicy, "")));
}

TEST(AgentAuthz, CommonNames) {
  auto role_of = [](const char* cn) {
    pki::CertificateIdentity identity;
    identity.common_name = cn;
    return pki::RoleOf(identity);
  };
  EXPECT_EQ(role_of("tenant:team-a")->tenant, "team-a");
  EXPECT_EQ(role_of("controlplane:x1")->kind, pki::Role::Kind::kControlplane);
  EXPECT_EQ(role_of("admin")->ToString(), "admin");
  for (const char* bad : {"", "root", "tenant:", "tenant:Team_A", "tenant:a:b", "admin "}) {
    auto role = role_of(bad);
    EXPECT_TRUE(absl::IsUnauthenticated(role.status())) << bad;
  }
  EXPECT_EQ(Tenant("team-a").Uri(), "bulkhead://role/tenant/team-a");
  EXPECT_EQ(Tenant("team-a").FileStem(), "tenant-team-a");
}

netpol::DesiredState Source() {
  netpol::DesiredState state;
  for (const char* t : {"team-a", "team-b"}) {
    state.tenants.push_back({t});
  }
  Endpoint a1{"team-a", "a1", {*IpAddress::Parse("10.0.0.1")}, "/cg/a1"};
  Endpoint b1{
      "team-b", "b1", {*IpAddress::Parse("10.0.1.1"), *IpAddress::Parse("fd00::11")}, "/cg/b1"};
  state.endpoints = {a1, b1};
  return state;
}

TEST(AgentRegistryMerge, PoliciesOnlyInsideBounds) {
  std::map<std::string, TenantPolicy> policies;
  TenantPolicy policy{"team-b",
                      1,
                      netpol::TenantMode::kAudit,
                      netpol::EgressDefault::kDeny,
                      {{"team-a", "b1", 8080, netpol::Protocol::kTcp}}};
  policies["team-b"] = policy;
  // No bounds: no audit, no grants; the egress default is the tenant's own.
  auto merged = TenantRegistry::Merge(Source(), policies, {}, "n1");
  EXPECT_EQ(merged.tenants[1].mode, netpol::TenantMode::kEnforce);
  EXPECT_EQ(merged.tenants[1].egress_default, netpol::EgressDefault::kDeny);
  EXPECT_TRUE(merged.grants.empty());
  // Bounds allow both: every address of the pod is granted.
  std::map<std::string, TenantBounds> bounds;
  bounds["team-b"] = {"team-b", true, {"team-a"}, {}, {}};
  merged = TenantRegistry::Merge(Source(), policies, bounds, "n1");
  EXPECT_EQ(merged.tenants[1].mode, netpol::TenantMode::kAudit);
  ASSERT_EQ(merged.grants.size(), 2U);
  EXPECT_EQ(merged.grants[0].tenant, "team-a");
  EXPECT_EQ(merged.grants[0].port, 8080);
}

TEST(AgentRegistryMerge, DedicatedNodesRefuseForeignPods) {
  std::map<std::string, TenantBounds> bounds;
  bounds["team-a"] = {"team-a", false, {}, {}, {"n1"}};
  // n1 is team-a's: team-b's local pod loses its cgroup (fail closed).
  auto on_n1 = TenantRegistry::Merge(Source(), {}, bounds, "n1");
  EXPECT_EQ(on_n1.endpoints[0].cgroup, "/cg/a1");
  EXPECT_EQ(on_n1.endpoints[1].cgroup, "");
  // On n2, team-a's pod is the foreign one.
  auto on_n2 = TenantRegistry::Merge(Source(), {}, bounds, "n2");
  EXPECT_EQ(on_n2.endpoints[0].cgroup, "");
  EXPECT_EQ(on_n2.endpoints[1].cgroup, "/cg/b1");
}

TEST(AgentRegistry, EnforcerErrorKeepsThePreviousPolicy) {
  bool fail = false;
  int calls = 0;
  TenantRegistry registry(
      "n1",
      [&](const netpol::DesiredState&) {
        ++calls;
        return fail ? absl::ResourceExhaustedError("map full") : absl::OkStatus();
      },
      "");
  ASSERT_TRUE(registry.SetSource({Source(), {}}).ok());
  ASSERT_TRUE(
      registry
          .ApplyPolicy(
              {"team-a", 1, netpol::TenantMode::kEnforce, netpol::EgressDefault::kAllow, {}})
          .ok());
  fail = true;
  TenantPolicy next{"team-a", 2, netpol::TenantMode::kEnforce, netpol::EgressDefault::kDeny, {}};
  auto result = registry.ApplyPolicy(next);
  EXPECT_TRUE(absl::IsResourceExhausted(result.status()));
  EXPECT_EQ(registry.Tenant("team-a")->policy->generation, 1U);
  fail = false;
  EXPECT_TRUE(registry.ApplyPolicy(next).ok());
  EXPECT_EQ(calls, 4);
}

// Records what the registry asks of the budget enforcer; refuses while
// `refuse` holds a status. The kernel side is tested in the privileged
// budget and agent tests.
class RecordingBudgets : public budgets::BudgetEnforcer {
 public:
  [[nodiscard]] std::string_view Mode() const override { return "kubelet"; }
  Status Apply(const std::string& tenant, const budgets::TenantBudget& budget,
               const std::vector<budgets::BudgetPod>& pods) override {
    ++calls;
    if (!refuse.ok()) {
      return refuse;
    }
    applied[tenant] = {budget, pods};
    return absl::OkStatus();
  }
  StatusOr<budgets::TenantUsage> Usage(std::string_view /*tenant*/) override {
    return budgets::TenantUsage{1'500'000, 64 << 20, 3};
  }
  StatusOr<budgets::TenantEvents> Events(std::string_view /*tenant*/) override { return events; }
  [[nodiscard]] std::vector<std::string> Tenants() const override {
    std::vector<std::string> names;
    for (const auto& [name, unused] : applied) {
      names.push_back(name);
    }
    return names;
  }

  Status refuse = absl::OkStatus();
  int calls = 0;
  budgets::TenantEvents events;
  std::map<std::string, std::pair<budgets::TenantBudget, std::vector<budgets::BudgetPod>>> applied;
};

budgets::TenantBudget MemoryBudget(int64_t mib) {
  budgets::TenantBudget budget;
  budget.total.memory_bytes = mib << 20;
  return budget;
}

TEST(AgentRegistryBudgets, AppliedWithTheTenantsLocalPods) {
  RecordingBudgets enforcer;
  TenantRegistry registry(
      "n1", [](const netpol::DesiredState&) { return absl::OkStatus(); }, "", &enforcer);
  netpol::DesiredState source = Source();
  source.endpoints.push_back({"team-a", "a2", {*IpAddress::Parse("10.0.0.2")}, ""});  // elsewhere
  ASSERT_TRUE(
      registry.SetSource({source, {{"team-a", "a1", "uid-a1", budgets::QosClass::kGuaranteed}}})
          .ok());
  ASSERT_TRUE(registry.SetBudget("team-a", MemoryBudget(256)).ok());
  ASSERT_EQ(enforcer.applied.count("team-a"), 1U);
  EXPECT_EQ(enforcer.applied["team-a"].first, MemoryBudget(256));
  // Only the pod on this node, with the identity the source gave.
  EXPECT_EQ(enforcer.applied["team-a"].second,
            (std::vector<budgets::BudgetPod>{{"a1", "uid-a1", budgets::QosClass::kGuaranteed}}));
  EXPECT_TRUE(registry.EnforcesBudgets());
  EXPECT_EQ(registry.BudgetMode(), "kubelet");

  // A new pod in the source reaches the enforcer with the same budget.
  source.endpoints.push_back({"team-a", "a3", {*IpAddress::Parse("10.0.0.3")}, "/cg/a3"});
  ASSERT_TRUE(registry.SetSource({source, {}}).ok());
  EXPECT_EQ(enforcer.applied["team-a"].second.size(), 2U);
  EXPECT_EQ(enforcer.applied["team-a"].second[1].pod, "a3");
}

TEST(AgentRegistryBudgets, RefusedByTheCgroupsNothingStored) {
  RecordingBudgets enforcer;
  TenantRegistry registry(
      "n1", [](const netpol::DesiredState&) { return absl::OkStatus(); }, "", &enforcer);
  ASSERT_TRUE(registry.SetSource({Source(), {}}).ok());
  ASSERT_TRUE(registry.SetBudget("team-a", MemoryBudget(256)).ok());
  enforcer.refuse = absl::FailedPreconditionError("budget too small for the pods");
  EXPECT_TRUE(absl::IsFailedPrecondition(registry.SetBudget("team-a", MemoryBudget(32))));
  EXPECT_EQ(registry.Tenant("team-a")->budget, MemoryBudget(256));
}

TEST(AgentRegistryBudgets, FailureOnASourceChangeIsShownAndRetried) {
  RecordingBudgets enforcer;
  TenantRegistry registry(
      "n1", [](const netpol::DesiredState&) { return absl::OkStatus(); }, "", &enforcer);
  ASSERT_TRUE(registry.SetSource({Source(), {}}).ok());
  ASSERT_TRUE(registry.SetBudget("team-a", MemoryBudget(256)).ok());
  // A source change that leaves the tenant's pods as they were does not
  // touch its cgroups again.
  int calls = enforcer.calls;
  ASSERT_TRUE(registry.SetSource({Source(), {}}).ok());
  EXPECT_EQ(enforcer.calls, calls);

  enforcer.refuse = absl::NotFoundError("cgroup of pod a3 not found");
  netpol::DesiredState source = Source();
  source.endpoints.push_back({"team-a", "a3", {*IpAddress::Parse("10.0.0.3")}, "/cg/a3"});
  // The source change itself is accepted: the network state must follow it.
  ASSERT_TRUE(registry.SetSource({source, {}}).ok());
  EXPECT_EQ(registry.Tenant("team-a")->budget_error, "cgroup of pod a3 not found");
  calls = enforcer.calls;
  registry.SyncBudgets();
  EXPECT_EQ(enforcer.calls, calls + 1);
  enforcer.refuse = absl::OkStatus();
  registry.SyncBudgets();
  EXPECT_EQ(registry.Tenant("team-a")->budget_error, "");
  calls = enforcer.calls;
  registry.SyncBudgets();  // nothing failed: nothing to do
  EXPECT_EQ(enforcer.calls, calls);
}

TEST(AgentRegistryBudgets, ATenantSetsItsBudgetOnlyInsideTheAdminsCeiling) {
  RecordingBudgets enforcer;
  TenantRegistry registry(
      "n1", [](const netpol::DesiredState&) { return absl::OkStatus(); }, "", &enforcer);
  ASSERT_TRUE(registry.SetSource({Source(), {}}).ok());
  // No ceiling: only the admin sets the budget.
  Status alone = registry.SetBudget("team-a", MemoryBudget(256), BudgetSetter::kTenant);
  EXPECT_TRUE(absl::IsPermissionDenied(alone)) << alone;
  EXPECT_NE(MessageOf(alone).find("ask the admin"), std::string::npos) << alone;
  EXPECT_EQ(enforcer.calls, 0);
  EXPECT_FALSE(registry.Tenant("team-a")->budget.has_value());
  // Bounds without a budget ceiling are no ceiling either.
  ASSERT_TRUE(registry.SetBounds({"team-a", false, {}, {}, {}}).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(
      registry.SetBudget("team-a", MemoryBudget(256), BudgetSetter::kTenant)));
  ASSERT_TRUE(registry.SetBudget("team-a", MemoryBudget(256), BudgetSetter::kAdmin).ok());

  budgets::Limits ceiling;
  ceiling.memory_bytes = int64_t{512} << 20;
  ASSERT_TRUE(registry.SetBounds({"team-a", false, {}, ceiling, {}}).ok());
  EXPECT_TRUE(registry.SetBudget("team-a", MemoryBudget(128), BudgetSetter::kTenant).ok());
  EXPECT_EQ(enforcer.applied["team-a"].first, MemoryBudget(128));
  EXPECT_TRUE(absl::IsPermissionDenied(
      registry.SetBudget("team-a", MemoryBudget(1024), BudgetSetter::kTenant)));
  // Unlimited memory is above any memory ceiling.
  EXPECT_TRUE(absl::IsPermissionDenied(
      registry.SetBudget("team-a", budgets::TenantBudget{}, BudgetSetter::kTenant)));
  // The admin above the ceiling is told to raise the ceiling first.
  Status admin = registry.SetBudget("team-a", MemoryBudget(1024), BudgetSetter::kAdmin);
  EXPECT_TRUE(absl::IsFailedPrecondition(admin)) << admin;
  EXPECT_NE(MessageOf(admin).find("raise the tenant's budget_ceiling"), std::string::npos);
  EXPECT_EQ(registry.Tenant("team-a")->budget, MemoryBudget(128));
}

TEST(AgentRegistryBudgets, LoweringACeilingLowersTheBudgetUnderIt) {
  RecordingBudgets enforcer;
  TenantRegistry registry(
      "n1", [](const netpol::DesiredState&) { return absl::OkStatus(); }, "", &enforcer);
  ASSERT_TRUE(registry.SetSource({Source(), {}}).ok());
  budgets::Limits ceiling;
  ceiling.memory_bytes = int64_t{512} << 20;
  ASSERT_TRUE(registry.SetBounds({"team-a", false, {}, ceiling, {}}).ok());
  budgets::TenantBudget budget = MemoryBudget(512);
  budget.pod_default.memory_bytes = int64_t{256} << 20;
  ASSERT_TRUE(registry.SetBudget("team-a", budget, BudgetSetter::kTenant).ok());

  ceiling.memory_bytes = int64_t{128} << 20;
  ASSERT_TRUE(registry.SetBounds({"team-a", false, {}, ceiling, {}}).ok());
  budgets::TenantBudget lowered = MemoryBudget(128);
  lowered.pod_default.memory_bytes = int64_t{128} << 20;
  EXPECT_EQ(registry.Tenant("team-a")->budget, lowered);
  EXPECT_EQ(enforcer.applied["team-a"].first, lowered);  // and in the cgroups

  // Raising the ceiling again leaves the budget where it is.
  int calls = enforcer.calls;
  ceiling.memory_bytes = int64_t{1} << 30;
  ASSERT_TRUE(registry.SetBounds({"team-a", false, {}, ceiling, {}}).ok());
  EXPECT_EQ(enforcer.calls, calls);
  EXPECT_EQ(registry.Tenant("team-a")->budget, lowered);

  // Cgroups that refuse the lower budget leave the bounds and budget as they were.
  enforcer.refuse = absl::UnavailableError("memory in use above the limit");
  ceiling.memory_bytes = int64_t{64} << 20;
  Status refused = registry.SetBounds({"team-a", false, {}, ceiling, {}});
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  EXPECT_NE(MessageOf(refused).find("the bounds were not changed"), std::string::npos);
  EXPECT_EQ(registry.Tenant("team-a")->bounds->budget_ceiling.memory_bytes, int64_t{1} << 30);
  EXPECT_EQ(registry.Tenant("team-a")->budget, lowered);
}

TEST(AgentRegistryBudgets, ClampToCeilingResourceByResource) {
  budgets::TenantBudget budget;
  budget.total.cpu_quota_us = 400'000;  // 4 CPUs
  budget.total.cpu_period_us = 100'000;
  budget.total.pids = 100;
  budget.pod_default.cpu_quota_us = 200'000;
  budget.pod_default.cpu_period_us = 100'000;
  budget.pod_default.pids = 50;
  budgets::Limits ceiling;
  ceiling.cpu_quota_us = 50'000;  // 1 CPU in a 50 ms period
  ceiling.cpu_period_us = 50'000;
  ceiling.memory_bytes = int64_t{1} << 30;
  budgets::TenantBudget clamped = ClampToCeiling(budget, ceiling);
  EXPECT_EQ(clamped.total.cpu_quota_us, 50'000);
  EXPECT_EQ(clamped.total.cpu_period_us, 50'000);
  EXPECT_EQ(clamped.total.memory_bytes, int64_t{1} << 30);  // unlimited is above any ceiling
  EXPECT_EQ(clamped.total.pids, 100);                       // no pids ceiling
  EXPECT_EQ(clamped.pod_default.cpu_quota_us, 50'000);      // not above the new total
  EXPECT_EQ(clamped.pod_default.pids, 50);
  EXPECT_FALSE(clamped.pod_default.memory_bytes.has_value());
  EXPECT_TRUE(budgets::ValidateBudget(clamped).ok());
  // A budget inside the ceiling is left as it is.
  EXPECT_EQ(ClampToCeiling(clamped, ceiling), clamped);
}

TEST(AgentRegistryBudgets, ResyncAppliesEveryBudgetAgain) {
  RecordingBudgets enforcer;
  TenantRegistry registry(
      "n1", [](const netpol::DesiredState&) { return absl::OkStatus(); }, "", &enforcer);
  ASSERT_TRUE(registry.SetSource({Source(), {}}).ok());
  ASSERT_TRUE(registry.SetBudget("team-a", MemoryBudget(256)).ok());
  int calls = enforcer.calls;
  registry.SyncBudgets();  // nothing failed: nothing to do
  EXPECT_EQ(enforcer.calls, calls);
  registry.ResyncBudgets();  // the cgroups are read and corrected again
  EXPECT_EQ(enforcer.calls, calls + 1);
  EXPECT_EQ(enforcer.applied["team-a"].first, MemoryBudget(256));
}

TEST(AgentRegistryBudgets, MetricsCarryUsageAndKernelEvents) {
  RecordingBudgets enforcer;
  enforcer.events.oom_kills = 2;
  enforcer.events.pids_refusals = 49;
  enforcer.events.cpu_throttled_usec = 250'000;
  TenantRegistry registry(
      "n1", [](const netpol::DesiredState&) { return absl::OkStatus(); }, "", &enforcer);
  ASSERT_TRUE(registry.SetSource({Source(), {}}).ok());
  ASSERT_TRUE(registry.SetBudget("team-a", MemoryBudget(256)).ok());
  struct Node : NodeBackend {
    [[nodiscard]] std::string NodeName() const override { return "n1"; }
    [[nodiscard]] std::string Mode() const override { return "test"; }
    [[nodiscard]] std::vector<MapFill> Maps() const override { return {}; }
    [[nodiscard]] std::vector<netpol::FlowCounter> Counters() const override { return {}; }
    [[nodiscard]] netpol::FlowLoss Loss() const override { return {}; }
    [[nodiscard]] std::vector<netpol::TenantFlowUse> TenantFlows() const override { return {}; }
  } node;
  FlowHub flows;
  EventHub events;
  std::string text =
      metrics::RenderMetrics({node, flows, events, registry}, metrics::MetricsScope::kTenants);
  for (const char* line :
       {"bulkhead_tenant_budget_usage{node=\"n1\",tenant=\"team-a\",resource=\"memory_bytes\"} "
        "67108864\n",
        "bulkhead_tenant_budget_usage{node=\"n1\",tenant=\"team-a\",resource=\"pids\"} 3\n",
        "bulkhead_tenant_cpu_seconds_total{node=\"n1\",tenant=\"team-a\"} 1.5\n",
        "bulkhead_tenant_budget_events_total{node=\"n1\",tenant=\"team-a\",event=\"oom_kill\"} 2\n",
        "bulkhead_tenant_budget_events_total{node=\"n1\",tenant=\"team-a\",event=\"pids_refused\"} "
        "49\n",
        "bulkhead_tenant_cpu_throttled_seconds_total{node=\"n1\",tenant=\"team-a\"} 0.25\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " missing from\n" << text;
  }
}

TEST(AgentBudgetWatch, KernelCountersBecomeEvents) {
  EventHub hub;
  std::vector<AgentEvent> seen;
  hub.Subscribe([&](const AgentEvent& event) { seen.push_back(event); });
  BudgetWatch watch(hub, std::chrono::seconds(60));
  auto t0 = BudgetWatch::Clock::now();
  budgets::TenantEvents counters;
  watch.Observe({{"team-a", std::nullopt, counters}}, t0);
  EXPECT_TRUE(seen.empty());
  counters.oom_kills = 1;
  counters.pids_refusals = 49;
  counters.cpu_throttled_periods = 10;
  watch.Observe({{"team-a", std::nullopt, counters}}, t0 + std::chrono::seconds(2));
  ASSERT_EQ(seen.size(), 3U);
  EXPECT_EQ(seen[0].kind, EventKind::kOomKill);
  EXPECT_EQ(seen[0].tenant, "team-a");
  EXPECT_EQ(seen[0].message, "1 process killed at the memory budget (1 in all)");
  EXPECT_EQ(seen[1].kind, EventKind::kPidsRefused);
  EXPECT_EQ(seen[1].message, "49 forks refused at the pids budget (49 in all)");
  EXPECT_EQ(seen[2].kind, EventKind::kCpuThrottled);
  // More throttling within the interval says nothing; after it, one event.
  counters.cpu_throttled_periods = 30;
  watch.Observe({{"team-a", std::nullopt, counters}}, t0 + std::chrono::seconds(30));
  EXPECT_EQ(seen.size(), 3U);
  watch.Observe({{"team-a", std::nullopt, counters}}, t0 + std::chrono::seconds(63));
  ASSERT_EQ(seen.size(), 4U);
  EXPECT_EQ(seen[3].message, "throttled in 20 CPU periods at the CPU budget (30 in all)");
  // Nothing grew: nothing said.
  watch.Observe({{"team-a", std::nullopt, counters}}, t0 + std::chrono::seconds(200));
  EXPECT_EQ(seen.size(), 4U);
}

TEST(AgentStateFile, RoundTrip) {
  std::map<std::string, TenantPolicy> policies;
  policies["team-b"] = {"team-b",
                        7,
                        netpol::TenantMode::kAudit,
                        netpol::EgressDefault::kDeny,
                        {{"team-a", "b1", 8080, netpol::Protocol::kUdp}}};
  std::map<std::string, TenantBounds> bounds;
  budgets::Limits ceiling;
  ceiling.memory_bytes = 1 << 30;
  bounds["team-b"] = {"team-b", true, {"*"}, ceiling, {"n1"}};
  std::map<std::string, budgets::TenantBudget> budget_map;
  budgets::TenantBudget budget;
  budget.total.pids = 128;
  budget_map["team-b"] = budget;
  std::string text = EncodeState(policies, bounds, budget_map);
  std::map<std::string, TenantPolicy> p;
  std::map<std::string, TenantBounds> b;
  std::map<std::string, budgets::TenantBudget> g;
  ASSERT_TRUE(DecodeState(text, p, b, g).ok());
  EXPECT_EQ(p, policies);
  EXPECT_EQ(b, bounds);
  EXPECT_EQ(g, budget_map);
  EXPECT_TRUE(absl::IsDataLoss(DecodeState("{\"version\":2}", p, b, g)));
  EXPECT_TRUE(absl::IsDataLoss(DecodeState("{\"version\":1,\"policies\":3}", p, b, g)));
  EXPECT_EQ(p, policies);  // unchanged on error
}

netpol::FlowRecord Flow(const std::string& src, const std::string& dst, std::uint16_t port) {
  netpol::FlowRecord record;
  record.src_tenant = src;
  record.dst_tenant = dst;
  record.dst_port = port;
  return record;
}

TEST(AgentFlowHub, RingHistoryAndSubscriptions) {
  FlowHub hub(3);
  for (std::uint16_t port = 1; port <= 4; ++port) {
    hub.Publish(Flow("team-a", "team-b", port));
  }
  EXPECT_EQ(hub.evicted(), 1U);
  auto recent = hub.Recent({}, 2);
  ASSERT_EQ(recent.size(), 2U);
  EXPECT_EQ(recent[0].dst_port, 3);
  EXPECT_EQ(recent[1].dst_port, 4);
  std::vector<netpol::FlowRecord> history;
  netpol::FlowFilter only_c;
  only_c.tenant = "team-c";
  int wakes = 0;
  auto subscription = hub.Subscribe(
      only_c, 0, [&](const std::shared_ptr<FlowSubscription>& /*woken*/) { ++wakes; }, history);
  EXPECT_TRUE(history.empty());
  hub.Publish(Flow("team-c", "team-b", 9));
  hub.Publish(Flow("team-c", "team-b", 10));
  hub.Publish(Flow("team-a", "team-b", 11));
  EXPECT_EQ(wakes, 1);  // woken when its queue stopped being empty, not per record
  auto taken = subscription->Take();
  ASSERT_EQ(taken.size(), 2U);
  EXPECT_EQ(taken[0].dst_port, 9);
  EXPECT_EQ(taken[1].dst_port, 10);
  hub.Unsubscribe(subscription);
  hub.Publish(Flow("team-c", "team-b", 12));
  EXPECT_TRUE(subscription->Take().empty());
  EXPECT_EQ(wakes, 1);
}

// A flood of one tenant's records pushes out only its own: the other
// tenants' records all stay in the ring.
TEST(AgentFlowHub, OneTenantsFloodEvictsOnlyItsOwnRecords) {
  FlowHub hub(100, 40);
  for (std::uint16_t port = 1; port <= 20; ++port) {
    hub.Publish(Flow("team-b", "team-c", port));
  }
  for (std::uint16_t port = 1; port <= 5000; ++port) {
    hub.Publish(Flow("team-a", "team-c", port));
  }
  // Records with no source tenant count against the destination.
  for (std::uint16_t port = 1; port <= 5000; ++port) {
    hub.Publish(Flow("", "team-d", port));
  }
  for (std::uint16_t port = 21; port <= 30; ++port) {
    hub.Publish(Flow("team-b", "team-c", port));
  }
  netpol::FlowFilter only_b;
  only_b.tenant = "team-b";
  auto kept = hub.Recent(only_b, 0);
  ASSERT_EQ(kept.size(), 30U);
  for (std::uint16_t i = 0; i < 30; ++i) {
    EXPECT_EQ(kept[i].dst_port, i + 1);  // all of them, oldest first
  }
  auto evicted = hub.EvictedByTenant();
  EXPECT_FALSE(evicted.contains("team-b"));
  EXPECT_GE(evicted["team-a"], 5000U - 40U);  // and a few more when team-b came back
  EXPECT_GE(evicted["team-d"], 5000U - 40U);
  EXPECT_LE(hub.Recent({}, 0).size(), 100U);
}

// Publishing never runs a stream's code under the hub's lock: a wake that
// calls back into the hub does not deadlock, and a subscription nobody
// drains keeps at most kMaxQueued records and counts the rest as dropped.
TEST(AgentFlowHub, UndrainedSubscriptionIsBoundedAndNeverBlocksThePublisher) {
  FlowHub hub;
  std::vector<netpol::FlowRecord> history;
  size_t seen_in_wake = 0;
  auto idle = hub.Subscribe(
      {}, 0,
      [&](const std::shared_ptr<FlowSubscription>& /*woken*/) {
        seen_in_wake = hub.Recent({}, 0).size();
      },
      history);
  std::vector<netpol::FlowRecord> history_b;
  netpol::FlowFilter only_b;
  only_b.tenant = "team-b";
  auto reader = hub.Subscribe(
      only_b, 0, [](const std::shared_ptr<FlowSubscription>&) {}, history_b);
  constexpr size_t kFlood = FlowSubscription::kMaxQueued + 500;
  for (size_t i = 0; i < kFlood; ++i) {
    hub.Publish(Flow("team-a", "team-c", static_cast<std::uint16_t>(i)));
  }
  hub.Publish(Flow("team-b", "team-c", 7));
  EXPECT_EQ(seen_in_wake, 1U);
  EXPECT_EQ(idle->dropped(), kFlood + 1 - FlowSubscription::kMaxQueued);
  EXPECT_EQ(idle->Take().size(), FlowSubscription::kMaxQueued);
  auto got = reader->Take();
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].dst_port, 7);
  EXPECT_EQ(reader->dropped(), 0U);
}

TEST(AgentMetrics, LabelsAreEscaped) {
  EXPECT_EQ(metrics::EscapeLabel("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(AgentMetrics, HttpServerServesOnlyGetMetrics) {
  int renders = 0;
  metrics::MetricsServerOptions options;
  options.listen = "127.0.0.1:0";
  auto server = metrics::MetricsServer::Start(options, [&renders](metrics::MetricsScope) {
    ++renders;
    return std::string("bulkhead_test 1\n");
  });
  ASSERT_TRUE(server.ok()) << server.status();
  std::string base = fmt::format("http://127.0.0.1:{}", (*server)->port());
  auto ok = testing::RunCommand({"/usr/bin/curl", "-sS", "-i", base + "/metrics"});
  EXPECT_NE(ok.out.find("200 OK"), std::string::npos) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("text/plain; version=0.0.4"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("bulkhead_test 1"), std::string::npos) << ok.out;
  auto missing = testing::RunCommand({"/usr/bin/curl", "-sS", "-i", base + "/other"});
  EXPECT_NE(missing.out.find("404"), std::string::npos) << missing.out;
  auto post = testing::RunCommand({"/usr/bin/curl", "-sS", "-i", "-X", "POST", base + "/metrics"});
  EXPECT_NE(post.out.find("405"), std::string::npos) << post.out;
  EXPECT_EQ(renders, 1);
  options.listen = "localhost:x";
  EXPECT_FALSE(metrics::MetricsServer::Start(options, [](metrics::MetricsScope) {
                 return std::string();
               }).ok());
}

}  // namespace
}  // namespace bulkhead::agent::api
