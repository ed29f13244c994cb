// What Kubernetes 1.32 refuses in the workloads of apps/v1 (Deployment,
// ReplicaSet, StatefulSet, DaemonSet) before any controller sees them:
// replica counts and limits out of int32 or negative, a missing or empty
// selector, a selector that does not match the template's labels, rolling
// update bounds that are neither an integer nor a percentage, or both zero.
// Each problem is a StatusCause for a 422.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_WORKLOAD_VALIDATION_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_WORKLOAD_VALIDATION_H_

#include <boost/json/object.hpp>
#include <vector>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/resource_registry.h"

namespace bulkhead::controlplane {

// An int32 >= 0 or "N%" at `path` (".spec.maxUnavailable"), if set; sets
// `zero` when it is 0 or "0%".
void CheckIntOrPercent(const boost::json::object& object, const char* path,
                       std::vector<StatusCause>& causes, bool& zero);

// Empty for kinds other than the built-in apps workloads.
std::vector<StatusCause> ValidateWorkload(const ResourceType& type,
                                          const boost::json::object& object);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_WORKLOAD_VALIDATION_H_
