// RBAC's rules and how a request is matched against them, as Kubernetes
// 1.32 matches them: verbs, API groups and resources with "*" wildcards,
// "*/<subresource>", resourceNames (a rule that names objects never
// allows a request that names none: list, create, deletecollection) and
// non-resource URLs with a trailing "*" as a prefix.
#ifndef BULKHEAD_CONTROLPLANE_AUTH_RBAC_RULES_H_
#define BULKHEAD_CONTROLPLANE_AUTH_RBAC_RULES_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <vector>

namespace bulkhead::controlplane {

// What a request asks to do, for authorization.
struct RequestAttributes {
  std::string verb;  // get list watch create update patch delete deletecollection impersonate ...
  bool resource_request = true;
  std::string namespace_name;  // "" for cluster scope
  std::string api_group;
  std::string resource;
  std::string subresource;
  std::string name;
  std::string path;  // non-resource requests
};

struct PolicyRule {
  std::vector<std::string> verbs;
  std::vector<std::string> api_groups;
  std::vector<std::string> resources;
  std::vector<std::string> resource_names;
  std::vector<std::string> non_resource_urls;
};

// The rules of a Role or ClusterRole ("rules"); malformed entries are skipped.
std::vector<PolicyRule> ParseRules(const boost::json::value* rules);
boost::json::object RuleToJson(const PolicyRule& rule);

bool RuleAllows(const PolicyRule& rule, const RequestAttributes& request);
bool AnyRuleAllows(const std::vector<PolicyRule>& rules, const RequestAttributes& request);

// Whether `held` cover every request that `wanted` allows (escalation
// checks): each wanted rule is broken into single verb/group/resource/name
// requests and each must be allowed by some held rule.
bool RulesCover(const std::vector<PolicyRule>& held, const std::vector<PolicyRule>& wanted,
                std::vector<PolicyRule>* missing);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_AUTH_RBAC_RULES_H_
