#include "controlplane/controllers/cluster_role_aggregation_controller.h"

#include <algorithm>
#include <boost/json.hpp>

#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/controllers/object_helpers.h"

namespace bulkhead::controlplane::controllers {

namespace json = boost::json;

ClusterRoleAggregationController::ClusterRoleAggregationController(Client& client,
                                                                   Informer& cluster_roles)
    : Controller("clusterrole-aggregation", 1), client_(client), cluster_roles_(cluster_roles) {
  // Any role may join or leave any aggregation: every aggregated role is
  // looked at again (there are few).
  cluster_roles_.AddHandler([this](const InformerEvent&) {
    for (const ObjectPtr& role : cluster_roles_.List()) {
      if (PathValue(*role, ".aggregationRule") != nullptr) {
        Enqueue(MetaString(*role, "name"));
      }
    }
  });
}

Status ClusterRoleAggregationController::Reconcile(const std::string& key) {
  ObjectPtr role = cluster_roles_.Get("", key);
  if (role == nullptr) {
    return absl::OkStatus();
  }
  const json::value* selectors = PathValue(*role, ".aggregationRule.clusterRoleSelectors");
  if (selectors == nullptr || !selectors->is_array()) {
    return absl::OkStatus();
  }
  json::array rules;
  for (const json::value& selector : selectors->as_array()) {
    std::vector<ObjectPtr> sources;
    for (const ObjectPtr& other : cluster_roles_.List()) {
      if (MetaString(*other, "name") != key && SelectorMatches(&selector, LabelsOf(*other))) {
        sources.push_back(other);
      }
    }
    std::sort(sources.begin(), sources.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
      return MetaString(*a, "name") < MetaString(*b, "name");
    });
    for (const ObjectPtr& source : sources) {
      const json::value* source_rules = source->if_contains("rules");
      if (source_rules == nullptr || !source_rules->is_array()) {
        continue;
      }
      for (const json::value& rule : source_rules->as_array()) {
        if (std::find(rules.begin(), rules.end(), rule) == rules.end()) {
          rules.push_back(rule);
        }
      }
    }
  }
  const json::value* have = role->if_contains("rules");
  if (have != nullptr && have->is_array() && have->as_array() == rules) {
    return absl::OkStatus();
  }
  auto written = client_.Mutate(In(kClusterRolesRef, "", key), [&](json::object& next) {
    if (next.if_contains("aggregationRule") == nullptr) {
      return absl::FailedPreconditionError("no longer aggregated");
    }
    next["rules"] = rules;
    return absl::OkStatus();
  });
  return Settles(written.status()) ? absl::OkStatus() : written.status();
}

}  // namespace bulkhead::controlplane::controllers
