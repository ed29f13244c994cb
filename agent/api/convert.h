// Between the wire types of bulkhead.agent.v1 and the agent's own types.
// Conversions from the wire check what the wire cannot (port ranges,
// protocol names, field sizes) and say which field is wrong.
#ifndef BULKHEAD_AGENT_API_CONVERT_H_
#define BULKHEAD_AGENT_API_CONVERT_H_

#include "agent/api/event_hub.h"
#include "agent/api/tenant_registry.h"
#include "agent/netpol/flow_log.h"
#include "bulkhead/agent/v1/agent_service.pb.h"
#include "common/status.h"

namespace bulkhead::agent::api {

// Filter strings longer than this are refused (INVALID_ARGUMENT).
inline constexpr size_t kMaxFilterField = 253;

StatusOr<TenantPolicy> PolicyFromProto(const v1::TenantPolicy& policy);
v1::TenantPolicy PolicyToProto(const TenantPolicy& policy);
StatusOr<TenantBounds> BoundsFromProto(const v1::TenantBounds& bounds);
v1::TenantBounds BoundsToProto(const TenantBounds& bounds);
StatusOr<budgets::TenantBudget> BudgetFromProto(const v1::TenantBudget& budget);
v1::TenantBudget BudgetToProto(const std::string& tenant, const budgets::TenantBudget& budget);

StatusOr<netpol::FlowFilter> FilterFromProto(const v1::StreamFlowsRequest& request);
v1::Flow FlowToProto(const netpol::FlowRecord& record);
v1::Verdict VerdictToProto(netpol::Verdict verdict);

v1::TenantStatus TenantStatusToProto(const TenantView& view);
// Usage and budget events of the tenant, into its status.
void BudgetReportToProto(const BudgetReport& report, v1::TenantStatus& out);
v1::Event EventToProto(const AgentEvent& event);

std::int64_t UnixNanos(std::chrono::system_clock::time_point time);

}  // namespace bulkhead::agent::api

#endif  // BULKHEAD_AGENT_API_CONVERT_H_
