#include "controlplane/controllers/service_account_controller.h"

#include <boost/json.hpp>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/controllers/namespace_controller.h"
#include "controlplane/controllers/object_helpers.h"

namespace bulkhead::controlplane::controllers {

namespace json = boost::json;

ServiceAccountController::ServiceAccountController(Client& client, Informer& namespaces,
                                                   Informer& service_accounts)
    : Controller("serviceaccount", 1),
      client_(client),
      namespaces_(namespaces),
      service_accounts_(service_accounts) {
  namespaces_.AddHandler([this](const InformerEvent& event) {
    if (event.type != InformerEvent::Type::kDeleted) {
      Enqueue(MetaString(*event.object, "name"));
    }
  });
  service_accounts_.AddHandler([this](const InformerEvent& event) {
    if (event.type == InformerEvent::Type::kDeleted &&
        MetaString(*event.object, "name") == "default") {
      Enqueue(MetaString(*event.object, "namespace"));
    }
  });
}

Status ServiceAccountController::Reconcile(const std::string& key) {
  ObjectPtr ns = namespaces_.Get("", key);
  if (ns == nullptr || IsTerminating(*ns) || service_accounts_.Get(key, "default") != nullptr) {
    return absl::OkStatus();
  }
  auto created = client_.Create(
      In(kServiceAccountsRef, key),
      json::object{{"apiVersion", "v1"},
                   {"kind", "ServiceAccount"},
                   {"metadata", json::object{{"name", "default"}, {"namespace", key}}}});
  if (created.ok()) {
    return absl::OkStatus();
  }
  const int code = ToHttpError(created.status()).code;
  // There already (the cache lags), or the namespace went or is going.
  return code == 409 || code == 404 || code == 403 ? absl::OkStatus() : created.status();
}

}  // namespace bulkhead::controlplane::controllers
