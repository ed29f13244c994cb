#include "controlplane/controllers/garbage_collector.h"

#include <algorithm>
#include <boost/json.hpp>
#include <vector>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/controllers/object_helpers.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;

const json::array& OwnerReferences(const json::object& object) {
  static const json::array kNone;
  const json::value* refs = PathValue(object, ".metadata.ownerReferences");
  return refs != nullptr && refs->is_array() ? refs->as_array() : kNone;
}

}  // namespace

GarbageCollector::GarbageCollector(
    Client& client, std::map<std::string, Informer*> owners,
    std::map<std::string, std::pair<ObjectRef, Informer*>> dependents)
    : Controller("garbage-collector", 1),
      client_(client),
      owners_(std::move(owners)),
      dependents_(std::move(dependents)) {
  // A dependent is looked at when it changes (one made for a missing owner
  // is collected), and all of an owner's dependents when the owner goes.
  for (auto& [kind, dependent] : dependents_) {
    const std::string dependent_kind = kind;
    dependent.second->AddHandler([this, dependent_kind](const InformerEvent& event) {
      if (event.type != InformerEvent::Type::kDeleted && !OwnerReferences(*event.object).empty()) {
        Enqueue(dependent_kind + "|" + KeyOf(*event.object));
      }
    });
  }
  for (auto& [kind, owner] : owners_) {
    owner->AddHandler([this](const InformerEvent& event) {
      if (event.type != InformerEvent::Type::kDeleted) {
        return;
      }
      const std::string uid = MetaString(*event.object, "uid");
      const std::string ns = MetaString(*event.object, "namespace");
      for (auto& [dependent_kind, dependent] : dependents_) {
        for (const ObjectPtr& object : dependent.second->List(ns)) {
          for (const auto& ref : OwnerReferences(*object)) {
            if (ref.is_object() && StringField(ref.as_object(), "uid") == uid) {
              Enqueue(dependent_kind + "|" + KeyOf(*object));
              break;
            }
          }
        }
      }
    });
  }
}

StatusOr<bool> GarbageCollector::OwnerLives(const std::string& ns, const json::object& ref) {
  std::string kind = StringField(ref, "kind");
  std::string name = StringField(ref, "name");
  std::string uid = StringField(ref, "uid");
  // Only owners of the kinds followed here, in their own group (apps/v1): a
  // custom "ReplicaSet" of another group, or a reference without a uid, is
  // never judged gone.
  auto owner_informer = owners_.find(kind);
  if (owner_informer == owners_.end() || StringField(ref, "apiVersion") != "apps/v1" ||
      uid.empty() || name.empty()) {
    return true;
  }
  ObjectPtr cached = owner_informer->second->Get(ns, name);
  if (cached != nullptr && MetaString(*cached, "uid") == uid) {
    return true;
  }
  // The cache may lag an owner just made: the API decides.
  ObjectRef owner_ref = In(kind == "Deployment" ? kDeploymentsRef : kReplicaSetsRef, ns, name);
  auto found = client_.Get(owner_ref);
  if (found.ok()) {
    return MetaString(*found, "uid") == uid;
  }
  if (ToHttpError(found.status()).code == 404) {
    return false;
  }
  return found.status();
}

Status GarbageCollector::Reconcile(const std::string& key) {
  size_t bar = key.find('|');
  auto dependent = dependents_.find(key.substr(0, bar));
  if (bar == std::string::npos || dependent == dependents_.end()) {
    return absl::OkStatus();
  }
  const auto split = SplitKey(key.substr(bar + 1));
  const std::string& ns = split.first;
  const std::string& name = split.second;
  ObjectPtr object = dependent->second.second->Get(ns, name);
  if (object == nullptr || IsTerminating(*object)) {
    return absl::OkStatus();
  }
  const json::array& refs = OwnerReferences(*object);
  if (refs.empty()) {
    return absl::OkStatus();
  }
  std::vector<std::string> gone;
  for (const auto& ref : refs) {
    if (!ref.is_object()) {
      continue;
    }
    auto lives = OwnerLives(ns, ref.as_object());
    if (!lives.ok()) {
      return lives.status();
    }
    if (!*lives) {
      gone.push_back(StringField(ref.as_object(), "uid"));
    }
  }
  if (gone.empty()) {
    return absl::OkStatus();
  }
  ObjectRef ref = dependent->second.first;
  ref.namespace_name = ns;
  ref.name = name;
  if (gone.size() == refs.size()) {
    // Every owner is gone: collected, only if it is still the object seen.
    Status deleted = client_.Delete(ref, {MetaString(*object, "uid"), ""});
    int code = deleted.ok() ? 200 : ToHttpError(deleted).code;
    return code == 200 || code == 404 || code == 409 ? absl::OkStatus() : deleted;
  }
  // Some owners live: only the references to the gone ones go.
  auto written = client_.Mutate(ref, [&](json::object& next) {
    json::value* refs_value = PathValue(next, ".metadata.ownerReferences", true);
    json::array kept;
    for (const auto& r : refs_value->is_array() ? refs_value->as_array() : json::array()) {
      std::string uid = r.is_object() ? StringField(r.as_object(), "uid") : "";
      if (std::find(gone.begin(), gone.end(), uid) == gone.end()) {
        kept.push_back(r);
      }
    }
    *refs_value = std::move(kept);
    return absl::OkStatus();
  });
  return written.ok() || ToHttpError(written.status()).code == 404 ? absl::OkStatus()
                                                                   : written.status();
}

}  // namespace bulkhead::controlplane::controllers
