// pods/NAME/binding: a scheduler assigns a pod to a node, as kube-scheduler
// does through this subresource. The pod gets spec.nodeName and the
// PodScheduled=True condition in one write; a pod already assigned, or
// being deleted, is a 409; a target that is not a Node a 422. Answers 201
// with a Status of Success, as Kubernetes does.
#include <boost/json.hpp>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/api_server.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/registry/pod_binding.h"
#include "controlplane/apiserver/request_body.h"
#include "controlplane/apiserver/responses.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

Status Invalid(const std::string& name, const std::string& field, const std::string& message) {
  return InvalidError("", "Binding", name, {{"FieldValueInvalid", message, field}});
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
  auto bound = BindPod(objects_, pod, MetaString(*binding, "uid"), node);
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
