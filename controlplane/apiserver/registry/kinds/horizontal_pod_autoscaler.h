// autoscaling/v2 HorizontalPodAutoscaler as Kubernetes 1.32's registry
// takes it (stored and validated; nothing here scales, as there is no
// metrics pipeline). Defaults: minReplicas 1, and with no metrics one of
// 80 % average CPU utilization. Refused (422): a scaleTargetRef without a
// kind or name, minReplicas below 1, maxReplicas below minReplicas, a
// metric of no known type or without its source.
//
// autoscaling/v1 is served too, stored as v2 (as Kubernetes stores it):
// its targetCPUUtilizationPercentage is the v2 metric of CPU utilization,
// and what v1 cannot say (other metrics, behavior, conditions) rides in
// the annotations autoscaling.alpha.kubernetes.io/metrics, /behavior and
// /conditions while an object is read or written as v1.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_HORIZONTAL_POD_AUTOSCALER_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_HORIZONTAL_POD_AUTOSCALER_H_

#include <boost/json/object.hpp>
#include <vector>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/resource_registry.h"

namespace bulkhead::controlplane {

// Whether `type` is autoscaling/v1 HorizontalPodAutoscaler.
bool IsV1Autoscaler(const ResourceType& type);
// An autoscaler as v2 (as it is when its apiVersion is not autoscaling/v1)
// and as v1 (as it is when its apiVersion is not autoscaling/v2).
boost::json::object AutoscalerToV2(boost::json::object autoscaler);
boost::json::object AutoscalerToV1(boost::json::object autoscaler);

void DefaultHorizontalPodAutoscaler(boost::json::object& autoscaler);
std::vector<StatusCause> ValidateHorizontalPodAutoscaler(const boost::json::object& autoscaler);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_HORIZONTAL_POD_AUTOSCALER_H_
