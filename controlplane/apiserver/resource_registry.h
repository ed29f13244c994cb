// The resource types one virtual cluster serves: the built-in kinds, stored
// generically as JSON, and the kinds of its CustomResourceDefinitions, which
// appear and disappear with them and exist in this cluster only.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_RESOURCE_REGISTRY_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_RESOURCE_REGISTRY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

namespace bulkhead::controlplane {

// A printer column of a custom resource (additionalPrinterColumns).
struct PrinterColumn {
  std::string name;
  std::string type;
  std::string format;
  std::string description;
  std::string json_path;  // ".spec.replicas"
  int priority = 0;
};

struct ResourceType {
  std::string group;  // "" for core
  std::string version;
  std::string resource;  // plural, lower case
  std::string kind;
  std::string singular;
  std::string list_kind;
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  bool status_subresource = false;
  bool scale_subresource = false;
  // Access and token reviews: create-only, answered at once, never stored.
  bool review = false;
  // serviceaccounts/token: TokenRequest (create only).
  bool token_subresource = false;
  // pods/binding: a scheduler's Binding (create only).
  bool binding_subresource = false;
  // pods/log: a container's log, from the node that runs the pod (get only).
  bool log_subresource = false;
  // pods/exec, pods/attach, pods/portforward: connections to the node.
  bool connect_subresources = false;
  // Scale paths (custom resources may set their own).
  std::string spec_replicas_path = ".spec.replicas";
  std::string status_replicas_path = ".status.replicas";
  std::string label_selector_path = ".status.selector";
  // Custom resources: defined by a CRD, schema-validated, no strategic merge.
  bool custom = false;
  std::string crd_name;
  boost::json::value schema;  // openAPIV3Schema, null when none
  std::vector<PrinterColumn> printer_columns;

  [[nodiscard]] std::vector<std::string> Verbs() const {
    if (review) {
      return {"create"};
    }
    return {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
  }
  [[nodiscard]] std::string GroupVersion() const {
    return group.empty() ? version : group + "/" + version;
  }
  // Store key prefix of all objects of this resource, "/registry/apps/deployments/".
  [[nodiscard]] std::string KeyPrefix() const {
    return "/registry/" + (group.empty() ? std::string("core") : group) + "/" + resource + "/";
  }
};

using ResourceTypePtr = std::shared_ptr<const ResourceType>;

class ResourceRegistry {
 public:
  ResourceRegistry();

  ResourceTypePtr Find(const std::string& group, const std::string& version,
                       const std::string& resource) const;
  ResourceTypePtr FindKind(const std::string& group, const std::string& kind) const;
  // Every resource type, built-in first, sorted by group then resource.
  std::vector<ResourceTypePtr> All() const;
  // The group/versions served, the preferred (first) version of each group first.
  std::map<std::string, std::vector<std::string>> GroupVersions() const;

  // True when a built-in resource stores its objects under the key prefix
  // of `group`/`resource` (a CRD must never claim it).
  bool IsBuiltin(const std::string& group, const std::string& resource) const;

  // Replaces the types defined by the CRD `crd_name` (empty: removes them).
  void SetCustom(const std::string& crd_name, std::vector<ResourceType> types);

  // Changes whenever the set of types changes (discovery hashes use it).
  uint64_t generation() const;

 private:
  mutable std::mutex mu_;
  std::vector<ResourceTypePtr> builtin_;
  std::map<std::string, std::vector<ResourceTypePtr>> custom_;
  uint64_t generation_ = 1;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_RESOURCE_REGISTRY_H_
