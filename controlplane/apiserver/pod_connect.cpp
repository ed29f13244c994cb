// pods/NAME/exec, pods/NAME/attach and pods/NAME/portforward: the client's
// upgraded connection (SPDY, or WebSocket) tunnelled to the kubelet
// endpoint of the node that runs the pod, as a real API server proxies
// them: /exec/NS/NAME/CONTAINER and /attach/NS/NAME/CONTAINER with the
// query a kubelet takes (command, input, output, error, tty), and
// /portForward/NS/NAME (port). The client's protocol headers go along with
// the control plane's admin token; from the node's answer on, bytes pass
// unchanged both ways (UpstreamProxy::Tunnel), so the protocol is whatever
// the client and the node's runtime agree on.
//
// Checked here first, with Kubernetes' words: the request must ask to
// upgrade (400 "Upgrade request required"); a GET (WebSocket) must also be
// allowed `create` on the subresource, as Kubernetes 1.32 requires; the pod
// must exist, name a container it has, not have completed (exec, attach),
// and be bound to a node.
#include <boost/json.hpp>

#include "common/logging.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/api_server.h"
#include "controlplane/apiserver/authorization.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/pod_node.h"
#include "controlplane/apiserver/responses.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

bool Flag(std::string_view value) { return value == "true" || value == "1" || value == "True"; }

const json::object& ObjectField(const json::object& object, const char* field) {
  static const json::object kNone;
  const json::value* value = object.if_contains(field);
  return value != nullptr && value->is_object() ? value->as_object() : kNone;
}

// The node's path and query for the request.
StatusOr<std::string> NodeTarget(const ResourceTarget& target, const HttpRequest& request,
                                 const json::object& pod) {
  const json::object& spec = ObjectField(pod, "spec");
  const std::string& sub = target.subresource;
  const std::string ns = PercentEncode(target.namespace_name);
  const std::string name = PercentEncode(target.name);
  if (sub == "portforward") {
    std::string path = fmt::format("/portForward/{}/{}", ns, name);
    char separator = '?';
    for (const auto& [key, value] : request.query) {
      if (key == "ports") {
        path += fmt::format("{}port={}", separator, PercentEncode(value));
        separator = '&';
      }
    }
    return path;
  }
  const std::string phase = StringField(ObjectField(pod, "status"), "phase");
  if (phase == "Succeeded" || phase == "Failed") {
    return BadRequest(fmt::format(
        "cannot {} into a container in a completed pod; current phase is {}", sub, phase));
  }
  BH_ASSIGN_OR_RETURN(
      std::string container,
      ChooseContainer(spec, target.name, std::string(request.Query("container").value_or(""))));
  std::string path = fmt::format("/{}/{}/{}/{}", sub, ns, name, PercentEncode(container));
  std::string query;
  bool any_stream = false;
  for (const auto& [key, param] : {std::pair{"stdin", "input"}, std::pair{"stdout", "output"},
                                   std::pair{"stderr", "error"}, std::pair{"tty", "tty"}}) {
    if (Flag(request.Query(key).value_or(""))) {
      query += fmt::format("{}{}=1", query.empty() ? "" : "&", param);
      any_stream = any_stream || std::string_view(key) != "tty";
    }
  }
  if (!any_stream) {
    return BadRequest("you must specify at least one of stdin, stdout, stderr");
  }
  if (sub == "exec") {
    bool command = false;
    for (const auto& [key, value] : request.query) {
      if (key == "command") {
        query += fmt::format("&command={}", PercentEncode(value));
        command = true;
      }
    }
    if (!command) {
      return BadRequest("you must specify at least 1 command");
    }
  }
  return path + "?" + query;
}

}  // namespace

void ApiServer::PodConnect(const ResourceTarget& target, const HttpRequest& request,
                           ResponseWriter& writer) {
  if (request.upgrade_headers.empty()) {
    SendError(writer, BadRequest("Upgrade request required"));
    return;
  }
  if (request.method == "GET") {
    // A WebSocket opens with a GET; it still runs commands, so it needs
    // create as well.
    RequestAttributes create;
    create.verb = "create";
    create.namespace_name = target.namespace_name;
    create.resource = target.type->resource;
    create.subresource = target.subresource;
    create.name = target.name;
    if (!Allowed(request, create, writer)) {
      return;
    }
  }
  ResourceTarget pod_target = target;
  pod_target.subresource.clear();
  auto pod = ReadStoredObject(objects_, pod_target);
  if (!pod.ok()) {
    SendError(writer, pod.status());
    return;
  }
  auto node_target = NodeTarget(target, request, *pod);
  if (!node_target.ok()) {
    SendError(writer, node_target.status());
    return;
  }
  auto kubelet = KubeletOf(objects_, registry_, ObjectField(*pod, "spec"), target.name);
  if (!kubelet.ok()) {
    SendError(writer, kubelet.status());
    return;
  }
  UpstreamRequest upstream;
  upstream.host = kubelet->host;
  upstream.port = kubelet->port;
  upstream.method = request.method;
  upstream.target = *node_target;
  upstream.headers = request.upgrade_headers;
  upstream.bearer_token = options_.admin_token;
  upstream.owner = request.user->name;
  // A node that does not answer soon holds a handler thread meanwhile.
  upstream.head_timeout = std::chrono::seconds(5);
  Logger(Component::kApiserver)
      .info("pod {} peer={} user={} pod={}/{} node={} ({}:{})", target.subresource, request.peer,
            request.user->name, target.namespace_name, target.name, kubelet->node_name,
            upstream.host, upstream.port);
  UpstreamHead head = node_proxy().Tunnel(upstream, [&writer] { return writer.TakeOver(); });
  if (head.overloaded || head.status == 0) {
    SendError(writer, NodeProxyFailure(head, "error dialing backend"));
  }
}

}  // namespace bulkhead::controlplane
