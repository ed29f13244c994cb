// ClusterRoles with an aggregationRule (admin, edit, view, and any a tenant
// makes) hold the rules of every ClusterRole their selectors match, taken
// in name order without repeats; kept current as roles come, change and go.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_CLUSTER_ROLE_AGGREGATION_CONTROLLER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_CLUSTER_ROLE_AGGREGATION_CONTROLLER_H_

#include <string>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/controller.h"

namespace bulkhead::controlplane::controllers {

inline const ObjectRef kClusterRolesRef{
    "rbac.authorization.k8s.io", "v1", "clusterroles", "", "", ""};

class ClusterRoleAggregationController : public Controller {
 public:
  ClusterRoleAggregationController(Client& client, Informer& cluster_roles);
  ~ClusterRoleAggregationController() override { Stop(); }
  ClusterRoleAggregationController(const ClusterRoleAggregationController&) = delete;
  ClusterRoleAggregationController& operator=(const ClusterRoleAggregationController&) = delete;

 protected:
  Status Reconcile(const std::string& key) override;

 private:
  Client& client_;
  Informer& cluster_roles_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_CLUSTER_ROLE_AGGREGATION_CONTROLLER_H_
