// ReplicaSet (and v1 ReplicationController, the same with a plain label
// map for a selector): keeps spec.replicas pods of its template running,
// counting the pods it controls (its controller owner reference) that have
// not ended or begun deleting; writes status (replicas, ready, available
// once ready for minReadySeconds, observed generation) only when it
// changes. Until the pod cache shows the pods it last created or deleted, a
// ReplicaSet is not resized again (so a slow cache never makes it create
// twice); that wait ends after 30 s.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_REPLICA_SET_CONTROLLER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_REPLICA_SET_CONTROLLER_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/controller.h"
#include "controlplane/controllers/object_helpers.h"
#include "controlplane/controllers/pod_expectations.h"

namespace bulkhead::controlplane::controllers {

// The kind a ReplicaSetController keeps replicas of.
struct ReplicatedKind {
  ObjectRef collection;
  std::string kind;  // "ReplicaSet" or "ReplicationController"
};

class ReplicaSetController : public Controller {
 public:
  ReplicaSetController(Client& client, Informer& replica_sets, Informer& pods,
                       ReplicatedKind kind = {kReplicaSetsRef, "ReplicaSet"});
  ~ReplicaSetController() override { Stop(); }
  ReplicaSetController(const ReplicaSetController&) = delete;
  ReplicaSetController& operator=(const ReplicaSetController&) = delete;

 protected:
  Status Reconcile(const std::string& key) override;

 private:
  // Its selector as a LabelSelector (`storage` holds a converted one).
  const boost::json::value* SelectorOf(const boost::json::object& rs,
                                       boost::json::value& storage) const;

  Client& client_;
  const ReplicatedKind kind_;
  Informer& replica_sets_;
  Informer& pods_;
  PodExpectations expectations_{pods_};
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_REPLICA_SET_CONTROLLER_H_
