// v1 ReplicationController as Kubernetes 1.32's registry takes it: the
// older ReplicaSet, whose selector is a plain label map. Public manifests
// still use it.
//
// Defaults (on every write, before validation, as decoding defaults it):
// an empty selector is the template's labels, empty metadata.labels are the
// template's labels, replicas is 1.
//
// Refused (422, worded as kube-apiserver words it): no selector (after
// defaulting), a selector the template's labels do not match, no template,
// a template whose restartPolicy is not Always, negative replicas or
// minReadySeconds.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_REPLICATION_CONTROLLER_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_REPLICATION_CONTROLLER_H_

#include <boost/json/object.hpp>
#include <vector>

#include "controlplane/apiserver/api_errors.h"

namespace bulkhead::controlplane {

void DefaultReplicationController(boost::json::object& controller);
std::vector<StatusCause> ValidateReplicationController(const boost::json::object& controller);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_REPLICATION_CONTROLLER_H_
