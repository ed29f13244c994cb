#include "controlplane/auth/bootstrap_policy.h"

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_limits.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

constexpr std::string_view kRbacGroup = "rbac.authorization.k8s.io";
constexpr std::string_view kAutoupdate = "rbac.authorization.kubernetes.io/autoupdate";
constexpr std::string_view kAggregatePrefix = "rbac.authorization.k8s.io/aggregate-to-";

// Verb sets as Kubernetes' policy names them.
constexpr std::string_view kRead = "get list watch";
constexpr std::string_view kWrite = "create delete deletecollection patch update";
constexpr std::string_view kReadWrite =
    "create delete deletecollection get list patch update watch";

json::array Words(std::string_view text) {
  json::array out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    if (end > start) {
      out.emplace_back(text.substr(start, end - start));
    }
    start = end + 1;
  }
  return out;
}

json::object Rule(std::string_view group, std::string_view resources, std::string_view verbs) {
  return {{"apiGroups", json::array{json::string(group)}},
          {"resources", Words(resources)},
          {"verbs", Words(verbs)}};
}

json::object UrlRule(std::string_view urls, std::string_view verbs) {
  return {{"nonResourceURLs", Words(urls)}, {"verbs", Words(verbs)}};
}

json::object Metadata(std::string_view name, const json::object& extra_labels = {}) {
  json::object labels{{"kubernetes.io/bootstrapping", "rbac-defaults"}};
  for (const auto& [key, value] : extra_labels) {
    labels[key] = value;
  }
  return {{"name", name},
          {"labels", std::move(labels)},
          {"annotations", json::object{{kAutoupdate, "true"}}}};
}

json::object Role(std::string_view name, json::array rules, const json::object& labels = {}) {
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", "ClusterRole"},
          {"metadata", Metadata(name, labels)},
          {"rules", std::move(rules)}};
}

std::string AggregateLabel(std::string_view to) {
  return std::string(kAggregatePrefix) + std::string(to);
}

json::object Aggregated(std::string_view name, std::string_view to,
                        const json::object& labels = {}) {
  json::object role = Role(name, json::array{}, labels);
  role["aggregationRule"] = json::object{
      {"clusterRoleSelectors",
       json::array{json::object{{"matchLabels", json::object{{AggregateLabel(to), "true"}}}}}}};
  return role;
}

json::object Binding(std::string_view role, const std::vector<std::string_view>& groups) {
  json::array subjects;
  for (std::string_view group : groups) {
    subjects.push_back(json::object{{"apiGroup", kRbacGroup}, {"kind", "Group"}, {"name", group}});
  }
  return {
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "ClusterRoleBinding"},
      {"metadata", Metadata(role)},
      {"roleRef", json::object{{"apiGroup", kRbacGroup}, {"kind", "ClusterRole"}, {"name", role}}},
      {"subjects", std::move(subjects)}};
}

const json::object& Labels(const json::object& object) {
  static const json::object kNone;
  const json::value* meta = object.if_contains("metadata");
  const json::value* labels =
      meta != nullptr && meta->is_object() ? meta->as_object().if_contains("labels") : nullptr;
  return labels != nullptr && labels->is_object() ? labels->as_object() : kNone;
}

}  // namespace

std::vector<json::object> BootstrapClusterRoles() {
  json::object to_admin{{AggregateLabel("admin"), "true"}};
  json::object to_edit{{AggregateLabel("edit"), "true"}};
  json::object to_view{{AggregateLabel("view"), "true"}};
  std::vector<json::object> roles;
  roles.push_back(Role("cluster-admin", json::array{Rule("*", "*", "*"), UrlRule("*", "*")}));
  roles.push_back(Aggregated("admin", "admin"));
  roles.push_back(Aggregated("edit", "edit", to_admin));
  roles.push_back(Aggregated("view", "view", to_edit));
  roles.push_back(
      Role("system:aggregate-to-admin",
           json::array{Rule("authorization.k8s.io", "localsubjectaccessreviews", "create"),
                       Rule("rbac.authorization.k8s.io", "rolebindings roles", kReadWrite)},
           to_admin));
  roles.push_back(
      Role("system:aggregate-to-edit",
           json::array{
               Rule("", "pods/attach pods/exec pods/portforward pods/proxy secrets services/proxy",
                    kRead),
               Rule("", "serviceaccounts", "impersonate"),
               Rule("", "pods pods/attach pods/exec pods/portforward pods/proxy", kWrite),
               Rule("", "pods/eviction", "create"),
               Rule("",
                    "configmaps events persistentvolumeclaims replicationcontrollers "
                    "replicationcontrollers/scale secrets serviceaccounts services services/proxy",
                    kWrite),
               Rule("", "serviceaccounts/token", "create"),
               Rule("apps",
                    "daemonsets deployments deployments/rollback deployments/scale replicasets "
                    "replicasets/scale statefulsets statefulsets/scale",
                    kWrite),
               Rule("autoscaling", "horizontalpodautoscalers", kWrite),
               Rule("batch", "cronjobs jobs", kWrite),
               Rule("extensions",
                    "daemonsets deployments deployments/rollback deployments/scale ingresses "
                    "networkpolicies replicasets replicasets/scale replicationcontrollers/scale",
                    kWrite),
               Rule("policy", "poddisruptionbudgets", kWrite),
               Rule("networking.k8s.io", "ingresses networkpolicies", kWrite),
               Rule("coordination.k8s.io", "leases", kReadWrite)},
           to_edit));
  roles.push_back(Role(
      "system:aggregate-to-view",
      json::array{
          Rule("",
               "configmaps endpoints persistentvolumeclaims persistentvolumeclaims/status pods "
               "replicationcontrollers replicationcontrollers/scale serviceaccounts services "
               "services/status",
               kRead),
          Rule("",
               "bindings events limitranges namespaces/status pods/log pods/status "
               "replicationcontrollers/status resourcequotas resourcequotas/status",
               kRead),
          Rule("", "namespaces", kRead), Rule("discovery.k8s.io", "endpointslices", kRead),
          Rule("apps",
               "controllerrevisions daemonsets daemonsets/status deployments deployments/scale "
               "deployments/status replicasets replicasets/scale replicasets/status statefulsets "
               "statefulsets/scale statefulsets/status",
               kRead),
          Rule("autoscaling", "horizontalpodautoscalers horizontalpodautoscalers/status", kRead),
          Rule("batch", "cronjobs cronjobs/status jobs jobs/status", kRead),
          Rule("extensions",
               "daemonsets daemonsets/status deployments deployments/scale deployments/status "
               "ingresses ingresses/status networkpolicies replicasets replicasets/scale "
               "replicasets/status replicationcontrollers/scale",
               kRead),
          Rule("policy", "poddisruptionbudgets poddisruptionbudgets/status", kRead),
          Rule("networking.k8s.io", "ingresses ingresses/status networkpolicies", kRead)},
      to_view));
  roles.push_back(Role("system:discovery",
                       json::array{UrlRule("/api /api/* /apis /apis/* /healthz /livez /openapi "
                                           "/openapi/* /readyz /version /version/",
                                           "get")}));
  roles.push_back(Role("system:public-info-viewer",
                       json::array{UrlRule("/healthz /livez /readyz /version /version/", "get")}));
  roles.push_back(
      Role("system:basic-user",
           json::array{Rule("authorization.k8s.io",
                            "selfsubjectaccessreviews selfsubjectrulesreviews", "create"),
                       Rule("authentication.k8s.io", "selfsubjectreviews", "create")}));
  roles.push_back(
      Role("system:auth-delegator",
           json::array{Rule("authentication.k8s.io", "tokenreviews", "create"),
                       Rule("authorization.k8s.io", "subjectaccessreviews", "create")}));
  roles.push_back(Role("system:service-account-issuer-discovery",
                       json::array{UrlRule("/.well-known/openid-configuration "
                                           "/.well-known/openid-configuration/ /openid/v1/jwks "
                                           "/openid/v1/jwks/",
                                           "get")}));
  // Aggregated roles start with what their sources hold (the aggregation
  // controller keeps them so): view, then edit, then admin.
  for (const char* to : {"view", "edit", "admin"}) {
    json::object* target = nullptr;
    for (json::object& role : roles) {
      if (role["metadata"].as_object()["name"].as_string() == to) {
        target = &role;
      }
    }
    std::vector<std::pair<std::string, const json::object*>> sources;
    for (const json::object& role : roles) {
      const json::value* label = Labels(role).if_contains(AggregateLabel(to));
      if (&role != target && label != nullptr && label->is_string() &&
          label->as_string() == "true") {
        sources.emplace_back(std::string(role.at("metadata").at("name").as_string()), &role);
      }
    }
    std::sort(sources.begin(), sources.end());
    json::array rules;
    for (const auto& [name, role] : sources) {
      for (const json::value& rule : role->at("rules").as_array()) {
        if (std::find(rules.begin(), rules.end(), rule) == rules.end()) {
          rules.push_back(rule);
        }
      }
    }
    (*target)["rules"] = std::move(rules);
  }
  return roles;
}

std::vector<json::object> BootstrapClusterRoleBindings() {
  return {Binding("cluster-admin", {"system:masters"}),
          Binding("system:discovery", {"system:authenticated"}),
          Binding("system:basic-user", {"system:authenticated"}),
          Binding("system:public-info-viewer", {"system:authenticated", "system:unauthenticated"}),
          Binding("system:service-account-issuer-discovery", {"system:serviceaccounts"})};
}

Status EnsureBootstrapPolicy(ObjectRegistry& objects) {
  auto ensure = [&objects](const char* resource, const json::object& wanted,
                           std::initializer_list<const char*> fields) -> Status {
    ResourceTarget target;
    target.type = objects.types().Find("rbac.authorization.k8s.io", "v1", resource);
    target.name = std::string(wanted.at("metadata").at("name").as_string());
    BH_ASSIGN_OR_RETURN(auto found, objects.Get(target));
    std::vector<std::string> warnings;
    if (!found.has_value()) {
      ResourceTarget collection = target;
      collection.name.clear();
      auto created = objects.Create(collection, wanted, "Strict", false, warnings);
      if (!created.ok() && ToHttpError(created.status()).code != 409) {
        return created.status();
      }
      return absl::OkStatus();
    }
    auto updated = objects.GuaranteedUpdate(
        target,
        [&](const json::object& current) -> StatusOr<json::object> {
          json::object next = current;
          const json::value* meta = current.if_contains("metadata");
          const json::value* annotations = meta != nullptr && meta->is_object()
                                               ? meta->as_object().if_contains("annotations")
                                               : nullptr;
          const json::value* autoupdate = annotations != nullptr && annotations->is_object()
                                              ? annotations->as_object().if_contains(kAutoupdate)
                                              : nullptr;
          if (autoupdate != nullptr && autoupdate->is_string() &&
              autoupdate->as_string() == "false") {
            return current;  // the cluster's admin took it over
          }
          for (const char* field : fields) {
            if (const json::value* value = wanted.if_contains(field); value != nullptr) {
              next[field] = *value;
            }
          }
          return next;
        },
        false);
    return updated.ok() ? absl::OkStatus() : updated.status();
  };
  for (const json::object& role : BootstrapClusterRoles()) {
    // An aggregated role's rules are the aggregation's to keep.
    if (role.contains("aggregationRule")) {
      BH_RETURN_IF_ERROR(ensure("clusterroles", role, {"aggregationRule"}));
    } else {
      BH_RETURN_IF_ERROR(ensure("clusterroles", role, {"rules"}));
    }
  }
  for (const json::object& binding : BootstrapClusterRoleBindings()) {
    BH_RETURN_IF_ERROR(ensure("clusterrolebindings", binding, {"roleRef", "subjects"}));
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::controlplane
