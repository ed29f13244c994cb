#include "controlplane/auth/rbac_authorizer.h"

#include <boost/json.hpp>
#include <unordered_map>

#include "common/logging.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

constexpr std::string_view kRbacPrefix = "/registry/rbac.authorization.k8s.io/";

std::string Field(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

std::string Meta(const json::object& object, std::string_view key) {
  const json::value* meta = object.if_contains("metadata");
  return meta != nullptr && meta->is_object() ? Field(meta->as_object(), key) : "";
}

struct Binding {
  std::string kind;  // RoleBinding or ClusterRoleBinding
  std::string name;
  std::string namespace_name;  // "" for a ClusterRoleBinding
  std::string role_kind;
  std::string role_name;
  std::string subject;  // as the reason names it: User "jane"
};

}  // namespace

struct RbacAuthorizer::Index {
  std::unordered_map<std::string, std::vector<PolicyRule>> cluster_roles;
  std::unordered_map<std::string, std::vector<PolicyRule>> roles;  // "ns/name"
  std::vector<Binding> bindings;
  // "u:<user>" and "g:<group>" -> the bindings that name them.
  std::unordered_map<std::string, std::vector<size_t>> by_subject;

  [[nodiscard]] const std::vector<PolicyRule>* RulesOf(const Binding& binding) const {
    if (binding.role_kind == "ClusterRole") {
      auto it = cluster_roles.find(binding.role_name);
      return it == cluster_roles.end() ? nullptr : &it->second;
    }
    if (binding.role_kind == "Role" && !binding.namespace_name.empty()) {
      auto it = roles.find(binding.namespace_name + "/" + binding.role_name);
      return it == roles.end() ? nullptr : &it->second;
    }
    return nullptr;
  }

  // Calls `visit` with every binding that applies to `user` in
  // `namespace_name` (cluster bindings always; role bindings of that
  // namespace) until it returns true.
  template <typename Visit>
  bool ForEach(const UserInfo& user, const std::string& namespace_name, Visit visit) const {
    auto look = [&](const std::string& key) {
      auto it = by_subject.find(key);
      if (it == by_subject.end()) {
        return false;
      }
      for (size_t i : it->second) {
        const Binding& binding = bindings[i];
        if (!binding.namespace_name.empty() && binding.namespace_name != namespace_name) {
          continue;
        }
        if (visit(binding)) {
          return true;
        }
      }
      return false;
    };
    if (look("u:" + user.name)) {
      return true;
    }
    return std::any_of(user.groups.begin(), user.groups.end(),
                       [&](const std::string& group) { return look("g:" + group); });
  }
};

namespace {

void AddBindings(RbacAuthorizer::Index& index, const std::vector<KeyValue>& items, bool cluster) {
  for (const KeyValue& kv : items) {
    boost::system::error_code ec;
    json::value value = json::parse(kv.value, ec);
    if (ec || !value.is_object()) {
      continue;
    }
    const json::object& object = value.as_object();
    const json::value* ref = object.if_contains("roleRef");
    if (ref == nullptr || !ref->is_object()) {
      continue;
    }
    Binding binding;
    binding.kind = cluster ? "ClusterRoleBinding" : "RoleBinding";
    binding.name = Meta(object, "name");
    binding.namespace_name = cluster ? "" : Meta(object, "namespace");
    binding.role_kind = Field(ref->as_object(), "kind");
    binding.role_name = Field(ref->as_object(), "name");
    const json::value* subjects = object.if_contains("subjects");
    if (subjects == nullptr || !subjects->is_array()) {
      continue;
    }
    for (const json::value& s : subjects->as_array()) {
      if (!s.is_object()) {
        continue;
      }
      const std::string kind = Field(s.as_object(), "kind");
      const std::string name = Field(s.as_object(), "name");
      std::string key;
      if (kind == "User") {
        key = "u:" + name;
      } else if (kind == "Group") {
        key = "g:" + name;
      } else if (kind == "ServiceAccount") {
        std::string ns = Field(s.as_object(), "namespace");
        if (ns.empty()) {
          ns = binding.namespace_name;
        }
        if (ns.empty()) {
          continue;
        }
        key = "u:" + ServiceAccountUserName(ns, name);
      } else {
        continue;
      }
      Binding named = binding;
      named.subject = fmt::format(
          "{} \"{}\"", kind,
          kind == "ServiceAccount" ? Field(s.as_object(), "namespace") + "/" + name : name);
      index.by_subject[key].push_back(index.bindings.size());
      index.bindings.push_back(std::move(named));
    }
  }
}

void AddRoles(std::unordered_map<std::string, std::vector<PolicyRule>>& out,
              const std::vector<KeyValue>& items, bool cluster) {
  for (const KeyValue& kv : items) {
    boost::system::error_code ec;
    json::value value = json::parse(kv.value, ec);
    if (ec || !value.is_object()) {
      continue;
    }
    const json::object& object = value.as_object();
    std::string key =
        cluster ? Meta(object, "name") : Meta(object, "namespace") + "/" + Meta(object, "name");
    out[key] = ParseRules(object.if_contains("rules"));
  }
}

}  // namespace

RbacAuthorizer::RbacAuthorizer(ObjectRegistry& objects) : objects_(objects) {}
RbacAuthorizer::~RbacAuthorizer() = default;

void RbacAuthorizer::Committed(std::string_view key) {
  if (key.starts_with(kRbacPrefix)) {
    changes_.fetch_add(1);
  }
}

std::shared_ptr<const RbacAuthorizer::Index> RbacAuthorizer::Current() {
  const uint64_t wanted = changes_.load();
  std::lock_guard lock(mu_);
  if (built_ == wanted && index_ != nullptr) {
    return index_;
  }
  auto index = std::make_shared<Index>();
  const std::string prefix(kRbacPrefix);
  bool complete = true;
  auto list = [&](const char* resource) {
    auto listed = objects_.ListAll(prefix + resource + "/");
    if (!listed.ok()) {
      complete = false;
      Logger(Component::kApiserver)
          .error("rbac: cannot read {} (the previous view stays): {}", resource, listed.status());
      return std::vector<KeyValue>{};
    }
    return std::move(listed->items);
  };
  AddRoles(index->cluster_roles, list("clusterroles"), true);
  AddRoles(index->roles, list("roles"), false);
  AddBindings(*index, list("clusterrolebindings"), true);
  AddBindings(*index, list("rolebindings"), false);
  if (!complete && index_ != nullptr) {
    return index_;  // never judged by a partial view; retried on the next request
  }
  index_ = std::move(index);
  built_ = complete ? wanted : 0;
  return index_;
}

Decision RbacAuthorizer::Authorize(const UserInfo& user, const RequestAttributes& request) {
  if (user.InGroup(kGroupMasters)) {
    return {true, "member of system:masters"};
  }
  auto index = Current();
  Decision decision;
  index->ForEach(user, request.namespace_name, [&](const Binding& binding) {
    const std::vector<PolicyRule>* rules = index->RulesOf(binding);
    if (rules == nullptr || !AnyRuleAllows(*rules, request)) {
      return false;
    }
    decision.allowed = true;
    decision.reason = fmt::format(
        "RBAC: allowed by {} \"{}\" of {} \"{}\" to {}", binding.kind,
        binding.namespace_name.empty() ? binding.name : binding.name + "/" + binding.namespace_name,
        binding.role_kind, binding.role_name, binding.subject);
    return true;
  });
  return decision;
}

UserRules RbacAuthorizer::RulesFor(const UserInfo& user, const std::string& namespace_name) {
  auto index = Current();
  UserRules out;
  index->ForEach(user, namespace_name, [&](const Binding& binding) {
    if (const std::vector<PolicyRule>* rules = index->RulesOf(binding); rules != nullptr) {
      for (const PolicyRule& rule : *rules) {
        (rule.non_resource_urls.empty() ? out.resource_rules : out.non_resource_rules)
            .push_back(rule);
      }
    }
    return false;
  });
  return out;
}

bool RbacAuthorizer::RoleRules(const std::string& namespace_name, const std::string& kind,
                               const std::string& name, std::vector<PolicyRule>& rules) {
  auto index = Current();
  Binding binding;
  binding.namespace_name = namespace_name;
  binding.role_kind = kind;
  binding.role_name = name;
  const std::vector<PolicyRule>* found = index->RulesOf(binding);
  if (found == nullptr) {
    return false;
  }
  rules = *found;
  return true;
}

}  // namespace bulkhead::controlplane
