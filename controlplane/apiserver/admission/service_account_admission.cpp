#include "controlplane/apiserver/admission/service_account_admission.h"

#include <boost/json.hpp>

#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/registry/object_registry.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

constexpr std::string_view kVolumePrefix = "kube-api-access-";
// Kubernetes' own figure: a little over an hour, so a node refreshes it.
constexpr int64_t kTokenSeconds = 3607;

std::optional<bool> BoolAt(const json::object& object, std::string_view path) {
  const json::value* value = PathValue(object, path);
  if (value == nullptr || !value->is_bool()) {
    return std::nullopt;
  }
  return value->as_bool();
}

json::object ProjectedVolume(const std::string& name) {
  return {
      {"name", name},
      {"projected",
       json::object{
           {"defaultMode", 420},
           {"sources",
            json::array{
                json::object{
                    {"serviceAccountToken",
                     json::object{{"expirationSeconds", kTokenSeconds}, {"path", "token"}}}},
                json::object{{"configMap", json::object{{"name", "kube-root-ca.crt"},
                                                        {"items", json::array{json::object{
                                                                      {"key", "ca.crt"},
                                                                      {"path", "ca.crt"}}}}}}},
                json::object{
                    {"downwardAPI",
                     json::object{{"items", json::array{json::object{
                                                {"path", "namespace"},
                                                {"fieldRef",
                                                 json::object{{"apiVersion", "v1"},
                                                              {"fieldPath",
                                                               "metadata.namespace"}}}}}}}}}}}}}};
}

// Adds the mount to each container of `list` that has nothing at the
// path; whether any got it.
bool Mount(json::value* list, const std::string& volume) {
  if (list == nullptr || !list->is_array()) {
    return false;
  }
  bool mounted = false;
  for (json::value& container : list->as_array()) {
    if (!container.is_object()) {
      continue;
    }
    json::value& mounts = container.as_object()["volumeMounts"];
    if (!mounts.is_array()) {
      mounts = json::array();
    }
    bool taken = false;
    for (const json::value& mount : mounts.as_array()) {
      taken = taken || (mount.is_object() &&
                        StringField(mount.as_object(), "mountPath") == kServiceAccountMountPath);
    }
    if (!taken) {
      mounts.as_array().push_back(json::object{
          {"name", volume}, {"readOnly", true}, {"mountPath", kServiceAccountMountPath}});
      mounted = true;
    }
  }
  return mounted;
}

}  // namespace

Status ServiceAccountAdmission::AdmitCreate(ObjectRegistry& objects, const ResourceTarget& target,
                                            json::object& object, bool /*dry_run*/,
                                            std::vector<std::string>& /*warnings*/) {
  if (target.type->group != "" || target.type->resource != "pods" || !target.subresource.empty()) {
    return absl::OkStatus();
  }
  const json::value* mirror = PathValue(object, ".metadata.annotations");
  if (mirror != nullptr && mirror->is_object() &&
      mirror->as_object().contains("kubernetes.io/config.mirror")) {
    return absl::OkStatus();
  }
  json::value& spec_value = object["spec"];
  if (!spec_value.is_object()) {
    return absl::OkStatus();  // validation refused it already
  }
  json::object& spec = spec_value.as_object();
  std::string account = StringField(spec, "serviceAccountName");
  if (account.empty()) {
    account = "default";
  }
  spec["serviceAccountName"] = account;
  spec["serviceAccount"] = account;  // the deprecated mirror, as served
  std::optional<bool> automount = BoolAt(object, ".spec.automountServiceAccountToken");
  if (!automount.has_value()) {
    ResourceTarget sa{objects.types().Find("", "v1", "serviceaccounts"), target.namespace_name,
                      account, ""};
    if (sa.type != nullptr) {
      BH_ASSIGN_OR_RETURN(auto stored, objects.Get(sa));
      if (stored.has_value()) {
        boost::system::error_code ec;
        json::value parsed = ParseJson(stored->value, ec);
        if (!ec && parsed.is_object()) {
          automount = BoolAt(parsed.as_object(), ".automountServiceAccountToken");
        }
      }
    }
  }
  if (!automount.value_or(true)) {
    return absl::OkStatus();
  }
  std::string volume;
  if (const json::value* volumes = spec.if_contains("volumes");
      volumes != nullptr && volumes->is_array()) {
    for (const json::value& v : volumes->as_array()) {
      const std::string name = v.is_object() ? StringField(v.as_object(), "name") : "";
      if (name.starts_with(kVolumePrefix)) {
        volume = name;
      }
    }
  }
  const bool reuse = !volume.empty();
  if (!reuse) {
    volume = std::string(kVolumePrefix) + RandomNameSuffix(5);
  }
  bool mounted = Mount(spec.if_contains("initContainers"), volume);
  mounted = Mount(spec.if_contains("containers"), volume) || mounted;
  if (mounted && !reuse) {
    json::value& volumes = spec["volumes"];
    if (!volumes.is_array()) {
      volumes = json::array();
    }
    volumes.as_array().push_back(ProjectedVolume(volume));
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::controlplane
