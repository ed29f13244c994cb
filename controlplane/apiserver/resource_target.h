// What a resource request names: the resource type, namespace, name and
// subresource, and the store key of the object.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_RESOURCE_TARGET_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_RESOURCE_TARGET_H_

#include <string>

#include "controlplane/apiserver/resource_registry.h"

namespace bulkhead::controlplane {

struct ResourceTarget {
  ResourceTypePtr type;
  std::string namespace_name;  // "" for cluster-scoped types or all namespaces
  std::string name;            // "" for the collection
  std::string subresource;     // "", "status" or "scale"

  // The key prefix of the collection (all namespaces when none is named).
  [[nodiscard]] std::string CollectionPrefix() const {
    return type->KeyPrefix() + (namespace_name.empty() ? "" : namespace_name + "/");
  }
  [[nodiscard]] std::string Key() const { return CollectionPrefix() + name; }
  // The same object under another name (for generateName).
  [[nodiscard]] std::string KeyOf(const std::string& other_name) const {
    return CollectionPrefix() + other_name;
  }
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_RESOURCE_TARGET_H_
