// JSON Web Tokens signed with ES256 (ECDSA P-256, SHA-256), the one
// algorithm this server issues and accepts: a token whose header names any
// other ("none", "HS256", "RS256") is refused before its signature is
// looked at, so a key can never be used as an HMAC secret or skipped.
#ifndef BULKHEAD_CONTROLPLANE_AUTH_JWT_H_
#define BULKHEAD_CONTROLPLANE_AUTH_JWT_H_

#include <boost/json/object.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace bulkhead::controlplane {

// Base64url without padding (RFC 7515 section 2).
std::string Base64UrlEncode(std::string_view data);
std::optional<std::string> Base64UrlDecode(std::string_view text);

class Es256Key {
 public:
  // From a PEM private key (PKCS#8 or SEC1) of curve P-256.
  static StatusOr<Es256Key> FromPrivatePem(std::string_view pem);
  // A new key, as PEM (PKCS#8).
  static StatusOr<std::string> GeneratePem();

  Es256Key(Es256Key&&) noexcept;
  Es256Key& operator=(Es256Key&&) noexcept;
  ~Es256Key();

  // The key id: base64url of SHA-256 over the public key's DER (PKIX).
  [[nodiscard]] const std::string& key_id() const { return key_id_; }
  // The public key as a JWK (kty EC, crv P-256, x, y, use sig, alg ES256, kid).
  [[nodiscard]] boost::json::object PublicJwk() const;

  // header.payload.signature, with the header {"alg":"ES256","kid":...}.
  [[nodiscard]] StatusOr<std::string> Sign(const boost::json::object& claims) const;
  // The claims of a token this key signed; an error that says why not
  // (malformed, another algorithm, another key, a bad signature). Claims
  // themselves (expiry, audience) are the caller's to judge.
  [[nodiscard]] StatusOr<boost::json::object> Verify(std::string_view token) const;

 private:
  struct Impl;
  explicit Es256Key(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string key_id_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_AUTH_JWT_H_
