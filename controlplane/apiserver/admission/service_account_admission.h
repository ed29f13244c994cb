// The ServiceAccount admission plugin: a pod that names no service account
// runs as "default"; unless the pod (or else its service account) says
// automountServiceAccountToken: false, it gets the projected volume
// kube-api-access-<random> (a token for its service account bound to the
// pod, the cluster's authority from kube-root-ca.crt, its namespace),
// mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount in
// every container and init container that has nothing there yet. The node
// fills the token by TokenRequest, bound to the pod.
//
// Unlike Kubernetes, a pod whose service account does not exist yet is not
// refused (a namespace's "default" account is made by a controller just
// after the namespace, and a controller's pod may come first); its token
// is refused until the account exists.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_SERVICE_ACCOUNT_ADMISSION_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_SERVICE_ACCOUNT_ADMISSION_H_

#include "controlplane/apiserver/admission/admission.h"

namespace bulkhead::controlplane {

inline constexpr const char* kServiceAccountMountPath =
    "/var/run/secrets/kubernetes.io/serviceaccount";

class ServiceAccountAdmission : public AdmissionPlugin {
 public:
  Status AdmitCreate(ObjectRegistry& objects, const ResourceTarget& target,
                     boost::json::object& object, bool dry_run,
                     std::vector<std::string>& warnings) override;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_SERVICE_ACCOUNT_ADMISSION_H_
