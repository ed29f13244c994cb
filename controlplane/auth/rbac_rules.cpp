#include "controlplane/auth/rbac_rules.h"

#include <algorithm>
#include <string_view>

#include "controlplane/apiserver/object_meta.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

bool Has(const std::vector<std::string>& values, std::string_view wanted) {
  return std::find(values.begin(), values.end(), wanted) != values.end();
}

bool ResourceMatches(const PolicyRule& rule, const RequestAttributes& request) {
  std::string combined = request.resource;
  if (!request.subresource.empty()) {
    combined.append("/").append(request.subresource);
  }
  for (const std::string& resource : rule.resources) {
    if (resource == "*" || resource == combined) {
      return true;
    }
    if (!request.subresource.empty() && resource.size() == request.subresource.size() + 2 &&
        resource.starts_with("*/") && resource.ends_with(request.subresource)) {
      return true;
    }
  }
  return false;
}

bool UrlMatches(const PolicyRule& rule, const std::string& path) {
  for (const std::string& url : rule.non_resource_urls) {
    if (url == "*" || url == path ||
        (url.ends_with("*") && path.starts_with(std::string_view(url).substr(0, url.size() - 1)))) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<PolicyRule> ParseRules(const json::value* rules) {
  std::vector<PolicyRule> out;
  if (rules == nullptr || !rules->is_array()) {
    return out;
  }
  for (const json::value& item : rules->as_array()) {
    if (!item.is_object()) {
      continue;
    }
    const json::object& rule = item.as_object();
    out.push_back(PolicyRule{StringListField(rule, "verbs"), StringListField(rule, "apiGroups"),
                             StringListField(rule, "resources"),
                             StringListField(rule, "resourceNames"),
                             StringListField(rule, "nonResourceURLs")});
  }
  return out;
}

json::object RuleToJson(const PolicyRule& rule) {
  json::object out{{"verbs", StringArray(rule.verbs)}};
  if (!rule.api_groups.empty() || !rule.resources.empty()) {
    out["apiGroups"] = StringArray(rule.api_groups);
    out["resources"] = StringArray(rule.resources);
  }
  if (!rule.resource_names.empty()) {
    out["resourceNames"] = StringArray(rule.resource_names);
  }
  if (!rule.non_resource_urls.empty()) {
    out["nonResourceURLs"] = StringArray(rule.non_resource_urls);
  }
  return out;
}

bool RuleAllows(const PolicyRule& rule, const RequestAttributes& request) {
  if (!Has(rule.verbs, "*") && !Has(rule.verbs, request.verb)) {
    return false;
  }
  if (!request.resource_request) {
    return UrlMatches(rule, request.path);
  }
  if (!Has(rule.api_groups, "*") && !Has(rule.api_groups, request.api_group)) {
    return false;
  }
  if (!ResourceMatches(rule, request)) {
    return false;
  }
  return rule.resource_names.empty() || Has(rule.resource_names, request.name);
}

bool AnyRuleAllows(const std::vector<PolicyRule>& rules, const RequestAttributes& request) {
  return std::any_of(rules.begin(), rules.end(),
                     [&](const PolicyRule& rule) { return RuleAllows(rule, request); });
}

bool RulesCover(const std::vector<PolicyRule>& held, const std::vector<PolicyRule>& wanted,
                std::vector<PolicyRule>* missing) {
  bool covered = true;
  for (const PolicyRule& rule : wanted) {
    // Each single permission the wanted rule grants, wildcards taken
    // literally (only a held wildcard covers a wanted one).
    std::vector<RequestAttributes> asks;
    for (const std::string& verb : rule.verbs) {
      for (const std::string& url : rule.non_resource_urls) {
        RequestAttributes ask;
        ask.verb = verb;
        ask.resource_request = false;
        ask.path = url;
        asks.push_back(ask);
      }
      for (const std::string& group : rule.api_groups) {
        for (const std::string& resource_text : rule.resources) {
          RequestAttributes ask;
          ask.verb = verb;
          ask.api_group = group;
          const size_t slash = resource_text.find('/');
          ask.resource = resource_text.substr(0, slash);
          if (slash != std::string::npos) {
            ask.subresource = resource_text.substr(slash + 1);
          }
          if (rule.resource_names.empty()) {
            asks.push_back(ask);
          }
          for (const std::string& name : rule.resource_names) {
            ask.name = name;
            asks.push_back(ask);
          }
        }
      }
    }
    for (const RequestAttributes& ask : asks) {
      // Wildcards asked for are taken literally by RuleAllows: a wanted
      // "*" verb, group, resource or URL is covered only by a held one.
      const bool allowed = AnyRuleAllows(held, ask);
      if (!allowed) {
        covered = false;
        if (missing != nullptr) {
          PolicyRule gap;
          gap.verbs = {ask.verb};
          if (ask.resource_request) {
            gap.api_groups = {ask.api_group};
            gap.resources = {ask.subresource.empty() ? ask.resource
                                                     : ask.resource + "/" + ask.subresource};
            if (!ask.name.empty()) {
              gap.resource_names = {ask.name};
            }
          } else {
            gap.non_resource_urls = {ask.path};
          }
          missing->push_back(std::move(gap));
        }
      }
    }
  }
  return covered;
}

}  // namespace bulkhead::controlplane
