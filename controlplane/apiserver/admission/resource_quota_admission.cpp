#include "controlplane/apiserver/admission/resource_quota_admission.h"

#include <boost/json.hpp>

#include "controlplane/apiserver/admission/quota_usage.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/registry/object_registry.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

json::object ToJson(const ResourceList& list) {
  json::object out;
  for (const auto& [name, q] : list) {
    out[name] = q.ToString();
  }
  return out;
}

// Compute resources a pod must state for a quota that bounds them.
std::vector<std::string> Unstated(const json::object& pod, const ResourceList& hard) {
  std::vector<std::string> out;
  const json::value* spec = pod.if_contains("spec");
  const json::value* containers =
      spec != nullptr && spec->is_object() ? spec->as_object().if_contains("containers") : nullptr;
  if (containers == nullptr || !containers->is_array()) {
    return out;
  }
  for (const auto& [name, q] : hard) {
    const bool limit = name.starts_with("limits.");
    const bool request = name.starts_with("requests.") || name == "cpu" || name == "memory";
    if (!limit && !request) {
      continue;
    }
    const std::string resource =
        limit ? name.substr(7) : (name.starts_with("requests.") ? name.substr(9) : name);
    if (resource != "cpu" && resource != "memory") {
      continue;
    }
    std::vector<std::string> missing;
    for (const json::value& c : containers->as_array()) {
      if (c.is_object() &&
          !ContainerResources(c.as_object(), limit ? "limits" : "requests").contains(resource)) {
        missing.push_back(StringField(c.as_object(), "name"));
      }
    }
    if (!missing.empty()) {
      std::string names;
      for (size_t i = 0; i < missing.size(); ++i) {
        names.append(i == 0 ? "" : ",").append(missing[i]);
      }
      out.push_back(fmt::format("{} for: {}", name, names));
    }
  }
  return out;
}

}  // namespace

Status ResourceQuotaAdmission::AdmitCreate(ObjectRegistry& objects, const ResourceTarget& target,
                                           json::object& object, bool dry_run,
                                           std::vector<std::string>& /*warnings*/) {
  const ResourceType& type = *target.type;
  if (!type.namespaced || target.namespace_name.empty() || !target.subresource.empty() ||
      type.review) {
    return absl::OkStatus();
  }
  ResourceTypePtr quotas = objects.types().Find("", "v1", "resourcequotas");
  if (quotas == nullptr) {
    return absl::OkStatus();
  }
  BH_ASSIGN_OR_RETURN(ListResult listed,
                      objects.ListAll(quotas->KeyPrefix() + target.namespace_name + "/"));
  const std::string name = MetaString(object, "name");
  for (const KeyValue& kv : listed.items) {
    boost::system::error_code ec;
    json::value quota = ParseJson(kv.value, ec);
    if (ec || !quota.is_object()) {
      continue;
    }
    const std::string quota_name = MetaString(quota.as_object(), "name");
    const ResourceList hard = ReadResourceList(PathValue(quota.as_object(), ".spec.hard"));
    const ResourceList wanted = UsageOf(type, object, hard);
    if (wanted.empty()) {
      continue;
    }
    if (type.group.empty() && type.resource == "pods") {
      std::vector<std::string> unstated = Unstated(object, hard);
      if (!unstated.empty()) {
        std::string joined;
        for (size_t i = 0; i < unstated.size(); ++i) {
          joined.append(i == 0 ? "" : "; ").append(unstated[i]);
        }
        return ForbiddenError(type.group, type.resource, name,
                              fmt::format("failed quota: {}: must specify {}", quota_name, joined));
      }
    }
    ResourceTarget at{quotas, target.namespace_name, quota_name, ""};
    auto charged = objects.GuaranteedUpdate(
        at,
        [&](const json::object& current) -> StatusOr<json::object> {
          ResourceList used = ReadResourceList(PathValue(current, ".status.used"));
          const ResourceList counted = ReadResourceList(PathValue(current, ".status.hard"));
          bool known = true;
          for (const auto& [resource, q] : hard) {
            known = known && used.contains(resource) && counted.contains(resource);
          }
          if (!known) {
            // Not counted yet (a new quota): count now.
            BH_ASSIGN_OR_RETURN(used, NamespaceUsage(objects, target.namespace_name, hard));
          }
          ResourceList after = used;
          std::vector<std::string> exceeded;
          for (const auto& [resource, q] : wanted) {
            after[resource] += q;
            if (after[resource] > hard.at(resource)) {
              exceeded.push_back(resource);
            }
          }
          if (!exceeded.empty()) {
            ResourceList names;
            for (const std::string& resource : exceeded) {
              names[resource] = Quantity{};
            }
            return ForbiddenError(
                type.group, type.resource, name,
                fmt::format("exceeded quota: {}, requested: {}, used: {}, limited: {}", quota_name,
                            FormatResources(wanted, names), FormatResources(used, names),
                            FormatResources(hard, names)));
          }
          json::object next = current;
          json::value& status = next["status"];
          if (!status.is_object()) {
            status = json::object();
          }
          status.as_object()["hard"] = ToJson(hard);
          status.as_object()["used"] = ToJson(after);
          return next;
        },
        // A dry run is judged against the quota and charges nothing.
        dry_run);
    if (!charged.ok()) {
      return ToHttpError(charged.status()).code == 404 ? absl::OkStatus() : charged.status();
    }
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::controlplane
