#include "controlplane/controllers/endpoint_slice_controller.h"

#include <algorithm>
#include <boost/json.hpp>
#include <tuple>
#include <utility>
#include <vector>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/controllers/object_helpers.h"
#include "fmt/format.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;

constexpr size_t kMaxEndpointsPerSlice = 100;

const json::object* SelectorOf(const json::object& service) {
  const json::value* selector = PathValue(service, ".spec.selector");
  return selector != nullptr && selector->is_object() && !selector->as_object().empty()
             ? &selector->as_object()
             : nullptr;
}

// A Service's selector is a plain map: every pair must be among the labels.
bool Selects(const json::object& selector, const json::object& pod) {
  const json::object& labels = LabelsOf(pod);
  return std::all_of(selector.begin(), selector.end(), [&](const json::key_value_pair& pair) {
    const json::value* label = labels.if_contains(pair.key());
    return label != nullptr && *label == pair.value();
  });
}

std::string Text(const json::object& object, std::string_view key, const char* fallback = "") {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : fallback;
}

const json::array& ArrayAt(const json::object& object, std::string_view path) {
  static const json::array kEmpty;
  const json::value* value = PathValue(object, path);
  return value != nullptr && value->is_array() ? value->as_array() : kEmpty;
}

// The container port of `pod` named `name` for `protocol`, 0 when none.
int64_t NamedPort(const json::object& pod, const std::string& name, const std::string& protocol) {
  for (const json::value& container : ArrayAt(pod, ".spec.containers")) {
    if (!container.is_object()) {
      continue;
    }
    for (const json::value& port : ArrayAt(container.as_object(), ".ports")) {
      if (port.is_object() && Text(port.as_object(), "name") == name &&
          Text(port.as_object(), "protocol", "TCP") == protocol) {
        return IntAt(port.as_object(), ".containerPort", 0);
      }
    }
  }
  return 0;
}

// The Service's ports as they reach `pod`: {name, port, protocol} for each
// whose target port the pod has.
json::array PortsFor(const json::object& service, const json::object& pod) {
  json::array ports;
  for (const json::value& value : ArrayAt(service, ".spec.ports")) {
    if (!value.is_object()) {
      continue;
    }
    const json::object& port = value.as_object();
    const std::string protocol = Text(port, "protocol", "TCP");
    const json::value* target = port.if_contains("targetPort");
    int64_t number = 0;
    if (target != nullptr && target->is_string()) {
      number = NamedPort(pod, std::string(target->as_string()), protocol);
    } else if (target != nullptr && target->is_int64()) {
      number = target->as_int64();
    } else {
      number = IntAt(port, ".port", 0);
    }
    if (number <= 0 || number > 65535) {
      continue;
    }
    json::object resolved{{"port", number}, {"protocol", protocol}};
    resolved["name"] = Text(port, "name");
    ports.push_back(std::move(resolved));
  }
  return ports;
}

// The pod's addresses with their family ("IPv4", "IPv6").
std::vector<std::pair<std::string, std::string>> AddressesOf(const json::object& pod) {
  std::vector<std::pair<std::string, std::string>> addresses;
  auto add = [&](const json::value& ip) {
    if (!ip.is_string() || ip.as_string().empty()) {
      return;
    }
    std::string text(ip.as_string());
    auto family = text.find(':') == std::string::npos ? "IPv4" : "IPv6";
    if (std::none_of(addresses.begin(), addresses.end(),
                     [&](const auto& known) { return known.second == text; })) {
      addresses.emplace_back(family, text);
    }
  };
  for (const json::value& entry : ArrayAt(pod, ".status.podIPs")) {
    if (entry.is_object()) {
      if (const json::value* ip = entry.as_object().if_contains("ip")) {
        add(*ip);
      }
    }
  }
  if (const json::value* ip = PathValue(pod, ".status.podIP")) {
    add(*ip);
  }
  return addresses;
}

json::object TargetRef(const json::object& pod) {
  return {{"kind", "Pod"},
          {"namespace", MetaString(pod, "namespace")},
          {"name", MetaString(pod, "name")},
          {"uid", MetaString(pod, "uid")}};
}

// Whether `current` already says what `wanted` says, field by field.
bool Same(const json::object& current, const json::object& wanted,
          std::initializer_list<const char*> fields) {
  return std::all_of(fields.begin(), fields.end(), [&](const char* field) {
    const json::value* a = current.if_contains(field);
    const json::value* b = wanted.if_contains(field);
    return (a == nullptr || a->is_null()) ? (b == nullptr || b->is_null())
                                          : b != nullptr && *a == *b;
  });
}

bool LabelsHold(const json::object& object, const json::object& labels) {
  const json::object& have = LabelsOf(object);
  return std::all_of(labels.begin(), labels.end(), [&](const json::key_value_pair& pair) {
    const json::value* label = have.if_contains(pair.key());
    return label != nullptr && *label == pair.value();
  });
}

bool IgnorableWriteError(const Status& status) {
  int code = ToHttpError(status).code;
  return code == 404;
}

}  // namespace

EndpointSliceController::EndpointSliceController(Client& client, Informer& services, Informer& pods,
                                                 Informer& slices, Informer& endpoints)
    : Controller("endpointslice", 2),
      client_(client),
      services_(services),
      pods_(pods),
      slices_(slices),
      endpoints_(endpoints) {
  services_.AddHandler([this](const InformerEvent& event) { Enqueue(KeyOf(*event.object)); });
  pods_.AddHandler([this](const InformerEvent& event) { OnPod(event); });
  slices_.AddHandler([this](const InformerEvent& event) {
    const json::object& labels = LabelsOf(*event.object);
    const json::value* service = labels.if_contains(kServiceNameLabel);
    const json::value* manager = labels.if_contains(kManagedByLabel);
    if (service != nullptr && service->is_string() && manager != nullptr &&
        *manager == kManagedBy) {
      Enqueue(MetaString(*event.object, "namespace") + "/" + std::string(service->as_string()));
    }
  });
  endpoints_.AddHandler([this](const InformerEvent& event) { Enqueue(KeyOf(*event.object)); });
}

void EndpointSliceController::OnPod(const InformerEvent& event) {
  const json::object& pod = *event.object;
  const std::string ns = MetaString(pod, "namespace");
  const std::string pod_key = KeyOf(pod);
  std::set<std::string> now;
  if (event.type != InformerEvent::Type::kDeleted) {
    for (const ObjectPtr& service : services_.List(ns)) {
      const json::object* selector = SelectorOf(*service);
      if (selector != nullptr && Selects(*selector, pod)) {
        now.insert(KeyOf(*service));
      }
    }
  }
  std::set<std::string> before;
  {
    std::lock_guard lock(mu_);
    auto it = services_of_pod_.find(pod_key);
    if (it != services_of_pod_.end()) {
      before = std::move(it->second);
      services_of_pod_.erase(it);
    }
    if (!now.empty()) {
      services_of_pod_[pod_key] = now;
    }
  }
  for (const std::string& key : now) {
    Enqueue(key);
  }
  for (const std::string& key : before) {
    if (!now.contains(key)) {
      Enqueue(key);
    }
  }
}

Status EndpointSliceController::Reconcile(const std::string& key) {
  const auto split = SplitKey(key);
  const std::string& ns = split.first;
  const std::string& name = split.second;
  ObjectPtr service = services_.Get(ns, name);
  const json::object* selector = service != nullptr ? SelectorOf(*service) : nullptr;
  if (service != nullptr && selector == nullptr) {
    return absl::OkStatus();  // a Service without a selector: its endpoints are the user's
  }

  // ---- what the selected pods make: slices by (family, ports), Endpoints subsets by ports
  std::map<std::string, json::object> wanted;  // slice name -> slice
  json::array subsets;
  if (service != nullptr && selector != nullptr) {
    const bool publish_not_ready =
        PathValue(*service, ".spec.publishNotReadyAddresses") != nullptr &&
        *PathValue(*service, ".spec.publishNotReadyAddresses") == true;
    const json::array& families = ArrayAt(*service, ".spec.ipFamilies");
    const std::string primary = !families.empty() && families[0].is_string()
                                    ? std::string(families[0].as_string())
                                    : "IPv4";
    // (family, serialized ports) -> (ports, endpoints)
    std::map<std::pair<std::string, std::string>, std::pair<json::array, json::array>> groups;
    // serialized ports -> (ports, ready addresses, not-ready addresses)
    std::map<std::string, std::tuple<json::array, json::array, json::array>> legacy;
    for (const ObjectPtr& pod : pods_.List(ns)) {
      if (!Selects(*selector, *pod) || !IsPodActive(*pod)) {
        continue;
      }
      const json::array ports = PortsFor(*service, *pod);
      const std::string ports_key = json::serialize(ports);
      const bool ready = publish_not_ready || IsPodReady(*pod);
      const bool terminating = IsTerminating(*pod);
      const json::value* node_name = PathValue(*pod, ".spec.nodeName");
      for (const auto& [family, ip] : AddressesOf(*pod)) {
        json::object endpoint{{"addresses", json::array{json::value(ip)}},
                              {"conditions", json::object{{"ready", ready && !terminating},
                                                          {"serving", ready},
                                                          {"terminating", terminating}}},
                              {"targetRef", TargetRef(*pod)}};
        if (node_name != nullptr && node_name->is_string() && !node_name->as_string().empty()) {
          endpoint["nodeName"] = *node_name;
        }
        auto& group = groups[{family, ports_key}];
        group.first = ports;
        group.second.push_back(std::move(endpoint));
        if (family != primary || (terminating && !publish_not_ready)) {
          continue;
        }
        json::object address{{"ip", ip}, {"targetRef", TargetRef(*pod)}};
        if (node_name != nullptr && node_name->is_string() && !node_name->as_string().empty()) {
          address["nodeName"] = *node_name;
        }
        auto& subset = legacy[ports_key];
        std::get<0>(subset) = ports;
        (ready ? std::get<1>(subset) : std::get<2>(subset)).push_back(std::move(address));
      }
    }
    if (groups.empty()) {
      // As Kubernetes: a selecting Service has a slice even with no endpoints.
      groups[{primary, "[]"}] = {json::array(), json::array()};
    }
    for (auto& [id, group] : groups) {
      auto& endpoints = group.second;
      std::sort(endpoints.begin(), endpoints.end(), [](const json::value& a, const json::value& b) {
        return json::serialize(a) < json::serialize(b);
      });
      const std::string base =
          fmt::format("{}-{}", name.substr(0, 200), SafeHash(id.first + "/" + id.second));
      for (size_t start = 0, chunk = 0; start < std::max<size_t>(endpoints.size(), 1);
           start += kMaxEndpointsPerSlice, ++chunk) {
        json::array part;
        for (size_t i = start; i < std::min(endpoints.size(), start + kMaxEndpointsPerSlice); ++i) {
          part.push_back(endpoints[i]);
        }
        std::string slice_name = chunk == 0 ? base : fmt::format("{}-{}", base, chunk);
        wanted[slice_name] = json::object{
            {"apiVersion", "discovery.k8s.io/v1"},
            {"kind", "EndpointSlice"},
            {"metadata",
             json::object{
                 {"name", slice_name},
                 {"namespace", ns},
                 {"labels", json::object{{kServiceNameLabel, name}, {kManagedByLabel, kManagedBy}}},
                 {"ownerReferences", json::array{ControllerReference(*service)}}}},
            {"addressType", id.first},
            {"endpoints", std::move(part)},
            {"ports", group.first}};
      }
    }
    for (auto& [ports_key, subset] : legacy) {
      auto by_ip = [](const json::value& a, const json::value& b) {
        return a.as_object().at("ip").as_string() < b.as_object().at("ip").as_string();
      };
      auto& [ports, ready, not_ready] = subset;
      std::sort(ready.begin(), ready.end(), by_ip);
      std::sort(not_ready.begin(), not_ready.end(), by_ip);
      json::object entry;
      if (!ready.empty()) {
        entry["addresses"] = std::move(ready);
      }
      if (!not_ready.empty()) {
        entry["notReadyAddresses"] = std::move(not_ready);
      }
      entry["ports"] = std::move(ports);
      subsets.push_back(std::move(entry));
    }
  }

  // ---- slices: write what changed, delete what is no longer wanted
  Status first_error = absl::OkStatus();
  auto note = [&](const Status& status) {
    if (!status.ok() && !IgnorableWriteError(status) && first_error.ok()) {
      first_error = status;
    }
  };
  for (const ObjectPtr& slice : slices_.List(ns)) {
    const json::object& labels = LabelsOf(*slice);
    const json::value* owner = labels.if_contains(kServiceNameLabel);
    const json::value* manager = labels.if_contains(kManagedByLabel);
    if (owner == nullptr || *owner != name.c_str() || manager == nullptr ||
        *manager != kManagedBy) {
      continue;
    }
    const std::string slice_name = MetaString(*slice, "name");
    auto it = wanted.find(slice_name);
    if (it == wanted.end()) {
      note(client_.Delete(In(kEndpointSlicesRef, ns, slice_name)));
      continue;
    }
    if (!Same(*slice, it->second, {"addressType", "endpoints", "ports"}) ||
        !LabelsHold(*slice, it->second.at("metadata").at("labels").as_object())) {
      const json::object& desired = it->second;
      note(client_
               .Mutate(In(kEndpointSlicesRef, ns, slice_name),
                       [&](json::object& next) {
                         for (const char* field : {"addressType", "endpoints", "ports"}) {
                           next[field] = desired.at(field);
                         }
                         json::value& next_labels = Metadata(next)["labels"];
                         if (!next_labels.is_object()) {
                           next_labels = json::object();
                         }
                         for (const auto& pair : desired.at("metadata").at("labels").as_object()) {
                           next_labels.as_object()[pair.key()] = pair.value();
                         }
                         return absl::OkStatus();
                       })
               .status());
    }
    wanted.erase(it);
  }
  for (auto& [slice_name, slice] : wanted) {
    note(client_.Create(In(kEndpointSlicesRef, ns), std::move(slice)).status());
  }
  note(WriteEndpoints(ns, name, service.get(), std::move(subsets)));
  return first_error;
}

Status EndpointSliceController::WriteEndpoints(const std::string& ns, const std::string& name,
                                               const json::object* service, json::array subsets) {
  ObjectPtr current = endpoints_.Get(ns, name);
  if (service == nullptr) {
    return current == nullptr ? absl::OkStatus() : client_.Delete(In(kEndpointsRef, ns, name));
  }
  json::object wanted{{"apiVersion", "v1"},
                      {"kind", "Endpoints"},
                      {"metadata", json::object{{"name", name}, {"namespace", ns}}}};
  if (!subsets.empty()) {
    wanted["subsets"] = std::move(subsets);
  }
  if (current == nullptr) {
    return client_.Create(In(kEndpointsRef, ns), std::move(wanted)).status();
  }
  if (Same(*current, wanted, {"subsets"})) {
    return absl::OkStatus();
  }
  return client_
      .Mutate(In(kEndpointsRef, ns, name),
              [&](json::object& next) {
                if (wanted.contains("subsets")) {
                  next["subsets"] = wanted.at("subsets");
                } else {
                  next.erase("subsets");
                }
                return absl::OkStatus();
              })
      .status();
}

}  // namespace bulkhead::controlplane::controllers
