// What the API server's node proxies (pods/log, pods/exec, pods/attach,
// pods/portforward) share: the stored pod, its containers, and where the
// node that runs it serves its kubelet endpoint (the Node's InternalIP,
// else ExternalIP, else Hostname, and status.daemonEndpoints.
// kubeletEndpoint.Port, 10250 by default), with Kubernetes' errors.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_POD_NODE_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_POD_NODE_H_

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "controlplane/apiserver/registry/object_registry.h"
#include "controlplane/apiserver/resource_registry.h"
#include "controlplane/apiserver/resource_target.h"
#include "controlplane/http/upstream_proxy.h"

namespace bulkhead::controlplane {

// The stored object, parsed; 404 when there is none.
StatusOr<boost::json::object> ReadStoredObject(ObjectRegistry& objects,
                                               const ResourceTarget& target);

// The names of a pod spec's `field` ("containers", "initContainers", ...).
std::vector<std::string> ContainerNames(const boost::json::object& spec, const char* field);

// The container a request names, or the pod's only container when it names
// none: 400 when it names none and the pod has several, or names one the
// pod does not have (in any container list).
StatusOr<std::string> ChooseContainer(const boost::json::object& spec, const std::string& pod,
                                      const std::string& container);

struct KubeletEndpoint {
  std::string node_name;
  std::string host;
  uint16_t port = 0;
};
// 400 "pod NAME does not have a host assigned" for an unbound pod; the
// Node's errors as they are; 500 when the Node has no address.
StatusOr<KubeletEndpoint> KubeletOf(ObjectRegistry& objects, const ResourceRegistry& types,
                                    const boost::json::object& spec, const std::string& pod);

// A node proxy that got no answer: 429 with Retry-After when the proxy is
// full (`head.overloaded`), else 500 "`what`: `head.error`".
Status NodeProxyFailure(const UpstreamHead& head, const std::string& what);

// For a path segment or a query value.
std::string PercentEncode(std::string_view text);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_POD_NODE_H_
