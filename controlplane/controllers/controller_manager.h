// Runs a virtual cluster's controllers in the API server's process, over
// one in-process client and one shared informer per resource they watch.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_CONTROLLER_MANAGER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_CONTROLLER_MANAGER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/auth/service_account_token.h"
#include "controlplane/controllers/controller.h"

namespace bulkhead::controlplane::controllers {

class ControllerManager {
 public:
  // `root_ca_pem`: the authority published in every namespace as
  // kube-root-ca.crt (none when empty); `tokens`: what signs legacy token
  // Secrets (none are filled without it).
  explicit ControllerManager(ObjectRegistry& objects, std::string root_ca_pem = "",
                             const ServiceAccountTokens* tokens = nullptr);
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
