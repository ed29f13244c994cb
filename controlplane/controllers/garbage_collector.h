// Garbage collection by owner references, for the objects the controllers
// make (ReplicaSets of Deployments, Pods of ReplicaSets): an object all of
// whose owners are gone is deleted (Kubernetes' background propagation, what
// `kubectl delete` asks by default), which deletes its own dependents in
// turn; a reference to an owner that is gone is removed while another owner
// lives. An owner counts as gone only when the API says so (not found, or
// another object by that name), never from a cache that may lag.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_GARBAGE_COLLECTOR_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_GARBAGE_COLLECTOR_H_

#include <map>
#include <string>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/controller.h"

namespace bulkhead::controlplane::controllers {

class GarbageCollector : public Controller {
 public:
  // `owners`: the informer of each kind that owns (Deployment, ReplicaSet);
  // `dependents`: the informer of each kind that is owned (ReplicaSet, Pod).
  GarbageCollector(Client& client, std::map<std::string, Informer*> owners,
                   std::map<std::string, std::pair<ObjectRef, Informer*>> dependents);
  ~GarbageCollector() override { Stop(); }
  GarbageCollector(const GarbageCollector&) = delete;
  GarbageCollector& operator=(const GarbageCollector&) = delete;

 protected:
  // `key`: "<dependent kind>|<namespace>/<name>".
  Status Reconcile(const std::string& key) override;

 private:
  // Whether the owner `ref` names (in `ns`) exists with its uid.
  StatusOr<bool> OwnerLives(const std::string& ns, const boost::json::object& ref);

  Client& client_;
  std::map<std::string, Informer*> owners_;
  std::map<std::string, std::pair<ObjectRef, Informer*>> dependents_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_GARBAGE_COLLECTOR_H_
