// TokenRequest: POST serviceaccounts/<name>/token makes a token for that
// service account (kubectl create token): for the API's audiences unless
// others are asked, for an hour unless another duration (at least ten
// minutes, at most 2^32 seconds), bound to a pod or secret when asked (the
// token then ends with that object). Nothing is stored.
#include <boost/json.hpp>
#include <chrono>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/api_server.h"
#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/request_body.h"
#include "controlplane/apiserver/responses.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

constexpr int64_t kDefaultExpirationSeconds = 3600;
constexpr int64_t kMinExpirationSeconds = 600;
constexpr int64_t kMaxExpirationSeconds = int64_t{1} << 32;

Status Invalid(const std::string& field, const std::string& message) {
  return InvalidError("authentication.k8s.io", "TokenRequest", "",
                      {{"FieldValueInvalid", message, field}});
}

}  // namespace

void ApiServer::CreateToken(const ResourceTarget& target, const HttpRequest& request,
                            ResponseWriter& writer) {
  if (tokens_ == nullptr) {
    SendError(writer, ApiError(503, "ServiceUnavailable", "no service account key"));
    return;
  }
  auto decoded = ParseRequestObject(request, "the body must be a TokenRequest");
  if (!decoded.ok()) {
    SendError(writer, decoded.status());
    return;
  }
  boost::system::error_code ec;
  json::object& token_request = *decoded;
  if (!token_request.contains("spec") || !token_request["spec"].is_object()) {
    token_request["spec"] = json::object();
  }
  json::object& spec = token_request["spec"].as_object();
  if (const json::value* meta = token_request.if_contains("metadata");
      meta != nullptr && meta->is_object()) {
    const std::string name = StringField(meta->as_object(), "name");
    const std::string ns = StringField(meta->as_object(), "namespace");
    if ((!name.empty() && name != target.name) || (!ns.empty() && ns != target.namespace_name)) {
      SendError(writer, Invalid("metadata", "must match the service account name if specified"));
      return;
    }
  }
  int64_t expiration = kDefaultExpirationSeconds;
  if (const json::value* seconds = spec.if_contains("expirationSeconds");
      seconds != nullptr && !seconds->is_null()) {
    if (!seconds->is_int64() && !seconds->is_uint64()) {
      SendError(writer, Invalid("spec.expirationSeconds", "must be a whole number of seconds"));
      return;
    }
    const bool huge = seconds->is_uint64() && seconds->as_uint64() > uint64_t{1} << 62;
    expiration = huge ? kMaxExpirationSeconds + 1
                      : (seconds->is_int64() ? seconds->as_int64()
                                             : static_cast<int64_t>(seconds->as_uint64()));
    if (expiration < kMinExpirationSeconds) {
      SendError(writer, Invalid("spec.expirationSeconds",
                                fmt::format("Invalid value: {}: may not specify a duration less "
                                            "than 10 minutes",
                                            expiration)));
      return;
    }
    if (expiration > kMaxExpirationSeconds) {
      SendError(writer, Invalid("spec.expirationSeconds",
                                "may not specify a duration larger than 2^32 seconds"));
      return;
    }
  }
  spec["expirationSeconds"] = expiration;
  ServiceAccountClaims claims;
  claims.namespace_name = target.namespace_name;
  claims.name = target.name;
  for (const json::value& audience : spec.contains("audiences") && spec["audiences"].is_array()
                                         ? spec["audiences"].as_array()
                                         : json::array()) {
    if (!audience.is_string() || audience.as_string().empty()) {
      SendError(writer, Invalid("spec.audiences", "an audience must be a non-empty string"));
      return;
    }
    claims.audiences.emplace_back(audience.as_string());
  }
  if (claims.audiences.empty()) {
    claims.audiences = tokens_->api_audiences();
    json::array audiences;
    for (const std::string& audience : claims.audiences) {
      audiences.emplace_back(audience);
    }
    spec["audiences"] = std::move(audiences);
  }
  // The service account, read as the request names it.
  ResourceTarget account = target;
  account.subresource.clear();
  auto found = objects_.GetExisting(account);
  if (!found.ok()) {
    SendError(writer, found.status());
    return;
  }
  json::value account_object = ParseJson(found->value, ec);
  claims.uid = account_object.is_object() ? MetaString(account_object.as_object(), "uid") : "";
  if (const json::value* ref = spec.if_contains("boundObjectRef");
      ref != nullptr && ref->is_object()) {
    const std::string kind = StringField(ref->as_object(), "kind");
    const std::string name = StringField(ref->as_object(), "name");
    const std::string uid = StringField(ref->as_object(), "uid");
    const std::string api_version = StringField(ref->as_object(), "apiVersion");
    if ((kind != "Pod" && kind != "Secret") || (!api_version.empty() && api_version != "v1")) {
      SendError(writer, BadRequest(fmt::format("cannot bind token to object of type {}",
                                               kind.empty() ? std::string("\"\"") : kind)));
      return;
    }
    ResourceTarget bound;
    bound.type = registry_.Find("", "v1", kind == "Pod" ? "pods" : "secrets");
    bound.namespace_name = target.namespace_name;
    bound.name = name;
    auto object = name.empty() ? StatusOr<KeyValue>(BadRequest("boundObjectRef.name is required"))
                               : objects_.GetExisting(bound);
    if (!object.ok()) {
      SendError(writer, object.status());
      return;
    }
    json::value parsed = ParseJson(object->value, ec);
    if (!parsed.is_object()) {
      SendError(writer, ApiError(500, "InternalError", "the bound object cannot be read"));
      return;
    }
    const std::string stored_uid = MetaString(parsed.as_object(), "uid");
    if (!uid.empty() && uid != stored_uid) {
      SendError(writer,
                ApiError(409, "Conflict",
                         fmt::format("the UID in the bound object reference ({}) does not match "
                                     "the UID in record. The object might have been deleted and "
                                     "then recreated",
                                     uid)));
      return;
    }
    if (kind == "Pod") {
      const json::value* pod_spec = parsed.as_object().if_contains("spec");
      std::string account_name = pod_spec != nullptr && pod_spec->is_object()
                                     ? StringField(pod_spec->as_object(), "serviceAccountName")
                                     : "";
      if (account_name.empty()) {
        account_name = "default";
      }
      if (account_name != target.name) {
        SendError(writer, BadRequest(fmt::format("cannot bind token for serviceaccount \"{}\" to "
                                                 "pod running with different serviceaccount "
                                                 "name.",
                                                 target.name)));
        return;
      }
    }
    claims.bound = BoundObject{kind, name, stored_uid};
    spec["boundObjectRef"].as_object()["uid"] = stored_uid;
    spec["boundObjectRef"].as_object()["apiVersion"] = "v1";
  }
  const auto now = std::chrono::system_clock::now();
  claims.issued_at =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  claims.expires_at = claims.issued_at + expiration;
  claims.token_id = NewUid();
  auto token = tokens_->Issue(claims);
  if (!token.ok()) {
    SendError(writer, token.status());
    return;
  }
  token_request["apiVersion"] = "authentication.k8s.io/v1";
  token_request["kind"] = "TokenRequest";
  token_request["metadata"] = json::object{{"name", target.name},
                                           {"namespace", target.namespace_name},
                                           {"creationTimestamp", FormatRfc3339(now)}};
  token_request["status"] =
      json::object{{"token", *token},
                   {"expirationTimestamp", FormatRfc3339(now + std::chrono::seconds(expiration))}};
  SendJson(writer, 201, token_request);
}

}  // namespace bulkhead::controlplane
