// What controllers read off objects: keys, owner references, label
// selectors (metav1.LabelSelector), pod readiness.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_OBJECT_HELPERS_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_OBJECT_HELPERS_H_

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"
#include "controlplane/apiserver/registry/client.h"

namespace bulkhead::controlplane::controllers {

// The collections the controllers work on (every namespace).
inline const ObjectRef kPodsRef{"", "v1", "pods", "", "", ""};
inline const ObjectRef kReplicaSetsRef{"apps", "v1", "replicasets", "", "", ""};
inline const ObjectRef kDeploymentsRef{"apps", "v1", "deployments", "", "", ""};
inline const ObjectRef kReplicationControllersRef{"", "v1", "replicationcontrollers", "", "", ""};

// `collection` narrowed to a namespace, an object and a subresource.
inline ObjectRef In(ObjectRef collection, const std::string& ns, const std::string& name = "",
                    const std::string& subresource = "") {
  collection.namespace_name = ns;
  collection.name = name;
  collection.subresource = subresource;
  return collection;
}

// "namespace/name" ("name" for cluster-scoped objects), and back.
std::string KeyOf(const boost::json::object& object);
std::pair<std::string, std::string> SplitKey(const std::string& key);

struct OwnerRef {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
};
// The owner reference with controller: true, if any.
std::optional<OwnerRef> ControllerOf(const boost::json::object& object);
// The uid its controller reference names, without copying: "" when it has
// none ("?" when that reference has no uid). For scans over many objects.
std::string_view ControllerUid(const boost::json::object& object);
// An owner reference to `owner` (controller, blocking its deletion).
boost::json::object ControllerReference(const boost::json::object& owner);

// Whether `labels` match a metav1.LabelSelector (MatchesLabelSelector).
bool SelectorMatches(const boost::json::value* selector, const boost::json::object& labels);
const boost::json::object& LabelsOf(const boost::json::object& object);

bool IsTerminating(const boost::json::object& object);
// A pod that has ended (Succeeded or Failed) no longer counts as a replica.
bool IsPodActive(const boost::json::object& pod);
// The condition of type `type` in `conditions` (a status.conditions
// array), if any.
const boost::json::object* FindCondition(const boost::json::value* conditions,
                                         std::string_view type);
// status.conditions has Ready=True.
bool IsPodReady(const boost::json::object& pod);

// Sets metadata.annotations[name] (making the map when there is none).
void SetAnnotation(boost::json::object& object, std::string_view name, std::string_view value);

// A short hash of `text` in the letters Kubernetes uses for generated
// names (SafeEncodeString: no vowels, no look-alike characters).
std::string SafeHash(std::string_view text);

// Whether a write's answer leaves nothing to do: done, or its object was
// gone or had changed (404, 409, a failed precondition).
bool Settles(const Status& status);

// A string field at `path` (".spec.schedule"), "" when absent or not a string.
std::string StringAt(const boost::json::object& object, std::string_view path);

// An integer field at `path` (".spec.replicas"), `missing` when absent.
int64_t IntAt(const boost::json::object& object, std::string_view path, int64_t missing);

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_OBJECT_HELPERS_H_
