#include "controlplane/controllers/resource_quota_controller.h"

#include <boost/json.hpp>
#include <chrono>

#include "controlplane/apiserver/admission/quota_usage.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/controllers/object_helpers.h"

namespace bulkhead::controlplane::controllers {

namespace json = boost::json;

namespace {

constexpr auto kResync = std::chrono::seconds(30);

json::object ToJson(const ResourceList& list) {
  json::object out;
  for (const auto& [name, q] : list) {
    out[name] = q.ToString();
  }
  return out;
}

}  // namespace

ResourceQuotaController::ResourceQuotaController(Client& client, Informer& quotas,
                                                 const std::vector<Informer*>& counted)
    : Controller("resourcequota", 1), client_(client), quotas_(quotas) {
  quotas_.AddHandler([this](const InformerEvent& event) {
    if (event.type == InformerEvent::Type::kDeleted) {
      return;
    }
    // Its own status writes (and admission's charges) need no recount; a
    // new or changed spec does.
    const json::value* spec = PathValue(*event.object, ".spec.hard");
    const json::value* status = PathValue(*event.object, ".status.hard");
    if (spec == nullptr || status == nullptr || *spec != *status ||
        PathValue(*event.object, ".status.used") == nullptr) {
      Enqueue(KeyOf(*event.object));
    }
  });
  for (Informer* informer : counted) {
    informer->AddHandler([this](const InformerEvent& event) {
      EnqueueNamespace(MetaString(*event.object, "namespace"));
    });
  }
}

void ResourceQuotaController::EnqueueNamespace(const std::string& ns) {
  for (const ObjectPtr& quota : quotas_.List(ns)) {
    Enqueue(KeyOf(*quota));
  }
}

Status ResourceQuotaController::Reconcile(const std::string& key) {
  const auto [ns, name] = SplitKey(key);
  ObjectPtr quota = quotas_.Get(ns, name);
  if (quota == nullptr) {
    return absl::OkStatus();
  }
  EnqueueAfter(key, kResync);
  const ResourceList hard = ReadResourceList(PathValue(*quota, ".spec.hard"));
  BH_ASSIGN_OR_RETURN(ResourceList used, NamespaceUsage(client_.objects(), ns, hard));
  const json::object status{{"hard", ToJson(hard)}, {"used", ToJson(used)}};
  const json::value* have = quota->if_contains("status");
  if (have != nullptr && *have == json::value(status)) {
    return absl::OkStatus();
  }
  auto written =
      client_.Mutate(In(kResourceQuotasRef, ns, name, "status"), [&](json::object& next) {
        next["status"] = status;
        return absl::OkStatus();
      });
  return Settles(written.status()) ? absl::OkStatus() : written.status();
}

}  // namespace bulkhead::controlplane::controllers
