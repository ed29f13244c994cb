// Assigning a pod to a node, as the pods/binding subresource does it, for
// an HTTP scheduler (apiserver/binding.cpp) and the in-process one alike:
// spec.nodeName and the PodScheduled=True condition in one write. A pod
// already assigned, being deleted, or not the uid asked for is a 409.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_POD_BINDING_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_POD_BINDING_H_

#include <boost/json/object.hpp>
#include <string>

#include "common/status.h"
#include "controlplane/apiserver/registry/object_registry.h"

namespace bulkhead::controlplane {

// `pod` names the pod (no subresource); `uid`, when not empty, must be its uid.
StatusOr<KeyValue> BindPod(ObjectRegistry& objects, const ResourceTarget& pod,
                           const std::string& uid, const std::string& node);

// Sets the pod's PodScheduled condition (reason and message only when
// given; the transition time kept while the status stays); whether
// anything changed.
bool SetPodScheduled(boost::json::object& pod, const std::string& status,
                     const std::string& reason = "", const std::string& message = "");

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_POD_BINDING_H_
