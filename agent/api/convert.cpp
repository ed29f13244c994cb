#include "agent/api/convert.h"

#include "fmt/format.h"

namespace bulkhead::agent::api {
namespace {

StatusOr<netpol::Protocol> ProtocolOf(const std::string& text) {
  return text.empty() ? netpol::Protocol::kAny : netpol::ParseProtocol(text);
}

StatusOr<std::uint16_t> PortOf(std::uint32_t port, std::string_view field) {
  if (port > 65535) {
    return absl::InvalidArgumentError(
        fmt::format("{}: port {} is out of range (0 to 65535; 0 means every port)", field, port));
  }
  return static_cast<std::uint16_t>(port);
}

StatusOr<budgets::Limits> LimitsFromProto(const v1::BudgetLimits& in) {
  budgets::Limits limits;
  if (in.has_cpu_quota_us()) {
    limits.cpu_quota_us = in.cpu_quota_us();
  }
  if (in.cpu_period_us() != 0) {
    limits.cpu_period_us = in.cpu_period_us();
  }
  if (in.has_cpu_weight()) {
    limits.cpu_weight = in.cpu_weight();
  }
  if (in.has_memory_bytes()) {
    limits.memory_bytes = in.memory_bytes();
  }
  if (in.has_pids()) {
    limits.pids = in.pids();
  }
  return limits;
}

v1::BudgetLimits LimitsToProto(const budgets::Limits& limits) {
  v1::BudgetLimits out;
  if (limits.cpu_quota_us) {
    out.set_cpu_quota_us(*limits.cpu_quota_us);
  }
  out.set_cpu_period_us(limits.cpu_period_us);
  if (limits.cpu_weight) {
    out.set_cpu_weight(*limits.cpu_weight);
  }
  if (limits.memory_bytes) {
    out.set_memory_bytes(*limits.memory_bytes);
  }
  if (limits.pids) {
    out.set_pids(*limits.pids);
  }
  return out;
}

v1::FlowPeer PeerToProto(const std::string& tenant, const std::string& pod,
                         const netpol::IpAddress& address, std::uint16_t port) {
  v1::FlowPeer peer;
  peer.set_tenant(tenant);
  peer.set_pod(pod);
  peer.set_address(address.ToString());
  peer.set_port(port);
  return peer;
}

}  // namespace

std::int64_t UnixNanos(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

StatusOr<TenantPolicy> PolicyFromProto(const v1::TenantPolicy& in) {
  TenantPolicy policy;
  policy.tenant = in.tenant();
  policy.generation = in.generation();
  switch (in.mode()) {
    case v1::TENANT_MODE_UNSPECIFIED:
    case v1::TENANT_MODE_ENFORCE:
      policy.mode = netpol::TenantMode::kEnforce;
      break;
    case v1::TENANT_MODE_AUDIT:
      policy.mode = netpol::TenantMode::kAudit;
      break;
    default:
      return absl::InvalidArgumentError(fmt::format("mode: unknown value {}", in.mode()));
  }
  switch (in.egress_default()) {
    case v1::EGRESS_DEFAULT_UNSPECIFIED:
    case v1::EGRESS_DEFAULT_ALLOW:
      policy.egress_default = netpol::EgressDefault::kAllow;
      break;
    case v1::EGRESS_DEFAULT_DENY:
      policy.egress_default = netpol::EgressDefault::kDeny;
      break;
    default:
      return absl::InvalidArgumentError(
          fmt::format("egress_default: unknown value {}", in.egress_default()));
  }
  if (static_cast<size_t>(in.grants_size()) > kMaxGrantsPerPolicy) {
    return absl::InvalidArgumentError(
        fmt::format("{} grants: a policy holds at most {}", in.grants_size(), kMaxGrantsPerPolicy));
  }
  for (int i = 0; i < in.grants_size(); ++i) {
    const v1::Grant& g = in.grants(i);
    std::string field = fmt::format("grants[{}]", i);
    PolicyGrant grant;
    grant.to_tenant = g.to_tenant();
    grant.pod = g.pod();
    if (grant.pod.empty() || grant.pod.size() > kMaxFilterField) {
      return absl::InvalidArgumentError(fmt::format(
          "{}.pod: name a pod of the tenant (1 to {} characters)", field, kMaxFilterField));
    }
    BH_ASSIGN_OR_RETURN(grant.port, PortOf(g.port(), field));
    auto protocol = ProtocolOf(g.protocol());
    if (!protocol.ok()) {
      return Annotate(protocol.status(), field);
    }
    grant.protocol = *protocol;
    policy.grants.push_back(std::move(grant));
  }
  return policy;
}

v1::TenantPolicy PolicyToProto(const TenantPolicy& policy) {
  v1::TenantPolicy out;
  out.set_tenant(policy.tenant);
  out.set_generation(policy.generation);
  out.set_mode(policy.mode == netpol::TenantMode::kAudit ? v1::TENANT_MODE_AUDIT
                                                         : v1::TENANT_MODE_ENFORCE);
  out.set_egress_default(policy.egress_default == netpol::EgressDefault::kDeny
                             ? v1::EGRESS_DEFAULT_DENY
                             : v1::EGRESS_DEFAULT_ALLOW);
  for (const PolicyGrant& grant : policy.grants) {
    v1::Grant* g = out.add_grants();
    g->set_to_tenant(grant.to_tenant);
    g->set_pod(grant.pod);
    g->set_port(grant.port);
    g->set_protocol(std::string(netpol::ProtocolName(grant.protocol)));
  }
  return out;
}

StatusOr<TenantBounds> BoundsFromProto(const v1::TenantBounds& in) {
  TenantBounds bounds;
  bounds.tenant = in.tenant();
  bounds.allow_audit = in.allow_audit();
  bounds.allow_net_raw = in.allow_net_raw();
  bounds.may_grant_to.assign(in.may_grant_to().begin(), in.may_grant_to().end());
  bounds.dedicated_nodes.assign(in.dedicated_nodes().begin(), in.dedicated_nodes().end());
  BH_ASSIGN_OR_RETURN(bounds.budget_ceiling, LimitsFromProto(in.budget_ceiling()));
  return bounds;
}

v1::TenantBounds BoundsToProto(const TenantBounds& bounds) {
  v1::TenantBounds out;
  out.set_tenant(bounds.tenant);
  out.set_allow_audit(bounds.allow_audit);
  out.set_allow_net_raw(bounds.allow_net_raw);
  for (const std::string& t : bounds.may_grant_to) {
    out.add_may_grant_to(t);
  }
  for (const std::string& n : bounds.dedicated_nodes) {
    out.add_dedicated_nodes(n);
  }
  *out.mutable_budget_ceiling() = LimitsToProto(bounds.budget_ceiling);
  return out;
}

StatusOr<budgets::TenantBudget> BudgetFromProto(const v1::TenantBudget& in) {
  budgets::TenantBudget budget;
  BH_ASSIGN_OR_RETURN(budget.total, LimitsFromProto(in.total()));
  BH_ASSIGN_OR_RETURN(budget.pod_default, LimitsFromProto(in.pod_default()));
  return budget;
}

v1::TenantBudget BudgetToProto(const std::string& tenant, const budgets::TenantBudget& budget) {
  v1::TenantBudget out;
  out.set_tenant(tenant);
  *out.mutable_total() = LimitsToProto(budget.total);
  *out.mutable_pod_default() = LimitsToProto(budget.pod_default);
  return out;
}

StatusOr<netpol::FlowFilter> FilterFromProto(const v1::StreamFlowsRequest& request) {
  for (const auto& [field, value] :
       {std::pair<const char*, const std::string*>{"tenant", &request.tenant()},
        {"pod", &request.pod()},
        {"protocol", &request.protocol()}}) {
    if (value->size() > kMaxFilterField) {
      return absl::InvalidArgumentError(
          fmt::format("filter {} is {} bytes: at most {}", field, value->size(), kMaxFilterField));
    }
  }
  netpol::FlowFilter filter;
  filter.tenant = request.tenant();
  filter.pod = request.pod();
  switch (request.verdict()) {
    case v1::VERDICT_UNSPECIFIED:
      break;
    case v1::VERDICT_ALLOWED:
      filter.verdict = netpol::Verdict::kAllowed;
      break;
    case v1::VERDICT_DENIED:
      filter.verdict = netpol::Verdict::kDenied;
      break;
    case v1::VERDICT_AUDIT:
      filter.verdict = netpol::Verdict::kAudit;
      break;
    default:
      return absl::InvalidArgumentError(
          fmt::format("filter verdict: unknown value {}", request.verdict()));
  }
  if (request.port() != 0) {
    BH_ASSIGN_OR_RETURN(filter.port, PortOf(request.port(), "filter port"));
  }
  if (!request.protocol().empty()) {
    BH_ASSIGN_OR_RETURN(filter.protocol, netpol::ParseProtocol(request.protocol()));
  }
  if (request.since_unix_nanos() < 0) {
    return absl::InvalidArgumentError("filter since: a time before 1970");
  }
  if (request.since_unix_nanos() > 0) {
    filter.since = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(request.since_unix_nanos())));
  }
  return filter;
}

v1::Verdict VerdictToProto(netpol::Verdict verdict) {
  switch (verdict) {
    case netpol::Verdict::kAllowed:
      return v1::VERDICT_ALLOWED;
    case netpol::Verdict::kDenied:
      return v1::VERDICT_DENIED;
    case netpol::Verdict::kAudit:
      return v1::VERDICT_AUDIT;
  }
  return v1::VERDICT_UNSPECIFIED;
}

v1::Flow FlowToProto(const netpol::FlowRecord& record) {
  v1::Flow flow;
  flow.set_time_unix_nanos(UnixNanos(record.time));
  flow.set_node(record.node);
  *flow.mutable_source() =
      PeerToProto(record.src_tenant, record.src_pod, record.src_address, record.src_port);
  *flow.mutable_destination() =
      PeerToProto(record.dst_tenant, record.dst_pod, record.dst_address, record.dst_port);
  flow.set_protocol(std::string(netpol::ProtocolName(record.protocol)));
  flow.set_verdict(VerdictToProto(record.verdict));
  flow.set_reason(std::string(netpol::ReasonName(record.reason)));
  flow.set_hook(std::string(netpol::HookName(record.hook)));
  return flow;
}

v1::TenantStatus TenantStatusToProto(const TenantView& view) {
  v1::TenantStatus out;
  out.set_name(view.name);
  out.set_endpoints(static_cast<std::uint32_t>(view.endpoints));
  out.set_local_endpoints(static_cast<std::uint32_t>(view.local_endpoints));
  if (view.policy) {
    *out.mutable_policy() = PolicyToProto(*view.policy);
  }
  if (view.bounds) {
    *out.mutable_bounds() = BoundsToProto(*view.bounds);
  }
  if (view.budget) {
    *out.mutable_budget() = BudgetToProto(view.name, *view.budget);
  }
  out.set_budget_error(view.budget_error);
  return out;
}

void BudgetReportToProto(const BudgetReport& report, v1::TenantStatus& out) {
  if (report.usage) {
    v1::BudgetUsage* usage = out.mutable_budget_usage();
    usage->set_cpu_usec(report.usage->cpu_usec);
    usage->set_memory_bytes(report.usage->memory_bytes);
    usage->set_pids(report.usage->pids);
  }
  if (report.events) {
    v1::BudgetEvents* events = out.mutable_budget_events();
    events->set_oom_kills(report.events->oom_kills);
    events->set_cpu_throttled_periods(report.events->cpu_throttled_periods);
    events->set_cpu_throttled_usec(report.events->cpu_throttled_usec);
    events->set_pids_refusals(report.events->pids_refusals);
  }
}

v1::Event EventToProto(const AgentEvent& event) {
  v1::Event out;
  switch (event.kind) {
    case EventKind::kPolicyApplied:
      out.set_kind(v1::Event::KIND_POLICY_APPLIED);
      break;
    case EventKind::kBoundsSet:
      out.set_kind(v1::Event::KIND_BOUNDS_SET);
      break;
    case EventKind::kBudgetSet:
      out.set_kind(v1::Event::KIND_BUDGET_SET);
      break;
    case EventKind::kRefused:
      out.set_kind(v1::Event::KIND_REFUSED);
      break;
    case EventKind::kSourceChanged:
      out.set_kind(v1::Event::KIND_SOURCE_CHANGED);
      break;
    case EventKind::kOomKill:
      out.set_kind(v1::Event::KIND_OOM_KILL);
      break;
    case EventKind::kPidsRefused:
      out.set_kind(v1::Event::KIND_PIDS_REFUSED);
      break;
    case EventKind::kCpuThrottled:
      out.set_kind(v1::Event::KIND_CPU_THROTTLED);
      break;
  }
  out.set_time_unix_nanos(UnixNanos(event.time));
  out.set_tenant(event.tenant);
  out.set_message(event.message);
  return out;
}

}  // namespace bulkhead::agent::api
