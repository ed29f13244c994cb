#include "controlplane/auth/escalation.h"

#include <algorithm>
#include <boost/json.hpp>

#include "controlplane/apiserver/api_errors.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

constexpr std::string_view kRbacGroup = "rbac.authorization.k8s.io";

// A Go %q slice: ["a" "b"].
std::string Quoted(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    out.append(i == 0 ? "" : " ").append(fmt::format("\"{}\"", values[i]));
  }
  return out + "]";
}

std::string Compact(const PolicyRule& rule) {
  std::vector<std::string> parts;
  if (!rule.api_groups.empty()) {
    parts.push_back("APIGroups:" + Quoted(rule.api_groups));
  }
  if (!rule.resources.empty()) {
    parts.push_back("Resources:" + Quoted(rule.resources));
  }
  if (!rule.non_resource_urls.empty()) {
    parts.push_back("NonResourceURLs:" + Quoted(rule.non_resource_urls));
  }
  if (!rule.resource_names.empty()) {
    parts.push_back("ResourceNames:" + Quoted(rule.resource_names));
  }
  parts.push_back("Verbs:" + Quoted(rule.verbs));
  std::string out = "{";
  for (size_t i = 0; i < parts.size(); ++i) {
    out.append(i == 0 ? "" : ", ").append(parts[i]);
  }
  return out + "}";
}

std::string NameOf(const json::object& object) {
  const json::value* meta = object.if_contains("metadata");
  const json::value* name =
      meta != nullptr && meta->is_object() ? meta->as_object().if_contains("name") : nullptr;
  return name != nullptr && name->is_string() ? std::string(name->as_string()) : "";
}

const json::value* Field(const json::object& object, std::string_view key) {
  return object.if_contains(key);
}

bool SameField(const json::object& a, const json::object* b, std::string_view key) {
  if (b == nullptr) {
    return false;
  }
  const json::value* x = Field(a, key);
  const json::value* y = Field(*b, key);
  return (x == nullptr && y == nullptr) || (x != nullptr && y != nullptr && *x == *y);
}

bool Allows(RbacAuthorizer& authorizer, const UserInfo& user, const std::string& verb,
            const std::string& resource, const std::string& ns, const std::string& name) {
  RequestAttributes ask;
  ask.verb = verb;
  ask.api_group = std::string(kRbacGroup);
  ask.resource = resource;
  ask.namespace_name = ns;
  ask.name = name;
  return authorizer.Authorize(user, ask).allowed;
}

// OK when `user` holds every rule of `wanted` in `ns`.
Status Covered(RbacAuthorizer& authorizer, const UserInfo& user, const std::string& ns,
               const std::vector<PolicyRule>& wanted, const std::string& resource,
               const std::string& name) {
  UserRules held = authorizer.RulesFor(user, ns);
  std::vector<PolicyRule> all = std::move(held.resource_rules);
  all.insert(all.end(), held.non_resource_rules.begin(), held.non_resource_rules.end());
  std::vector<PolicyRule> missing;
  if (RulesCover(all, wanted, &missing)) {
    return absl::OkStatus();
  }
  std::vector<std::string> lines;
  lines.reserve(missing.size());
  for (const PolicyRule& rule : missing) {
    lines.push_back(Compact(rule));
  }
  std::sort(lines.begin(), lines.end());
  lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
  std::string why = fmt::format(
      "user \"{}\" (groups={}) is attempting to grant RBAC permissions not currently held:",
      user.name, Quoted(user.groups));
  for (const std::string& line : lines) {
    why.append("\n").append(line);
  }
  return ForbiddenError(std::string(kRbacGroup), resource, name, why);
}

}  // namespace

Status ConfirmNoEscalation(RbacAuthorizer& authorizer, const UserInfo& user,
                           const ResourceTarget& target, const json::object& object,
                           const json::object* current) {
  const ResourceType& type = *target.type;
  if (type.group != kRbacGroup || user.InGroup(kGroupMasters)) {
    return absl::OkStatus();
  }
  const std::string name = NameOf(object);
  const std::string& ns = target.namespace_name;
  if (type.resource == "roles" || type.resource == "clusterroles") {
    // Nothing granted changes (metadata only): nothing to judge.
    if (SameField(object, current, "rules") && SameField(object, current, "aggregationRule")) {
      return absl::OkStatus();
    }
    if (Allows(authorizer, user, "escalate", type.resource, ns, current != nullptr ? name : "")) {
      return absl::OkStatus();
    }
    const bool aggregated = Field(object, "aggregationRule") != nullptr ||
                            (current != nullptr && Field(*current, "aggregationRule") != nullptr);
    if (type.resource == "clusterroles" && aggregated) {
      const Status full =
          Covered(authorizer, user, "",
                  {PolicyRule{{"*"}, {"*"}, {"*"}, {}, {}}, PolicyRule{{"*"}, {}, {}, {}, {"*"}}},
                  type.resource, name);
      if (!full.ok()) {
        return ForbiddenError(std::string(kRbacGroup), type.resource, name,
                              "must have cluster-admin privileges to use the aggregationRule");
      }
      return absl::OkStatus();
    }
    return Covered(authorizer, user, ns, ParseRules(Field(object, "rules")), type.resource, name);
  }
  if (type.resource == "rolebindings" || type.resource == "clusterrolebindings") {
    if (SameField(object, current, "roleRef") && SameField(object, current, "subjects")) {
      return absl::OkStatus();
    }
    const json::value* ref = Field(object, "roleRef");
    if (ref == nullptr || !ref->is_object()) {
      return absl::OkStatus();  // validation refuses it
    }
    auto text = [&](std::string_view key) {
      const json::value* v = ref->as_object().if_contains(key);
      return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    const std::string role_kind = text("kind");
    const std::string role_name = text("name");
    const std::string role_resource = role_kind == "Role" ? "roles" : "clusterroles";
    if (Allows(authorizer, user, "bind", role_resource, ns, role_name)) {
      return absl::OkStatus();
    }
    std::vector<PolicyRule> rules;
    if (!authorizer.RoleRules(ns, role_kind, role_name, rules)) {
      return ForbiddenError(
          std::string(kRbacGroup), type.resource, name,
          fmt::format("{}.rbac.authorization.k8s.io \"{}\" not found", role_resource, role_name));
    }
    return Covered(authorizer, user, ns, rules, type.resource, name);
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::controlplane
