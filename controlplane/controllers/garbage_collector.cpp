#include "controlplane/controllers/garbage_collector.h"

#include <algorithm>
#include <boost/json.hpp>
#include <vector>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/registry/propagation.h"
#include "controlplane/controllers/object_helpers.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;

constexpr char kDependentKey[] = "dependent|";
constexpr char kOwnerKey[] = "owner|";

const json::array& OwnerReferences(const json::object& object) {
  static const json::array kNone;
  const json::value* refs = PathValue(object, ".metadata.ownerReferences");
  return refs != nullptr && refs->is_array() ? refs->as_array() : kNone;
}

// "<group>/<Kind>" of the owner a reference names ("apps/v1" -> "apps").
std::string OwnerKindOf(const json::object& ref) {
  std::string api_version = StringField(ref, "apiVersion");
  size_t slash = api_version.find('/');
  std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  return group + "/" + StringField(ref, "kind");
}

bool HasFinalizer(const json::object& object, std::string_view finalizer) {
  const json::value* finalizers = PathValue(object, ".metadata.finalizers");
  if (finalizers == nullptr || !finalizers->is_array()) {
    return false;
  }
  return std::any_of(
      finalizers->as_array().begin(), finalizers->as_array().end(),
      [&](const json::value& f) { return f.is_string() && f.as_string() == finalizer; });
}

}  // namespace

GarbageCollector::GarbageCollector(Client& client, std::map<std::string, Followed> owners,
                                   std::map<std::string, Followed> dependents)
    : Controller("garbage-collector", 1),
      client_(client),
      owners_(std::move(owners)),
      dependents_(std::move(dependents)) {
  // A dependent is looked at when it changes (one made for a missing owner
  // is collected); its owners when it goes (one deleted in the foreground
  // may be waiting for it).
  for (auto& [kind, dependent] : dependents_) {
    const std::string dependent_kind = kind;
    dependent.informer->AddHandler([this, dependent_kind](const InformerEvent& event) {
      const std::string key = dependent_kind + "|" + KeyOf(*event.object);
      if (event.type == InformerEvent::Type::kDeleted) {
        Index(key, nullptr);
        const std::string ns = MetaString(*event.object, "namespace");
        for (const auto& ref : OwnerReferences(*event.object)) {
          if (ref.is_object() && owners_.contains(OwnerKindOf(ref.as_object()))) {
            std::string owner = OwnerKindOf(ref.as_object()) + "|" + ns + "/" +
                                StringField(ref.as_object(), "name");
            Enqueue(kOwnerKey + owner);
          }
        }
        return;
      }
      Index(key, event.object.get());
      if (!OwnerReferences(*event.object).empty()) {
        Enqueue(kDependentKey + key);
      }
    });
  }
  // An owner's dependents are looked at when it goes; an owner being
  // deleted with a finalizer of the garbage collector's, when it changes.
  for (auto& [owner_kind, owner] : owners_) {
    const std::string kind = owner_kind;
    owner.informer->AddHandler([this, kind](const InformerEvent& event) {
      if (event.type == InformerEvent::Type::kDeleted) {
        for (const std::string& dependent : DependentsOf(MetaString(*event.object, "uid"))) {
          Enqueue(kDependentKey + dependent);
        }
      } else if (IsTerminating(*event.object) &&
                 (HasFinalizer(*event.object, kOrphanFinalizer) ||
                  HasFinalizer(*event.object, kForegroundFinalizer))) {
        Enqueue(kOwnerKey + kind + "|" + KeyOf(*event.object));
      }
    });
  }
}

void GarbageCollector::Index(const std::string& dependent, const json::object* object) {
  std::vector<std::string> uids;
  if (object != nullptr) {
    for (const auto& ref : OwnerReferences(*object)) {
      std::string uid = ref.is_object() ? StringField(ref.as_object(), "uid") : "";
      if (!uid.empty()) {
        uids.push_back(std::move(uid));
      }
    }
  }
  std::lock_guard lock(mu_);
  auto before = owners_of_.find(dependent);
  if (before != owners_of_.end()) {
    for (const std::string& uid : before->second) {
      auto it = dependents_of_.find(uid);
      if (it != dependents_of_.end()) {
        it->second.erase(dependent);
        if (it->second.empty()) {
          dependents_of_.erase(it);
        }
      }
    }
    owners_of_.erase(before);
  }
  for (const std::string& uid : uids) {
    dependents_of_[uid].insert(dependent);
  }
  if (!uids.empty()) {
    owners_of_[dependent] = std::move(uids);
  }
}

std::vector<std::string> GarbageCollector::DependentsOf(const std::string& owner_uid) const {
  std::lock_guard lock(mu_);
  auto it = dependents_of_.find(owner_uid);
  return it == dependents_of_.end()
             ? std::vector<std::string>{}
             : std::vector<std::string>(it->second.begin(), it->second.end());
}

StatusOr<bool> GarbageCollector::OwnerLives(const std::string& ns, const json::object& ref) {
  std::string name = StringField(ref, "name");
  std::string uid = StringField(ref, "uid");
  // Only owners of the kinds followed here, in their own group: a custom
  // "ReplicaSet" of another group, or a reference without a uid, is never
  // judged gone.
  auto owner = owners_.find(OwnerKindOf(ref));
  if (owner == owners_.end() || uid.empty() || name.empty()) {
    return true;
  }
  ObjectPtr cached = owner->second.informer->Get(ns, name);
  if (cached != nullptr && MetaString(*cached, "uid") == uid) {
    return true;
  }
  // The cache may lag an owner just made: the API decides.
  auto found = client_.Get(In(owner->second.collection, ns, name));
  if (found.ok()) {
    return MetaString(*found, "uid") == uid;
  }
  if (ToHttpError(found.status()).code == 404) {
    return false;
  }
  return found.status();
}

Status GarbageCollector::Reconcile(const std::string& key) {
  const bool owner = key.starts_with(kOwnerKey);
  if (!owner && !key.starts_with(kDependentKey)) {
    return absl::OkStatus();
  }
  const std::string rest = key.substr(owner ? sizeof(kOwnerKey) - 1 : sizeof(kDependentKey) - 1);
  const size_t bar = rest.find('|');
  if (bar == std::string::npos) {
    return absl::OkStatus();
  }
  const auto [ns, name] = SplitKey(rest.substr(bar + 1));
  return owner ? ReconcileOwner(rest.substr(0, bar), ns, name)
               : ReconcileDependent(rest.substr(0, bar), ns, name);
}

Status GarbageCollector::ReconcileDependent(const std::string& kind, const std::string& ns,
                                            const std::string& name) {
  auto dependent = dependents_.find(kind);
  if (dependent == dependents_.end()) {
    return absl::OkStatus();
  }
  ObjectPtr object = dependent->second.informer->Get(ns, name);
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
  const std::string uid = MetaString(*object, "uid");
  if (gone.size() == refs.size()) {
    // Every owner is gone: collected, only if it is still the version seen.
    // The cache may lag a write that released it (an orphaning owner drops
    // its references before it goes): that write's own event judges again.
    Status deleted =
        client_.Delete(In(dependent->second.collection, ns, name),
                       {uid, MetaString(*object, "resourceVersion"), Propagation::kBackground});
    return Settles(deleted) ? absl::OkStatus() : deleted;
  }
  // Some owners live: only the references to the gone ones go.
  std::string dependent_key = kind;
  dependent_key.append("|").append(ns).append("/").append(name);
  for (const std::string& owner_uid : gone) {
    BH_RETURN_IF_ERROR(EditReference(dependent_key, owner_uid, ReferenceEdit::kDrop));
  }
  return absl::OkStatus();
}

Status GarbageCollector::EditReference(const std::string& dependent, const std::string& uid,
                                       ReferenceEdit edit) {
  const size_t bar = dependent.find('|');
  auto followed = dependents_.find(dependent.substr(0, bar));
  if (bar == std::string::npos || followed == dependents_.end()) {
    return absl::OkStatus();
  }
  const auto [ns, name] = SplitKey(dependent.substr(bar + 1));
  auto written = client_.Mutate(In(followed->second.collection, ns, name), [&](json::object& next) {
    json::value* refs_value = PathValue(next, ".metadata.ownerReferences", true);
    if (!refs_value->is_array()) {
      return absl::FailedPreconditionError("no longer names the owner");
    }
    json::array kept;
    bool unblocked = false;
    for (json::value& r : refs_value->as_array()) {
      if (!r.is_object() || StringField(r.as_object(), "uid") != uid) {
        kept.push_back(r);
      } else if (edit == ReferenceEdit::kUnblock) {
        json::value& blocks = r.as_object()["blockOwnerDeletion"];
        unblocked = unblocked || !(blocks.is_bool() && !blocks.as_bool());
        blocks = false;
        kept.push_back(r);
      }
    }
    if (edit == ReferenceEdit::kUnblock) {
      if (!unblocked) {
        return absl::FailedPreconditionError("not blocking");
      }
      *refs_value = std::move(kept);
      return absl::OkStatus();
    }
    if (kept.size() == refs_value->as_array().size()) {
      return absl::FailedPreconditionError("no longer names the owner");
    }
    if (kept.empty()) {
      Metadata(next).erase("ownerReferences");
    } else {
      *refs_value = std::move(kept);
    }
    return absl::OkStatus();
  });
  return Settles(written.status()) ? absl::OkStatus() : written.status();
}

bool GarbageCollector::HasDependentDeletingItsOwn(const std::string& owner_uid) const {
  for (const std::string& dependent : DependentsOf(owner_uid)) {
    const size_t bar = dependent.find('|');
    auto followed = dependents_.find(dependent.substr(0, bar));
    if (followed == dependents_.end()) {
      continue;
    }
    const auto [ns, name] = SplitKey(dependent.substr(bar + 1));
    ObjectPtr found = followed->second.informer->Get(ns, name);
    if (found != nullptr && IsTerminating(*found) && HasFinalizer(*found, kForegroundFinalizer)) {
      return true;
    }
  }
  return false;
}

Status GarbageCollector::ReconcileOwner(const std::string& owner_kind, const std::string& ns,
                                        const std::string& name) {
  auto owner = owners_.find(owner_kind);
  if (owner == owners_.end()) {
    return absl::OkStatus();
  }
  ObjectPtr object = owner->second.informer->Get(ns, name);
  if (object == nullptr || !IsTerminating(*object)) {
    return absl::OkStatus();
  }
  const std::string uid = MetaString(*object, "uid");
  const bool orphan = HasFinalizer(*object, kOrphanFinalizer);
  if (!orphan && !HasFinalizer(*object, kForegroundFinalizer)) {
    return absl::OkStatus();
  }
  const std::vector<std::string> dependents = DependentsOf(uid);
  if (orphan) {
    // Read from the API, not the index: a dependent made a moment ago that
    // the index has not seen yet would keep its reference and be collected
    // once the owner is gone. Orphaning is rare; a list per kind is cheap.
    for (const auto& [kind, followed] : dependents_) {
      auto listed = client_.List(In(followed.collection, ns));
      if (!listed.ok()) {
        return listed.status();
      }
      for (const json::object& dependent : *listed) {
        const json::array& refs = OwnerReferences(dependent);
        if (std::any_of(refs.begin(), refs.end(), [&](const json::value& ref) {
              return ref.is_object() && StringField(ref.as_object(), "uid") == uid;
            })) {
          BH_RETURN_IF_ERROR(
              EditReference(std::string(kind).append("|").append(ns).append("/").append(
                                MetaString(dependent, "name")),
                            uid, ReferenceEdit::kDrop));
        }
      }
    }
  } else {
    bool waiting = false;
    for (const std::string& dependent : dependents) {
      const size_t bar = dependent.find('|');
      const std::string kind = dependent.substr(0, bar);
      const Followed& followed = dependents_.at(kind);
      const auto [dependent_ns, dependent_name] = SplitKey(dependent.substr(bar + 1));
      ObjectPtr found = followed.informer->Get(dependent_ns, dependent_name);
      if (found == nullptr) {
        continue;
      }
      bool blocks_this = false;
      for (const auto& ref : OwnerReferences(*found)) {
        if (!ref.is_object() || StringField(ref.as_object(), "uid") != uid) {
          continue;
        }
        const json::value* blocks = ref.as_object().if_contains("blockOwnerDeletion");
        blocks_this = blocks_this || (blocks != nullptr && blocks->is_bool() && blocks->as_bool());
      }
      if (IsTerminating(*found)) {
        if (blocks_this && HasFinalizer(*found, kForegroundFinalizer) &&
            HasDependentDeletingItsOwn(MetaString(*found, "uid"))) {
          BH_RETURN_IF_ERROR(EditReference(dependent, uid, ReferenceEdit::kUnblock));
          blocks_this = false;
        }
        waiting = waiting || blocks_this;
        continue;
      }
      waiting = waiting || blocks_this;
      // A dependent that owns others goes in the foreground too, so this
      // owner waits for the whole tree.
      const bool owns = owners_.contains(followed.collection.group + "/" + kind);
      Status deleted = client_.Delete(In(followed.collection, dependent_ns, dependent_name),
                                      {MetaString(*found, "uid"), "",
                                       owns ? Propagation::kForeground : Propagation::kBackground});
      if (!Settles(deleted)) {
        return deleted;
      }
    }
    if (waiting) {
      return absl::OkStatus();  // each blocking dependent's delete comes back here
    }
  }
  const std::string_view finalizer = orphan ? kOrphanFinalizer : kForegroundFinalizer;
  auto written = client_.Mutate(In(owner->second.collection, ns, name), [&](json::object& next) {
    if (MetaString(next, "uid") != uid) {
      return absl::FailedPreconditionError("another object by that name");
    }
    json::value* finalizers = PathValue(next, ".metadata.finalizers", true);
    json::array kept;
    for (const auto& f : finalizers->is_array() ? finalizers->as_array() : json::array()) {
      if (!f.is_string() || f.as_string() != finalizer) {
        kept.push_back(f);
      }
    }
    *finalizers = std::move(kept);
    return absl::OkStatus();
  });
  return Settles(written.status()) ? absl::OkStatus() : written.status();
}

}  // namespace bulkhead::controlplane::controllers
