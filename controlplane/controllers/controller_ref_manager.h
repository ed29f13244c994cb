// Adoption and release, as Kubernetes' ControllerRefManager: an owner takes
// the objects its selector matches that have no controller (an owner
// reference with controller: true is added), and lets go of those it
// controls that its selector no longer matches (its reference is removed).
// So `kubectl delete --cascade=orphan` and a re-create pick the orphans up
// again, and a pod relabelled out of a ReplicaSet leaves it and is replaced.
//
// An owner being deleted neither adopts nor releases; an object being
// deleted is never adopted. Before its first adoption the owner is read
// from the API, not the cache, so an owner deleted a moment ago adopts
// nothing. Each write is conditional on the object seen (its uid, no other
// controller, labels still matching), so two owners never both take one.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_CONTROLLER_REF_MANAGER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_CONTROLLER_REF_MANAGER_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <vector>

#include "common/status.h"
#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"

namespace bulkhead::controlplane::controllers {

struct Claimant {
  const ObjectRef& owner_collection;  // where the owner lives
  const boost::json::object& owner;
  const boost::json::value* selector;  // a LabelSelector; null adopts nothing
  const ObjectRef& collection;         // where the candidates live
};

// Of `candidates` (objects of the owner's namespace), the ones the owner
// controls once it has adopted and released what it should. The first
// failed write goes to `first_error` (the others are still tried).
std::vector<ObjectPtr> ClaimControlled(Client& client, const Claimant& claimant,
                                       const std::vector<ObjectPtr>& candidates,
                                       Status& first_error);

// Whether an object with no controller should wake an owner with
// `selector` (so that the owner adopts it).
bool MayAdopt(const boost::json::value* selector, const boost::json::object& object);

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_CONTROLLER_REF_MANAGER_H_
