#include "controlplane/auth/service_account_token.h"

#include <algorithm>
#include <boost/json.hpp>

#include "controlplane/auth/user_info.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

// Tolerated clock difference for iat/nbf, as Kubernetes allows.
constexpr int64_t kLeewaySeconds = 60;

std::string StringOf(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

std::optional<int64_t> IntOf(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (value->is_int64()) {
    return value->as_int64();
  }
  if (value->is_uint64() && value->as_uint64() < (uint64_t{1} << 62)) {
    return static_cast<int64_t>(value->as_uint64());
  }
  if (value->is_double()) {
    return static_cast<int64_t>(value->as_double());
  }
  return std::nullopt;
}

const json::object* ObjectOf(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_object() ? &value->as_object() : nullptr;
}

}  // namespace

ServiceAccountTokens::ServiceAccountTokens(Es256Key key, std::string issuer,
                                           std::vector<std::string> api_audiences)
    : key_(std::move(key)), issuer_(std::move(issuer)), api_audiences_(std::move(api_audiences)) {
  if (api_audiences_.empty()) {
    api_audiences_.push_back(issuer_);
  }
}

StatusOr<std::string> ServiceAccountTokens::Issue(const ServiceAccountClaims& claims) const {
  json::array audiences;
  for (const std::string& audience : claims.audiences) {
    audiences.emplace_back(audience);
  }
  json::object private_claim{
      {"namespace", claims.namespace_name},
      {"serviceaccount", json::object{{"name", claims.name}, {"uid", claims.uid}}}};
  if (claims.bound.has_value()) {
    private_claim[claims.bound->kind == "Pod" ? "pod" : "secret"] =
        json::object{{"name", claims.bound->name}, {"uid", claims.bound->uid}};
  }
  json::object payload{{"aud", std::move(audiences)},
                       {"exp", claims.expires_at},
                       {"iat", claims.issued_at},
                       {"iss", issuer_},
                       {"jti", claims.token_id},
                       {"kubernetes.io", std::move(private_claim)},
                       {"nbf", claims.issued_at},
                       {"sub", ServiceAccountUserName(claims.namespace_name, claims.name)}};
  return key_.Sign(payload);
}

StatusOr<ServiceAccountClaims> ServiceAccountTokens::Verify(std::string_view token,
                                                            int64_t now) const {
  auto payload = key_.Verify(token);
  if (!payload.ok()) {
    return payload.status();
  }
  if (StringOf(*payload, "iss") != issuer_) {
    return absl::UnauthenticatedError(fmt::format("the token's issuer is not {}", issuer_));
  }
  ServiceAccountClaims claims;
  const json::value* aud = payload->if_contains("aud");
  if (aud != nullptr && aud->is_string()) {
    claims.audiences.emplace_back(aud->as_string());
  } else if (aud != nullptr && aud->is_array()) {
    for (const json::value& a : aud->as_array()) {
      if (a.is_string()) {
        claims.audiences.emplace_back(a.as_string());
      }
    }
  }
  if (std::none_of(claims.audiences.begin(), claims.audiences.end(), [&](const std::string& a) {
        return std::find(api_audiences_.begin(), api_audiences_.end(), a) != api_audiences_.end();
      })) {
    return absl::UnauthenticatedError("the token is not for this API server's audience");
  }
  auto exp = IntOf(*payload, "exp");
  auto iat = IntOf(*payload, "iat");
  auto nbf = IntOf(*payload, "nbf");
  if (!exp.has_value()) {
    return absl::UnauthenticatedError("the token has no expiry");
  }
  if (*exp <= now) {
    return absl::UnauthenticatedError("the token has expired");
  }
  if ((nbf.has_value() && *nbf > now + kLeewaySeconds) ||
      (iat.has_value() && *iat > now + kLeewaySeconds)) {
    return absl::UnauthenticatedError("the token is not valid yet");
  }
  const json::object* private_claim = ObjectOf(*payload, "kubernetes.io");
  const json::object* account =
      private_claim == nullptr ? nullptr : ObjectOf(*private_claim, "serviceaccount");
  if (account == nullptr) {
    return absl::UnauthenticatedError("the token names no service account");
  }
  claims.namespace_name = StringOf(*private_claim, "namespace");
  claims.name = StringOf(*account, "name");
  claims.uid = StringOf(*account, "uid");
  if (claims.namespace_name.empty() || claims.name.empty() || claims.uid.empty() ||
      StringOf(*payload, "sub") != ServiceAccountUserName(claims.namespace_name, claims.name)) {
    return absl::UnauthenticatedError("the token's service account claims do not agree");
  }
  for (const auto& [field, kind] : {std::pair{"pod", "Pod"}, std::pair{"secret", "Secret"}}) {
    if (const json::object* bound = ObjectOf(*private_claim, field); bound != nullptr) {
      if (claims.bound.has_value()) {
        return absl::UnauthenticatedError("the token is bound to more than one object");
      }
      claims.bound = BoundObject{kind, StringOf(*bound, "name"), StringOf(*bound, "uid")};
      if (claims.bound->name.empty() || claims.bound->uid.empty()) {
        return absl::UnauthenticatedError("the token's bound object has no name or uid");
      }
    }
  }
  claims.issued_at = iat.value_or(0);
  claims.expires_at = *exp;
  claims.token_id = StringOf(*payload, "jti");
  return claims;
}

json::object ServiceAccountTokens::DiscoveryDocument() const {
  return {{"issuer", issuer_},
          {"jwks_uri", issuer_ + "/openid/v1/jwks"},
          {"response_types_supported", json::array{"id_token"}},
          {"subject_types_supported", json::array{"public"}},
          {"id_token_signing_alg_values_supported", json::array{"ES256"}}};
}

json::object ServiceAccountTokens::KeySet() const {
  return {{"keys", json::array{key_.PublicJwk()}}};
}

bool LooksLikeJwt(std::string_view token) {
  return std::count(token.begin(), token.end(), '.') == 2;
}

}  // namespace bulkhead::controlplane
