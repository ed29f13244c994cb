// `bulkhead tenant apply|bounds`: a tenant's policy, and the admin's bounds,
// from a YAML (or JSON) file.
#include <yaml-cpp/yaml.h>

#include <iostream>
#include <memory>

#include "cli/agent_call.h"
#include "cli/commands.h"
#include "common/cli.h"
#include "fmt/format.h"

namespace bulkhead::cli {
namespace {

namespace v1 = agent::v1;

struct FileFlags {
  AgentFlags agent;
  std::string file;
};

// Fields not named in `known` are an error (a typo must not be ignored).
Status CheckKeys(const YAML::Node& node, std::string_view where,
                 std::initializer_list<std::string_view> known) {
  if (!node.IsMap()) {
    return absl::InvalidArgumentError(fmt::format("{}: expected a mapping", where));
  }
  for (const auto& entry : node) {
    auto key = entry.first.as<std::string>();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return absl::InvalidArgumentError(fmt::format("{}: unknown field '{}'", where, key));
    }
  }
  return absl::OkStatus();
}

StatusOr<v1::TenantPolicy> ParsePolicy(const YAML::Node& doc) {
  BH_RETURN_IF_ERROR(
      CheckKeys(doc, "policy", {"tenant", "generation", "mode", "egress_default", "grants"}));
  v1::TenantPolicy policy;
  policy.set_tenant(doc["tenant"].as<std::string>(""));
  policy.set_generation(doc["generation"].as<std::uint64_t>(0));
  std::string mode = doc["mode"].as<std::string>("enforce");
  if (mode != "enforce" && mode != "audit") {
    return absl::InvalidArgumentError(fmt::format("mode: '{}' is not enforce or audit", mode));
  }
  policy.set_mode(mode == "audit" ? v1::TENANT_MODE_AUDIT : v1::TENANT_MODE_ENFORCE);
  std::string egress = doc["egress_default"].as<std::string>("allow");
  if (egress != "allow" && egress != "deny") {
    return absl::InvalidArgumentError(
        fmt::format("egress_default: '{}' is not allow or deny", egress));
  }
  policy.set_egress_default(egress == "deny" ? v1::EGRESS_DEFAULT_DENY : v1::EGRESS_DEFAULT_ALLOW);
  size_t i = 0;
  for (const YAML::Node& g : doc["grants"]) {
    std::string where = fmt::format("grants[{}]", i++);
    BH_RETURN_IF_ERROR(CheckKeys(g, where, {"to", "pod", "port", "protocol"}));
    v1::Grant* grant = policy.add_grants();
    grant->set_to_tenant(g["to"].as<std::string>(""));
    grant->set_pod(g["pod"].as<std::string>(""));
    grant->set_port(g["port"].as<std::uint32_t>(0));
    grant->set_protocol(g["protocol"].as<std::string>("any"));
  }
  return policy;
}

// cpu_quota_us, cpu_period_us, cpu_weight, memory_bytes, pids; unset: no limit.
Status ParseLimits(const YAML::Node& node, std::string_view where, v1::BudgetLimits& limits) {
  BH_RETURN_IF_ERROR(CheckKeys(
      node, where, {"cpu_quota_us", "cpu_period_us", "cpu_weight", "memory_bytes", "pids"}));
  if (node["cpu_quota_us"]) {
    limits.set_cpu_quota_us(node["cpu_quota_us"].as<std::int64_t>());
  }
  limits.set_cpu_period_us(node["cpu_period_us"].as<std::int64_t>(0));
  if (node["cpu_weight"]) {
    limits.set_cpu_weight(node["cpu_weight"].as<std::int64_t>());
  }
  if (node["memory_bytes"]) {
    limits.set_memory_bytes(node["memory_bytes"].as<std::int64_t>());
  }
  if (node["pids"]) {
    limits.set_pids(node["pids"].as<std::int64_t>());
  }
  return absl::OkStatus();
}

StatusOr<v1::TenantBudget> ParseBudget(const YAML::Node& doc) {
  BH_RETURN_IF_ERROR(CheckKeys(doc, "budget", {"tenant", "total", "pod_default"}));
  v1::TenantBudget budget;
  budget.set_tenant(doc["tenant"].as<std::string>(""));
  if (const YAML::Node total = doc["total"]) {
    BH_RETURN_IF_ERROR(ParseLimits(total, "total", *budget.mutable_total()));
  }
  if (const YAML::Node pod_default = doc["pod_default"]) {
    BH_RETURN_IF_ERROR(ParseLimits(pod_default, "pod_default", *budget.mutable_pod_default()));
  }
  return budget;
}

StatusOr<v1::TenantBounds> ParseBounds(const YAML::Node& doc) {
  BH_RETURN_IF_ERROR(CheckKeys(doc, "bounds",
                               {"tenant", "allow_audit", "allow_net_raw", "may_grant_to",
                                "dedicated_nodes", "budget_ceiling"}));
  v1::TenantBounds bounds;
  bounds.set_tenant(doc["tenant"].as<std::string>(""));
  bounds.set_allow_audit(doc["allow_audit"].as<bool>(false));
  bounds.set_allow_net_raw(doc["allow_net_raw"].as<bool>(false));
  for (const YAML::Node& t : doc["may_grant_to"]) {
    bounds.add_may_grant_to(t.as<std::string>());
  }
  for (const YAML::Node& n : doc["dedicated_nodes"]) {
    bounds.add_dedicated_nodes(n.as<std::string>());
  }
  if (const YAML::Node ceiling = doc["budget_ceiling"]) {
    BH_RETURN_IF_ERROR(ParseLimits(ceiling, "budget_ceiling", *bounds.mutable_budget_ceiling()));
  }
  return bounds;
}

// Loads the file; YAML errors become INVALID_ARGUMENT with the position.
StatusOr<YAML::Node> LoadYaml(const std::string& path) {
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return absl::NotFoundError(fmt::format("{}: cannot read the file", path));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", path, e.what()));
  }
}

template <typename Parse>
auto ParseFile(const std::string& path, Parse parse) -> decltype(parse(YAML::Node())) {
  BH_ASSIGN_OR_RETURN(YAML::Node doc, LoadYaml(path));
  try {
    auto parsed = parse(doc);
    if (!parsed.ok()) {
      return Annotate(parsed.status(), path);
    }
    return parsed;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", path, e.what()));
  }
}

int RunApply(const CLI::App& app, const FileFlags& flags) {
  auto policy = ParseFile(flags.file, ParsePolicy);
  if (!policy.ok()) {
    PrintCommandError(app, MessageOf(policy.status()));
    return kExitUsage;
  }
  v1::ApplyTenantPolicyRequest request;
  *request.mutable_policy() = *policy;
  return CallAgent(
      app, flags.agent,
      [&request](AgentClient& client) { return client.ApplyTenantPolicy(request); },
      [&request](const v1::ApplyTenantPolicyResponse& response) {
        std::cout << fmt::format("tenant {} generation {} {}\n", request.policy().tenant(),
                                 response.generation(),
                                 response.changed() ? "applied" : "unchanged (already applied)");
      });
}

int RunBounds(const CLI::App& app, const FileFlags& flags) {
  auto bounds = ParseFile(flags.file, ParseBounds);
  if (!bounds.ok()) {
    PrintCommandError(app, MessageOf(bounds.status()));
    return kExitUsage;
  }
  v1::SetBoundsRequest request;
  *request.mutable_bounds() = *bounds;
  return CallAgent(
      app, flags.agent, [&request](AgentClient& client) { return client.SetBounds(request); },
      [&request](const v1::SetBoundsResponse&) {
        std::cout << fmt::format("tenant {} bounds set\n", request.bounds().tenant());
      });
}

int RunBudget(const CLI::App& app, const FileFlags& flags) {
  auto budget = ParseFile(flags.file, ParseBudget);
  if (!budget.ok()) {
    PrintCommandError(app, MessageOf(budget.status()));
    return kExitUsage;
  }
  v1::SetBudgetRequest request;
  *request.mutable_budget() = *budget;
  return CallAgent(
      app, flags.agent, [&request](AgentClient& client) { return client.SetBudget(request); },
      [&request](const v1::SetBudgetResponse& response) {
        std::cout << fmt::format(
            "tenant {} budget {}\n", request.budget().tenant(),
            response.enforced() ? "set" : "recorded (the agent runs with --budgets off)");
      });
}

}  // namespace

std::vector<Command> AddTenantCommands(CLI::App& root) {
  auto* tenant =
      root.add_subcommand("tenant", "Change a tenant's policy, budget or bounds on an agent");
  tenant->require_subcommand(1);
  tenant->footer("Example:\n  bulkhead tenant apply -f policy.yaml --agent 10.0.0.5:9443");

  auto apply_flags = std::make_shared<FileFlags>();
  auto* apply = tenant->add_subcommand(
      "apply",
      "Apply a tenant's policy (mode, egress default, grants of its pods to other tenants); "
      "idempotent by generation");
  AddAgentFlags(*apply, apply_flags->agent);
  apply->add_option("-f,--file", apply_flags->file, "Policy file (YAML or JSON)")->required();
  apply->footer(
      "policy.yaml:\n"
      "  tenant: team-b\n"
      "  generation: 2              # grows with every change\n"
      "  mode: enforce              # or audit, if the admin's bounds allow it\n"
      "  egress_default: allow      # or deny\n"
      "  grants:                    # let team-a reach pod api-1 of team-b on tcp/8080\n"
      "  - {to: team-a, pod: api-1, port: 8080, protocol: tcp}\n"
      "Example:\n  bulkhead tenant apply -f policy.yaml --agent 127.0.0.1:9443 "
      "--cert tenant-team-b.crt --key tenant-team-b.key --ca ca.crt");

  auto bounds_flags = std::make_shared<FileFlags>();
  auto* bounds =
      tenant->add_subcommand("bounds", "Set what a tenant may ask for (admin certificate only)");
  AddAgentFlags(*bounds, bounds_flags->agent);
  bounds->add_option("-f,--file", bounds_flags->file, "Bounds file (YAML or JSON)")->required();
  bounds->footer(
      "bounds.yaml:\n"
      "  tenant: team-b\n"
      "  allow_audit: false\n"
      "  allow_net_raw: false       # keep CAP_NET_RAW in the tenant's pods\n"
      "  may_grant_to: [team-a]     # or [\"*\"]\n"
      "  dedicated_nodes: []        # nodes reserved for this tenant\n"
      "  budget_ceiling: {cpu_quota_us: 200000, cpu_period_us: 100000, memory_bytes: "
      "1073741824, pids: 512}\n"
      "Example:\n  bulkhead tenant bounds -f bounds.yaml --cert admin.crt --key admin.key --ca "
      "ca.crt");

  auto budget_flags = std::make_shared<FileFlags>();
  auto* budget = tenant->add_subcommand(
      "budget",
      "Set a tenant's budget on the node (its own certificate, inside the admin's ceiling)");
  AddAgentFlags(*budget, budget_flags->agent);
  budget->add_option("-f,--file", budget_flags->file, "Budget file (YAML or JSON)")->required();
  budget->footer(
      "budget.yaml:\n"
      "  tenant: team-b\n"
      "  total: {cpu_quota_us: 200000, cpu_period_us: 100000, memory_bytes: 536870912, pids: "
      "256}\n"
      "  pod_default: {memory_bytes: 134217728, pids: 64}\n"
      "Example:\n  bulkhead tenant budget -f budget.yaml --cert tenant-team-b.crt --key "
      "tenant-team-b.key --ca ca.crt");

  return {{apply, [apply, apply_flags]() { return RunApply(*apply, *apply_flags); }},
          {budget, [budget, budget_flags]() { return RunBudget(*budget, *budget_flags); }},
          {bounds, [bounds, bounds_flags]() { return RunBounds(*bounds, *bounds_flags); }}};
}

}  // namespace bulkhead::cli
