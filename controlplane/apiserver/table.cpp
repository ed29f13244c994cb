#include "controlplane/apiserver/table.h"

#include <time.h>

#include <boost/json.hpp>
#include <map>

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

// Whether condition `type` of the object's status is True.
bool ConditionIsTrue(const json::object& object, std::string_view type) {
  const json::value* conditions = At(object, "status.conditions");
  if (conditions == nullptr || !conditions->is_array()) {
    return false;
  }
  for (const json::value& c : conditions->as_array()) {
    if (c.is_object() && Text(c.as_object(), "type") == type &&
        Text(c.as_object(), "status") == "True") {
      return true;
    }
  }
  return false;
}

// A Job's state in the words kubectl shows, the first that holds.
json::value JobStatusCell(const json::object& job, Clock::time_point /*now*/) {
  if (ConditionIsTrue(job, "Complete")) {
    return "Complete";
  }
  if (ConditionIsTrue(job, "Failed")) {
    return "Failed";
  }
  if (At(job, "metadata.deletionTimestamp") != nullptr) {
    return "Terminating";
  }
  for (const char* state : {"FailureTarget", "SuccessCriteriaMet", "Suspended"}) {
    if (ConditionIsTrue(job, state)) {
      return state;
    }
  }
  return "Running";
}

// From startTime to completionTime, or to now while it runs.
json::value JobDurationCell(const json::object& job, Clock::time_point now) {
  auto started = ParseTime(Text(job, "status.startTime"));
  if (!started.has_value()) {
    return "";
  }
  auto completed = ParseTime(Text(job, "status.completionTime"));
  return json::value(HumanDuration(
      std::chrono::duration_cast<std::chrono::seconds>(completed.value_or(now) - *started)));
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

// A pod's STATUS as kubectl prints it while it is not being deleted: the
// phase, or the reason a container waits or ended with, or the init
// container being run.
json::value PodLifeStatus(const json::object& pod, Clock::time_point /*now*/) {
  std::string reason = Text(pod, "status.reason");
  if (reason.empty()) {
    reason = Text(pod, "status.phase", "Pending");
  }
  auto state_reason = [](const json::object& status, std::string& out) {
    if (const auto* waiting = At(status, "state.waiting"); waiting && waiting->is_object()) {
      out = Text(waiting->as_object(), "reason");
      return !out.empty();
    }
    if (const auto* done = At(status, "state.terminated"); done && done->is_object()) {
      out = Text(done->as_object(), "reason");
      if (out.empty()) {
        int64_t signal = IntAt(done->as_object(), "signal");
        out = signal != 0 ? fmt::format("Signal:{}", signal)
                          : fmt::format("ExitCode:{}", IntAt(done->as_object(), "exitCode"));
      }
      return true;
    }
    return false;
  };
  bool initializing = false;
  if (const auto* inits = At(pod, "status.initContainerStatuses"); inits && inits->is_array()) {
    const size_t count = inits->as_array().size();
    for (size_t i = 0; i < count; ++i) {
      const json::value& item = inits->as_array()[i];
      if (!item.is_object()) {
        continue;
      }
      const json::object& status = item.as_object();
      const auto* done = At(status, "state.terminated");
      if (done && done->is_object() && IntAt(done->as_object(), "exitCode") == 0) {
        continue;
      }
      std::string why;
      if (state_reason(status, why) && why != "PodInitializing") {
        reason = "Init:" + why;
      } else {
        reason = fmt::format("Init:{}/{}", i, count);
      }
      initializing = true;
      break;
    }
  }
  if (!initializing) {
    bool running = false;
    if (const auto* statuses = At(pod, "status.containerStatuses");
        statuses && statuses->is_array()) {
      const auto& list = statuses->as_array();
      for (auto it = list.rbegin(); it != list.rend(); ++it) {
        if (!it->is_object()) {
          continue;
        }
        const json::object& status = it->as_object();
        std::string why;
        if (state_reason(status, why)) {
          reason = why;
        } else if (At(status, "state.running") != nullptr) {
          const auto* ready = status.if_contains("ready");
          running = running || (ready != nullptr && ready->is_bool() && ready->as_bool());
        }
      }
    }
    if (reason == "Completed" && running) {
      reason = "Running";
    }
  }
  return json::value(reason);
}

// What kubectl prints as a pod's STATUS: PodLifeStatus, but a pod being
// deleted is Terminating until it has ended (Unknown when its node was
// lost), as kubectl 1.32 prints it.
json::value PodStatus(const json::object& pod, Clock::time_point now) {
  if (At(pod, "metadata.deletionTimestamp") == nullptr) {
    return PodLifeStatus(pod, now);
  }
  if (Text(pod, "status.reason") == "NodeLost") {
    return "Unknown";
  }
  const std::string phase = Text(pod, "status.phase");
  return phase == "Succeeded" || phase == "Failed" ? PodLifeStatus(pod, now)
                                                   : json::value("Terminating");
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

using Cell = std::function<json::value(const json::object&, Clock::time_point)>;

// A string at `p` ("" or `missing` when absent), an integer, a count of
// members or items.
Cell PathCell(const char* p, const char* missing = "") {
  return [p, missing](const json::object& o, Clock::time_point) {
    return json::value(Text(o, p, missing));
  };
}
Cell IntegerCell(const char* p) {
  return [p](const json::object& o, Clock::time_point) { return json::value(IntAt(o, p)); };
}
Cell CountCell(const char* p) {
  return [p](const json::object& o, Clock::time_point) {
    return json::value(static_cast<int64_t>(Size(o, p)));
  };
}

// READY of a Deployment or StatefulSet: ready of wanted replicas.
json::value ReadyOfReplicas(const json::object& o, Clock::time_point /*now*/) {
  const json::value* replicas = At(o, "spec.replicas");
  const int64_t want = replicas == nullptr ? 1 : IntAt(o, "spec.replicas");
  return json::value(fmt::format("{}/{}", IntAt(o, "status.readyReplicas"), want));
}

void PodColumns(std::vector<Column>& columns) {
  columns.push_back({"Ready", "string", 0, PodReady});
  columns.push_back({"Status", "string", 0, PodStatus});
  columns.push_back({"Restarts", "integer", 0, PodRestarts});
  columns.push_back({"Age", "string", 0, AgeCell});
  columns.push_back({"IP", "string", 1, PathCell("status.podIP", "<none>")});
  columns.push_back({"Node", "string", 1, PathCell("spec.nodeName", "<none>")});
}

void DeploymentColumns(std::vector<Column>& columns) {
  columns.push_back({"Ready", "string", 0, ReadyOfReplicas});
  columns.push_back({"Up-to-date", "integer", 0, IntegerCell("status.updatedReplicas")});
  columns.push_back({"Available", "integer", 0, IntegerCell("status.availableReplicas")});
  columns.push_back({"Age", "string", 0, AgeCell});
}

void StatefulSetColumns(std::vector<Column>& columns) {
  columns.push_back({"Ready", "string", 0, ReadyOfReplicas});
  columns.push_back({"Age", "string", 0, AgeCell});
}

void ReplicaSetColumns(std::vector<Column>& columns) {
  columns.push_back({"Desired", "integer", 0, IntegerCell("spec.replicas")});
  columns.push_back({"Current", "integer", 0, IntegerCell("status.replicas")});
  columns.push_back({"Ready", "integer", 0, IntegerCell("status.readyReplicas")});
  columns.push_back({"Age", "string", 0, AgeCell});
}

void DaemonSetColumns(std::vector<Column>& columns) {
  columns.push_back({"Desired", "integer", 0, IntegerCell("status.desiredNumberScheduled")});
  columns.push_back({"Current", "integer", 0, IntegerCell("status.currentNumberScheduled")});
  columns.push_back({"Ready", "integer", 0, IntegerCell("status.numberReady")});
  columns.push_back({"Up-to-date", "integer", 0, IntegerCell("status.updatedNumberScheduled")});
  columns.push_back({"Available", "integer", 0, IntegerCell("status.numberAvailable")});
  columns.push_back({"Age", "string", 0, AgeCell});
}

void ServiceColumns(std::vector<Column>& columns) {
  columns.push_back({"Type", "string", 0, PathCell("spec.type", "ClusterIP")});
  columns.push_back({"Cluster-IP", "string", 0, PathCell("spec.clusterIP", "<none>")});
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
}

void ConfigMapColumns(std::vector<Column>& columns) {
  columns.push_back({"Data", "integer", 0, [](const json::object& o, Clock::time_point) {
                       return json::value(
                           static_cast<int64_t>(Size(o, "data") + Size(o, "binaryData")));
                     }});
  columns.push_back({"Age", "string", 0, AgeCell});
}

void SecretColumns(std::vector<Column>& columns) {
  columns.push_back({"Type", "string", 0, PathCell("type", "Opaque")});
  columns.push_back({"Data", "integer", 0, CountCell("data")});
  columns.push_back({"Age", "string", 0, AgeCell});
}

void NamespaceColumns(std::vector<Column>& columns) {
  columns.push_back({"Status", "string", 0, PathCell("status.phase", "Active")});
  columns.push_back({"Age", "string", 0, AgeCell});
}

void NodeColumns(std::vector<Column>& columns) {
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
  columns.push_back({"Version", "string", 0, PathCell("status.nodeInfo.kubeletVersion")});
}

void JobColumns(std::vector<Column>& columns) {
  columns.push_back({"Status", "string", 0, JobStatusCell});
  columns.push_back(
      {"Completions", "string", 0, [](const json::object& o, Clock::time_point) {
         if (At(o, "spec.completions") != nullptr) {
           return json::value(
               fmt::format("{}/{}", IntAt(o, "status.succeeded"), IntAt(o, "spec.completions")));
         }
         const int64_t parallelism = IntAt(o, "spec.parallelism");
         return json::value(
             parallelism > 1 ? fmt::format("{}/1 of {}", IntAt(o, "status.succeeded"), parallelism)
                             : fmt::format("{}/1", IntAt(o, "status.succeeded")));
       }});
  columns.push_back({"Duration", "string", 0, JobDurationCell});
  columns.push_back({"Age", "string", 0, AgeCell});
}

void HorizontalPodAutoscalerColumns(std::vector<Column>& columns) {
  columns.push_back({"Reference", "string", 0, [](const json::object& o, Clock::time_point) {
                       return json::value(fmt::format("{}/{}", Text(o, "spec.scaleTargetRef.kind"),
                                                      Text(o, "spec.scaleTargetRef.name")));
                     }});
  columns.push_back({"Targets", "string", 0, HpaTargetsCell});
  columns.push_back({"MinPods", "string", 0, [](const json::object& o, Clock::time_point) {
                       return json::value(At(o, "spec.minReplicas") == nullptr
                                              ? std::string("<unset>")
                                              : std::to_string(IntAt(o, "spec.minReplicas")));
                     }});
  columns.push_back({"MaxPods", "integer", 0, IntegerCell("spec.maxReplicas")});
  columns.push_back({"Replicas", "integer", 0, IntegerCell("status.currentReplicas")});
  columns.push_back({"Age", "string", 0, AgeCell});
}

void PodDisruptionBudgetColumns(std::vector<Column>& columns) {
  columns.push_back({"Min Available", "string", 0, IntOrStringCell("spec.minAvailable")});
  columns.push_back({"Max Unavailable", "string", 0, IntOrStringCell("spec.maxUnavailable")});
  columns.push_back(
      {"Allowed Disruptions", "integer", 0, IntegerCell("status.disruptionsAllowed")});
  columns.push_back({"Age", "string", 0, AgeCell});
}

void APIServiceColumns(std::vector<Column>& columns) {
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
}

void PriorityClassColumns(std::vector<Column>& columns) {
  columns.push_back({"Value", "integer", 0, IntegerCell("value")});
  columns.push_back({"Global-Default", "boolean", 0, [](const json::object& o, Clock::time_point) {
                       const json::value* d = At(o, "globalDefault");
                       return json::value(d != nullptr && d->is_bool() && d->as_bool());
                     }});
  columns.push_back({"Age", "string", 0, AgeCell});
}

void CronJobColumns(std::vector<Column>& columns) {
  columns.push_back({"Schedule", "string", 0, PathCell("spec.schedule")});
  columns.push_back({"Suspend", "boolean", 0, [](const json::object& o, Clock::time_point) {
                       const json::value* s = At(o, "spec.suspend");
                       return json::value(s != nullptr && s->is_bool() && s->as_bool());
                     }});
  columns.push_back({"Active", "integer", 0, CountCell("status.active")});
  columns.push_back(
      {"Last Schedule", "string", 0, [](const json::object& o, Clock::time_point now) {
         return At(o, "status.lastScheduleTime") == nullptr
                    ? json::value("<none>")
                    : Age(o, now, "status.lastScheduleTime");
       }});
  columns.push_back({"Age", "string", 0, AgeCell});
}

void ServiceAccountColumns(std::vector<Column>& columns) {
  columns.push_back({"Secrets", "integer", 0, CountCell("secrets")});
  columns.push_back({"Age", "string", 0, AgeCell});
}

void PersistentVolumeClaimColumns(std::vector<Column>& columns) {
  columns.push_back({"Status", "string", 0, PathCell("status.phase", "Pending")});
  columns.push_back({"Volume", "string", 0, PathCell("spec.volumeName")});
  columns.push_back({"Capacity", "string", 0, PathCell("status.capacity.storage")});
  columns.push_back({"StorageClass", "string", 0, PathCell("spec.storageClassName", "<unset>")});
  columns.push_back({"Age", "string", 0, AgeCell});
}

void IngressColumns(std::vector<Column>& columns) {
  columns.push_back({"Class", "string", 0, PathCell("spec.ingressClassName", "<none>")});
  columns.push_back({"Hosts", "string", 0, [](const json::object& o, Clock::time_point) {
                       std::string hosts = JoinStrings(o, "spec.rules", "host").as_string().c_str();
                       return json::value(hosts == "<none>" ? "*" : hosts);
                     }});
  columns.push_back({"Age", "string", 0, AgeCell});
}

void EventColumns(std::vector<Column>& columns) {
  columns = {{"Last Seen", "string", 0,
              [](const json::object& o, Clock::time_point now) {
                return Age(o, now,
                           At(o, "lastTimestamp") != nullptr ? "lastTimestamp"
                                                             : "metadata.creationTimestamp");
              }},
             {"Type", "string", 0, PathCell("type")},
             {"Reason", "string", 0, PathCell("reason")},
             {"Object", "string", 0,
              [](const json::object& o, Clock::time_point) {
                std::string kind_name = Text(o, "involvedObject.kind");
                for (auto& c : kind_name) {
                  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                }
                return json::value(kind_name + "/" + Text(o, "involvedObject.name"));
              }},
             {"Message", "string", 0, PathCell("message")}};
}

void CustomResourceDefinitionColumns(std::vector<Column>& columns) {
  columns.push_back({"Created At", "date", 0, PathCell("metadata.creationTimestamp")});
}

// The columns of each built-in kind beyond Name, by group and kind (a
// custom resource named like a built-in kind gets none of them).
const std::map<std::string, void (*)(std::vector<Column>&)>& KindColumns() {
  static const std::map<std::string, void (*)(std::vector<Column>&)> kColumns = {
      {"/Pod", PodColumns},
      {"apps/Deployment", DeploymentColumns},
      {"apps/StatefulSet", StatefulSetColumns},
      {"apps/ReplicaSet", ReplicaSetColumns},
      {"/ReplicationController", ReplicaSetColumns},
      {"apps/DaemonSet", DaemonSetColumns},
      {"/Service", ServiceColumns},
      {"/ConfigMap", ConfigMapColumns},
      {"/Secret", SecretColumns},
      {"/Namespace", NamespaceColumns},
      {"/Node", NodeColumns},
      {"batch/Job", JobColumns},
      {"autoscaling/HorizontalPodAutoscaler", HorizontalPodAutoscalerColumns},
      {"policy/PodDisruptionBudget", PodDisruptionBudgetColumns},
      {"apiregistration.k8s.io/APIService", APIServiceColumns},
      {"scheduling.k8s.io/PriorityClass", PriorityClassColumns},
      {"batch/CronJob", CronJobColumns},
      {"/ServiceAccount", ServiceAccountColumns},
      {"/PersistentVolumeClaim", PersistentVolumeClaimColumns},
      {"networking.k8s.io/Ingress", IngressColumns},
      {"/Event", EventColumns},
      {"apiextensions.k8s.io/CustomResourceDefinition", CustomResourceDefinitionColumns},
  };
  return kColumns;
}

// A custom resource's additionalPrinterColumns.
void PrinterColumns(const ResourceType& type, std::vector<Column>& columns) {
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
}

std::vector<Column> ColumnsFor(const ResourceType& type) {
  std::vector<Column> columns = {{"Name", "string", 0, NameCell}};
  if (type.custom) {
    if (!type.printer_columns.empty()) {
      PrinterColumns(type, columns);
    } else {
      columns.push_back({"Age", "string", 0, AgeCell});
    }
    return columns;
  }
  auto found = KindColumns().find(type.group + "/" + type.kind);
  if (found == KindColumns().end()) {
    columns.push_back({"Age", "string", 0, AgeCell});
  } else {
    found->second(columns);
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
