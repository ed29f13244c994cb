// Table output (Accept: application/json;as=Table;g=meta.k8s.io;v=v1), the
// form `kubectl get` prints: columns chosen per kind (pods show READY,
// STATUS, RESTARTS; deployments READY, UP-TO-DATE, AVAILABLE; ...), custom
// resources from their CRD's additionalPrinterColumns, NAME and AGE
// otherwise.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_TABLE_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_TABLE_H_

#include <chrono>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "controlplane/apiserver/resource_registry.h"

namespace bulkhead::controlplane {

enum class IncludeObject { kNone, kMetadata, kObject };

// A Table of `objects`. `list_metadata` becomes the table's metadata.
boost::json::object MakeTable(const ResourceType& type,
                              const std::vector<boost::json::object>& objects,
                              IncludeObject include, boost::json::object list_metadata,
                              std::chrono::system_clock::time_point now);

// "5s", "3m", "2d": the age format kubectl shows.
std::string HumanDuration(std::chrono::seconds age);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_TABLE_H_
