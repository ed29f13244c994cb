#include "controlplane/apiserver/admission/limit_range_admission.h"

#include <boost/json.hpp>

#include "controlplane/apiserver/admission/pod_resources.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/registry/object_registry.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

struct Limits {
  std::string type;
  ResourceList defaults;
  ResourceList default_requests;
  ResourceList min;
  ResourceList max;
  ResourceList ratio;
};

std::vector<Limits> LimitsIn(ObjectRegistry& objects, const std::string& ns, Status& status) {
  std::vector<Limits> out;
  auto type = objects.types().Find("", "v1", "limitranges");
  if (type == nullptr) {
    return out;
  }
  auto listed = objects.ListAll(type->KeyPrefix() + ns + "/");
  if (!listed.ok()) {
    status = listed.status();
    return out;
  }
  for (const KeyValue& kv : listed->items) {
    boost::system::error_code ec;
    json::value range = ParseJson(kv.value, ec);
    const json::value* spec =
        !ec && range.is_object() ? range.as_object().if_contains("spec") : nullptr;
    const json::value* items =
        spec != nullptr && spec->is_object() ? spec->as_object().if_contains("limits") : nullptr;
    if (items == nullptr || !items->is_array()) {
      continue;
    }
    for (const json::value& item : items->as_array()) {
      if (!item.is_object()) {
        continue;
      }
      const json::object& o = item.as_object();
      out.push_back({StringField(o, "type"), ReadResourceList(o.if_contains("default")),
                     ReadResourceList(o.if_contains("defaultRequest")),
                     ReadResourceList(o.if_contains("min")), ReadResourceList(o.if_contains("max")),
                     ReadResourceList(o.if_contains("maxLimitRequestRatio"))});
    }
  }
  return out;
}

json::object& ResourcesField(json::object& container, const char* field) {
  json::value& resources = container["resources"];
  if (!resources.is_object()) {
    resources = json::object();
  }
  json::value& list = resources.as_object()[field];
  if (!list.is_object()) {
    list = json::object();
  }
  return list.as_object();
}

// Each bound of `limits` that `requests`/`limits` of one `kind` (Container,
// Pod) break, as Kubernetes words it.
void Check(const Limits& bounds, const std::string& kind, const ResourceList& requests,
           const ResourceList& limits, std::vector<std::string>& errors) {
  for (const auto& [name, min] : bounds.min) {
    auto request = requests.find(name);
    auto limit = limits.find(name);
    if (request == requests.end()) {
      errors.push_back(fmt::format("minimum {} usage per {} is {}.  No request is specified", name,
                                   kind, min.ToString()));
    } else if (request->second < min) {
      errors.push_back(fmt::format("minimum {} usage per {} is {}, but request is {}", name, kind,
                                   min.ToString(), request->second.ToString()));
    }
    if (limit != limits.end() && limit->second < min) {
      errors.push_back(fmt::format("minimum {} usage per {} is {}, but limit is {}", name, kind,
                                   min.ToString(), limit->second.ToString()));
    }
  }
  for (const auto& [name, max] : bounds.max) {
    auto limit = limits.find(name);
    if (limit == limits.end()) {
      errors.push_back(fmt::format("maximum {} usage per {} is {}.  No limit is specified", name,
                                   kind, max.ToString()));
    } else if (limit->second > max) {
      errors.push_back(fmt::format("maximum {} usage per {} is {}, but limit is {}", name, kind,
                                   max.ToString(), limit->second.ToString()));
    }
  }
  for (const auto& [name, ratio] : bounds.ratio) {
    auto request = requests.find(name);
    auto limit = limits.find(name);
    if (limit == limits.end()) {
      continue;
    }
    if (request == requests.end() || request->second.milli == 0) {
      errors.push_back(fmt::format(
          "{} max limit to request ratio per {} is {}, but no request is specified or request is 0",
          name, kind, ratio.ToString()));
      continue;
    }
    const double actual =
        static_cast<double>(limit->second.milli) / static_cast<double>(request->second.milli);
    if (actual * 1000.0 > static_cast<double>(ratio.milli)) {
      errors.push_back(
          fmt::format("{} max limit to request ratio per {} is {}, but provided ratio "
                      "is {:f}",
                      name, kind, ratio.ToString(), actual));
    }
  }
}

std::string Names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out.append(i == 0 ? "" : ", ").append(names[i]);
  }
  return out;
}

}  // namespace

Status LimitRangeAdmission::AdmitCreate(ObjectRegistry& objects, const ResourceTarget& target,
                                        json::object& object, bool /*dry_run*/,
                                        std::vector<std::string>& /*warnings*/) {
  if (!target.type->group.empty() || target.type->resource != "pods" ||
      !target.subresource.empty()) {
    return absl::OkStatus();
  }
  json::value* spec = object.if_contains("spec");
  if (spec == nullptr || !spec->is_object()) {
    return absl::OkStatus();
  }
  Status read = absl::OkStatus();
  const std::vector<Limits> ranges = LimitsIn(objects, target.namespace_name, read);
  BH_RETURN_IF_ERROR(read);
  std::vector<std::string> defaulted;
  std::vector<std::string> errors;
  for (const char* list_name : {"initContainers", "containers"}) {
    json::value* list = spec->as_object().if_contains(list_name);
    if (list == nullptr || !list->is_array()) {
      continue;
    }
    for (json::value& c : list->as_array()) {
      if (!c.is_object()) {
        continue;
      }
      json::object& container = c.as_object();
      const std::string name = StringField(container, "name");
      std::vector<std::string> set_requests;
      std::vector<std::string> set_limits;
      for (const Limits& range : ranges) {
        if (range.type != "Container") {
          continue;
        }
        ResourceList limits = ContainerResources(container, "limits");
        ResourceList requests = ContainerResources(container, "requests");
        for (const auto& [resource, q] : range.defaults) {
          if (!limits.contains(resource)) {
            ResourcesField(container, "limits")[resource] = q.ToString();
            limits[resource] = q;
            set_limits.push_back(resource);
          }
        }
        for (const auto& [resource, q] : range.default_requests) {
          if (!requests.contains(resource)) {
            ResourcesField(container, "requests")[resource] = q.ToString();
            requests[resource] = q;
            set_requests.push_back(resource);
          }
        }
      }
      // A limit with no request: the request is the limit (pod defaulting).
      for (const auto& [resource, q] : ContainerResources(container, "limits")) {
        if (!ContainerResources(container, "requests").contains(resource)) {
          ResourcesField(container, "requests")[resource] = q.ToString();
        }
      }
      for (const Limits& range : ranges) {
        if (range.type == "Container") {
          Check(range, "Container", ContainerResources(container, "requests"),
                ContainerResources(container, "limits"), errors);
        }
      }
      if (!set_requests.empty()) {
        defaulted.push_back(fmt::format(
            "{} request for {} {}", Names(set_requests),
            std::string(list_name) == "containers" ? "container" : "init container", name));
      }
      if (!set_limits.empty()) {
        defaulted.push_back(fmt::format(
            "{} limit for {} {}", Names(set_limits),
            std::string(list_name) == "containers" ? "container" : "init container", name));
      }
    }
  }
  for (const Limits& range : ranges) {
    if (range.type == "Pod") {
      Check(range, "Pod", PodResources(spec->as_object(), "requests"),
            PodResources(spec->as_object(), "limits"), errors);
    }
  }
  if (!errors.empty()) {
    std::string why = errors.size() == 1 ? errors[0] : "[" + Names(errors) + "]";
    return ForbiddenError("", "pods", MetaString(object, "name"), why);
  }
  if (!defaulted.empty()) {
    json::value& annotations = Metadata(object)["annotations"];
    if (!annotations.is_object()) {
      annotations = json::object();
    }
    std::string text = "LimitRanger plugin set: ";
    for (size_t i = 0; i < defaulted.size(); ++i) {
      text.append(i == 0 ? "" : "; ").append(defaulted[i]);
    }
    annotations.as_object()["kubernetes.io/limit-ranger"] = text;
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::controlplane
