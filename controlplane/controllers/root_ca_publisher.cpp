#include "controlplane/controllers/root_ca_publisher.h"

#include <boost/json.hpp>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/controllers/object_helpers.h"

namespace bulkhead::controlplane::controllers {

namespace json = boost::json;

namespace {

constexpr const char* kDescription =
    "The authority that signs this cluster's API server certificate: pods verify the API "
    "server (kubernetes.default.svc) with it.";

}  // namespace

RootCaPublisher::RootCaPublisher(Client& client, Informer& namespaces, Informer& config_maps,
                                 std::string ca_pem)
    : Controller("root-ca-cert-publisher", 1),
      client_(client),
      namespaces_(namespaces),
      config_maps_(config_maps),
      ca_pem_(std::move(ca_pem)) {
  namespaces_.AddHandler([this](const InformerEvent& event) {
    if (event.type != InformerEvent::Type::kDeleted) {
      Enqueue(MetaString(*event.object, "name"));
    }
  });
  config_maps_.AddHandler([this](const InformerEvent& event) {
    if (MetaString(*event.object, "name") == kRootCaConfigMap) {
      Enqueue(MetaString(*event.object, "namespace"));
    }
  });
}

Status RootCaPublisher::Reconcile(const std::string& key) {
  if (ca_pem_.empty()) {
    return absl::OkStatus();
  }
  ObjectPtr ns = namespaces_.Get("", key);
  if (ns == nullptr || IsTerminating(*ns)) {
    return absl::OkStatus();
  }
  const json::object data{{"ca.crt", ca_pem_}};
  ObjectPtr current = config_maps_.Get(key, kRootCaConfigMap);
  if (current != nullptr) {
    const json::value* have = current->if_contains("data");
    if (have != nullptr && *have == json::value(data)) {
      return absl::OkStatus();
    }
    auto written =
        client_.Mutate(In(kConfigMapsRef, key, kRootCaConfigMap), [&](json::object& next) {
          next["data"] = data;
          return absl::OkStatus();
        });
    return Settles(written.status()) ? absl::OkStatus() : written.status();
  }
  auto created = client_.Create(
      In(kConfigMapsRef, key),
      json::object{
          {"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", json::object{{"name", kRootCaConfigMap},
                                    {"namespace", key},
                                    {"annotations",
                                     json::object{{"kubernetes.io/description", kDescription}}}}},
          {"data", data}});
  if (created.ok()) {
    return absl::OkStatus();
  }
  const int code = ToHttpError(created.status()).code;
  return code == 409 || code == 404 || code == 403 ? absl::OkStatus() : created.status();
}

}  // namespace bulkhead::controlplane::controllers
