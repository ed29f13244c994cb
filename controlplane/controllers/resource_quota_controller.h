// Keeps each ResourceQuota's status current: status.hard as spec.hard and
// status.used counted from the namespace's objects (what `kubectl describe
// quota` shows), recounted when the quota's spec changes, when a pod,
// config map, secret, service or claim of its namespace comes, changes or
// goes, and every 30 seconds (for the other kinds a quota may count).
// Admission charges a create to status.used at once; a create charged and
// then not stored is given back by the next count.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_RESOURCE_QUOTA_CONTROLLER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_RESOURCE_QUOTA_CONTROLLER_H_

#include <string>
#include <vector>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/controller.h"

namespace bulkhead::controlplane::controllers {

inline const ObjectRef kResourceQuotasRef{"", "v1", "resourcequotas", "", "", ""};

class ResourceQuotaController : public Controller {
 public:
  // `counted`: informers of kinds whose changes recount their namespace.
  ResourceQuotaController(Client& client, Informer& quotas, const std::vector<Informer*>& counted);
  ~ResourceQuotaController() override { Stop(); }
  ResourceQuotaController(const ResourceQuotaController&) = delete;
  ResourceQuotaController& operator=(const ResourceQuotaController&) = delete;

 protected:
  Status Reconcile(const std::string& key) override;

 private:
  void EnqueueNamespace(const std::string& ns);

  Client& client_;
  Informer& quotas_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_RESOURCE_QUOTA_CONTROLLER_H_
