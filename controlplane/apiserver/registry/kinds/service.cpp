#include "controlplane/apiserver/registry/kinds/service.h"

#include <arpa/inet.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>

#include "common/logging.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_validation.h"
#include "controlplane/apiserver/registry/kinds/field_checks.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

bool IsIp(const std::string& text, bool* ipv6 = nullptr) {
  unsigned char bytes[16];
  if (text.size() < INET6_ADDRSTRLEN && inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    if (ipv6 != nullptr) {
      *ipv6 = false;
    }
    return true;
  }
  if (text.size() < INET6_ADDRSTRLEN && inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    if (ipv6 != nullptr) {
      *ipv6 = true;
    }
    return true;
  }
  return false;
}

constexpr const char* kPortRangeMessage = "must be between 1 and 65535, inclusive";

void CheckPorts(const json::array& ports, const std::string& type,
                std::vector<StatusCause>& causes) {
  std::set<std::string> names;
  std::set<std::pair<int64_t, std::string>> numbers;
  for (size_t i = 0; i < ports.size(); ++i) {
    const std::string at = fmt::format("spec.ports[{}]", i);
    if (!ports[i].is_object()) {
      causes.push_back({"FieldValueInvalid", "Invalid value: must be an object", at});
      continue;
    }
    const json::object& port = ports[i].as_object();
    const json::value* number = port.if_contains("port");
    if (number == nullptr || number->is_null()) {
      causes.push_back({"FieldValueRequired", "Required value", at + ".port"});
    } else if (!PortNumber(*number)) {
      causes.push_back(
          {"FieldValueInvalid",
           fmt::format("Invalid value: {}: {}", json::serialize(*number), kPortRangeMessage),
           at + ".port"});
    }
    CheckEnum(port, "protocol", at + ".protocol", {"SCTP", "TCP", "UDP"}, causes);
    std::string name = Text(port, "name");
    if (name.empty() && ports.size() > 1) {
      causes.push_back({"FieldValueRequired", "Required value", at + ".name"});
    } else if (!name.empty()) {
      if (std::string problem = Dns1123LabelProblem(name); !problem.empty()) {
        causes.push_back({"FieldValueInvalid",
                          fmt::format("Invalid value: {}: {}", Quoted(name), problem),
                          at + ".name"});
      } else if (!names.insert(name).second) {
        causes.push_back({"FieldValueDuplicate", fmt::format("Duplicate value: {}", Quoted(name)),
                          at + ".name"});
      }
    }
    if (const json::value* target = port.if_contains("targetPort");
        target != nullptr && !target->is_null()) {
      bool ok = target->is_string() ? IsPortName(std::string(target->as_string()))
                                    : (PortNumber(*target).has_value() ||
                                       (target->is_int64() && target->as_int64() == 0));
      if (!ok) {
        causes.push_back(
            {"FieldValueInvalid",
             fmt::format("Invalid value: {}: {}", json::serialize(*target),
                         target->is_string()
                             ? "must contain 1 to 15 lowercase letters, digits or '-', at least "
                               "one letter, and no '-' at either end or twice in a row"
                             : kPortRangeMessage),
             at + ".targetPort"});
      }
    }
    if (const json::value* node_port = port.if_contains("nodePort");
        node_port != nullptr && !node_port->is_null() &&
        !(node_port->is_int64() && node_port->as_int64() == 0)) {
      if (type == "ClusterIP" || type == "ExternalName") {
        causes.push_back({"FieldValueForbidden",
                          fmt::format("Forbidden: may not be used when `type` is '{}'", type),
                          at + ".nodePort"});
      } else if (!PortNumber(*node_port)) {
        causes.push_back(
            {"FieldValueInvalid",
             fmt::format("Invalid value: {}: {}", json::serialize(*node_port), kPortRangeMessage),
             at + ".nodePort"});
      }
    }
    if (number != nullptr && PortNumber(*number) &&
        !numbers.emplace(*PortNumber(*number), Text(port, "protocol", "TCP")).second) {
      causes.push_back({"FieldValueDuplicate",
                        fmt::format("Duplicate value: {}", json::serialize(ports[i])), at});
    }
  }
}

// Who holds a Service's items: its uid (a name may be retried on create).
std::string HolderOf(const json::object& service) { return MetaString(service, "uid"); }

// The cluster IPs a stored Service holds (not "None").
std::vector<std::string> ClusterIps(const json::object& service) {
  std::vector<std::string> ips;
  const json::object* spec = ObjectAt(service, "spec");
  if (spec == nullptr || Text(*spec, "type") == "ExternalName") {
    return ips;
  }
  if (const json::array* list = ArrayAt(*spec, "clusterIPs"); list != nullptr && !list->empty()) {
    for (const auto& ip : *list) {
      if (ip.is_string() && IsIp(std::string(ip.as_string()))) {
        ips.emplace_back(ip.as_string());
      }
    }
  } else if (std::string ip = Text(*spec, "clusterIP"); IsIp(ip)) {
    ips.push_back(ip);
  }
  return ips;
}

// The node ports a stored Service holds, by (port, protocol).
std::map<std::pair<int64_t, std::string>, int64_t> NodePorts(const json::object& service) {
  std::map<std::pair<int64_t, std::string>, int64_t> held;
  const json::object* spec = ObjectAt(service, "spec");
  const json::array* ports = spec != nullptr ? ArrayAt(*spec, "ports") : nullptr;
  for (const auto& port : ports != nullptr ? *ports : json::array()) {
    if (!port.is_object()) {
      continue;
    }
    const json::value* node_port = port.as_object().if_contains("nodePort");
    const json::value* number = port.as_object().if_contains("port");
    if (node_port != nullptr && number != nullptr && PortNumber(*node_port) &&
        PortNumber(*number)) {
      held[{*PortNumber(*number), Text(port.as_object(), "protocol", "TCP")}] =
          *PortNumber(*node_port);
    }
  }
  return held;
}

}  // namespace

ServiceNetwork ServiceNetwork::Default() {
  return {{IpRange::Parse("10.96.0.0/12").value()}, PortRange{}};
}

std::vector<StatusCause> ValidateService(const json::object& service) {
  std::vector<StatusCause> causes;
  const json::object* spec = ObjectAt(service, "spec");
  if (spec == nullptr) {
    causes.push_back({"FieldValueRequired", "Required value", "spec.ports"});
    return causes;
  }
  CheckEnum(*spec, "type", "spec.type", {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"},
            causes);
  const std::string type = Text(*spec, "type", "ClusterIP");
  const std::string cluster_ip = Text(*spec, "clusterIP");
  const json::array* ports = ArrayAt(*spec, "ports");
  if (type == "ExternalName") {
    std::string external = Text(*spec, "externalName");
    if (external.empty()) {
      causes.push_back({"FieldValueRequired", "Required value", "spec.externalName"});
    } else if (std::string problem = Dns1123SubdomainProblem(external); !problem.empty()) {
      causes.push_back({"FieldValueInvalid",
                        fmt::format("Invalid value: {}: {}", Quoted(external), problem),
                        "spec.externalName"});
    }
    if (!cluster_ip.empty()) {
      causes.push_back({"FieldValueForbidden",
                        "Forbidden: may not be set for ExternalName services", "spec.clusterIP"});
    }
  } else if (cluster_ip == "None") {
    if (type == "NodePort" || type == "LoadBalancer") {
      causes.push_back({"FieldValueInvalid",
                        fmt::format("Invalid value: \"None\": may not be set to 'None' for {} "
                                    "services",
                                    type),
                        "spec.clusterIP"});
    }
  } else if (!cluster_ip.empty() && !IsIp(cluster_ip)) {
    causes.push_back({"FieldValueInvalid",
                      fmt::format("Invalid value: {}: must be empty, 'None', or a valid IP address",
                                  Quoted(cluster_ip)),
                      "spec.clusterIP"});
  }
  if (const json::value* value = spec->if_contains("ports");
      value != nullptr && !value->is_null() && !value->is_array()) {
    causes.push_back({"FieldValueInvalid", "Invalid value: must be a list", "spec.ports"});
  } else if ((ports == nullptr || ports->empty()) && type != "ExternalName" &&
             cluster_ip != "None") {
    causes.push_back({"FieldValueRequired", "Required value", "spec.ports"});
  } else if (ports != nullptr) {
    CheckPorts(*ports, type, causes);
  }
  CheckEnum(*spec, "sessionAffinity", "spec.sessionAffinity", {"ClientIP", "None"}, causes);
  CheckEnum(*spec, "ipFamilyPolicy", "spec.ipFamilyPolicy",
            {"PreferDualStack", "RequireDualStack", "SingleStack"}, causes);
  CheckEnum(*spec, "externalTrafficPolicy", "spec.externalTrafficPolicy", {"Cluster", "Local"},
            causes);
  CheckEnum(*spec, "internalTrafficPolicy", "spec.internalTrafficPolicy", {"Cluster", "Local"},
            causes);
  if (const json::value* families = spec->if_contains("ipFamilies");
      families != nullptr && !families->is_null()) {
    const json::array* list = families->is_array() ? &families->as_array() : nullptr;
    if (list == nullptr || list->size() > 2) {
      causes.push_back({"FieldValueInvalid",
                        "Invalid value: must be a list of at most two families",
                        "spec.ipFamilies"});
    } else {
      for (size_t i = 0; i < list->size(); ++i) {
        const json::value& family = (*list)[i];
        if (!family.is_string() || (family.as_string() != "IPv4" && family.as_string() != "IPv6")) {
          causes.push_back(
              Unsupported(fmt::format("spec.ipFamilies[{}]", i), family, {"IPv4", "IPv6"}));
        } else if (i == 1 && family == (*list)[0]) {
          causes.push_back({"FieldValueDuplicate",
                            fmt::format("Duplicate value: {}", json::serialize(family)),
                            "spec.ipFamilies[1]"});
        }
      }
    }
  }
  if (const json::value* selector = spec->if_contains("selector");
      selector != nullptr && !selector->is_null()) {
    bool ok = selector->is_object();
    for (const auto& [key, value] : ok ? selector->as_object() : json::object()) {
      ok = ok && value.is_string();
    }
    if (!ok) {
      causes.push_back(
          {"FieldValueInvalid", "Invalid value: must be a map of label values", "spec.selector"});
    }
  }
  return causes;
}

ServiceAllocations::Reserved& ServiceAllocations::Reserved::operator=(Reserved&& other) noexcept {
  if (this != &other) {
    holder_ = std::move(other.holder_);
    items_ = std::move(other.items_);
    other.items_.clear();
  }
  return *this;
}

ServiceAllocations::Reserved::~Reserved() {
  for (auto& [allocator, item] : items_) {
    if (Status released = allocator->Release(item, holder_); !released.ok()) {
      Logger(Component::kApiserver)
          .warn("could not give back item={} holder={} error={}", item, holder_,
                released.message());
    }
  }
}

ServiceAllocations::ServiceAllocations(Store& store, ServiceNetwork network)
    : network_(std::move(network)),
      node_ports_(store, "servicenodeports", network_.node_ports.size(),
                  [first = network_.node_ports.first](uint64_t i) {
                    return std::to_string(first + static_cast<int64_t>(i));
                  }) {
  for (const IpRange& range : network_.cidrs) {
    address_ranges_.push_back(std::make_unique<RangeAllocator>(
        store, std::string(range.ipv6() ? "serviceips6" : "serviceips"), range.size(),
        [range](uint64_t i) { return range.At(i); }));
  }
}

RangeAllocator* ServiceAllocations::AddressRange(const std::string& address) {
  for (size_t i = 0; i < network_.cidrs.size(); ++i) {
    if (network_.cidrs[i].IndexOf(address).has_value()) {
      return address_ranges_[i].get();
    }
  }
  return nullptr;
}

StatusOr<ServiceAllocations::Reserved> ServiceAllocations::Reserve(const json::object* current,
                                                                   json::object& next,
                                                                   bool dry_run) {
  Reserved reserved;
  reserved.holder_ = HolderOf(next);
  json::value& spec_value = next["spec"];
  if (!spec_value.is_object()) {
    spec_value = json::object();
  }
  json::object& spec = spec_value.as_object();
  const std::string type = Text(spec, "type", "ClusterIP");
  std::vector<StatusCause> causes;
  // Takes `item` from `allocator` for this Service, unless `current` has it.
  auto take = [&](RangeAllocator& allocator, const std::string& item, bool held_before,
                  const std::string& field, const std::string& what) {
    if (held_before) {
      return;
    }
    Status status = absl::OkStatus();
    if (dry_run) {
      // Only whether another holds it.
      auto holder = allocator.HolderOf(item);
      status = !holder.ok()                                      ? holder.status()
               : !holder->empty() && *holder != reserved.holder_ ? absl::AlreadyExistsError("held")
                                                                 : absl::OkStatus();
    } else {
      status = allocator.Allocate(item, reserved.holder_);
    }
    if (status.code() == absl::StatusCode::kAlreadyExists) {
      causes.push_back({"FieldValueInvalid",
                        fmt::format("Invalid value: {}: failed to allocate {}: provided {} is "
                                    "already allocated",
                                    Quoted(item), what, what == "IP" ? "IP" : "port"),
                        field});
    } else if (status.ok() && !dry_run) {
      reserved.items_.emplace_back(&allocator, item);
    } else if (!status.ok()) {
      causes.push_back({"FieldValueInvalid",
                        fmt::format("Invalid value: {}: failed to allocate {}: {}", Quoted(item),
                                    what, status.message()),
                        field});
    }
  };

  // ---- cluster IPs
  const std::vector<std::string> current_ips =
      current != nullptr ? ClusterIps(*current) : std::vector<std::string>{};
  const json::object* current_spec = current != nullptr ? ObjectAt(*current, "spec") : nullptr;
  const std::string current_ip = current_spec != nullptr ? Text(*current_spec, "clusterIP") : "";
  if (type == "ExternalName") {
    spec.erase("clusterIPs");
    spec.erase("ipFamilies");
    spec.erase("ipFamilyPolicy");
  } else {
    std::string ip = Text(spec, "clusterIP");
    if (ip.empty()) {
      if (const json::array* list = ArrayAt(spec, "clusterIPs");
          list != nullptr && !list->empty() && (*list)[0].is_string()) {
        ip = std::string((*list)[0].as_string());
      }
    }
    const bool had = current_spec != nullptr && Text(*current_spec, "type") != "ExternalName" &&
                     !current_ip.empty();
    if (had && ip.empty()) {
      // An update that leaves the address out keeps it.
      ip = current_ip;
      spec["clusterIP"] = current_ip;
      if (const json::value* list = current_spec->if_contains("clusterIPs")) {
        spec["clusterIPs"] = *list;
      }
    } else if (had && ip != current_ip) {
      causes.push_back({"FieldValueInvalid",
                        fmt::format("Invalid value: {}: field is immutable", Quoted(ip)),
                        "spec.clusterIP"});
    }
    std::vector<std::string> families;
    if (const json::array* list = ArrayAt(spec, "ipFamilies")) {
      for (const auto& family : *list) {
        if (family.is_string()) {
          families.emplace_back(family.as_string());
        }
      }
    }
    const std::string policy = Text(spec, "ipFamilyPolicy", "SingleStack");
    const bool dual_configured =
        network_.cidrs.size() > 1 && network_.cidrs[0].ipv6() != network_.cidrs[1].ipv6();
    auto family_of = [](const IpRange& range) { return range.ipv6() ? "IPv6" : "IPv4"; };
    if (families.empty()) {
      families.emplace_back(family_of(network_.cidrs[0]));
    }
    if (policy != "SingleStack" && families.size() == 1 && dual_configured) {
      families.emplace_back(
          family_of(network_.cidrs[families[0] == family_of(network_.cidrs[0]) ? 1 : 0]));
    }
    if (policy == "SingleStack" && families.size() > 1) {
      causes.push_back({"FieldValueInvalid",
                        "Invalid value: when ipFamilyPolicy is SingleStack, only one family may "
                        "be given",
                        "spec.ipFamilies"});
    }
    if (policy == "RequireDualStack" && !dual_configured) {
      causes.push_back({"FieldValueInvalid",
                        "Invalid value: \"RequireDualStack\": this cluster is not configured for "
                        "dual-stack services",
                        "spec.ipFamilyPolicy"});
    }
    json::array ips;
    if (ip == "None") {
      ips.emplace_back("None");
    } else if (!ip.empty()) {
      // The addresses asked for, or kept: each must be in a range and free.
      std::vector<std::string> wanted{ip};
      if (const json::array* list = ArrayAt(spec, "clusterIPs"); list != nullptr) {
        for (size_t i = 1; i < list->size(); ++i) {
          if ((*list)[i].is_string()) {
            wanted.emplace_back((*list)[i].as_string());
          }
        }
      }
      families.clear();
      for (size_t i = 0; i < wanted.size() && i < 2; ++i) {
        const std::string field = i == 0 ? "spec.clusterIP" : "spec.clusterIPs[1]";
        RangeAllocator* allocator = AddressRange(wanted[i]);
        bool ipv6 = false;
        IsIp(wanted[i], &ipv6);
        families.emplace_back(ipv6 ? "IPv6" : "IPv4");
        if (allocator == nullptr) {
          std::string cidrs;
          for (const IpRange& range : network_.cidrs) {
            cidrs += (cidrs.empty() ? "" : ",") + range.cidr();
          }
          causes.push_back({"FieldValueInvalid",
                            fmt::format("Invalid value: {}: failed to allocate IP {}: provided IP "
                                        "is not in the valid range. The range of valid IPs is {}",
                                        Quoted(wanted[i]), wanted[i], cidrs),
                            field});
          continue;
        }
        take(*allocator, wanted[i],
             std::find(current_ips.begin(), current_ips.end(), wanted[i]) != current_ips.end(),
             field, "IP");
        ips.emplace_back(wanted[i]);
      }
    } else if (causes.empty() && !dry_run) {
      for (size_t i = 0; i < families.size() && i < 2; ++i) {
        RangeAllocator* allocator = nullptr;
        for (size_t r = 0; r < network_.cidrs.size(); ++r) {
          if (family_of(network_.cidrs[r]) == families[i]) {
            allocator = address_ranges_[r].get();
            break;
          }
        }
        if (allocator == nullptr) {
          causes.push_back({"FieldValueInvalid",
                            fmt::format("Invalid value: {}: not configured on this cluster",
                                        Quoted(families[i])),
                            fmt::format("spec.ipFamilies[{}]", i)});
          continue;
        }
        auto allocated = allocator->AllocateNext(reserved.holder_);
        if (!allocated.ok()) {
          causes.push_back({"FieldValueInvalid",
                            fmt::format("Invalid value: failed to allocate a service IP: {}",
                                        allocated.status().message()),
                            "spec.clusterIPs"});
          continue;
        }
        reserved.items_.emplace_back(allocator, *allocated);
        ips.emplace_back(*allocated);
      }
    }
    if (!ips.empty()) {
      spec["clusterIP"] = ips[0];
      spec["clusterIPs"] = ips;
      json::array family_list;
      for (const std::string& family : families) {
        family_list.emplace_back(family);
      }
      spec["ipFamilies"] = std::move(family_list);
      spec["ipFamilyPolicy"] = policy;
    }
  }

  // ---- node ports
  const bool wants_node_ports =
      type == "NodePort" ||
      (type == "LoadBalancer" && !(spec.contains("allocateLoadBalancerNodePorts") &&
                                   spec.at("allocateLoadBalancerNodePorts") == false));
  const auto current_node_ports = current != nullptr
                                      ? NodePorts(*current)
                                      : std::map<std::pair<int64_t, std::string>, int64_t>{};
  std::set<int64_t> current_numbers;
  for (const auto& [port, node_port] : current_node_ports) {
    current_numbers.insert(node_port);
  }
  json::array* ports = spec.contains("ports") && spec.at("ports").is_array()
                           ? &spec.at("ports").as_array()
                           : nullptr;
  for (size_t i = 0; wants_node_ports && ports != nullptr && i < ports->size(); ++i) {
    if (!(*ports)[i].is_object()) {
      continue;
    }
    json::object& port = (*ports)[i].as_object();
    const json::value* number = port.if_contains("port");
    if (number == nullptr || !PortNumber(*number)) {
      continue;
    }
    const std::pair<int64_t, std::string> id{*PortNumber(*number), Text(port, "protocol", "TCP")};
    const json::value* asked = port.if_contains("nodePort");
    int64_t node_port = asked != nullptr && PortNumber(*asked) ? *PortNumber(*asked) : 0;
    if (node_port == 0) {
      if (auto kept = current_node_ports.find(id); kept != current_node_ports.end()) {
        port["nodePort"] = kept->second;
      } else if (!dry_run) {
        auto allocated = node_ports_.AllocateNext(reserved.holder_);
        if (!allocated.ok()) {
          causes.push_back({"FieldValueInvalid",
                            fmt::format("Invalid value: failed to allocate a node port: {}",
                                        allocated.status().message()),
                            fmt::format("spec.ports[{}].nodePort", i)});
          continue;
        }
        reserved.items_.emplace_back(&node_ports_, *allocated);
        port["nodePort"] = std::stoll(*allocated);
      }
      continue;
    }
    const std::string field = fmt::format("spec.ports[{}].nodePort", i);
    if (!network_.node_ports.Contains(node_port)) {
      causes.push_back({"FieldValueInvalid",
                        fmt::format("Invalid value: {}: provided port is not in the valid range. "
                                    "The range of valid ports is {}-{}",
                                    node_port, network_.node_ports.first, network_.node_ports.last),
                        field});
      continue;
    }
    take(node_ports_, std::to_string(node_port), current_numbers.contains(node_port), field,
         "port");
  }
  if (!causes.empty()) {
    return InvalidError("", "Service", MetaString(next, "name"), std::move(causes));
  }
  return reserved;
}

void ServiceAllocations::ReleaseDropped(const json::object& current, const json::object* next) {
  const std::string holder = HolderOf(current);
  const std::vector<std::string> kept_ips =
      next != nullptr ? ClusterIps(*next) : std::vector<std::string>{};
  for (const std::string& ip : ClusterIps(current)) {
    RangeAllocator* allocator = AddressRange(ip);
    if (allocator != nullptr && std::find(kept_ips.begin(), kept_ips.end(), ip) == kept_ips.end()) {
      (void)allocator->Release(ip, holder);
    }
  }
  std::set<int64_t> kept_ports;
  if (next != nullptr) {
    for (const auto& [id, node_port] : NodePorts(*next)) {
      kept_ports.insert(node_port);
    }
  }
  for (const auto& [id, node_port] : NodePorts(current)) {
    if (!kept_ports.contains(node_port)) {
      (void)node_ports_.Release(std::to_string(node_port), holder);
    }
  }
}

Status ServiceAllocations::Repair(const std::vector<json::object>& services) {
  // (allocator, item) -> holder, as the stored Services say.
  std::map<std::pair<RangeAllocator*, std::string>, std::string> wanted;
  for (const json::object& service : services) {
    const std::string holder = HolderOf(service);
    for (const std::string& ip : ClusterIps(service)) {
      if (RangeAllocator* allocator = AddressRange(ip)) {
        wanted.emplace(std::pair{allocator, ip}, holder);
      }
    }
    for (const auto& [id, node_port] : NodePorts(service)) {
      if (network_.node_ports.Contains(node_port)) {
        wanted.emplace(std::pair{&node_ports_, std::to_string(node_port)}, holder);
      }
    }
  }
  std::vector<RangeAllocator*> allocators{&node_ports_};
  for (auto& range : address_ranges_) {
    allocators.push_back(range.get());
  }
  for (RangeAllocator* allocator : allocators) {
    BH_ASSIGN_OR_RETURN(auto held, allocator->Held());
    for (const auto& [item, holder] : held) {
      auto it = wanted.find({allocator, item});
      if (it == wanted.end() || it->second != holder) {
        BH_RETURN_IF_ERROR(allocator->Release(item, holder));
      }
    }
  }
  for (const auto& [where, holder] : wanted) {
    Status allocated = where.first->Allocate(where.second, holder);
    if (allocated.code() == absl::StatusCode::kAlreadyExists) {
      Logger(Component::kApiserver)
          .warn("two services hold one item item={} holder={}", where.second, holder);
    } else if (!allocated.ok()) {
      return allocated;
    }
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::controlplane
