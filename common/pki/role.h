// The role a certificate gives its holder, as the agent authorizes it.
//
// A certificate names one role in its subject common name ("admin",
// "tenant:team-a", "controlplane:team-a", "agent") and, the same role, in a
// subject alternative name URI (bulkhead://role/tenant/team-a). The agent
// reads the common name; the URI is for people and other tools.
#ifndef BULKHEAD_COMMON_PKI_ROLE_H_
#define BULKHEAD_COMMON_PKI_ROLE_H_

#include <string>
#include <string_view>

#include "common/status.h"

namespace bulkhead::pki {

struct Role {
  enum class Kind { kAdmin, kTenant, kControlplane, kAgent };
  Kind kind = Kind::kAdmin;
  std::string tenant;  // for kTenant and kControlplane

  // "admin", "tenant:team-a", "controlplane:team-a", "agent".
  [[nodiscard]] std::string ToString() const;
  // "bulkhead://role/tenant/team-a".
  [[nodiscard]] std::string Uri() const;
  // "tenant-team-a": the stem of the files `bulkhead certs issue` writes.
  [[nodiscard]] std::string FileStem() const;
  // True for tenant and controlplane roles: they act on `tenant` alone.
  [[nodiscard]] bool ScopedToTenant() const {
    return kind == Kind::kTenant || kind == Kind::kControlplane;
  }

  bool operator==(const Role&) const = default;
};

// Parses ToString()'s form. INVALID_ARGUMENT says what is accepted; tenant
// names are DNS labels (they are host namespace names).
StatusOr<Role> ParseRole(std::string_view text);

}  // namespace bulkhead::pki

#endif  // BULKHEAD_COMMON_PKI_ROLE_H_
