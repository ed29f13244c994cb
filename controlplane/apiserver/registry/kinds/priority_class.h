// scheduling.k8s.io/v1 PriorityClass as Kubernetes 1.32's registry takes
// it. Every cluster has system-cluster-critical (2000000000) and
// system-node-critical (2000001000). Default: preemptionPolicy
// PreemptLowerPriority. Refused (422): a value above 1000000000, a name
// beginning "system-" (but the two above, with their values), a
// preemptionPolicy other than PreemptLowerPriority or Never.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_PRIORITY_CLASS_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_PRIORITY_CLASS_H_

#include <boost/json/object.hpp>
#include <vector>

#include "controlplane/apiserver/api_errors.h"

namespace bulkhead::controlplane {

// The priority classes a cluster starts with.
std::vector<boost::json::object> SystemPriorityClasses();

void DefaultPriorityClass(boost::json::object& priority_class);
std::vector<StatusCause> ValidatePriorityClass(const boost::json::object& priority_class);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_PRIORITY_CLASS_H_
