// Runs a virtual cluster's controllers in the API server's process, over
// one in-process client and one shared informer per resource they watch.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_CONTROLLER_MANAGER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_CONTROLLER_MANAGER_H_

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/auth/service_account_token.h"
#include "controlplane/controllers/controller.h"
#include "controlplane/controllers/pod_gc_controller.h"

namespace bulkhead::controlplane::controllers {

struct ControllerOptions {
  // The authority published in every namespace as kube-root-ca.crt (none
  // when empty).
  std::string root_ca_pem;
  // What signs legacy token Secrets (none are filled without it).
  const ServiceAccountTokens* tokens = nullptr;
  // A host's controllers too: the scheduler, the node lifecycle and the
  // pod garbage collector.
  bool host_mode = false;
  // How long a node may go without a heartbeat before it is NotReady.
  std::chrono::seconds node_monitor_grace{40};
  // The pod garbage collector's quarantine, sweep period and terminated-pod
  // threshold (--terminated-pod-gc-threshold).
  PodGcOptions pod_gc;
};

class ControllerManager {
 public:
  explicit ControllerManager(ObjectRegistry& objects, const ControllerOptions& options = {});
  ~ControllerManager();
  ControllerManager(const ControllerManager&) = delete;
  ControllerManager& operator=(const ControllerManager&) = delete;

  // Starts the informers, waits for their first lists, then the controllers.
  Status Start();
  void Stop();

 private:
  // The shared informer of `collection` (made on first use, before Start).
  Informer& Shared(const ObjectRef& collection);

  Client client_;
  std::map<std::string, std::unique_ptr<Informer>> informers_;  // by "group/resource"
  std::vector<std::unique_ptr<Controller>> controllers_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_CONTROLLER_MANAGER_H_
