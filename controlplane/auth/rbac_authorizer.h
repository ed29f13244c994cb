// RBAC, enforced on every request: Roles, ClusterRoles, RoleBindings and
// ClusterRoleBindings as stored. The bindings are read into an index by
// subject, rebuilt after a write to any RBAC object (the registry tells
// it; the rebuild happens on the next decision, so a request after a
// binding's write is judged by it), never on the request path otherwise.
// Members of system:masters are allowed everything without a lookup.
#ifndef BULKHEAD_CONTROLPLANE_AUTH_RBAC_AUTHORIZER_H_
#define BULKHEAD_CONTROLPLANE_AUTH_RBAC_AUTHORIZER_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/apiserver/registry/object_registry.h"
#include "controlplane/auth/rbac_rules.h"
#include "controlplane/auth/user_info.h"

namespace bulkhead::controlplane {

struct Decision {
  bool allowed = false;
  std::string reason;  // which binding allowed it; empty when denied
};

// What a user may do in a namespace (SelfSubjectRulesReview, can-i --list).
struct UserRules {
  std::vector<PolicyRule> resource_rules;
  std::vector<PolicyRule> non_resource_rules;
};

class RbacAuthorizer {
 public:
  explicit RbacAuthorizer(ObjectRegistry& objects);
  ~RbacAuthorizer();
  RbacAuthorizer(const RbacAuthorizer&) = delete;
  RbacAuthorizer& operator=(const RbacAuthorizer&) = delete;

  // Called by the registry after any committed write under `key`.
  void Committed(std::string_view key);

  [[nodiscard]] Decision Authorize(const UserInfo& user, const RequestAttributes& request);
  [[nodiscard]] UserRules RulesFor(const UserInfo& user, const std::string& namespace_name);
  // The rules of the role a binding in `namespace_name` refers to
  // (kind "Role" or "ClusterRole"); false when it does not exist.
  bool RoleRules(const std::string& namespace_name, const std::string& kind,
                 const std::string& name, std::vector<PolicyRule>& rules);

  struct Index;

 private:
  std::shared_ptr<const Index> Current();

  ObjectRegistry& objects_;
  std::atomic<uint64_t> changes_{1};
  std::mutex mu_;  // guards index_ and built_
  std::shared_ptr<const Index> index_;
  uint64_t built_ = 0;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_AUTH_RBAC_AUTHORIZER_H_
