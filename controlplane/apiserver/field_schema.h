// Which fields an object may carry, for server-side field validation
// (fieldValidation=Strict|Warn|Ignore). Built-in kinds use a table of their
// known fields down to the pod template and containers (deeper or
// free-form parts such as status are not checked); custom resources use
// their CRD's openAPIV3Schema, honouring x-kubernetes-preserve-unknown-fields.
// Unknown fields are always removed from what is stored, as Kubernetes does.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_FIELD_SCHEMA_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_FIELD_SCHEMA_H_

#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/resource_registry.h"

namespace bulkhead::controlplane {

struct FieldCheck {
  std::vector<std::string> unknown;  // "spec.template.spec.containers[0].imagee"
  std::vector<StatusCause> invalid;  // schema type errors (custom resources)
};

// Removes fields of `object` unknown to `type` and reports them.
FieldCheck PruneUnknownFields(const ResourceType& type, boost::json::value& object);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_FIELD_SCHEMA_H_
