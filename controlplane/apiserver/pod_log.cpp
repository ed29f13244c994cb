// pods/NAME/log: a container's log, proxied to the kubelet endpoint of the
// node that runs the pod (its InternalIP and
// status.daemonEndpoints.kubeletEndpoint.Port) as a real API server does:
// GET https://<node>:<port>/containerLogs/NS/NAME/CONTAINER?<options>, with
// the control plane's admin token. The pod must exist (404), name a
// container it has (400; one is required when it has several), and be
// assigned to a node (400 "pod NAME does not have a host assigned"). The
// node's answer is streamed back chunk by chunk (follow=true stays open)
// without holding a handler thread once the head is in (UpstreamProxy);
// an error answer from the node becomes a Status as Kubernetes words it.
#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>

#include "common/logging.h"

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/api_server.h"
#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/pod_node.h"
#include "controlplane/apiserver/responses.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

// The options a kubelet's containerLogs takes, passed through as sent.
constexpr std::array<std::string_view, 7> kLogOptions = {
    "follow", "previous", "timestamps", "tailLines", "limitBytes", "sinceSeconds", "sinceTime"};

// A node's error answer as Kubernetes' generic response checker turns it
// into a Status for pods/log.
Status NodeError(const UpstreamHead& head, const std::string& pod) {
  std::string text = head.body;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  ApiErrorDetails details;
  details.name = pod;
  details.kind = "pods/log";
  if (!text.empty()) {
    details.causes.push_back({"UnexpectedServerResponse", text, ""});
  }
  switch (head.status) {
    case 400:
      return BadRequest(text);
    case 500:
      return ApiError(500, "InternalError", "Internal error occurred: " + text);
    case 404:
      return ApiError(404, "NotFound", "the server could not find the requested resource", details);
    case 401:
      return ApiError(401, "Unauthorized",
                      "the server has asked for the client to provide credentials", details);
    case 403:
      return ApiError(403, "Forbidden", text, details);
    default:
      return ApiError(head.status >= 400 && head.status <= 599 ? head.status : 500, "InternalError",
                      fmt::format("the server responded with the status code {} but did not "
                                  "return more information",
                                  head.status),
                      details);
  }
}

}  // namespace

UpstreamProxy& ApiServer::node_proxy() {
  std::lock_guard lock(node_proxy_mu_);
  if (node_proxy_ == nullptr) {
    node_proxy_ = std::make_unique<UpstreamProxy>();
  }
  return *node_proxy_;
}

void ApiServer::PodLog(const ResourceTarget& target, const HttpRequest& request,
                       ResponseWriter& writer) {
  ResourceTarget pod_target = target;
  pod_target.subresource.clear();
  auto pod = ReadStoredObject(objects_, pod_target);
  if (!pod.ok()) {
    SendError(writer, pod.status());
    return;
  }
  const json::value* spec_value = pod->if_contains("spec");
  const json::object no_spec;
  const json::object& spec =
      spec_value != nullptr && spec_value->is_object() ? spec_value->as_object() : no_spec;
  auto container =
      ChooseContainer(spec, target.name, std::string(request.Query("container").value_or("")));
  if (!container.ok()) {
    SendError(writer, container.status());
    return;
  }
  auto kubelet = KubeletOf(objects_, registry_, spec, target.name);
  if (!kubelet.ok()) {
    SendError(writer, kubelet.status());
    return;
  }
  const std::string& node_name = kubelet->node_name;
  UpstreamRequest upstream;
  upstream.host = kubelet->host;
  upstream.port = kubelet->port;
  upstream.target = fmt::format("/containerLogs/{}/{}/{}", PercentEncode(target.namespace_name),
                                PercentEncode(target.name), PercentEncode(*container));
  char separator = '?';
  for (const auto& [key, value] : request.query) {
    if (std::find(kLogOptions.begin(), kLogOptions.end(), key) == kLogOptions.end()) {
      continue;
    }
    upstream.target += fmt::format("{}{}={}", separator, key, PercentEncode(value));
    separator = '&';
    if (key == "follow") {
      upstream.follow = value == "true" || value == "1" || value == "True";
    }
  }
  upstream.bearer_token = options_.admin_token;
  Logger(Component::kApiserver)
      .debug("pod log peer={} user={} pod={}/{} container={} node={} ({}:{})", request.peer,
             request.user->name, target.namespace_name, target.name, *container, node_name,
             upstream.host, upstream.port);
  UpstreamHead head = node_proxy().Relay(upstream, [&writer](const UpstreamHead& answer) {
    return writer.StartStream(answer.status, answer.content_type.empty()
                                                 ? std::string_view("text/plain")
                                                 : std::string_view(answer.content_type));
  });
  if (head.overloaded || head.status == 0) {
    SendError(writer, NodeProxyFailure(
                          head, fmt::format("Get \"https://{}:{}{}\"", upstream.host, upstream.port,
                                            upstream.target.substr(0, upstream.target.find('?')))));
    return;
  }
  if (head.status < 200 || head.status >= 300) {
    SendError(writer, NodeError(head, target.name));
  }
}

}  // namespace bulkhead::controlplane
