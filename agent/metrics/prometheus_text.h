// The agent's metrics in the Prometheus text exposition format (0.0.4):
// flows by tenant pair and verdict (the kernel's counters), records lost,
// map fill, each tenant's budget as set, its usage and budget events (OOM
// kills, refused forks, CPU throttling) as the kernel counts them, policy
// generations, and agent events per tenant and kind.
//
// Tenant names are the platform's customers' names: only callers allowed
// them get the tenant-labelled series (MetricsScope::kTenants). Others get
// the node-level series: flows by verdict summed over tenants, records
// lost and map fill.
#ifndef BULKHEAD_AGENT_METRICS_PROMETHEUS_TEXT_H_
#define BULKHEAD_AGENT_METRICS_PROMETHEUS_TEXT_H_

#include <string>
#include <string_view>

#include "agent/api/event_hub.h"
#include "agent/api/flow_hub.h"
#include "agent/api/node_backend.h"
#include "agent/api/tenant_registry.h"

namespace bulkhead::agent::metrics {

struct MetricSources {
  const api::NodeBackend& backend;
  const api::FlowHub& flows;
  const api::EventHub& events;
  const api::TenantRegistry& registry;
};

enum class MetricsScope {
  kNode,     // no series with a tenant name
  kTenants,  // everything
};

std::string RenderMetrics(const MetricSources& sources, MetricsScope scope);

// A label value with \, " and newlines escaped.
std::string EscapeLabel(std::string_view value);

}  // namespace bulkhead::agent::metrics

#endif  // BULKHEAD_AGENT_METRICS_PROMETHEUS_TEXT_H_
