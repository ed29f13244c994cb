// How long a pod is given to go when it is deleted, as Kubernetes 1.32's
// pod strategy decides it (CheckGracefulDelete): the grace the delete asks
// for, else the pod's spec.terminationGracePeriodSeconds; none at all for
// a pod no node runs (no spec.nodeName) or one that has ended (Succeeded,
// Failed), since nothing is left to stop.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_POD_DELETION_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_POD_DELETION_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>

namespace bulkhead::controlplane {

// What a pod's spec gives when it names no terminationGracePeriodSeconds
// (the API's default).
inline constexpr int64_t kDefaultPodGracePeriodSeconds = 30;

// The seconds `pod` is given when a delete asks for `requested` (nullopt:
// the delete names none); 0: it goes at once.
int64_t PodDeletionGracePeriod(const boost::json::object& pod, std::optional<int64_t> requested);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_POD_DELETION_H_
