// What RBAC is asked about a request, and the 403 it answers when the
// answer is no, worded as Kubernetes words it:
//   pods "web" is forbidden: User "jane" cannot delete resource "pods" in
//   API group "" in the namespace "default"
// Impersonation (kubectl --as, --as-group) is judged here too: each user,
// group, uid and extra value asked for needs the `impersonate` verb.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_AUTHORIZATION_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_AUTHORIZATION_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "controlplane/apiserver/api_request.h"
#include "controlplane/auth/rbac_authorizer.h"
#include "controlplane/auth/user_info.h"

namespace bulkhead::controlplane {

RequestAttributes ResourceRequestAttributes(const ApiRequest& routed, std::string_view method);
RequestAttributes NonResourceRequestAttributes(std::string_view method, const std::string& path);

// "get", "create", ... as RBAC names an HTTP method on a path.
std::string NonResourceVerb(std::string_view method);

Status ForbiddenFor(const UserInfo& user, const RequestAttributes& request,
                    const std::string& reason);

// The user a request acts as: `user` itself when no Impersonate-* header
// was sent, else the impersonated user once `authorizer` allows each part
// (403 naming the part refused; 400 for groups, uid or extras without a user).
StatusOr<UserInfo> Impersonate(const UserInfo& user,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               RbacAuthorizer& authorizer);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_AUTHORIZATION_H_
