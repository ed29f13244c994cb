#include "agent/endpoints/file_source.h"

#include <yaml-cpp/yaml.h>

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "common/file.h"
#include "fmt/format.h"

namespace bulkhead::agent {
namespace {

using netpol::Cidr;
using netpol::IpAddress;

// A UID becomes part of a cgroup path: letters, digits and '-' only.
bool IsPodUid(std::string_view uid) {
  return !uid.empty() && uid.size() <= 64 && std::all_of(uid.begin(), uid.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
  });
}

Status FieldError(const std::string& where, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", where, what));
}

StatusOr<std::string> String(const YAML::Node& node, const std::string& where) {
  if (!node || !node.IsScalar()) {
    return FieldError(where, "must be a string");
  }
  return node.as<std::string>();
}

template <typename T, typename Parse>
StatusOr<std::vector<T>> List(const YAML::Node& node, const std::string& where, Parse parse) {
  std::vector<T> out;
  if (!node) {
    return out;
  }
  if (node.IsScalar()) {  // a single value is a list of one
    BH_ASSIGN_OR_RETURN(T value, parse(node, where));
    out.push_back(std::move(value));
    return out;
  }
  if (!node.IsSequence()) {
    return FieldError(where, "must be a list");
  }
  for (size_t i = 0; i < node.size(); ++i) {
    BH_ASSIGN_OR_RETURN(T value, parse(node[i], fmt::format("{}[{}]", where, i)));
    out.push_back(std::move(value));
  }
  return out;
}

StatusOr<IpAddress> Address(const YAML::Node& node, const std::string& where) {
  BH_ASSIGN_OR_RETURN(std::string text, String(node, where));
  auto address = IpAddress::Parse(text);
  if (!address.ok()) {
    return FieldError(where, MessageOf(address.status()));
  }
  return *address;
}

StatusOr<Cidr> Prefix(const YAML::Node& node, const std::string& where) {
  BH_ASSIGN_OR_RETURN(std::string text, String(node, where));
  auto cidr = Cidr::Parse(text);
  if (!cidr.ok()) {
    return FieldError(where, MessageOf(cidr.status()));
  }
  return *cidr;
}

StatusOr<std::uint16_t> Port(const YAML::Node& node, const std::string& where) {
  if (!node) {
    return std::uint16_t{0};
  }
  int port = -1;
  if (!node.IsScalar() || !YAML::convert<int>::decode(node, port) || port < 0 || port > 65535) {
    return FieldError(where, "must be a port number from 0 (any) to 65535");
  }
  return static_cast<std::uint16_t>(port);
}

// A port that must name one: 1 to 65535.
StatusOr<std::uint16_t> NonZeroPort(const YAML::Node& node, const std::string& where) {
  BH_ASSIGN_OR_RETURN(std::uint16_t port, Port(node, where));
  if (port == 0) {
    return FieldError(where, "must be a port number from 1 to 65535");
  }
  return port;
}

StatusOr<netpol::Protocol> ProtocolField(const YAML::Node& node, const std::string& where) {
  if (!node) {
    return netpol::Protocol::kAny;
  }
  BH_ASSIGN_OR_RETURN(std::string text, String(node, where));
  auto protocol = netpol::ParseProtocol(text);
  if (!protocol.ok()) {
    return FieldError(where, MessageOf(protocol.status()));
  }
  return *protocol;
}

Status CheckKeys(const YAML::Node& node, const std::string& where,
                 std::initializer_list<std::string_view> known) {
  if (!node.IsMap()) {
    return FieldError(where, "must be a mapping");
  }
  for (const auto& item : node) {
    auto key = item.first.as<std::string>();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return FieldError(where, fmt::format("unknown field \"{}\"", key));
    }
  }
  return absl::OkStatus();
}

StatusOr<netpol::Tenant> TenantEntry(const YAML::Node& node, const std::string& where) {
  BH_RETURN_IF_ERROR(CheckKeys(node, where, {"name", "mode", "egress_default"}));
  netpol::Tenant tenant;
  BH_ASSIGN_OR_RETURN(tenant.name, String(node["name"], where + ".name"));
  if (node["mode"]) {
    BH_ASSIGN_OR_RETURN(std::string mode, String(node["mode"], where + ".mode"));
    if (mode != "enforce" && mode != "audit") {
      return FieldError(where + ".mode", "must be enforce or audit");
    }
    tenant.mode = mode == "audit" ? netpol::TenantMode::kAudit : netpol::TenantMode::kEnforce;
  }
  if (node["egress_default"]) {
    BH_ASSIGN_OR_RETURN(std::string egress,
                        String(node["egress_default"], where + ".egress_default"));
    if (egress != "allow" && egress != "deny") {
      return FieldError(where + ".egress_default", "must be allow or deny");
    }
    tenant.egress_default =
        egress == "deny" ? netpol::EgressDefault::kDeny : netpol::EgressDefault::kAllow;
  }
  return tenant;
}

// An endpoint, and for a pod on this node its kubelet identity when given.
struct FileEndpoint {
  netpol::Endpoint endpoint;
  std::optional<PodIdentity> identity;
};

StatusOr<FileEndpoint> EndpointEntry(const YAML::Node& node, const std::string& where) {
  BH_RETURN_IF_ERROR(CheckKeys(
      node, where,
      {"tenant", "pod", "addresses", "cgroup", "uid", "qos", "probe_ports", "host_network"}));
  FileEndpoint entry;
  netpol::Endpoint& endpoint = entry.endpoint;
  BH_ASSIGN_OR_RETURN(endpoint.tenant, String(node["tenant"], where + ".tenant"));
  BH_ASSIGN_OR_RETURN(endpoint.pod, String(node["pod"], where + ".pod"));
  BH_ASSIGN_OR_RETURN(endpoint.addresses,
                      List<IpAddress>(node["addresses"], where + ".addresses", Address));
  if (node["cgroup"]) {
    BH_ASSIGN_OR_RETURN(endpoint.cgroup, String(node["cgroup"], where + ".cgroup"));
  }
  BH_ASSIGN_OR_RETURN(
      endpoint.probe_ports,
      List<std::uint16_t>(node["probe_ports"], where + ".probe_ports", NonZeroPort));
  if (node["host_network"]) {
    if (!node["host_network"].IsScalar() ||
        !YAML::convert<bool>::decode(node["host_network"], endpoint.host_network)) {
      return FieldError(where + ".host_network", "must be true or false");
    }
  }
  if (!node["uid"] && !node["qos"]) {
    return entry;
  }
  if (endpoint.cgroup.empty()) {
    return FieldError(where, "uid and qos describe a pod on this node: give its cgroup too");
  }
  PodIdentity identity{endpoint.tenant, endpoint.pod, "", budgets::QosClass::kBurstable};
  BH_ASSIGN_OR_RETURN(identity.uid, String(node["uid"], where + ".uid"));
  if (!IsPodUid(identity.uid)) {
    return FieldError(where + ".uid", "must be the pod's metadata.uid (letters, digits and '-')");
  }
  if (node["qos"]) {
    BH_ASSIGN_OR_RETURN(std::string qos, String(node["qos"], where + ".qos"));
    auto parsed = budgets::ParseQosClass(qos);
    if (!parsed.ok()) {
      return FieldError(where + ".qos", MessageOf(parsed.status()));
    }
    identity.qos = *parsed;
  }
  entry.identity = std::move(identity);
  return entry;
}

StatusOr<netpol::Grant> GrantEntry(const YAML::Node& node, const std::string& where) {
  BH_RETURN_IF_ERROR(CheckKeys(node, where, {"tenant", "destination", "port", "protocol"}));
  netpol::Grant grant;
  BH_ASSIGN_OR_RETURN(grant.tenant, String(node["tenant"], where + ".tenant"));
  BH_ASSIGN_OR_RETURN(grant.destination, Prefix(node["destination"], where + ".destination"));
  BH_ASSIGN_OR_RETURN(grant.port, Port(node["port"], where + ".port"));
  BH_ASSIGN_OR_RETURN(grant.protocol, ProtocolField(node["protocol"], where + ".protocol"));
  return grant;
}

StatusOr<netpol::DeniedDestination> DeniedEntry(const YAML::Node& node, const std::string& where) {
  BH_RETURN_IF_ERROR(CheckKeys(node, where, {"destination", "port", "protocol"}));
  netpol::DeniedDestination denied;
  BH_ASSIGN_OR_RETURN(denied.destination, Prefix(node["destination"], where + ".destination"));
  BH_ASSIGN_OR_RETURN(denied.port, Port(node["port"], where + ".port"));
  BH_ASSIGN_OR_RETURN(denied.protocol, ProtocolField(node["protocol"], where + ".protocol"));
  return denied;
}

}  // namespace

StatusOr<SourceState> ParseEndpointsDocument(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(fmt::format("not valid YAML: {}", e.what()));
  }
  SourceState source;
  netpol::DesiredState& state = source.network;
  if (!root || root.IsNull()) {
    return source;  // an empty file: no tenants
  }
  try {
    BH_RETURN_IF_ERROR(CheckKeys(root, "document",
                                 {"node_address", "node_addresses", "node_ports", "dns",
                                  "pod_networks", "tenants", "endpoints", "grants", "denied"}));
    BH_ASSIGN_OR_RETURN(auto nodes, List<IpAddress>(root["node_address"], "node_address", Address));
    BH_ASSIGN_OR_RETURN(auto more_nodes,
                        List<IpAddress>(root["node_addresses"], "node_addresses", Address));
    nodes.insert(nodes.end(), more_nodes.begin(), more_nodes.end());
    state.node.node_addresses = nodes;
    BH_ASSIGN_OR_RETURN(state.node.dns, List<IpAddress>(root["dns"], "dns", Address));
    BH_ASSIGN_OR_RETURN(state.node.pod_networks,
                        List<Cidr>(root["pod_networks"], "pod_networks", Prefix));
    state.node.denied = netpol::DefaultDeniedDestinations(nodes);
    BH_ASSIGN_OR_RETURN(auto extra,
                        List<netpol::DeniedDestination>(root["denied"], "denied", DeniedEntry));
    state.node.denied.insert(state.node.denied.end(), extra.begin(), extra.end());
    if (root["node_ports"]) {
      BH_ASSIGN_OR_RETURN(auto ports,
                          List<std::uint16_t>(root["node_ports"], "node_ports", NonZeroPort));
      state.node.node_ports.insert(state.node.node_ports.end(), ports.begin(), ports.end());
    }
    BH_ASSIGN_OR_RETURN(state.tenants,
                        List<netpol::Tenant>(root["tenants"], "tenants", TenantEntry));
    BH_ASSIGN_OR_RETURN(auto endpoints,
                        List<FileEndpoint>(root["endpoints"], "endpoints", EndpointEntry));
    std::set<std::string> uids;
    for (size_t i = 0; i < endpoints.size(); ++i) {
      FileEndpoint& entry = endpoints[i];
      if (entry.identity && !uids.insert(entry.identity->uid).second) {
        return FieldError(fmt::format("endpoints[{}].uid", i),
                          fmt::format("\"{}\" is another pod's uid already; each pod has its own",
                                      entry.identity->uid));
      }
      if (entry.identity) {
        source.identities.push_back(std::move(*entry.identity));
      }
      state.endpoints.push_back(std::move(entry.endpoint));
    }
    BH_ASSIGN_OR_RETURN(state.grants, List<netpol::Grant>(root["grants"], "grants", GrantEntry));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(fmt::format("malformed document: {}", e.what()));
  }
  // Tenants named only by endpoints get the defaults.
  std::set<std::string> named;
  for (const auto& tenant : state.tenants) {
    named.insert(tenant.name);
  }
  for (const auto& endpoint : state.endpoints) {
    if (named.insert(endpoint.tenant).second) {
      state.tenants.push_back({endpoint.tenant});
    }
  }
  return source;
}

StatusOr<SourceState> ReadEndpointsFile(const std::string& path) {
  BH_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto state = ParseEndpointsDocument(text);
  if (!state.ok()) {
    return Annotate(state.status(), path);
  }
  return state;
}

FileSource::Stamp FileSource::StampOf(const std::string& path) {
  struct stat st {};
  Stamp stamp;
  if (::stat(path.c_str(), &st) == 0) {
    stamp.mtime_sec = st.st_mtim.tv_sec;
    stamp.mtime_nsec = st.st_mtim.tv_nsec;
    stamp.size = st.st_size;
    stamp.inode = st.st_ino;
  }
  return stamp;
}

StatusOr<std::optional<SourceState>> FileSource::Poll() {
  Stamp now = StampOf(path_);
  if (read_once_ && now == stamp_) {
    return std::optional<SourceState>();
  }
  // The stamp is taken before reading: a write during the read changes it
  // again, and the next poll reads the file once more.
  stamp_ = now;
  read_once_ = true;
  BH_ASSIGN_OR_RETURN(SourceState state, ReadEndpointsFile(path_));
  return std::optional<SourceState>(std::move(state));
}

}  // namespace bulkhead::agent
