#include "agent/metrics/prometheus_text.h"

#include <map>

#include "fmt/format.h"

namespace bulkhead::agent::metrics {
namespace {

void Header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string EscapeLabel(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string RenderMetrics(const MetricSources& sources, MetricsScope scope) {
  std::string out;
  std::string node = EscapeLabel(sources.backend.NodeName());
  bool tenants_allowed = scope == MetricsScope::kTenants;

  if (tenants_allowed) {
    Header(out, "bulkhead_flows_total", "counter",
           "Cross-tenant and denied attempts by source tenant, destination tenant and verdict "
           "(\"\" is the node, outside, or not known).");
    for (const auto& counter : sources.backend.Counters()) {
      out += fmt::format(
          "bulkhead_flows_total{{node=\"{}\",source_tenant=\"{}\",destination_tenant=\"{}\","
          "verdict=\"{}\"}} {}\n",
          node, EscapeLabel(counter.src_tenant), EscapeLabel(counter.dst_tenant),
          netpol::VerdictName(counter.verdict), counter.count);
    }
  } else {
    std::map<std::string_view, std::uint64_t> by_verdict;
    for (const auto& counter : sources.backend.Counters()) {
      by_verdict[netpol::VerdictName(counter.verdict)] += counter.count;
    }
    Header(out, "bulkhead_node_flows_total", "counter",
           "Cross-tenant and denied attempts on this node by verdict, all tenants together "
           "(by tenant: bulkhead_flows_total, for callers with the metrics token).");
    for (const auto& [verdict, count] : by_verdict) {
      out += fmt::format("bulkhead_node_flows_total{{node=\"{}\",verdict=\"{}\"}} {}\n", node,
                         verdict, count);
    }
  }

  netpol::FlowLoss loss = sources.backend.Loss();
  Header(out, "bulkhead_flow_records_lost_total", "counter",
         "Flow records or counts the node could not keep, by reason.");
  for (const auto& [reason, value] :
       {std::pair<std::string_view, std::uint64_t>{"ring_buffer_full", loss.ring_buffer_full},
        {"counters_full", loss.counters_full},
        {"flow_table_full", loss.flow_table_full},
        {"evicted", sources.flows.evicted()}}) {
    out += fmt::format("bulkhead_flow_records_lost_total{{node=\"{}\",reason=\"{}\"}} {}\n", node,
                       reason, value);
  }

  auto maps = sources.backend.Maps();
  Header(out, "bulkhead_map_entries", "gauge", "Entries in each datapath map.");
  for (const auto& fill : maps) {
    out += fmt::format("bulkhead_map_entries{{node=\"{}\",map=\"{}\"}} {}\n", node, fill.map,
                       fill.entries);
  }
  Header(out, "bulkhead_map_capacity", "gauge", "Capacity of each datapath map.");
  for (const auto& fill : maps) {
    out += fmt::format("bulkhead_map_capacity{{node=\"{}\",map=\"{}\"}} {}\n", node, fill.map,
                       fill.capacity);
  }

  if (!tenants_allowed) {
    return out;
  }

  auto tenants = sources.registry.Tenants();
  Header(out, "bulkhead_tenant_endpoints", "gauge", "Pods known per tenant, and on this node.");
  for (const auto& view : tenants) {
    out += fmt::format(
        "bulkhead_tenant_endpoints{{node=\"{}\",tenant=\"{}\",scope=\"all\"}} {}\n"
        "bulkhead_tenant_endpoints{{node=\"{}\",tenant=\"{}\",scope=\"local\"}} {}\n",
        node, EscapeLabel(view.name), view.endpoints, node, EscapeLabel(view.name),
        view.local_endpoints);
  }
  // Each tenant's share of the flow table and records (one tenant's flood
  // shows here, on that tenant, and nowhere else).
  auto flow_use = sources.backend.TenantFlows();
  struct FlowUseFamily {
    const char* name;
    const char* type;
    const char* help;
    std::uint64_t netpol::TenantFlowUse::*field;
  };
  for (const FlowUseFamily& family : {
           FlowUseFamily{"bulkhead_tenant_flows_tracked", "gauge",
                         "Granted flows of the tenant held in the node's flow table.",
                         &netpol::TenantFlowUse::tracked_flows},
           FlowUseFamily{"bulkhead_tenant_flows_refused_total", "counter",
                         "Granted flows of the tenant left untracked because it held its share "
                         "of the table.",
                         &netpol::TenantFlowUse::flows_refused},
           FlowUseFamily{"bulkhead_tenant_flow_records_dropped_total", "counter",
                         "Flow records of the tenant over its record budget and not sampled.",
                         &netpol::TenantFlowUse::records_dropped},
       }) {
    Header(out, family.name, family.type, family.help);
    for (const auto& use : flow_use) {
      if (!use.tenant.empty()) {
        out += fmt::format("{}{{node=\"{}\",tenant=\"{}\"}} {}\n", family.name, node,
                           EscapeLabel(use.tenant), use.*family.field);
      }
    }
  }
  Header(out, "bulkhead_tenant_policy_generation", "gauge",
         "Generation of the tenant policy the node enforces (absent: none applied).");
  for (const auto& view : tenants) {
    if (view.policy) {
      out += fmt::format("bulkhead_tenant_policy_generation{{node=\"{}\",tenant=\"{}\"}} {}\n",
                         node, EscapeLabel(view.name), view.policy->generation);
    }
  }
  Header(out, "bulkhead_tenant_budget_limit", "gauge",
         "The tenant's budget on this node as set through the API, by resource (unset: no "
         "line).");
  for (const auto& view : tenants) {
    if (!view.budget) {
      continue;
    }
    const budgets::Limits& total = view.budget->total;
    for (const auto& [resource, value] :
         {std::pair<std::string_view, std::optional<int64_t>>{"cpu_quota_us", total.cpu_quota_us},
          {"cpu_weight", total.cpu_weight},
          {"memory_bytes", total.memory_bytes},
          {"pids", total.pids}}) {
      if (value) {
        out += fmt::format(
            "bulkhead_tenant_budget_limit{{node=\"{}\",tenant=\"{}\",resource=\"{}\"}} {}\n", node,
            EscapeLabel(view.name), resource, *value);
      }
    }
  }

  // What the tenants' cgroups use and what the kernel did to hold them to
  // their budgets, read now (tenants with a budget in force on this node).
  auto reports = sources.registry.BudgetReports();
  Header(out, "bulkhead_tenant_budget_usage", "gauge",
         "What the tenant's pods on this node use now, by resource (memory_bytes, pids).");
  for (const auto& report : reports) {
    if (report.usage) {
      out += fmt::format(
          "bulkhead_tenant_budget_usage{{node=\"{0}\",tenant=\"{1}\",resource=\"memory_bytes\"}} "
          "{2}\n"
          "bulkhead_tenant_budget_usage{{node=\"{0}\",tenant=\"{1}\",resource=\"pids\"}} {3}\n",
          node, EscapeLabel(report.tenant), report.usage->memory_bytes, report.usage->pids);
    }
  }
  Header(out, "bulkhead_tenant_cpu_seconds_total", "counter",
         "CPU time the tenant's pods on this node used.");
  for (const auto& report : reports) {
    if (report.usage) {
      out += fmt::format("bulkhead_tenant_cpu_seconds_total{{node=\"{}\",tenant=\"{}\"}} {}\n",
                         node, EscapeLabel(report.tenant),
                         static_cast<double>(report.usage->cpu_usec) / 1e6);
    }
  }
  Header(out, "bulkhead_tenant_budget_events_total", "counter",
         "What the kernel did to hold the tenant to its budget: processes OOM-killed "
         "(oom_kill), forks refused (pids_refused), CFS periods throttled (cpu_throttled).");
  for (const auto& report : reports) {
    if (!report.events) {
      continue;
    }
    for (const auto& [event, count] :
         {std::pair<std::string_view, uint64_t>{"oom_kill", report.events->oom_kills},
          {"pids_refused", report.events->pids_refusals},
          {"cpu_throttled", report.events->cpu_throttled_periods}}) {
      out += fmt::format(
          "bulkhead_tenant_budget_events_total{{node=\"{}\",tenant=\"{}\",event=\"{}\"}} {}\n",
          node, EscapeLabel(report.tenant), event, count);
    }
  }
  Header(out, "bulkhead_tenant_cpu_throttled_seconds_total", "counter",
         "Time the tenant's cgroups spent throttled at their CPU budget.");
  for (const auto& report : reports) {
    if (report.events) {
      out += fmt::format(
          "bulkhead_tenant_cpu_throttled_seconds_total{{node=\"{}\",tenant=\"{}\"}} {}\n", node,
          EscapeLabel(report.tenant), static_cast<double>(report.events->cpu_throttled_usec) / 1e6);
    }
  }

  Header(out, "bulkhead_agent_events_total", "counter",
         "Agent events per tenant and kind (policy-applied, bounds-set, budget-set, refused, "
         "source-changed, oom-kill, pids-refused, cpu-throttled).");
  for (const auto& [key, count] : sources.events.Counts()) {
    out += fmt::format("bulkhead_agent_events_total{{node=\"{}\",tenant=\"{}\",kind=\"{}\"}} {}\n",
                       node, EscapeLabel(key.first), api::EventKindName(key.second), count);
  }
  return out;
}

}  // namespace bulkhead::agent::metrics
