// Runs a virtual cluster's controllers in the API server's process, over
// one in-process client and one shared informer per resource they watch.
// Today: Deployment, ReplicaSet and the garbage collector of their objects.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_CONTROLLER_MANAGER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_CONTROLLER_MANAGER_H_

#include <memory>

#include "common/status.h"
#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/deployment_controller.h"
#include "controlplane/controllers/garbage_collector.h"
#include "controlplane/controllers/replica_set_controller.h"

namespace bulkhead::controlplane::controllers {

class ControllerManager {
 public:
  explicit ControllerManager(ObjectRegistry& objects);
  ~ControllerManager();
  ControllerManager(const ControllerManager&) = delete;
  ControllerManager& operator=(const ControllerManager&) = delete;

  // Starts the informers, waits for their first lists, then the controllers.
  Status Start();
  void Stop();

 private:
  Client client_;
  Informer deployments_;
  Informer replica_sets_;
  Informer pods_;
  std::unique_ptr<DeploymentController> deployment_controller_;
  std::unique_ptr<ReplicaSetController> replica_set_controller_;
  std::unique_ptr<GarbageCollector> garbage_collector_;
  bool started_ = false;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_CONTROLLER_MANAGER_H_
