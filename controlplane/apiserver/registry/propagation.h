// What deleting an object does to its dependents (the objects whose
// ownerReferences name it), as Kubernetes 1.32's DeleteOptions.propagationPolicy
// asks: Background deletes it at once and lets the garbage collector take
// them; Foreground and Orphan keep it, with the finalizer foregroundDeletion
// or orphan, until the garbage collector has deleted them or taken its name
// out of their ownerReferences, then removes the finalizer. Only the kinds
// the garbage collector follows as owners get these finalizers: for any
// other kind nothing follows its dependents, so each policy is Background.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_PROPAGATION_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_PROPAGATION_H_

#include <array>
#include <boost/json/object.hpp>
#include <optional>
#include <string_view>

#include "controlplane/apiserver/resource_registry.h"

namespace bulkhead::controlplane {

enum class Propagation {
  kDefault,     // the kind's own: kOrphan for a batch/v1 Job, else kBackground
  kBackground,  // it goes at once; the garbage collector then takes them
  kForeground,  // it stays (finalizer foregroundDeletion) until they are gone
  kOrphan,      // it stays (finalizer orphan) until they no longer name it
};

inline constexpr char kOrphanFinalizer[] = "orphan";
inline constexpr char kForegroundFinalizer[] = "foregroundDeletion";

struct OwnerKind {
  std::string_view group;
  std::string_view kind;
};
// The kinds whose dependents the garbage collector follows.
inline constexpr std::array<OwnerKind, 7> kCollectedOwnerKinds{{
    {"apps", "Deployment"},
    {"apps", "ReplicaSet"},
    {"batch", "Job"},
    {"batch", "CronJob"},
    {"", "ReplicationController"},
    {"apps", "StatefulSet"},
    {"apps", "DaemonSet"},
}};

// "Background", "Foreground", "Orphan"; nullopt for anything else.
std::optional<Propagation> ParsePropagation(std::string_view text);

// Whether the garbage collector follows the dependents of `type`'s objects.
bool CollectsDependentsOf(const ResourceType& type);

// The policy a delete of a `type` object asking `asked` gets.
Propagation EffectivePropagation(const ResourceType& type, Propagation asked);

// Puts on `object` (of a kind CollectsDependentsOf) the finalizer `policy`
// needs and takes off the other one (Background takes off both). Whether
// the finalizers changed.
bool SetPropagationFinalizers(boost::json::object& object, Propagation policy);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_PROPAGATION_H_
