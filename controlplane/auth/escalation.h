// RBAC escalation prevention, as Kubernetes enforces it on writes of roles
// and bindings: nobody grants what they do not hold. A Role or ClusterRole
// written by a user needs every one of its rules to be held by that user
// (or the `escalate` verb on it); an aggregated ClusterRole needs the
// authority of cluster-admin; a binding needs the `bind` verb on the role
// it refers to, or every rule of that role held in the binding's
// namespace. Members of system:masters may do all of it.
#ifndef BULKHEAD_CONTROLPLANE_AUTH_ESCALATION_H_
#define BULKHEAD_CONTROLPLANE_AUTH_ESCALATION_H_

#include <boost/json/object.hpp>

#include "common/status.h"
#include "controlplane/apiserver/resource_target.h"
#include "controlplane/auth/rbac_authorizer.h"
#include "controlplane/auth/user_info.h"

namespace bulkhead::controlplane {

// OK, or a 403 saying what would be granted that `user` does not hold.
// `object`: what is to be stored; `current`: what it replaces (nullptr on
// create). Other kinds than the four RBAC kinds always pass.
Status ConfirmNoEscalation(RbacAuthorizer& authorizer, const UserInfo& user,
                           const ResourceTarget& target, const boost::json::object& object,
                           const boost::json::object* current);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_AUTH_ESCALATION_H_
