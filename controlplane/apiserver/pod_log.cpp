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
#include "controlplane/apiserver/responses.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

// The options a kubelet's containerLogs takes, passed through as sent.
constexpr std::array<std::string_view, 7> kLogOptions = {
    "follow", "previous", "timestamps", "tailLines", "limitBytes", "sinceSeconds", "sinceTime"};
constexpr uint16_t kDefaultKubeletPort = 10250;

std::string PercentEncode(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out += fmt::format("%{:02X}", byte);
    }
  }
  return out;
}

std::vector<std::string> ContainerNames(const json::object& spec, const char* field) {
  std::vector<std::string> out;
  const json::value* list = spec.if_contains(field);
  if (list == nullptr || !list->is_array()) {
    return out;
  }
  for (const json::value& container : list->as_array()) {
    if (container.is_object()) {
      out.push_back(StringField(container.as_object(), "name"));
    }
  }
  return out;
}

// The node's address for its kubelet: InternalIP, else ExternalIP, else
// Hostname.
std::string NodeAddress(const json::object& status) {
  const json::value* addresses = status.if_contains("addresses");
  if (addresses == nullptr || !addresses->is_array()) {
    return "";
  }
  for (const char* type : {"InternalIP", "ExternalIP", "Hostname"}) {
    for (const json::value& address : addresses->as_array()) {
      if (address.is_object() && StringField(address.as_object(), "type") == type) {
        std::string value = StringField(address.as_object(), "address");
        if (!value.empty()) {
          return value;
        }
      }
    }
  }
  return "";
}

uint16_t KubeletPort(const json::object& status) {
  const json::value* endpoints = status.if_contains("daemonEndpoints");
  if (endpoints == nullptr || !endpoints->is_object()) {
    return kDefaultKubeletPort;
  }
  const json::value* kubelet = endpoints->as_object().if_contains("kubeletEndpoint");
  if (kubelet == nullptr || !kubelet->is_object()) {
    return kDefaultKubeletPort;
  }
  const json::value* port = kubelet->as_object().if_contains("Port");
  if (port == nullptr || !port->is_int64() || port->as_int64() <= 0 || port->as_int64() > 65535) {
    return kDefaultKubeletPort;
  }
  return static_cast<uint16_t>(port->as_int64());
}

StatusOr<json::object> ReadObject(ObjectRegistry& objects, const ResourceTarget& target) {
  BH_ASSIGN_OR_RETURN(auto found, objects.Get(target));
  if (!found.has_value()) {
    return NotFoundError(target.type->group, target.type->resource, target.name);
  }
  boost::system::error_code ec;
  json::value object = ParseJson(found->value, ec);
  if (ec || !object.is_object()) {
    return absl::InternalError(fmt::format("the stored {} is not an object", target.Key()));
  }
  return std::move(object.as_object());
}

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
  auto pod = ReadObject(objects_, pod_target);
  if (!pod.ok()) {
    SendError(writer, pod.status());
    return;
  }
  const json::value* spec_value = pod->if_contains("spec");
  const json::object no_spec;
  const json::object& spec =
      spec_value != nullptr && spec_value->is_object() ? spec_value->as_object() : no_spec;
  std::vector<std::string> containers = ContainerNames(spec, "containers");
  std::string container(request.Query("container").value_or(""));
  if (container.empty()) {
    if (containers.size() == 1) {
      container = containers.front();
    } else if (containers.empty()) {
      SendError(writer, BadRequest(fmt::format("a container name must be specified for pod {}",
                                               target.name)));
      return;
    } else {
      std::string names;
      for (const std::string& name : containers) {
        names += (names.empty() ? "" : " ") + name;
      }
      SendError(writer, BadRequest(fmt::format(
                            "a container name must be specified for pod {}, choose one of: [{}]",
                            target.name, names)));
      return;
    }
  } else {
    bool known = false;
    for (const char* field : {"containers", "initContainers", "ephemeralContainers"}) {
      for (const std::string& name : ContainerNames(spec, field)) {
        known = known || name == container;
      }
    }
    if (!known) {
      SendError(writer, BadRequest(fmt::format("container {} is not valid for pod {}", container,
                                               target.name)));
      return;
    }
  }
  const std::string node_name = StringField(spec, "nodeName");
  if (node_name.empty()) {
    SendError(writer, BadRequest(fmt::format("pod {} does not have a host assigned", target.name)));
    return;
  }
  ResourceTarget node_target;
  node_target.type = registry_.Find("", "v1", "nodes");
  node_target.name = node_name;
  if (node_target.type == nullptr) {
    SendError(writer, NotFoundError("", "nodes", node_name));
    return;
  }
  auto node = ReadObject(objects_, node_target);
  if (!node.ok()) {
    SendError(writer, node.status());
    return;
  }
  const json::value* status_value = node->if_contains("status");
  const json::object no_status;
  const json::object& status =
      status_value != nullptr && status_value->is_object() ? status_value->as_object() : no_status;
  UpstreamRequest upstream;
  upstream.host = NodeAddress(status);
  upstream.port = KubeletPort(status);
  if (upstream.host.empty()) {
    SendError(writer,
              ApiError(500, "InternalError",
                       fmt::format("Internal error occurred: node {} has no address", node_name)));
    return;
  }
  upstream.target = fmt::format("/containerLogs/{}/{}/{}", PercentEncode(target.namespace_name),
                                PercentEncode(target.name), PercentEncode(container));
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
             request.user->name, target.namespace_name, target.name, container, node_name,
             upstream.host, upstream.port);
  UpstreamHead head = node_proxy().Relay(upstream, [&writer](const UpstreamHead& answer) {
    return writer.StartStream(answer.status, answer.content_type.empty()
                                                 ? std::string_view("text/plain")
                                                 : std::string_view(answer.content_type));
  });
  if (head.overloaded) {
    ApiErrorDetails details;
    details.retry_after_seconds = 1;
    SendError(writer, ApiError(429, "TooManyRequests", head.error, details));
    return;
  }
  if (head.status == 0) {
    SendError(
        writer,
        ApiError(500, "InternalError",
                 fmt::format("Get \"https://{}:{}{}\": {}", upstream.host, upstream.port,
                             upstream.target.substr(0, upstream.target.find('?')), head.error)));
    return;
  }
  if (head.status < 200 || head.status >= 300) {
    SendError(writer, NodeError(head, target.name));
  }
}

}  // namespace bulkhead::controlplane
