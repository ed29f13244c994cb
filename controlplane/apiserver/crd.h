// CustomResourceDefinitions: the resource types a CRD defines (one per
// served version), its validation, and the status the server gives it
// (NamesAccepted and Established at once: there is no controller between
// creating a CRD and serving its resources).
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_CRD_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_CRD_H_

#include <vector>

#include <boost/json/object.hpp>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/resource_registry.h"

namespace bulkhead::controlplane {

std::vector<ResourceType> ResourceTypesOfCrd(const boost::json::object& crd);
std::vector<StatusCause> ValidateCrd(const boost::json::object& crd);
boost::json::object CrdStatus(const boost::json::object& crd, const std::string& now);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_CRD_H_
