#include "controlplane/apiserver/table.h"

#include <time.h>

#include <boost/json.hpp>

#include "common/strings.h"
#include "controlplane/apiserver/selectors.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;
using Clock = std::chrono::system_clock;

struct Column {
  const char* name;
  const char* type;
  int priority;
  std::function<json::value(const json::object&, Clock::time_point)> cell;
};

const json::value* At(const json::object& object, std::string_view path) {
  const json::value* current = nullptr;
  const json::object* parent = &object;
  for (auto part : SplitNonEmpty(path, ".")) {
    if (parent == nullptr) {
      return nullptr;
    }
    current = parent->if_contains(json::string_view(part.data(), part.size()));
    if (current == nullptr) {
      return nullptr;
    }
    parent = current->is_object() ? &current->as_object() : nullptr;
  }
  return current;
}

int64_t IntAt(const json::object& object, std::string_view path) {
  const json::value* value = At(object, path);
  if (value == nullptr) {
    return 0;
  }
  if (value->is_int64()) {
    return value->as_int64();
  }
  if (value->is_uint64()) {
    return static_cast<int64_t>(value->as_uint64());
  }
  return 0;
}

std::string Text(const json::object& object, std::string_view path, const char* missing = "") {
  const json::value* value = At(object, path);
  if (value == nullptr || value->is_null()) {
    return missing;
  }
  return value->is_string() ? std::string(value->as_string()) : json::serialize(*value);
}

size_t Size(const json::object& object, std::string_view path) {
  const json::value* value = At(object, path);
  if (value == nullptr) {
    return 0;
  }
  if (value->is_object()) {
    return value->as_object().size();
  }
  if (value->is_array()) {
    return value->as_array().size();
  }
  return 0;
}

std::optional<Clock::time_point> ParseTime(const std::string& text) {
  std::tm tm{};
  if (text.size() < 19 || ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) {
    return std::nullopt;
  }
  return Clock::from_time_t(::timegm(&tm));
}

json::value Age(const json::object& object, Clock::time_point now, const char* path) {
  auto created = ParseTime(Text(object, path));
  if (!created.has_value()) {
    return "<unknown>";
  }
  return json::value(
      HumanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - *created)));
}

json::value AgeCell(const json::object& object, Clock::time_point now) {
  return Age(object, now, "metadata.creationTimestamp");
}

json::value NameCell(const json::object& object, Clock::time_point /*now*/) {
  return json::value(Text(object, "metadata.name"));
}

json::value PodReady(const json::object& pod, Clock::time_point /*now*/) {
  size_t total = Size(pod, "spec.containers");
  size_t ready = 0;
  if (const auto* statuses = At(pod, "status.containerStatuses");
      statuses && statuses->is_array()) {
    for (const auto& status : statuses->as_array()) {
      if (status.is_object()) {
        const auto* flag = status.as_object().if_contains("ready");
        ready += flag != nullptr && flag->is_bool() && flag->as_bool() ? 1 : 0;
      }
    }
  }
  return json::value(fmt::format("{}/{}", ready, total));
}

json::value PodRestarts(const json::object& pod, Clock::time_point /*now*/) {
  int64_t restarts = 0;
  if (const auto* statuses = At(pod, "status.containerStatuses");
      statuses && statuses->is_array()) {
    for (const auto& status : statuses->as_array()) {
      if (status.is_object()) {
        restarts += IntAt(status.as_object(), "restartCount");
      }
    }
  }
  return restarts;
}

json::value PodStatus(const json::object& pod, Clock::time_point /*now*/) {
  if (At(pod, "metadata.deletionTimestamp") != nullptr) {
    return "Terminating";
  }
  std::string reason = Text(pod, "status.reason");
  return json::value(reason.empty() ? Text(pod, "status.phase", "Pending") : reason);
}

json::value ServicePorts(const json::object& service, Clock::time_point /*now*/) {
  std::string text;
  if (const auto* ports = At(service, "spec.ports"); ports && ports->is_array()) {
    for (const auto& port : ports->as_array()) {
      if (!port.is_object()) {
        continue;
      }
      std::string item = Text(port.as_object(), "port");
      if (int64_t node_port = IntAt(port.as_object(), "nodePort"); node_port != 0) {
        item += fmt::format(":{}", node_port);
      }
      item += "/" + Text(port.as_object(), "protocol", "TCP");
      text += (text.empty() ? "" : ",") + item;
    }
  }
  return json::value(text.empty() ? "<none>" : text);
}

json::value JoinStrings(const json::object& object, const char* path, const char* field) {
  std::string text;
  if (const auto* list = At(object, path); list && list->is_array()) {
    for (const auto& item : list->as_array()) {
      std::string value = item.is_object()   ? Text(item.as_object(), field)
                          : item.is_string() ? std::string(item.as_string())
                                             : "";
      if (!value.empty()) {
        text += (text.empty() ? "" : ",") + value;
      }
    }
  }
  return json::value(text.empty() ? "<none>" : text);
}

// An int-or-string field as kubectl prints it, "N/A" when unset.
std::function<json::value(const json::object&, Clock::time_point)> IntOrStringCell(const char* p) {
  return [p](const json::object& o, Clock::time_point) {
    const json::value* value = At(o, p);
    if (value == nullptr || value->is_null()) {
      return json::value("N/A");
    }
    return json::value(value->is_string() ? std::string(value->as_string())
                                          : json::serialize(*value));
  };
}

// "cpu: <unknown>/80%" per metric of an autoscaler (nothing measures them here).
json::value HpaTargetsCell(const json::object& o, Clock::time_point) {
  const json::value* metrics = At(o, "spec.metrics");
  std::string text;
  if (metrics != nullptr && metrics->is_array()) {
    for (const auto& metric : metrics->as_array()) {
      if (!metric.is_object() || Text(metric.as_object(), "type") != "Resource") {
        continue;
      }
      const json::object& m = metric.as_object();
      const json::value* utilization = At(m, "resource.target.averageUtilization");
      std::string target = utilization != nullptr ? json::serialize(*utilization) + "%"
                                                  : Text(m, "resource.target.averageValue");
      text += fmt::format("{}{}: <unknown>/{}", text.empty() ? "" : ", ", Text(m, "resource.name"),
                          target);
    }
  }
  // autoscaling/v1 says only its CPU target.
  if (const json::value* cpu = At(o, "spec.targetCPUUtilizationPercentage");
      text.empty() && cpu != nullptr) {
    text = fmt::format("cpu: <unknown>/{}%", json::serialize(*cpu));
  }
  return json::value(text.empty() ? "<none>" : text);
}

std::vector<Column> ColumnsFor(const ResourceType& type) {
  auto path = [](const char* p, const char* missing = "") {
    return [p, missing](const json::object& o, Clock::time_point) {
      return json::value(Text(o, p, missing));
    };
  };
  auto integer = [](const char* p) {
    return [p](const json::object& o, Clock::time_point) { return json::value(IntAt(o, p)); };
  };
  auto count = [](const char* p) {
    return [p](const json::object& o, Clock::time_point) {
      return json::value(static_cast<int64_t>(Size(o, p)));
    };
  };
  std::vector<Column> columns = {{"Name", "string", 0, NameCell}};
  // A custom resource named like a built-in kind gets its own columns.
  const std::string kind = type.custom ? "" : type.kind;
  if (kind == "Pod") {
    columns.push_back({"Ready", "string", 0, PodReady});
    columns.push_back({"Status", "string", 0, PodStatus});
    columns.push_back({"Restarts", "integer", 0, PodRestarts});
    columns.push_back({"Age", "string", 0, AgeCell});
    columns.push_back({"IP", "string", 1, path("status.podIP", "<none>")});
    columns.push_back({"Node", "string", 1, path("spec.nodeName", "<none>")});
  } else if (kind == "Deployment" || kind == "StatefulSet") {
    columns.push_back({"Ready", "string", 0, [](const json::object& o, Clock::time_point) {
                         const json::value* replicas = At(o, "spec.replicas");
                         int64_t want = replicas == nullptr ? 1 : IntAt(o, "spec.replicas");
                         return json::value(
                             fmt::format("{}/{}", IntAt(o, "status.readyReplicas"), want));
                       }});
    if (kind == "Deployment") {
      columns.push_back({"Up-to-date", "integer", 0, integer("status.updatedReplicas")});
      columns.push_back({"Available", "integer", 0, integer("status.availableReplicas")});
    }
    columns.push_back({"Age", "string", 0, AgeCell});
  } else if (kind == "ReplicaSet" || kind == "ReplicationController") {
    columns.push_back({"Desired", "integer", 0, integer("spec.replicas")});
    columns.push_back({"Current", "integer", 0, integer("status.replicas")});
    columns.push_back({"Ready", "integer", 0, integer("status.readyReplicas")});
    columns.push_back({"Age", "string", 0, AgeCell});
  } else if (kind == "DaemonSet") {
    columns.push_back({"Desired", "integer", 0, integer("status.desiredNumberScheduled")});
    columns.push_back({"Current", "integer", 0, integer("status.currentNumberScheduled")});
    columns.push_back({"Ready", "integer", 0, integer("status.numberReady")});
    columns.push_back({"Up-to-date", "integer", 0, integer("status.updatedNumberScheduled")});
    columns.push_back({"Available", "integer", 0, integer("status.numberAvailable")});
    columns.push_back({"Age", "string", 0, AgeCell});
  } else if (kind == "Service") {
    columns.push_back({"Type", "string", 0, path("spec.type", "ClusterIP")});
    columns.push_back({"Cluster-IP", "string", 0, path("spec.clusterIP", "<none>")});
    columns.push_back({"External-IP", "string", 0, [](const json::object& o, Clock::time_point) {
                         return JoinStrings(o, "spec.externalIPs", "");
                       }});
    columns.push_back({"Port(s)", "string", 0, ServicePorts});
    columns.push_back({"Age", "string", 0, AgeCell});
    columns.push_back({"Selector", "string", 1, [](const json::object& o, Clock::time_point) {
                         std::string text;
                         if (const auto* sel = At(o, "spec.selector"); sel && sel->is_object()) {
                           for (const auto& [k, v] : sel->as_object()) {
                             text += fmt::format("{}{}={}", text.empty() ? "" : ",", std::string(k),
                                                 v.is_string() ? std::string(v.as_string()) : "");
                           }
                         }
                         return json::value(text.empty() ? "<none>" : text);
                       }});
  } else if (kind == "ConfigMap") {
    columns.push_back({"Data", "integer", 0, [](const json::object& o, Clock::time_point) {
                         return json::value(
                             static_cast<int64_t>(Size(o, "data") + Size(o, "binaryData")));
                       }});
    columns.push_back({"Age", "string", 0, AgeCell});
  } else if (kind == "Secret") {
    columns.push_back({"Type", "string", 0, path("type", "Opaque")});
    columns.push_back({"Data", "integer", 0, count("data")});
    columns.push_back({"Age", "string", 0, AgeCell});
  } else if (kind == "Namespace") {
    columns.push_back({"Status", "string", 0, path("status.phase", "Active")});
    columns.push_back({"Age", "string", 0, AgeCell});
  } else if (kind == "Node") {
    columns.push_back(
        {"Status", "string", 0, [](const json::object& o, Clock::time_point) {
           std::string status = "Unknown";
           if (const auto* conds = At(o, "status.conditions"); conds && conds->is_array()) {
             for (const auto& c : conds->as_array()) {
               if (c.is_object() && Text(c.as_object(), "type") == "Ready") {
                 status = Text(c.as_object(), "status") == "True" ? "Ready" : "NotReady";
               }
             }
           }
           return json::value(status);
         }});
    columns.push_back({"Age", "string", 0, AgeCell});
    columns.push_back({"Version", "string", 0, path("status.nodeInfo.kubeletVersion")});
  } else if (kind == "Job") {
    columns.push_back({"Completions", "string", 0, [](const json::object& o, Clock::time_point) {
                         const json::value* want = At(o, "spec.completions");
                         return json::value(
                             fmt::format("{}/{}", IntAt(o, "status.succeeded"),
                                         want == nullptr ? 1 : IntAt(o, "spec.completions")));
                       }});
    columns.push_back({"Age", "string", 0, AgeCell});
  } else if (kind == "HorizontalPodAutoscaler") {
    columns.push_back({"Reference", "string", 0, [](const json::object& o, Clock::time_point) {
                         return json::value(fmt::format("{}/{}",
                                                        Text(o, "spec.scaleTargetRef.kind"),
                                                        Text(o, "spec.scaleTargetRef.name")));
                       }});
    columns.push_back({"Targets", "string", 0, HpaTargetsCell});
    columns.push_back({"MinPods", "string", 0, [](const json::object& o, Clock::time_point) {
                         return json::value(At(o, "spec.minReplicas") == nullptr
                                                ? std::string("<unset>")
                                                : std::to_string(IntAt(o, "spec.minReplicas")));
                       }});
    columns.push_back({"MaxPods", "integer", 0, integer("spec.maxReplicas")});
    columns.push_back({"Replicas", "integer", 0, integer("status.currentReplicas")});
    columns.push_back({"Age", "string", 0, AgeCell});
  } else if (kind == "PodDisruptionBudget") {
    columns.push_back({"Min Available", "string", 0, IntOrStringCell("spec.minAvailable")});
    columns.push_back({"Max Unavailable", "string", 0, IntOrStringCell("spec.maxUnavailable")});
    columns.push_back({"Allowed Disruptions", "integer", 0, integer("status.disruptionsAllowed")});
    columns.push_back({"Age", "string", 0, AgeCell});
  } else if (kind == "APIService") {
    columns.push_back({"Service", "string", 0, [](const json::object& o, Clock::time_point) {
                         const std::string name = Text(o, "spec.service.name");
                         return json::value(name.empty()
                                                ? std::string("Local")
                                                : Text(o, "spec.service.namespace") + "/" + name);
                       }});
    columns.push_back({"Available", "string", 0, [](const json::object& o, Clock::time_point) {
                         const json::value* conditions = At(o, "status.conditions");
                         if (conditions != nullptr && conditions->is_array()) {
                           for (const auto& c : conditions->as_array()) {
                             if (c.is_object() && Text(c.as_object(), "type") == "Available") {
                               return json::value(Text(c.as_object(), "status"));
                             }
                           }
                         }
                         return json::value("Unknown");
                       }});
    columns.push_back({"Age", "string", 0, AgeCell});
  } else if (kind == "PriorityClass") {
    columns.push_back({"Value", "integer", 0, integer("value")});
    columns.push_back(
        {"Global-Default", "boolean", 0, [](const json::object& o, Clock::time_point) {
           const json::value* d = At(o, "globalDefault");
           return json::value(d != nullptr && d->is_bool() && d->as_bool());
         }});
    columns.push_back({"Age", "string", 0, AgeCell});
  } else if (kind == "CronJob") {
    columns.push_back({"Schedule", "string", 0, path("spec.schedule")});
    columns.push_back({"Suspend", "boolean", 0, [](const json::object& o, Clock::time_point) {
                         const json::value* s = At(o, "spec.suspend");
                         return json::value(s != nullptr && s->is_bool() && s->as_bool());
                       }});
    columns.push_back({"Active", "integer", 0, count("status.active")});
    columns.push_back(
        {"Last Schedule", "string", 0, [](const json::object& o, Clock::time_point now) {
           return At(o, "status.lastScheduleTime") == nullptr
                      ? json::value("<none>")
                      : Age(o, now, "status.lastScheduleTime");
         }});
    columns.push_back({"Age", "string", 0, AgeCell});
  } else if (kind == "ServiceAccount") {
    columns.push_back({"Secrets", "integer", 0, count("secrets")});
    columns.push_back({"Age", "string", 0, AgeCell});
  } else if (kind == "PersistentVolumeClaim") {
    columns.push_back({"Status", "string", 0, path("status.phase", "Pending")});
    columns.push_back({"Volume", "string", 0, path("spec.volumeName")});
    columns.push_back({"Capacity", "string", 0, path("status.capacity.storage")});
    columns.push_back({"StorageClass", "string", 0, path("spec.storageClassName", "<unset>")});
    columns.push_back({"Age", "string", 0, AgeCell});
  } else if (kind == "Ingress") {
    columns.push_back({"Class", "string", 0, path("spec.ingressClassName", "<none>")});
    columns.push_back({"Hosts", "string", 0, [](const json::object& o, Clock::time_point) {
                         std::string hosts =
                             JoinStrings(o, "spec.rules", "host").as_string().c_str();
                         return json::value(hosts == "<none>" ? "*" : hosts);
                       }});
    columns.push_back({"Age", "string", 0, AgeCell});
  } else if (kind == "Event") {
    columns = {{"Last Seen", "string", 0,
                [](const json::object& o, Clock::time_point now) {
                  return Age(o, now,
                             At(o, "lastTimestamp") != nullptr ? "lastTimestamp"
                                                               : "metadata.creationTimestamp");
                }},
               {"Type", "string", 0, path("type")},
               {"Reason", "string", 0, path("reason")},
               {"Object", "string", 0,
                [](const json::object& o, Clock::time_point) {
                  std::string kind_name = Text(o, "involvedObject.kind");
                  for (auto& c : kind_name) {
                    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                  }
                  return json::value(kind_name + "/" + Text(o, "involvedObject.name"));
                }},
               {"Message", "string", 0, path("message")}};
  } else if (kind == "CustomResourceDefinition") {
    columns.push_back({"Created At", "date", 0, path("metadata.creationTimestamp")});
  } else if (type.custom && !type.printer_columns.empty()) {
    for (const auto& printer : type.printer_columns) {
      std::string json_path = printer.json_path;
      bool date = printer.type == "date";
      columns.push_back({printer.name.c_str(), printer.type.c_str(), printer.priority,
                         [json_path, date](const json::object& o, Clock::time_point now) {
                           if (date) {
                             return At(o, json_path) == nullptr ? json::value("<unknown>")
                                                                : Age(o, now, json_path.c_str());
                           }
                           const json::value* v = At(o, json_path);
                           return v == nullptr ? json::value(nullptr) : *v;
                         }});
    }
    bool has_age = false;
    for (const auto& printer : type.printer_columns) {
      has_age = has_age || printer.name == "Age";
    }
    if (!has_age) {
      columns.push_back({"Age", "date", 0, AgeCell});
    }
  } else {
    columns.push_back({"Age", "string", 0, AgeCell});
  }
  return columns;
}

}  // namespace

std::string HumanDuration(std::chrono::seconds age) {
  int64_t s = age.count();
  if (s < 0) {
    s = 0;
  }
  if (s < 120) {
    return fmt::format("{}s", s);
  }
  int64_t m = s / 60;
  if (m < 10) {
    return s % 60 == 0 ? fmt::format("{}m", m) : fmt::format("{}m{}s", m, s % 60);
  }
  if (m < 180) {
    return fmt::format("{}m", m);
  }
  int64_t h = m / 60;
  if (h < 8) {
    return m % 60 == 0 ? fmt::format("{}h", h) : fmt::format("{}h{}m", h, m % 60);
  }
  if (h < 48) {
    return fmt::format("{}h", h);
  }
  int64_t d = h / 24;
  if (d < 8) {
    return h % 24 == 0 ? fmt::format("{}d", d) : fmt::format("{}d{}h", d, h % 24);
  }
  if (d < 730) {
    return fmt::format("{}d", d);
  }
  return fmt::format("{}y", d / 365);
}

json::object MakeTable(const ResourceType& type, const std::vector<json::object>& objects,
                       IncludeObject include, json::object list_metadata, Clock::time_point now) {
  std::vector<Column> columns = ColumnsFor(type);
  json::array definitions;
  for (const auto& column : columns) {
    std::string name = column.name;
    definitions.push_back(
        json::object{{"name", name},
                     {"type", std::string(column.type) == "date" ? "string" : column.type},
                     {"format", name == "Name" ? "name" : ""},
                     {"description", ""},
                     {"priority", column.priority}});
  }
  json::array rows;
  for (const auto& object : objects) {
    json::array cells;
    for (const auto& column : columns) {
      cells.push_back(column.cell(object, now));
    }
    json::object row{{"cells", std::move(cells)}};
    if (include == IncludeObject::kObject) {
      row["object"] = object;
    } else if (include == IncludeObject::kMetadata) {
      const auto* metadata = object.if_contains("metadata");
      row["object"] = json::object{{"kind", "PartialObjectMetadata"},
                                   {"apiVersion", "meta.k8s.io/v1"},
                                   {"metadata", metadata != nullptr ? *metadata : json::object()}};
    }
    rows.push_back(std::move(row));
  }
  return json::object{{"kind", "Table"},
                      {"apiVersion", "meta.k8s.io/v1"},
                      {"metadata", std::move(list_metadata)},
                      {"columnDefinitions", std::move(definitions)},
                      {"rows", std::move(rows)}};
}

}  // namespace bulkhead::controlplane
