// What objects count against a ResourceQuota: a pod its `pods` and
// `count/pods`, its effective requests (`requests.cpu`, and `cpu` for the
// same) and limits (`limits.memory`); a pod that has ended counts nothing.
// Any object its `count/<resource>[.<group>]`, and the core kinds their
// old names (configmaps, secrets, services, persistentvolumeclaims,
// replicationcontrollers, resourcequotas); a claim its `requests.storage`.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_QUOTA_USAGE_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_QUOTA_USAGE_H_

#include <boost/json/object.hpp>
#include <string>

#include "common/status.h"
#include "controlplane/apiserver/admission/pod_resources.h"
#include "controlplane/apiserver/resource_registry.h"

namespace bulkhead::controlplane {

class ObjectRegistry;

// What one object of `type` uses, limited to the names in `hard`.
ResourceList UsageOf(const ResourceType& type, const boost::json::object& object,
                     const ResourceList& hard);

// What the namespace's objects use of the names in `hard`, read now.
StatusOr<ResourceList> NamespaceUsage(ObjectRegistry& objects, const std::string& namespace_name,
                                      const ResourceList& hard);

// "pods=1,requests.cpu=500m" for the names of `only` (sorted).
std::string FormatResources(const ResourceList& values, const ResourceList& only);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_ADMISSION_QUOTA_USAGE_H_
