// Services' endpoints: for every Service with a selector, the pods it
// selects that have an address, as EndpointSlices (discovery.k8s.io/v1, up
// to 100 endpoints each, one set per address family and resolved port set,
// with ready/serving/terminating conditions) and as the v1 Endpoints object
// older clients read (ready addresses and notReadyAddresses; terminating
// pods left out). Named target ports are resolved against each pod's
// container ports. Written only when they change; a Service's slices and
// Endpoints go when it goes.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_ENDPOINT_SLICE_CONTROLLER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_ENDPOINT_SLICE_CONTROLLER_H_

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/controller.h"

namespace bulkhead::controlplane::controllers {

inline const ObjectRef kServicesRef{"", "v1", "services", "", "", ""};
inline const ObjectRef kEndpointsRef{"", "v1", "endpoints", "", "", ""};
inline const ObjectRef kEndpointSlicesRef{"discovery.k8s.io", "v1", "endpointslices", "", "", ""};

// The label that ties a slice to its Service, and who manages the slice.
inline constexpr char kServiceNameLabel[] = "kubernetes.io/service-name";
inline constexpr char kManagedByLabel[] = "endpointslice.kubernetes.io/managed-by";
inline constexpr char kManagedBy[] = "endpointslice-controller.k8s.io";

class EndpointSliceController : public Controller {
 public:
  EndpointSliceController(Client& client, Informer& services, Informer& pods, Informer& slices,
                          Informer& endpoints);
  ~EndpointSliceController() override { Stop(); }
  EndpointSliceController(const EndpointSliceController&) = delete;
  EndpointSliceController& operator=(const EndpointSliceController&) = delete;

 protected:
  Status Reconcile(const std::string& key) override;

 private:
  // Queues the Services that select `pod` now or did when last seen.
  void OnPod(const InformerEvent& event);
  Status WriteEndpoints(const std::string& ns, const std::string& name,
                        const boost::json::object* service, boost::json::array subsets);

  Client& client_;
  Informer& services_;
  Informer& pods_;
  Informer& slices_;
  Informer& endpoints_;
  std::mutex mu_;
  std::map<std::string, std::set<std::string>> services_of_pod_;  // pod key -> service keys
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_ENDPOINT_SLICE_CONTROLLER_H_
