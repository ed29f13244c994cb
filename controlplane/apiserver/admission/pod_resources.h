// A pod's resource figures, as LimitRange and ResourceQuota read them:
// each container's requests and limits, and the pod's effective totals
// (the sum over its containers, or the largest init container when that
// is more, per resource), as Kubernetes computes them.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_POD_RESOURCES_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_POD_RESOURCES_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <string>

#include "common/quantity.h"

namespace bulkhead::controlplane {

using ResourceList = std::map<std::string, Quantity>;

// A ResourceList field ({"cpu":"1","memory":"1Gi"}); entries that do not
// parse are left out.
ResourceList ReadResourceList(const boost::json::value* list);
// `field` ("requests", "limits") of a container's resources.
ResourceList ContainerResources(const boost::json::object& container, const char* field);

// The pod's effective `field` totals.
ResourceList PodResources(const boost::json::object& pod_spec, const char* field);

// status.qosClass as Kubernetes computes it from cpu and memory: Guaranteed
// when every container limits both and requests what it limits, BestEffort
// when none requests or limits either, else Burstable.
std::string QosClassOf(const boost::json::object& pod_spec);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_POD_RESOURCES_H_
