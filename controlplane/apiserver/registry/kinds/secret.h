// v1 Secret as Kubernetes 1.32's registry takes it: `stringData` is
// written into `data` (base64) and not kept, as decoding does; the keys each typed
// Secret must carry (a kubernetes.io/service-account-token Secret names
// its account in the kubernetes.io/service-account.name annotation, a
// kubernetes.io/tls one has tls.crt and tls.key, a
// kubernetes.io/dockerconfigjson one .dockerconfigjson), data keys as
// Kubernetes allows them, a type that never changes, and the data of an
// `immutable: true` Secret fixed (and `immutable` itself).
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_SECRET_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_SECRET_H_

#include <boost/json/object.hpp>
#include <vector>

#include "controlplane/apiserver/api_errors.h"

namespace bulkhead::controlplane {

void DefaultSecret(boost::json::object& secret);
std::vector<StatusCause> ValidateSecret(const boost::json::object& secret);
std::vector<StatusCause> ValidateSecretUpdate(const boost::json::object& current,
                                              const boost::json::object& next);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_SECRET_H_
