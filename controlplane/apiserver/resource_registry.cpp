#include "controlplane/apiserver/resource_registry.h"

#include <algorithm>

namespace bulkhead::controlplane {
namespace {

struct Builtin {
  const char* group;
  const char* version;
  const char* resource;
  const char* kind;
  bool namespaced;
  std::vector<std::string> short_names;
  bool status;
  bool scale;
  bool in_all;
};

// The built-in kinds served (Kubernetes 1.32 names).
const std::vector<Builtin>& Builtins() {
  static const std::vector<Builtin> kBuiltins = {
      {"", "v1", "namespaces", "Namespace", false, {"ns"}, true, false, false},
      {"", "v1", "pods", "Pod", true, {"po"}, true, false, true},
      {"", "v1", "services", "Service", true, {"svc"}, true, false, true},
      {"", "v1", "endpoints", "Endpoints", true, {"ep"}, false, false, false},
      {"", "v1", "configmaps", "ConfigMap", true, {"cm"}, false, false, false},
      {"", "v1", "secrets", "Secret", true, {}, false, false, false},
      {"", "v1", "serviceaccounts", "ServiceAccount", true, {"sa"}, false, false, false},
      {"", "v1", "resourcequotas", "ResourceQuota", true, {"quota"}, true, false, false},
      {"", "v1", "limitranges", "LimitRange", true, {"limits"}, false, false, false},
      {"", "v1", "events", "Event", true, {"ev"}, false, false, false},
      {"", "v1", "nodes", "Node", false, {"no"}, true, false, false},
      {"",
       "v1",
       "persistentvolumeclaims",
       "PersistentVolumeClaim",
       true,
       {"pvc"},
       true,
       false,
       false},
      {"", "v1", "persistentvolumes", "PersistentVolume", false, {"pv"}, true, false, false},
      {"", "v1", "replicationcontrollers", "ReplicationController", true, {"rc"}, true, true, true},
      {"apps", "v1", "deployments", "Deployment", true, {"deploy"}, true, true, true},
      {"apps", "v1", "replicasets", "ReplicaSet", true, {"rs"}, true, true, true},
      {"apps", "v1", "statefulsets", "StatefulSet", true, {"sts"}, true, true, true},
      {"apps", "v1", "daemonsets", "DaemonSet", true, {"ds"}, true, false, true},
      {"batch", "v1", "jobs", "Job", true, {}, true, false, true},
      {"batch", "v1", "cronjobs", "CronJob", true, {"cj"}, true, false, true},
      {"rbac.authorization.k8s.io", "v1", "roles", "Role", true, {}, false, false, false},
      {"rbac.authorization.k8s.io",
       "v1",
       "rolebindings",
       "RoleBinding",
       true,
       {},
       false,
       false,
       false},
      {"rbac.authorization.k8s.io",
       "v1",
       "clusterroles",
       "ClusterRole",
       false,
       {},
       false,
       false,
       false},
      {"rbac.authorization.k8s.io",
       "v1",
       "clusterrolebindings",
       "ClusterRoleBinding",
       false,
       {},
       false,
       false,
       false},
      {"networking.k8s.io", "v1", "ingresses", "Ingress", true, {"ing"}, true, false, false},
      {"networking.k8s.io", "v1", "ingressclasses", "IngressClass", false, {}, false, false, false},
      {"networking.k8s.io",
       "v1",
       "networkpolicies",
       "NetworkPolicy",
       true,
       {"netpol"},
       false,
       false,
       false},
      {"storage.k8s.io",
       "v1",
       "storageclasses",
       "StorageClass",
       false,
       {"sc"},
       false,
       false,
       false},
      {"coordination.k8s.io", "v1", "leases", "Lease", true, {}, false, false, false},
      {"autoscaling",
       "v2",
       "horizontalpodautoscalers",
       "HorizontalPodAutoscaler",
       true,
       {"hpa"},
       true,
       false,
       true},
      {"autoscaling",
       "v1",
       "horizontalpodautoscalers",
       "HorizontalPodAutoscaler",
       true,
       {"hpa"},
       true,
       false,
       false},
      {"policy",
       "v1",
       "poddisruptionbudgets",
       "PodDisruptionBudget",
       true,
       {"pdb"},
       true,
       false,
       false},
      {"apiregistration.k8s.io", "v1", "apiservices", "APIService", false, {}, true, false, false},
      {"scheduling.k8s.io",
       "v1",
       "priorityclasses",
       "PriorityClass",
       false,
       {"pc"},
       false,
       false,
       false},
      {"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, {}, false, false, false},
      {"apiextensions.k8s.io",
       "v1",
       "customresourcedefinitions",
       "CustomResourceDefinition",
       false,
       {"crd", "crds"},
       true,
       false,
       false},
      {"authorization.k8s.io",
       "v1",
       "selfsubjectaccessreviews",
       "SelfSubjectAccessReview",
       false,
       {},
       false,
       false,
       false},
      {"authorization.k8s.io",
       "v1",
       "selfsubjectrulesreviews",
       "SelfSubjectRulesReview",
       false,
       {},
       false,
       false,
       false},
      {"authorization.k8s.io",
       "v1",
       "subjectaccessreviews",
       "SubjectAccessReview",
       false,
       {},
       false,
       false,
       false},
      {"authorization.k8s.io",
       "v1",
       "localsubjectaccessreviews",
       "LocalSubjectAccessReview",
       true,
       {},
       false,
       false,
       false},
      {"authentication.k8s.io",
       "v1",
       "tokenreviews",
       "TokenReview",
       false,
       {},
       false,
       false,
       false},
      {"authentication.k8s.io",
       "v1",
       "selfsubjectreviews",
       "SelfSubjectReview",
       false,
       {},
       false,
       false,
       false},
  };
  return kBuiltins;
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

int GroupRank(const std::string& group) {
  // Core first, then the built-in groups in the order Kubernetes lists them.
  static const std::vector<std::string> kOrder = {"",
                                                  "apps",
                                                  "batch",
                                                  "rbac.authorization.k8s.io",
                                                  "networking.k8s.io",
                                                  "storage.k8s.io",
                                                  "coordination.k8s.io",
                                                  "discovery.k8s.io",
                                                  "apiextensions.k8s.io",
                                                  "authorization.k8s.io",
                                                  "authentication.k8s.io"};
  auto it = std::find(kOrder.begin(), kOrder.end(), group);
  return it == kOrder.end() ? static_cast<int>(kOrder.size())
                            : static_cast<int>(it - kOrder.begin());
}

}  // namespace

ResourceRegistry::ResourceRegistry() {
  for (const auto& b : Builtins()) {
    auto type = std::make_shared<ResourceType>();
    type->group = b.group;
    type->version = b.version;
    type->resource = b.resource;
    type->kind = b.kind;
    type->singular = Lower(b.kind);
    type->list_kind = std::string(b.kind) + "List";
    type->namespaced = b.namespaced;
    type->short_names = b.short_names;
    if (b.in_all) {
      type->categories = {"all"};
    }
    type->status_subresource = b.status;
    type->scale_subresource = b.scale;
    type->review = type->group == "authorization.k8s.io" || type->group == "authentication.k8s.io";
    type->token_subresource = type->group.empty() && type->resource == "serviceaccounts";
    type->binding_subresource = type->group.empty() && type->resource == "pods";
    type->log_subresource = type->binding_subresource;
    type->connect_subresources = type->binding_subresource;
    builtin_.push_back(std::move(type));
  }
}

ResourceTypePtr ResourceRegistry::Find(const std::string& group, const std::string& version,
                                       const std::string& resource) const {
  std::lock_guard lock(mu_);
  for (const auto& type : builtin_) {
    if (type->group == group && type->version == version && type->resource == resource) {
      return type;
    }
  }
  for (const auto& [name, types] : custom_) {
    for (const auto& type : types) {
      if (type->group == group && type->version == version && type->resource == resource) {
        return type;
      }
    }
  }
  return nullptr;
}

bool ResourceRegistry::IsBuiltin(const std::string& group, const std::string& resource) const {
  ResourceType probe;
  probe.group = group;
  probe.resource = resource;
  const std::string prefix = probe.KeyPrefix();
  std::lock_guard lock(mu_);
  return std::any_of(builtin_.begin(), builtin_.end(),
                     [&prefix](const auto& type) { return type->KeyPrefix() == prefix; });
}

ResourceTypePtr ResourceRegistry::FindKind(const std::string& group,
                                           const std::string& kind) const {
  std::lock_guard lock(mu_);
  for (const auto& type : builtin_) {
    if (type->group == group && type->kind == kind) {
      return type;
    }
  }
  for (const auto& [name, types] : custom_) {
    for (const auto& type : types) {
      if (type->group == group && type->kind == kind) {
        return type;
      }
    }
  }
  return nullptr;
}

std::vector<ResourceTypePtr> ResourceRegistry::All() const {
  std::lock_guard lock(mu_);
  std::vector<ResourceTypePtr> all = builtin_;
  for (const auto& [name, types] : custom_) {
    all.insert(all.end(), types.begin(), types.end());
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    int ra = GroupRank(a->group);
    int rb = GroupRank(b->group);
    if (ra != rb) {
      return ra < rb;
    }
    if (a->group != b->group) {
      return a->group < b->group;
    }
    return false;
  });
  return all;
}

std::map<std::string, std::vector<std::string>> ResourceRegistry::GroupVersions() const {
  std::map<std::string, std::vector<std::string>> versions;
  for (const auto& type : All()) {
    auto& list = versions[type->group];
    if (std::find(list.begin(), list.end(), type->version) == list.end()) {
      list.push_back(type->version);
    }
  }
  return versions;
}

void ResourceRegistry::SetCustom(const std::string& crd_name, std::vector<ResourceType> types) {
  std::lock_guard lock(mu_);
  if (types.empty()) {
    custom_.erase(crd_name);
  } else {
    std::vector<ResourceTypePtr> shared;
    shared.reserve(types.size());
    for (auto& type : types) {
      shared.push_back(std::make_shared<const ResourceType>(std::move(type)));
    }
    custom_[crd_name] = std::move(shared);
  }
  ++generation_;
}

uint64_t ResourceRegistry::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

}  // namespace bulkhead::controlplane
