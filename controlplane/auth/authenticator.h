// Who a request is from: a client certificate that verified against the
// cluster's client authority (CN the user, O its groups), the admin bearer
// token (user "admin" in system:masters) or a service account token this
// cluster issued whose service account, and pod or secret when bound, still
// exist with the uids it names. Every authenticated user is also in
// system:authenticated. A refused credential is an Unauthenticated error
// that says why; a request with none is anonymous.
//
// Verified service account tokens are kept (bounded) so a token's
// signature is checked once, not on every request; a delete of the service
// account or the bound object (the registry tells Committed) drops them.
#ifndef BULKHEAD_CONTROLPLANE_AUTH_AUTHENTICATOR_H_
#define BULKHEAD_CONTROLPLANE_AUTH_AUTHENTICATOR_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "controlplane/auth/service_account_token.h"
#include "controlplane/auth/user_info.h"
#include "controlplane/http/http_message.h"

namespace bulkhead::controlplane {

inline constexpr std::string_view kAdminUser = "admin";

class Authenticator {
 public:
  // The uid of a stored core object ("serviceaccounts", "pods", "secrets"),
  // "" when there is none.
  using UidLookup = std::function<StatusOr<std::string>(
      std::string_view resource, const std::string& namespace_name, const std::string& name)>;
  // Seconds since the epoch (tests move it).
  using Clock = std::function<int64_t()>;

  Authenticator(std::string admin_token, const ServiceAccountTokens* tokens, UidLookup lookup,
                Clock clock = {});

  // nullopt: no credentials (anonymous).
  StatusOr<std::optional<UserInfo>> Authenticate(const HttpRequest& request);
  // A service account token's user, checked as Authenticate does.
  StatusOr<UserInfo> AuthenticateToken(std::string_view token);

  // After a committed write under `key`: a deleted service account, pod or
  // secret ends the tokens that name it.
  void Committed(std::string_view key, bool deleted);

  static constexpr size_t kMaxCachedTokens = 8192;

 private:
  struct Cached {
    UserInfo user;
    int64_t expires_at = 0;
    std::vector<std::string> keys;  // the objects it depends on
  };

  int64_t Now() const;

  const std::string admin_token_;
  const ServiceAccountTokens* tokens_;
  UidLookup lookup_;
  Clock clock_;

  std::mutex mu_;
  std::unordered_map<std::string, Cached> cache_;                        // by token
  std::unordered_map<std::string, std::vector<std::string>> tokens_of_;  // by object key
  // Deletes of core objects seen: a token checked across one is not kept.
  uint64_t deletes_ = 0;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_AUTH_AUTHENTICATOR_H_
