// Defaulting of the built-in kinds on create and update, as the Kubernetes
// API server's defaulters do for the fields clients and kubectl describe
// rely on: container ports and service ports get protocol TCP, containers
// their pull policy and termination message settings, pod specs their
// restart and DNS policies, deployments their strategy and limits, services
// their type and session affinity. Fields already set are never changed.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_DEFAULTS_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_DEFAULTS_H_

#include <boost/json/object.hpp>

#include "controlplane/apiserver/resource_registry.h"

namespace bulkhead::controlplane {

void ApplyDefaults(const ResourceType& type, boost::json::object& object);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_DEFAULTS_H_
