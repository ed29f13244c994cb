// Validation of what every object carries: names (RFC 1123 subdomain or
// label, RFC 1035 label for services, path segment for RBAC), label keys and
// values, annotation keys and size. Each problem is a StatusCause for a 422.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_OBJECT_VALIDATION_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_OBJECT_VALIDATION_H_

#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/resource_registry.h"

namespace bulkhead::controlplane {

// The problems with `object`'s metadata (name, namespace, labels,
// annotations) for a resource of `type`; empty when valid.
std::vector<StatusCause> ValidateObjectMeta(const ResourceType& type,
                                            const boost::json::object& object);

// Built-in kinds have no floating-point fields: the path of the first number
// in `object` that is not an integer within int64 ("spec.ports[0].port"), or
// empty when there is none.
std::string NonIntegerNumberPath(const boost::json::object& object);

// Empty when `name` is a valid label value; otherwise why not.
std::string LabelValueProblem(const std::string& value);
std::string QualifiedNameProblem(const std::string& key);
std::string Dns1123SubdomainProblem(const std::string& name);
std::string Dns1123LabelProblem(const std::string& name);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_OBJECT_VALIDATION_H_
