#include "controlplane/apiserver/pod_node.h"

#include <cctype>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/object_meta.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

constexpr uint16_t kDefaultKubeletPort = 10250;

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

}  // namespace

StatusOr<json::object> ReadStoredObject(ObjectRegistry& objects, const ResourceTarget& target) {
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

StatusOr<std::string> ChooseContainer(const json::object& spec, const std::string& pod,
                                      const std::string& container) {
  if (container.empty()) {
    std::vector<std::string> containers = ContainerNames(spec, "containers");
    if (containers.size() == 1) {
      return containers.front();
    }
    if (containers.empty()) {
      return BadRequest(fmt::format("a container name must be specified for pod {}", pod));
    }
    std::string names;
    for (const std::string& name : containers) {
      names += (names.empty() ? "" : " ") + name;
    }
    return BadRequest(fmt::format(
        "a container name must be specified for pod {}, choose one of: [{}]", pod, names));
  }
  for (const char* field : {"containers", "initContainers", "ephemeralContainers"}) {
    for (const std::string& name : ContainerNames(spec, field)) {
      if (name == container) {
        return container;
      }
    }
  }
  return BadRequest(fmt::format("container {} is not valid for pod {}", container, pod));
}

StatusOr<KubeletEndpoint> KubeletOf(ObjectRegistry& objects, const ResourceRegistry& types,
                                    const json::object& spec, const std::string& pod) {
  KubeletEndpoint out;
  out.node_name = StringField(spec, "nodeName");
  if (out.node_name.empty()) {
    return BadRequest(fmt::format("pod {} does not have a host assigned", pod));
  }
  ResourceTarget node_target;
  node_target.type = types.Find("", "v1", "nodes");
  node_target.name = out.node_name;
  if (node_target.type == nullptr) {
    return NotFoundError("", "nodes", out.node_name);
  }
  BH_ASSIGN_OR_RETURN(json::object node, ReadStoredObject(objects, node_target));
  const json::value* status_value = node.if_contains("status");
  const json::object no_status;
  const json::object& status =
      status_value != nullptr && status_value->is_object() ? status_value->as_object() : no_status;
  out.host = NodeAddress(status);
  out.port = KubeletPort(status);
  if (out.host.empty()) {
    return ApiError(500, "InternalError",
                    fmt::format("Internal error occurred: node {} has no address", out.node_name));
  }
  return out;
}

Status NodeProxyFailure(const UpstreamHead& head, const std::string& what) {
  if (head.overloaded) {
    ApiErrorDetails details;
    details.retry_after_seconds = 1;
    return ApiError(429, "TooManyRequests", head.error, details);
  }
  return ApiError(500, "InternalError", fmt::format("{}: {}", what, head.error));
}

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

}  // namespace bulkhead::controlplane
