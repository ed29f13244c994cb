// Discovery documents: legacy (/api, /apis, /api/v1, /apis/<group>[/<v>]),
// aggregated (apidiscovery.k8s.io/v2, one document for all groups), and the
// OpenAPI v3 index and per group-version documents. The OpenAPI documents
// list each resource's paths and operations with their parameters, so that
// kubectl finds fieldValidation on PATCH and leaves validation to the
// server; they carry no object schemas (kubectl then computes strategic
// merge patches from its compiled-in types, as for any server without them).
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_DISCOVERY_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_DISCOVERY_H_

#include <optional>
#include <string>

#include <boost/json/object.hpp>

#include "controlplane/apiserver/resource_registry.h"

namespace bulkhead::controlplane {

boost::json::object LegacyApiVersions();
boost::json::object LegacyApiGroupList(const ResourceRegistry& registry);
std::optional<boost::json::object> LegacyApiGroup(const ResourceRegistry& registry,
                                                  const std::string& group);
std::optional<boost::json::object> LegacyApiResourceList(const ResourceRegistry& registry,
                                                         const std::string& group,
                                                         const std::string& version);

// apidiscovery.k8s.io/v2 APIGroupDiscoveryList of the core group (`core`)
// or of every named group.
boost::json::object AggregatedDiscovery(const ResourceRegistry& registry, bool core);

boost::json::object OpenApiV3Index(const ResourceRegistry& registry);
// `path` is "api/v1" or "apis/<group>/<version>".
std::optional<boost::json::object> OpenApiV3Document(const ResourceRegistry& registry,
                                                     const std::string& path);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_DISCOVERY_H_
