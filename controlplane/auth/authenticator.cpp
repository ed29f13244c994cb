#include "controlplane/auth/authenticator.h"

#include <openssl/crypto.h>

#include <chrono>

#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

std::string KeyOf(std::string_view resource, const std::string& ns, const std::string& name) {
  std::string key = "/registry/core/";
  key.append(resource).append("/").append(ns).append("/").append(name);
  return key;
}

bool SameSecret(std::string_view given, const std::string& token) {
  return !token.empty() && given.size() == token.size() &&
         CRYPTO_memcmp(given.data(), token.data(), token.size()) == 0;
}

}  // namespace

Authenticator::Authenticator(std::string admin_token, const ServiceAccountTokens* tokens,
                             UidLookup lookup, Clock clock)
    : admin_token_(std::move(admin_token)),
      tokens_(tokens),
      lookup_(std::move(lookup)),
      clock_(std::move(clock)) {}

int64_t Authenticator::Now() const {
  if (clock_) {
    return clock_();
  }
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

StatusOr<std::optional<UserInfo>> Authenticator::Authenticate(const HttpRequest& request) {
  if (request.certificate_error.has_value()) {
    return absl::UnauthenticatedError(*request.certificate_error);
  }
  if (request.certificate_user.has_value()) {
    UserInfo user;
    user.name = *request.certificate_user;
    user.groups = request.certificate_groups;
    user.AddAuthenticated();
    return std::optional<UserInfo>(std::move(user));
  }
  if (request.authorization.empty()) {
    return std::optional<UserInfo>();
  }
  std::string_view value = request.authorization;
  if (!ConsumePrefix(value, "Bearer ") && !ConsumePrefix(value, "bearer ")) {
    return absl::UnauthenticatedError("the Authorization header is not a bearer token");
  }
  value = TrimSpace(value);
  if (SameSecret(value, admin_token_)) {
    UserInfo user;
    user.name = std::string(kAdminUser);
    user.groups = {std::string(kGroupMasters)};
    user.AddAuthenticated();
    return std::optional<UserInfo>(std::move(user));
  }
  if (!LooksLikeJwt(value)) {
    return absl::UnauthenticatedError("the bearer token is not one this cluster issued");
  }
  auto user = AuthenticateToken(value);
  if (!user.ok()) {
    return user.status();
  }
  return std::optional<UserInfo>(std::move(user).value());
}

StatusOr<UserInfo> Authenticator::AuthenticateToken(std::string_view token) {
  if (tokens_ == nullptr) {
    return absl::UnauthenticatedError("this server accepts no service account tokens");
  }
  const int64_t now = Now();
  const std::string key(token);
  uint64_t deletes_before = 0;
  {
    std::lock_guard lock(mu_);
    deletes_before = deletes_;
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      if (it->second.expires_at > now) {
        return it->second.user;
      }
      cache_.erase(it);  // its object index entries go with the next clear
    }
  }
  auto claims = tokens_->Verify(token, now);
  if (!claims.ok()) {
    return claims.status();
  }
  std::vector<std::string> keys{KeyOf("serviceaccounts", claims->namespace_name, claims->name)};
  auto account = lookup_("serviceaccounts", claims->namespace_name, claims->name);
  if (!account.ok()) {
    return account.status();
  }
  if (*account != claims->uid) {
    return absl::UnauthenticatedError(
        fmt::format("the token's service account {}/{} no longer exists", claims->namespace_name,
                    claims->name));
  }
  UserInfo user;
  user.name = ServiceAccountUserName(claims->namespace_name, claims->name);
  user.uid = claims->uid;
  user.groups = {std::string(kGroupServiceAccounts),
                 std::string(kGroupServiceAccounts) + ":" + claims->namespace_name};
  user.AddAuthenticated();
  if (claims->bound.has_value()) {
    const std::string resource = claims->bound->kind == "Pod" ? "pods" : "secrets";
    auto bound = lookup_(resource, claims->namespace_name, claims->bound->name);
    if (!bound.ok()) {
      return bound.status();
    }
    if (*bound != claims->bound->uid) {
      return absl::UnauthenticatedError(
          fmt::format("the token is bound to {} {}/{}, which no longer exists",
                      claims->bound->kind == "Pod" ? "pod" : "secret", claims->namespace_name,
                      claims->bound->name));
    }
    keys.push_back(KeyOf(resource, claims->namespace_name, claims->bound->name));
    if (claims->bound->kind == "Pod") {
      user.extra["authentication.kubernetes.io/pod-name"] = {claims->bound->name};
      user.extra["authentication.kubernetes.io/pod-uid"] = {claims->bound->uid};
    }
  }
  if (!claims->token_id.empty()) {
    user.extra["authentication.kubernetes.io/credential-id"] = {"JTI=" + claims->token_id};
  }
  std::lock_guard lock(mu_);
  if (deletes_ != deletes_before) {
    return user;  // an object may have gone between the lookups and now: not kept
  }
  if (cache_.size() >= kMaxCachedTokens || tokens_of_.size() >= 2 * kMaxCachedTokens) {
    cache_.clear();
    tokens_of_.clear();
  }
  for (const std::string& object : keys) {
    tokens_of_[object].push_back(key);
  }
  cache_[key] = Cached{user, claims->expires_at, std::move(keys)};
  return user;
}

void Authenticator::Committed(std::string_view key, bool deleted) {
  if (!deleted || !key.starts_with("/registry/core/")) {
    return;
  }
  std::lock_guard lock(mu_);
  ++deletes_;
  if (tokens_of_.empty()) {
    return;
  }
  auto it = tokens_of_.find(std::string(key));
  if (it == tokens_of_.end()) {
    return;
  }
  for (const std::string& token : it->second) {
    cache_.erase(token);
  }
  tokens_of_.erase(it);
}

}  // namespace bulkhead::controlplane
