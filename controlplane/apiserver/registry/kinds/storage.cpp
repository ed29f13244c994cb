#include "controlplane/apiserver/registry/kinds/storage.h"

#include <boost/json.hpp>

#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/registry/kinds/field_checks.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

// The volume sources a PersistentVolumeSpec may hold, one at a time.
constexpr const char* kVolumeSources[] = {"awsElasticBlockStore",
                                          "azureDisk",
                                          "azureFile",
                                          "cephfs",
                                          "cinder",
                                          "csi",
                                          "fc",
                                          "flexVolume",
                                          "flocker",
                                          "gcePersistentDisk",
                                          "glusterfs",
                                          "hostPath",
                                          "iscsi",
                                          "local",
                                          "nfs",
                                          "photonPersistentDisk",
                                          "portworxVolume",
                                          "quobyte",
                                          "rbd",
                                          "scaleIO",
                                          "storageos",
                                          "vsphereVolume"};

bool Present(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && !value->is_null();
}

const json::value kNull;

const json::value& Member(const json::object* object, std::string_view key) {
  const json::value* value = object != nullptr ? object->if_contains(key) : nullptr;
  return value != nullptr ? *value : kNull;
}

void SetDefault(json::object& object, std::string_view key, const char* value) {
  if (!Present(object, key)) {
    object[key] = value;
  }
}

void CheckAccessModes(const json::object& spec, const char* required_detail,
                      std::vector<StatusCause>& causes) {
  const json::array* modes = ArrayAt(spec, "accessModes");
  if (modes == nullptr || modes->empty()) {
    causes.push_back({"FieldValueRequired",
                      *required_detail != '\0' ? fmt::format("Required value: {}", required_detail)
                                               : std::string("Required value"),
                      "spec.accessModes"});
    return;
  }
  for (const json::value& mode : *modes) {
    if (!mode.is_string() ||
        (mode.as_string() != "ReadOnlyMany" && mode.as_string() != "ReadWriteMany" &&
         mode.as_string() != "ReadWriteOnce" && mode.as_string() != "ReadWriteOncePod")) {
      causes.push_back(
          Unsupported("spec.accessModes", mode,
                      {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"}));
    }
  }
}

void ValidateVolume(const json::object& spec, std::vector<StatusCause>& causes) {
  const json::object* capacity = ObjectAt(spec, "capacity");
  if (capacity == nullptr || capacity->empty()) {
    causes.push_back({"FieldValueRequired", "Required value", "spec.capacity"});
  } else if (!capacity->contains("storage") || capacity->size() > 1) {
    for (const auto& [name, quantity] : *capacity) {
      if (name != "storage") {
        causes.push_back(Unsupported("spec.capacity", json::value(name), {"storage"}));
      }
    }
    if (!capacity->contains("storage")) {
      causes.push_back({"FieldValueRequired", "Required value", "spec.capacity[storage]"});
    }
  }
  CheckAccessModes(spec, "", causes);
  CheckEnum(spec, "persistentVolumeReclaimPolicy", "spec.persistentVolumeReclaimPolicy",
            {"Delete", "Recycle", "Retain"}, causes);
  CheckEnum(spec, "volumeMode", "spec.volumeMode", {"Block", "Filesystem"}, causes);
  int sources = 0;
  for (const char* source : kVolumeSources) {
    if (!Present(spec, source)) {
      continue;
    }
    if (++sources > 1) {
      causes.push_back({"FieldValueForbidden", "Forbidden: may not specify more than 1 volume type",
                        fmt::format("spec.{}", source)});
    }
    const std::string name(source);
    if ((name == "hostPath" || name == "local") && spec.at(source).is_object() &&
        Text(spec.at(source).as_object(), "path").empty()) {
      causes.push_back(
          {"FieldValueRequired", "Required value", fmt::format("spec.{}.path", source)});
    }
  }
  if (sources == 0) {
    causes.push_back({"FieldValueRequired", "Required value: must specify a volume type", "spec"});
  }
}

void ValidateClaim(const json::object& spec, std::vector<StatusCause>& causes) {
  CheckAccessModes(spec, "at least 1 access mode is required", causes);
  const json::object* resources = ObjectAt(spec, "resources");
  const json::object* requests = resources != nullptr ? ObjectAt(*resources, "requests") : nullptr;
  if (requests == nullptr || !requests->contains("storage")) {
    causes.push_back({"FieldValueRequired", "Required value", "spec.resources[storage]"});
  }
  CheckEnum(spec, "volumeMode", "spec.volumeMode", {"Block", "Filesystem"}, causes);
}

StatusCause Immutable(const std::string& field, const json::value& value) {
  return {"FieldValueInvalid",
          fmt::format("Invalid value: {}: field is immutable", json::serialize(value)), field};
}

}  // namespace

void DefaultStorage(const std::string& kind, json::object& object) {
  if (kind == "StorageClass") {
    SetDefault(object, "reclaimPolicy", "Delete");
    SetDefault(object, "volumeBindingMode", "Immediate");
    return;
  }
  json::value* spec = object.if_contains("spec");
  if (spec == nullptr || !spec->is_object()) {
    return;
  }
  if (kind == "PersistentVolume") {
    // "" is unset here too, as decoding defaults it.
    if (Text(spec->as_object(), "persistentVolumeReclaimPolicy").empty()) {
      spec->as_object()["persistentVolumeReclaimPolicy"] = "Retain";
    }
  }
  SetDefault(spec->as_object(), "volumeMode", "Filesystem");
}

std::vector<StatusCause> ValidateStorage(const std::string& kind, const json::object& object) {
  std::vector<StatusCause> causes;
  if (kind == "StorageClass") {
    if (Text(object, "provisioner").empty()) {
      causes.push_back({"FieldValueRequired", "Required value", "provisioner"});
    }
    CheckEnum(object, "reclaimPolicy", "reclaimPolicy", {"Delete", "Retain"}, causes);
    CheckEnum(object, "volumeBindingMode", "volumeBindingMode",
              {"Immediate", "WaitForFirstConsumer"}, causes);
    return causes;
  }
  const json::object none;
  const json::object* spec = ObjectAt(object, "spec");
  if (kind == "PersistentVolume") {
    ValidateVolume(spec != nullptr ? *spec : none, causes);
  } else {
    ValidateClaim(spec != nullptr ? *spec : none, causes);
  }
  return causes;
}

std::vector<StatusCause> ValidateStorageUpdate(const std::string& kind, const json::object& current,
                                               const json::object& next) {
  std::vector<StatusCause> causes;
  if (kind == "StorageClass") {
    if (Member(&current, "parameters") != Member(&next, "parameters")) {
      causes.push_back(
          {"FieldValueForbidden", "Forbidden: updates to parameters are forbidden.", "parameters"});
    }
    if (Member(&current, "provisioner") != Member(&next, "provisioner")) {
      causes.push_back({"FieldValueForbidden", "Forbidden: updates to provisioner are forbidden.",
                        "provisioner"});
    }
    if (Member(&current, "reclaimPolicy") != Member(&next, "reclaimPolicy")) {
      causes.push_back({"FieldValueForbidden", "Forbidden: updates to reclaimPolicy are forbidden.",
                        "reclaimPolicy"});
    }
    if (Member(&current, "volumeBindingMode") != Member(&next, "volumeBindingMode")) {
      causes.push_back(Immutable("volumeBindingMode", Member(&next, "volumeBindingMode")));
    }
    return causes;
  }
  const json::object* old_spec = ObjectAt(current, "spec");
  const json::object* new_spec = ObjectAt(next, "spec");
  if (kind == "PersistentVolume") {
    for (const char* source : kVolumeSources) {
      if (Member(old_spec, source) != Member(new_spec, source)) {
        causes.push_back({"FieldValueForbidden",
                          "Forbidden: spec.persistentvolumesource is immutable after creation",
                          "spec.persistentvolumesource"});
        break;
      }
    }
    if (Member(old_spec, "volumeMode") != Member(new_spec, "volumeMode")) {
      causes.push_back(Immutable("spec.volumeMode", Member(new_spec, "volumeMode")));
    }
    return causes;
  }
  // A claim: nothing but its attributes class; while unbound, the volume it
  // binds to and a storage class it had none of; once bound, the storage it
  // asks for (an expansion).
  const json::object none;
  const json::object& old_claim = old_spec != nullptr ? *old_spec : none;
  const json::value* phase = PathValue(current, ".status.phase");
  const bool bound = phase != nullptr && phase->is_string() && phase->as_string() == "Bound";
  const auto mutable_removed = [&](const json::object* spec) {
    json::object rest = spec != nullptr ? *spec : json::object();
    if (json::value* resources = rest.if_contains("resources");
        bound && resources != nullptr && resources->is_object()) {
      if (json::value* requests = resources->as_object().if_contains("requests");
          requests != nullptr && requests->is_object()) {
        requests->as_object().erase("storage");
      }
    }
    rest.erase("volumeAttributesClassName");
    if (Text(old_claim, "volumeName").empty()) {
      rest.erase("volumeName");
    }
    if (!old_claim.contains("storageClassName")) {
      rest.erase("storageClassName");
    }
    return rest;
  };
  if (mutable_removed(old_spec) != mutable_removed(new_spec)) {
    causes.push_back({"FieldValueForbidden",
                      "Forbidden: spec is immutable after creation except resources.requests and "
                      "volumeAttributesClassName for bound claims",
                      "spec"});
  }
  return causes;
}

}  // namespace bulkhead::controlplane
