#include "controlplane/controllers/service_account_token_controller.h"

#include <boost/json.hpp>
#include <chrono>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/controllers/object_helpers.h"
#include "controlplane/pki/base64.h"

namespace bulkhead::controlplane::controllers {

namespace json = boost::json;

namespace {

constexpr const char* kAccountName = "kubernetes.io/service-account.name";
constexpr const char* kAccountUid = "kubernetes.io/service-account.uid";
constexpr int64_t kLifetimeSeconds = int64_t{10} * 365 * 24 * 3600;

std::string Annotation(const json::object& object, const char* name) {
  const json::value* annotations = nullptr;
  if (const json::value* meta = object.if_contains("metadata");
      meta != nullptr && meta->is_object()) {
    annotations = meta->as_object().if_contains("annotations");
  }
  if (annotations == nullptr || !annotations->is_object()) {
    return "";
  }
  const json::value* value = annotations->as_object().if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

bool IsTokenSecret(const json::object& secret) {
  const json::value* type = secret.if_contains("type");
  return type != nullptr && type->is_string() && type->as_string() == kServiceAccountTokenType;
}

bool HasToken(const json::object& secret) {
  const json::value* data = secret.if_contains("data");
  if (data == nullptr || !data->is_object()) {
    return false;
  }
  const json::value* token = data->as_object().if_contains("token");
  return token != nullptr && token->is_string() && !token->as_string().empty();
}

}  // namespace

ServiceAccountTokenController::ServiceAccountTokenController(Client& client, Informer& secrets,
                                                             Informer& service_accounts,
                                                             const ServiceAccountTokens& tokens,
                                                             std::string ca_pem)
    : Controller("serviceaccount-token", 1),
      client_(client),
      secrets_(secrets),
      service_accounts_(service_accounts),
      tokens_(tokens),
      ca_pem_(std::move(ca_pem)) {
  secrets_.AddHandler([this](const InformerEvent& event) {
    if (event.type != InformerEvent::Type::kDeleted && IsTokenSecret(*event.object) &&
        !HasToken(*event.object)) {
      Enqueue(KeyOf(*event.object));
    }
  });
  // An account made after its token Secret: the Secrets waiting for it.
  service_accounts_.AddHandler([this](const InformerEvent& event) {
    if (event.type == InformerEvent::Type::kDeleted) {
      return;
    }
    const std::string ns = MetaString(*event.object, "namespace");
    const std::string name = MetaString(*event.object, "name");
    for (const ObjectPtr& secret : secrets_.List(ns)) {
      if (IsTokenSecret(*secret) && !HasToken(*secret) &&
          Annotation(*secret, kAccountName) == name) {
        Enqueue(KeyOf(*secret));
      }
    }
  });
}

Status ServiceAccountTokenController::Reconcile(const std::string& key) {
  const auto parts = SplitKey(key);
  const std::string& ns = parts.first;
  const std::string& name = parts.second;
  ObjectPtr secret = secrets_.Get(ns, name);
  if (secret == nullptr || !IsTokenSecret(*secret) || HasToken(*secret) || IsTerminating(*secret)) {
    return absl::OkStatus();
  }
  const std::string account_name = Annotation(*secret, kAccountName);
  ObjectPtr account = account_name.empty() ? nullptr : service_accounts_.Get(ns, account_name);
  if (account == nullptr) {
    return absl::OkStatus();  // told again when the account comes
  }
  const std::string account_uid = MetaString(*account, "uid");
  const std::string wanted_uid = Annotation(*secret, kAccountUid);
  if (!wanted_uid.empty() && wanted_uid != account_uid) {
    return absl::OkStatus();
  }
  ServiceAccountClaims claims;
  claims.namespace_name = ns;
  claims.name = account_name;
  claims.uid = account_uid;
  claims.audiences = tokens_.api_audiences();
  claims.bound = BoundObject{"Secret", name, MetaString(*secret, "uid")};
  claims.issued_at = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  claims.expires_at = claims.issued_at + kLifetimeSeconds;
  claims.token_id = NewUid();
  BH_ASSIGN_OR_RETURN(std::string token, tokens_.Issue(claims));
  const std::string secret_uid = MetaString(*secret, "uid");
  auto written = client_.Mutate(In(kSecretsRef, ns, name), [&](json::object& next) {
    // Only the Secret the token was made for, and only once.
    if (MetaString(next, "uid") != secret_uid || HasToken(next)) {
      return absl::OkStatus();
    }
    json::value& data = next["data"];
    if (!data.is_object()) {
      data = json::object();
    }
    data.as_object()["token"] = Base64Encode(token);
    data.as_object()["namespace"] = Base64Encode(ns);
    if (!ca_pem_.empty()) {
      data.as_object()["ca.crt"] = Base64Encode(ca_pem_);
    }
    SetAnnotation(next, kAccountUid, account_uid);
    return absl::OkStatus();
  });
  return Settles(written.status()) ? absl::OkStatus() : written.status();
}

}  // namespace bulkhead::controlplane::controllers
