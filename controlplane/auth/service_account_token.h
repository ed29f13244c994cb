// Service account tokens: JWTs signed with the cluster's ES256 key
// (DIR/pki/service-account.key), with the claims Kubernetes puts in them
// (iss, sub, aud, exp, iat, nbf, jti and the private "kubernetes.io"
// claim naming the namespace, the service account and the pod or secret
// the token is bound to), and the OpenID discovery document and JWKS that
// let systems outside the cluster verify them.
#ifndef BULKHEAD_CONTROLPLANE_AUTH_SERVICE_ACCOUNT_TOKEN_H_
#define BULKHEAD_CONTROLPLANE_AUTH_SERVICE_ACCOUNT_TOKEN_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "controlplane/auth/jwt.h"

namespace bulkhead::controlplane {

inline constexpr std::string_view kDefaultIssuer = "https://kubernetes.default.svc.cluster.local";

struct BoundObject {
  std::string kind;  // "Pod" or "Secret"
  std::string name;
  std::string uid;
};

struct ServiceAccountClaims {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::vector<std::string> audiences;
  std::optional<BoundObject> bound;
  int64_t issued_at = 0;   // unix seconds
  int64_t expires_at = 0;  // unix seconds
  std::string token_id;    // jti
};

class ServiceAccountTokens {
 public:
  // `issuer`: the iss of every token made, and the only one accepted;
  // `api_audiences`: what a token must name one of to be accepted by this
  // API server (the issuer when empty).
  ServiceAccountTokens(Es256Key key, std::string issuer, std::vector<std::string> api_audiences);

  [[nodiscard]] const std::string& issuer() const { return issuer_; }
  [[nodiscard]] const std::vector<std::string>& api_audiences() const { return api_audiences_; }

  [[nodiscard]] StatusOr<std::string> Issue(const ServiceAccountClaims& claims) const;
  // The claims of a token this cluster issued, still valid at `now` and for
  // one of the API audiences; an Unauthenticated error saying why not
  // (tampered, another key or algorithm, another issuer, expired, not yet
  // valid, for another audience, malformed claims). Whether the service
  // account and the bound object still exist is the caller's to check.
  [[nodiscard]] StatusOr<ServiceAccountClaims> Verify(std::string_view token, int64_t now) const;

  // /.well-known/openid-configuration and the JWKS it points at.
  [[nodiscard]] boost::json::object DiscoveryDocument() const;
  [[nodiscard]] boost::json::object KeySet() const;

 private:
  Es256Key key_;
  std::string issuer_;
  std::vector<std::string> api_audiences_;
};

// Whether a bearer token has the shape of a JWT (three dot-separated parts).
bool LooksLikeJwt(std::string_view token);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_AUTH_SERVICE_ACCOUNT_TOKEN_H_
