#include "agent/api/state_file.h"

#include "common/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace bulkhead::agent::api {
namespace {

using nlohmann::json;

json LimitsJson(const budgets::Limits& limits) {
  json doc = {{"cpu_period_us", limits.cpu_period_us}};
  auto put = [&doc](const char* name, std::optional<int64_t> value) {
    if (value) {
      doc[name] = *value;
    }
  };
  put("cpu_quota_us", limits.cpu_quota_us);
  put("cpu_weight", limits.cpu_weight);
  put("memory_bytes", limits.memory_bytes);
  put("pids", limits.pids);
  return doc;
}

budgets::Limits LimitsOf(const json& doc) {
  budgets::Limits limits;
  limits.cpu_period_us = doc.value("cpu_period_us", budgets::kDefaultCpuPeriodUs);
  auto get = [&doc](const char* name) -> std::optional<int64_t> {
    if (doc.contains(name)) {
      return doc.at(name).get<int64_t>();
    }
    return std::nullopt;
  };
  limits.cpu_quota_us = get("cpu_quota_us");
  limits.cpu_weight = get("cpu_weight");
  limits.memory_bytes = get("memory_bytes");
  limits.pids = get("pids");
  return limits;
}

}  // namespace

std::string EncodeState(const std::map<std::string, TenantPolicy>& policies,
                        const std::map<std::string, TenantBounds>& bounds,
                        const std::map<std::string, budgets::TenantBudget>& budgets) {
  json doc = {{"version", 1},
              {"policies", json::array()},
              {"bounds", json::array()},
              {"budgets", json::array()}};
  for (const auto& [name, policy] : policies) {
    json grants = json::array();
    for (const PolicyGrant& grant : policy.grants) {
      grants.push_back({{"to_tenant", grant.to_tenant},
                        {"pod", grant.pod},
                        {"port", grant.port},
                        {"protocol", static_cast<int>(grant.protocol)}});
    }
    doc["policies"].push_back(
        {{"tenant", name},
         {"generation", policy.generation},
         {"audit", policy.mode == netpol::TenantMode::kAudit},
         {"egress_deny", policy.egress_default == netpol::EgressDefault::kDeny},
         {"grants", grants}});
  }
  for (const auto& [name, bound] : bounds) {
    doc["bounds"].push_back({{"tenant", name},
                             {"allow_audit", bound.allow_audit},
                             {"may_grant_to", bound.may_grant_to},
                             {"budget_ceiling", LimitsJson(bound.budget_ceiling)},
                             {"dedicated_nodes", bound.dedicated_nodes},
                             {"allow_net_raw", bound.allow_net_raw}});
  }
  for (const auto& [name, budget] : budgets) {
    doc["budgets"].push_back({{"tenant", name},
                              {"total", LimitsJson(budget.total)},
                              {"pod_default", LimitsJson(budget.pod_default)}});
  }
  return doc.dump(1);
}

Status DecodeState(const std::string& text, std::map<std::string, TenantPolicy>& policies,
                   std::map<std::string, TenantBounds>& bounds,
                   std::map<std::string, budgets::TenantBudget>& budgets) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("version", 0) != 1) {
    return absl::DataLossError("not a version 1 agent state document; move it away to start empty");
  }
  std::map<std::string, TenantPolicy> new_policies;
  std::map<std::string, TenantBounds> new_bounds;
  std::map<std::string, budgets::TenantBudget> new_budgets;
  try {
    for (const json& p : doc.at("policies")) {
      TenantPolicy policy;
      policy.tenant = p.at("tenant").get<std::string>();
      policy.generation = p.at("generation").get<std::uint64_t>();
      policy.mode =
          p.at("audit").get<bool>() ? netpol::TenantMode::kAudit : netpol::TenantMode::kEnforce;
      policy.egress_default = p.at("egress_deny").get<bool>() ? netpol::EgressDefault::kDeny
                                                              : netpol::EgressDefault::kAllow;
      for (const json& g : p.at("grants")) {
        policy.grants.push_back({g.at("to_tenant").get<std::string>(),
                                 g.at("pod").get<std::string>(), g.at("port").get<std::uint16_t>(),
                                 static_cast<netpol::Protocol>(g.at("protocol").get<int>())});
      }
      new_policies[policy.tenant] = std::move(policy);
    }
    for (const json& b : doc.at("bounds")) {
      TenantBounds bound;
      bound.tenant = b.at("tenant").get<std::string>();
      bound.allow_audit = b.at("allow_audit").get<bool>();
      bound.allow_net_raw = b.value("allow_net_raw", false);  // absent in older state files
      bound.may_grant_to = b.at("may_grant_to").get<std::vector<std::string>>();
      bound.budget_ceiling = LimitsOf(b.at("budget_ceiling"));
      bound.dedicated_nodes = b.at("dedicated_nodes").get<std::vector<std::string>>();
      new_bounds[bound.tenant] = std::move(bound);
    }
    for (const json& b : doc.at("budgets")) {
      budgets::TenantBudget budget{LimitsOf(b.at("total")), LimitsOf(b.at("pod_default"))};
      new_budgets[b.at("tenant").get<std::string>()] = budget;
    }
  } catch (const json::exception& e) {
    return absl::DataLossError(fmt::format("agent state document: {}", e.what()));
  }
  policies = std::move(new_policies);
  bounds = std::move(new_bounds);
  budgets = std::move(new_budgets);
  return absl::OkStatus();
}

Status WriteStateFile(const std::string& path, const std::string& text) {
  return WriteFileAtomically(path, text, 0600);
}

}  // namespace bulkhead::agent::api
