// pods/NAME/binding: a scheduler assigns a pod to a node, as kube-scheduler
// does through this subresource. The pod gets spec.nodeName and the
// PodScheduled=True condition in one write; a pod already assigned, or
// being deleted, is a 409; a target that is not a Node a 422. Answers 201
// with a Status of Success, as Kubernetes does.
#include <boost/json.hpp>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/api_server.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/request_body.h"
#include "controlplane/apiserver/responses.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

Status Invalid(const std::string& name, const std::string& field, const std::string& message) {
  return InvalidError("", "Binding", name, {{"FieldValueInvalid", message, field}});
}

void SetScheduledTrue(json::object& pod) {
  json::value* conditions = PathValue(pod, ".status.conditions", true);
  if (!conditions->is_array()) {
    *conditions = json::array();
  }
  json::object condition{{"type", "PodScheduled"},
                         {"status", "True"},
                         {"lastProbeTime", nullptr},
                         {"lastTransitionTime", NowRfc3339()}};
  for (auto& existing : conditions->as_array()) {
    if (existing.is_object() && StringField(existing.as_object(), "type") == "PodScheduled") {
      existing = std::move(condition);
      return;
    }
  }
  conditions->as_array().emplace_back(std::move(condition));
}

}  // namespace

void ApiServer::Bind(const ResourceTarget& target, const HttpRequest& request,
                     ResponseWriter& writer) {
  auto binding = ParseRequestObject(request, "couldn't get version/kind");
  if (!binding.ok()) {
    SendError(writer, binding.status());
    return;
  }
  const std::string named = MetaString(*binding, "name");
  if (!named.empty() && named != target.name) {
    SendError(writer, Invalid(named, "metadata.name",
                              fmt::format("Invalid value: {}: must match the pod's name",
                                          json::serialize(json::value(named)))));
    return;
  }
  const json::value* to = binding->if_contains("target");
  const json::object no_target;
  const json::object& node_ref = to != nullptr && to->is_object() ? to->as_object() : no_target;
  const std::string kind = StringField(node_ref, "kind");
  const std::string node = StringField(node_ref, "name");
  if (!kind.empty() && kind != "Node") {
    SendError(writer, Invalid(target.name, "target.kind",
                              fmt::format("Invalid value: {}: must be empty or 'Node'",
                                          json::serialize(json::value(kind)))));
    return;
  }
  if (node.empty()) {
    SendError(writer, InvalidError("", "Binding", target.name,
                                   {{"FieldValueRequired", "Required value", "target.name"}}));
    return;
  }
  ResourceTarget pod = target;
  pod.subresource.clear();
  const std::string uid = MetaString(*binding, "uid");
  auto bound = objects_.GuaranteedUpdate(
      pod,
      [&](const json::object& current) -> StatusOr<json::object> {
        if (!uid.empty() && MetaString(current, "uid") != uid) {
          return ConflictError("", "pods", target.name,
                               "the UID in the binding does not match the pod's");
        }
        if (!MetaString(current, "deletionTimestamp").empty()) {
          return ConflictError(
              "", "pods", target.name,
              fmt::format("pod {} is being deleted, cannot be assigned to a host", target.name));
        }
        const json::value* assigned = PathValue(current, ".spec.nodeName");
        if (assigned != nullptr && assigned->is_string() && !assigned->as_string().empty()) {
          return ConflictError("", "pods", target.name,
                               fmt::format("pod {} is already assigned to node {}", target.name,
                                           json::serialize(*assigned)));
        }
        json::object next = current;
        *PathValue(next, ".spec.nodeName", true) = node;
        SetScheduledTrue(next);
        return next;
      },
      /*dry_run=*/false);
  if (!bound.ok()) {
    SendError(writer, bound.status());
    return;
  }
  SendJson(writer, 201,
           json::object{{"kind", "Status"},
                        {"apiVersion", "v1"},
                        {"metadata", json::object()},
                        {"status", "Success"},
                        {"code", 201}});
}

}  // namespace bulkhead::controlplane
