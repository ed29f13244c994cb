// The roles and bindings a cluster starts with, as Kubernetes 1.32 makes
// them: cluster-admin (bound to system:masters); admin, edit and view,
// aggregated from the system:aggregate-to-* roles (and from any role a
// tenant labels to join them); system:discovery, system:basic-user and
// system:public-info-viewer for every authenticated user; the issuer
// discovery role for service accounts; system:auth-delegator.
//
// Written at every start: a missing one is created, and one still marked
// rbac.authorization.kubernetes.io/autoupdate=true gets its rules (or
// subjects) back if they were changed; one marked "false" is left alone.
#ifndef BULKHEAD_CONTROLPLANE_AUTH_BOOTSTRAP_POLICY_H_
#define BULKHEAD_CONTROLPLANE_AUTH_BOOTSTRAP_POLICY_H_

#include <boost/json/object.hpp>
#include <vector>

#include "common/status.h"
#include "controlplane/apiserver/registry/object_registry.h"

namespace bulkhead::controlplane {

std::vector<boost::json::object> BootstrapClusterRoles();
std::vector<boost::json::object> BootstrapClusterRoleBindings();

Status EnsureBootstrapPolicy(ObjectRegistry& objects);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_AUTH_BOOTSTRAP_POLICY_H_
