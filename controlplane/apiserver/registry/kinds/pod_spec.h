// A pod spec as Kubernetes 1.32's ValidatePodSpec judges it, in a Pod and
// in every template a workload makes pods from: at least one container;
// container and volume names DNS labels, unique; an image for every
// container; container ports 1-65535 with a protocol of "SCTP", "TCP" or
// "UDP" (case matters: `tcp` is refused), host ports 0-65535, port names
// IANA service names and unique; restartPolicy, dnsPolicy, imagePullPolicy
// and terminationMessagePolicy from their enums; env names present; volume
// mounts naming a volume of the pod, with a mountPath. An enum sent as ""
// counts as absent (decoding defaults it). Workloads that keep pods running
// (Deployment, ReplicaSet, StatefulSet, DaemonSet) take only restartPolicy
// Always; of a StatefulSet's template nothing else is judged (it mounts the
// volumes its claim templates make), as in Kubernetes.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_POD_SPEC_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_POD_SPEC_H_

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "controlplane/apiserver/api_errors.h"

namespace bulkhead::controlplane {

// The causes to refuse the pod spec `spec` at field path `at` ("spec",
// "spec.template.spec").
void ValidatePodSpec(const boost::json::object& spec, const std::string& at,
                     std::vector<StatusCause>& causes);

// The pod spec of a built-in kind that has one (Pod, the apps/v1 workloads,
// ReplicationController, Job, CronJob); nothing for other kinds, or when
// the object has no pod spec where the kind keeps it (other checks refuse
// a missing template).
std::vector<StatusCause> ValidatePodSpecOf(const std::string& group, const std::string& kind,
                                           const boost::json::object& object);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_POD_SPEC_H_
