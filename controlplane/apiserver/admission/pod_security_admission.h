// Pod Security admission: a namespace's pod-security.kubernetes.io/enforce,
// warn and audit labels (privileged, baseline or restricted; an unknown
// value counts as restricted) judge its pods when they are created:
// enforce refuses with Kubernetes' message, warn adds a Warning the client
// prints, audit logs. A workload's pod template (Deployments, ReplicaSets,
// StatefulSets, DaemonSets, Jobs, CronJobs, ReplicationControllers) gets
// the warnings its pods would get, so `kubectl create deployment` says at
// once what its pods will be refused for.
//
// The platform's floor (--pod-security-floor) is a level below which no
// namespace's enforce goes, whatever its labels say: the tenant is the
// admin of its virtual cluster, not of the host its pods run on.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_POD_SECURITY_ADMISSION_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_POD_SECURITY_ADMISSION_H_

#include "controlplane/apiserver/admission/admission.h"
#include "controlplane/apiserver/admission/pod_security.h"

namespace bulkhead::controlplane {

class PodSecurityAdmission : public AdmissionPlugin {
 public:
  explicit PodSecurityAdmission(PodSecurityLevel floor) : floor_(floor) {}
  Status AdmitCreate(ObjectRegistry& objects, const ResourceTarget& target,
                     boost::json::object& object, bool dry_run,
                     std::vector<std::string>& warnings) override;

 private:
  const PodSecurityLevel floor_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_POD_SECURITY_ADMISSION_H_
