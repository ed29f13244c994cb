// apiregistration.k8s.io/v1 APIService as Kubernetes 1.32's registry takes
// it (stored and validated; requests for its group are not proxied to its
// service). Refused (422): a name other than "<spec.version>.<spec.group>",
// no version, an empty group for any version but v1, groupPriorityMinimum
// outside 1..20000, versionPriority outside 1..1000, a service without a
// namespace or name, insecureSkipTLSVerify with a caBundle.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_API_SERVICE_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_API_SERVICE_H_

#include <boost/json/object.hpp>
#include <vector>

#include "controlplane/apiserver/api_errors.h"

namespace bulkhead::controlplane {

std::vector<StatusCause> ValidateApiService(const boost::json::object& service);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_KINDS_API_SERVICE_H_
