#include "controlplane/apiserver/admission/quota_usage.h"

#include <boost/json.hpp>
#include <set>

#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/registry/object_registry.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

std::string CountName(const ResourceType& type) {
  return "count/" + type.resource + (type.group.empty() ? "" : "." + type.group);
}

bool Legacy(const ResourceType& type) {
  static const std::set<std::string, std::less<>> kNames = {
      "configmaps",    "secrets", "services", "persistentvolumeclaims", "replicationcontrollers",
      "resourcequotas"};
  return type.group.empty() && kNames.contains(type.resource);
}

void Put(ResourceList& out, const ResourceList& hard, const std::string& name, Quantity q) {
  if (hard.contains(name)) {
    out[name] += q;
  }
}

}  // namespace

ResourceList UsageOf(const ResourceType& type, const json::object& object,
                     const ResourceList& hard) {
  ResourceList out;
  const Quantity one{1000, false};
  const bool pod = type.group.empty() && type.resource == "pods";
  if (pod) {
    const json::value* phase_value = PathValue(object, ".status.phase");
    const std::string phase = phase_value != nullptr && phase_value->is_string()
                                  ? std::string(phase_value->as_string())
                                  : "";
    if (phase == "Succeeded" || phase == "Failed") {
      return out;
    }
    Put(out, hard, "pods", one);
    const json::value* spec = object.if_contains("spec");
    if (spec != nullptr && spec->is_object()) {
      for (const auto& [name, q] : PodResources(spec->as_object(), "requests")) {
        Put(out, hard, "requests." + name, q);
        if (name == "cpu" || name == "memory" || name == "ephemeral-storage") {
          Put(out, hard, name, q);
        }
      }
      for (const auto& [name, q] : PodResources(spec->as_object(), "limits")) {
        Put(out, hard, "limits." + name, q);
      }
    }
  }
  Put(out, hard, CountName(type), one);
  if (Legacy(type)) {
    Put(out, hard, type.resource, one);
  }
  if (type.group.empty() && type.resource == "persistentvolumeclaims") {
    const json::value* storage = PathValue(object, ".spec.resources.requests");
    for (const auto& [name, q] : ReadResourceList(storage)) {
      if (name == "storage") {
        Put(out, hard, "requests.storage", q);
      }
    }
  }
  return out;
}

StatusOr<ResourceList> NamespaceUsage(ObjectRegistry& objects, const std::string& ns,
                                      const ResourceList& hard) {
  // The kinds `hard` names something of.
  std::set<std::string> prefixes;
  std::vector<ResourceTypePtr> kinds;
  for (const ResourceTypePtr& type : objects.types().All()) {
    if (!type->namespaced || type->review || prefixes.contains(type->KeyPrefix())) {
      continue;
    }
    bool named =
        hard.contains(CountName(*type)) || (Legacy(*type) && hard.contains(type->resource));
    if (type->group.empty() && type->resource == "pods") {
      for (const auto& [name, q] : hard) {
        named = named || name == "pods" || name.starts_with("requests.") ||
                name.starts_with("limits.") || name == "cpu" || name == "memory" ||
                name == "ephemeral-storage";
      }
    }
    if (type->group.empty() && type->resource == "persistentvolumeclaims") {
      named = named || hard.contains("requests.storage");
    }
    if (named) {
      prefixes.insert(type->KeyPrefix());
      kinds.push_back(type);
    }
  }
  ResourceList used;
  for (const auto& [name, q] : hard) {
    used[name] = Quantity{0, q.binary};
  }
  for (const ResourceTypePtr& type : kinds) {
    BH_ASSIGN_OR_RETURN(ListResult listed, objects.ListAll(type->KeyPrefix() + ns + "/"));
    for (const KeyValue& kv : listed.items) {
      boost::system::error_code ec;
      json::value object = ParseJson(kv.value, ec);
      if (ec || !object.is_object()) {
        continue;
      }
      for (const auto& [name, q] : UsageOf(*type, object.as_object(), hard)) {
        used[name] += q;
      }
    }
  }
  return used;
}

std::string FormatResources(const ResourceList& values, const ResourceList& only) {
  std::string out;
  for (const auto& [name, q] : values) {
    if (!only.contains(name)) {
      continue;
    }
    out.append(out.empty() ? "" : ",").append(name).append("=").append(q.ToString());
  }
  return out;
}

}  // namespace bulkhead::controlplane
