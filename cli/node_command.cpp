// `bulkhead node status`: what one agent enforces, as the caller may see it.
// (`bulkhead node import` is in node_import_command.cpp.)
#include <iostream>
#include <memory>

#include "cli/agent_call.h"
#include "cli/commands.h"
#include "common/cli.h"
#include "fmt/format.h"
#include "google/protobuf/util/json_util.h"

namespace bulkhead::cli {
namespace {

namespace v1 = agent::v1;

struct StatusFlags {
  AgentFlags agent;
  std::string output = "text";
};

// "used/limit" with "max" for no limit; "-" when nothing was read.
std::string UsedOf(bool read, uint64_t used, bool limited, int64_t limit) {
  if (!read) {
    return "-";
  }
  return fmt::format("{}/{}", used, limited ? std::to_string(limit) : "max");
}

void PrintBudgets(const v1::NodeStatus& status) {
  std::cout << fmt::format("budgets: {}\n", status.budget_mode());
  if (status.budget_mode() != "off") {
    std::cout << (status.budget_swap_limited()
                      ? "swap: limited with memory\n"
                      : "swap: not limited, pods may swap past their memory budget (see "
                        "'bulkhead-agent check' on the node)\n");
  }
  bool header = false;
  for (const v1::TenantStatus& tenant : status.tenants()) {
    if (!tenant.has_budget()) {
      continue;
    }
    if (!header) {
      std::cout << fmt::format("{:<24} {:>24} {:>12} {:>10} {:>9} {:>12} {:>10}  {}\n", "TENANT",
                               "MEMORY(USED/LIMIT)", "PIDS", "CPU(S)", "OOM-KILLS", "PIDS-REFUSED",
                               "THROTTLED", "STATUS");
      header = true;
    }
    const v1::BudgetLimits& total = tenant.budget().total();
    const v1::BudgetUsage& usage = tenant.budget_usage();
    const v1::BudgetEvents& events = tenant.budget_events();
    bool used = tenant.has_budget_usage();
    bool counted = tenant.has_budget_events();
    std::cout << fmt::format(
        "{:<24} {:>24} {:>12} {:>10} {:>9} {:>12} {:>10}  {}\n", tenant.name(),
        UsedOf(used, usage.memory_bytes(), total.has_memory_bytes(), total.memory_bytes()),
        UsedOf(used, usage.pids(), total.has_pids(), total.pids()),
        used ? fmt::format("{:.1f}", static_cast<double>(usage.cpu_usec()) / 1e6) : "-",
        counted ? std::to_string(events.oom_kills()) : "-",
        counted ? std::to_string(events.pids_refusals()) : "-",
        counted ? std::to_string(events.cpu_throttled_periods()) : "-",
        status.budget_mode() == "off"   ? "recorded only (the agent runs with --budgets off)"
        : tenant.budget_error().empty() ? "in force"
                                        : "not in force: " + tenant.budget_error());
  }
}

// Each tenant's share of the flow table and records; only tenants that used any.
void PrintFlowUse(const v1::NodeStatus& status) {
  bool header = false;
  for (const v1::TenantStatus& tenant : status.tenants()) {
    const v1::TenantFlowUse& use = tenant.flow_use();
    if (use.tracked_flows() == 0 && use.flows_refused() == 0 && use.records_dropped() == 0) {
      continue;
    }
    if (!header) {
      std::cout << fmt::format("{:<24} {:>13} {:>13} {:>15}\n", "TENANT", "FLOWS-TRACKED",
                               "FLOWS-REFUSED", "RECORDS-DROPPED");
      header = true;
    }
    std::cout << fmt::format("{:<24} {:>13} {:>13} {:>15}\n", tenant.name(), use.tracked_flows(),
                             use.flows_refused(), use.records_dropped());
  }
}

void PrintText(const v1::NodeStatus& status) {
  std::cout << fmt::format("node: {}\nmode: {}\nagent instance: {}\nyou are: {}\n", status.node(),
                           status.mode(), status.agent_instance(), status.caller_role());
  if (status.scoped()) {
    std::cout << "maps and lost records are node-wide: shown to the admin only\n";
  } else {
    std::cout << "maps:\n";
    for (const v1::MapFill& map : status.maps()) {
      std::cout << fmt::format("  {:<16} {:>8} / {}\n", map.map(), map.entries(), map.capacity());
    }
    const v1::FlowLoss& loss = status.loss();
    std::cout << fmt::format(
        "lost records: ring buffer full {}, counters full {}, flow table full {}, evicted {}\n",
        loss.ring_buffer_full(), loss.counters_full(), loss.flow_table_full(), loss.evicted());
  }
  std::cout << fmt::format("{:<24} {:>9} {:>6} {:>10} {:<8} {:<7} {}\n", "TENANT", "ENDPOINTS",
                           "LOCAL", "GENERATION", "MODE", "EGRESS", "GRANTS");
  for (const v1::TenantStatus& tenant : status.tenants()) {
    const v1::TenantPolicy& policy = tenant.policy();
    std::cout << fmt::format("{:<24} {:>9} {:>6} {:>10} {:<8} {:<7} {}\n", tenant.name(),
                             tenant.endpoints(), tenant.local_endpoints(),
                             policy.generation() == 0 ? "-" : std::to_string(policy.generation()),
                             policy.mode() == v1::TENANT_MODE_AUDIT ? "audit" : "enforce",
                             policy.egress_default() == v1::EGRESS_DEFAULT_DENY ? "deny" : "allow",
                             policy.grants_size());
  }
  PrintFlowUse(status);
  PrintBudgets(status);
}

int RunStatus(const CLI::App& app, const StatusFlags& flags) {
  return CallAgent(
      app, flags.agent, [](AgentClient& client) { return client.GetNodeStatus(); },
      [&flags](const v1::NodeStatus& status) {
        if (flags.output == "json") {
          std::string json;
          google::protobuf::util::JsonPrintOptions options;
          options.preserve_proto_field_names = true;
          (void)google::protobuf::util::MessageToJsonString(status, &json, options);
          std::cout << json << "\n";
        } else {
          PrintText(status);
        }
      });
}

}  // namespace

std::vector<Command> AddNodeCommands(CLI::App& root) {
  auto* node = root.add_subcommand(
      "node", "Ask a node's agent about its state; import images into a node's containerd");
  node->require_subcommand(1);
  node->footer(
      "Example:\n  bulkhead node status --agent 10.0.0.5:9443\n"
      "  bulkhead node import app.tar --name example.org/app");
  auto flags = std::make_shared<StatusFlags>();
  auto* status = node->add_subcommand(
      "status",
      "Show the agent's mode, tenants, endpoints, map fill, lost records and each tenant's "
      "budget usage and kernel refusals (a tenant's certificate sees its own tenant only, "
      "without the node-wide figures)");
  AddAgentFlags(*status, flags->agent);
  status->add_option("-o,--output", flags->output, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  status->footer(
      "Example:\n  BULKHEAD_CERT=admin.crt BULKHEAD_KEY=admin.key BULKHEAD_CA=ca.crt \\\n"
      "    bulkhead node status --agent 127.0.0.1:9443 -o json");
  return {{status, [status, flags]() { return RunStatus(*status, *flags); }},
          AddNodeImportCommand(*node)};
}

}  // namespace bulkhead::cli
