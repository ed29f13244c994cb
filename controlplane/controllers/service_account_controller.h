// Every active namespace has a ServiceAccount named "default" (pods that
// name none run as it): made when the namespace appears, made again when
// someone deletes it. A terminating namespace gets none.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_SERVICE_ACCOUNT_CONTROLLER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_SERVICE_ACCOUNT_CONTROLLER_H_

#include <string>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/controller.h"

namespace bulkhead::controlplane::controllers {

inline const ObjectRef kServiceAccountsRef{"", "v1", "serviceaccounts", "", "", ""};

class ServiceAccountController : public Controller {
 public:
  ServiceAccountController(Client& client, Informer& namespaces, Informer& service_accounts);
  ~ServiceAccountController() override { Stop(); }
  ServiceAccountController(const ServiceAccountController&) = delete;
  ServiceAccountController& operator=(const ServiceAccountController&) = delete;

 protected:
  Status Reconcile(const std::string& key) override;

 private:
  Client& client_;
  Informer& namespaces_;
  Informer& service_accounts_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_SERVICE_ACCOUNT_CONTROLLER_H_
