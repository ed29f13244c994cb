#include "controlplane/apiserver/registry/pod_binding.h"

#include <boost/json.hpp>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {

namespace json = boost::json;

bool SetPodScheduled(json::object& pod, const std::string& status, const std::string& reason,
                     const std::string& message) {
  json::value* conditions = PathValue(pod, ".status.conditions", true);
  if (!conditions->is_array()) {
    *conditions = json::array();
  }
  json::object condition{{"type", "PodScheduled"},
                         {"status", status},
                         {"lastProbeTime", nullptr},
                         {"lastTransitionTime", NowRfc3339()}};
  if (!reason.empty()) {
    condition["reason"] = reason;
    condition["message"] = message;
  }
  for (auto& existing : conditions->as_array()) {
    if (existing.is_object() && StringField(existing.as_object(), "type") == "PodScheduled") {
      json::object& current = existing.as_object();
      if (StringField(current, "status") == status && StringField(current, "reason") == reason &&
          StringField(current, "message") == message) {
        return false;
      }
      if (StringField(current, "status") == status) {
        condition["lastTransitionTime"] = current["lastTransitionTime"];
      }
      current = std::move(condition);
      return true;
    }
  }
  conditions->as_array().emplace_back(std::move(condition));
  return true;
}

StatusOr<KeyValue> BindPod(ObjectRegistry& objects, const ResourceTarget& pod,
                           const std::string& uid, const std::string& node) {
  return objects.GuaranteedUpdate(
      pod,
      [&](const json::object& current) -> StatusOr<json::object> {
        if (!uid.empty() && MetaString(current, "uid") != uid) {
          return ConflictError("", "pods", pod.name,
                               "the UID in the binding does not match the pod's");
        }
        if (!MetaString(current, "deletionTimestamp").empty()) {
          return ConflictError(
              "", "pods", pod.name,
              fmt::format("pod {} is being deleted, cannot be assigned to a host", pod.name));
        }
        const json::value* assigned = PathValue(current, ".spec.nodeName");
        if (assigned != nullptr && assigned->is_string() && !assigned->as_string().empty()) {
          return ConflictError("", "pods", pod.name,
                               fmt::format("pod {} is already assigned to node {}", pod.name,
                                           json::serialize(*assigned)));
        }
        json::object next = current;
        *PathValue(next, ".spec.nodeName", true) = node;
        SetPodScheduled(next, "True");
        return next;
      },
      /*dry_run=*/false);
}

}  // namespace bulkhead::controlplane
