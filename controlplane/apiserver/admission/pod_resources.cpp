#include "controlplane/apiserver/admission/pod_resources.h"

#include <boost/json.hpp>

namespace bulkhead::controlplane {

namespace json = boost::json;

ResourceList ReadResourceList(const json::value* list) {
  ResourceList out;
  if (list == nullptr || !list->is_object()) {
    return out;
  }
  for (const auto& entry : list->as_object()) {
    std::optional<Quantity> q;
    if (entry.value().is_string()) {
      q = Quantity::Parse(entry.value().as_string());
    } else if (entry.value().is_int64()) {
      q = Quantity::Parse(std::to_string(entry.value().as_int64()));
    } else if (entry.value().is_double()) {
      q = Quantity::Parse(json::serialize(entry.value()));
    }
    if (q.has_value()) {
      out[std::string(entry.key())] = *q;
    }
  }
  return out;
}

ResourceList ContainerResources(const json::object& container, const char* field) {
  const json::value* resources = container.if_contains("resources");
  if (resources == nullptr || !resources->is_object()) {
    return {};
  }
  return ReadResourceList(resources->as_object().if_contains(field));
}

ResourceList PodResources(const json::object& spec, const char* field) {
  ResourceList sum;
  if (const json::value* list = spec.if_contains("containers");
      list != nullptr && list->is_array()) {
    for (const json::value& c : list->as_array()) {
      if (c.is_object()) {
        for (const auto& [name, q] : ContainerResources(c.as_object(), field)) {
          sum[name] += q;
        }
      }
    }
  }
  if (const json::value* list = spec.if_contains("initContainers");
      list != nullptr && list->is_array()) {
    for (const json::value& c : list->as_array()) {
      if (c.is_object()) {
        for (const auto& [name, q] : ContainerResources(c.as_object(), field)) {
          if (!sum.contains(name) || sum[name] < q) {
            sum[name] = q;
          }
        }
      }
    }
  }
  return sum;
}

}  // namespace bulkhead::controlplane

namespace bulkhead::controlplane {

std::string QosClassOf(const json::object& spec) {
  ResourceList requests;
  ResourceList limits;
  bool guaranteed = true;
  for (const char* list_name : {"initContainers", "containers"}) {
    const json::value* list = spec.if_contains(list_name);
    if (list == nullptr || !list->is_array()) {
      continue;
    }
    for (const json::value& c : list->as_array()) {
      if (!c.is_object()) {
        continue;
      }
      const ResourceList limit = ContainerResources(c.as_object(), "limits");
      ResourceList request = ContainerResources(c.as_object(), "requests");
      int limited = 0;
      for (const char* name : {"cpu", "memory"}) {
        auto l = limit.find(name);
        auto r = request.find(name);
        if (r == request.end() && l != limit.end()) {
          r = request.emplace(name, l->second).first;  // a request defaults to its limit
        }
        if (r != request.end() && r->second.milli != 0) {
          requests[name] += r->second;
        }
        if (l != limit.end() && l->second.milli != 0) {
          limits[name] += l->second;
          ++limited;
        }
      }
      guaranteed = guaranteed && limited == 2;
    }
  }
  if (requests.empty() && limits.empty()) {
    return "BestEffort";
  }
  if (guaranteed) {
    for (const char* name : {"cpu", "memory"}) {
      auto r = requests.find(name);
      auto l = limits.find(name);
      if (r == requests.end() || l == limits.end() || r->second.milli != l->second.milli) {
        guaranteed = false;
      }
    }
  }
  return guaranteed ? "Guaranteed" : "Burstable";
}

}  // namespace bulkhead::controlplane
