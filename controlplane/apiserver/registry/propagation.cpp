#include "controlplane/apiserver/registry/propagation.h"

#include <algorithm>
#include <boost/json.hpp>

#include "controlplane/apiserver/object_meta.h"

namespace bulkhead::controlplane {

namespace json = boost::json;

std::optional<Propagation> ParsePropagation(std::string_view text) {
  if (text == "Background") {
    return Propagation::kBackground;
  }
  if (text == "Foreground") {
    return Propagation::kForeground;
  }
  if (text == "Orphan") {
    return Propagation::kOrphan;
  }
  return std::nullopt;
}

bool CollectsDependentsOf(const ResourceType& type) {
  return !type.custom && std::any_of(kCollectedOwnerKinds.begin(), kCollectedOwnerKinds.end(),
                                     [&](const OwnerKind& owner) {
                                       return owner.group == type.group && owner.kind == type.kind;
                                     });
}

Propagation EffectivePropagation(const ResourceType& type, Propagation asked) {
  if (asked != Propagation::kDefault) {
    return asked;
  }
  // batch/v1 keeps a Job's pods unless asked otherwise (kubectl asks for
  // Background); every other kind takes its dependents.
  return !type.custom && type.group == "batch" && type.kind == "Job" ? Propagation::kOrphan
                                                                     : Propagation::kBackground;
}

bool SetPropagationFinalizers(json::object& object, Propagation policy) {
  json::object& meta = Metadata(object);
  json::array list;
  if (const json::value* finalizers = meta.if_contains("finalizers");
      finalizers != nullptr && finalizers->is_array()) {
    list = finalizers->as_array();
  }
  const std::string_view keep = policy == Propagation::kOrphan       ? kOrphanFinalizer
                                : policy == Propagation::kForeground ? kForegroundFinalizer
                                                                     : "";
  json::array next;
  for (const json::value& finalizer : list) {
    const bool gc = finalizer.is_string() && (finalizer.as_string() == kOrphanFinalizer ||
                                              finalizer.as_string() == kForegroundFinalizer);
    if (!gc || finalizer.as_string() == keep) {
      next.push_back(finalizer);
    }
  }
  if (!keep.empty() && std::find(next.begin(), next.end(), json::value(keep)) == next.end()) {
    next.emplace_back(keep);
  }
  if (next == list) {
    return false;
  }
  if (next.empty()) {
    meta.erase("finalizers");
  } else {
    meta["finalizers"] = std::move(next);
  }
  return true;
}

}  // namespace bulkhead::controlplane
