// policy/v1 PodDisruptionBudget as Kubernetes 1.32's registry takes it
// (stored and validated; there is no eviction API to enforce it yet).
// Refused (422): both minAvailable and maxUnavailable, either one that is
// neither an int32 >= 0 nor a percentage (at most 100 %), an
// unhealthyPodEvictionPolicy other than IfHealthyBudget or AlwaysAllow.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_POD_DISRUPTION_BUDGET_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_POD_DISRUPTION_BUDGET_H_

#include <boost/json/object.hpp>
#include <vector>

#include "controlplane/apiserver/api_errors.h"

namespace bulkhead::controlplane {

std::vector<StatusCause> ValidatePodDisruptionBudget(const boost::json::object& budget);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_POD_DISRUPTION_BUDGET_H_
