#include "controlplane/apiserver/defaults.h"

#include <boost/json.hpp>
#include <map>

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

json::object* ObjectAt(json::object& object, const char* field) {
  auto* value = object.if_contains(field);
  return value != nullptr && value->is_object() ? &value->as_object() : nullptr;
}

json::array* ArrayAt(json::object& object, const char* field) {
  auto* value = object.if_contains(field);
  return value != nullptr && value->is_array() ? &value->as_array() : nullptr;
}

void Default(json::object& object, const char* field, json::value value) {
  if (!object.contains(field)) {
    object[field] = std::move(value);
  }
}

void DefaultPorts(json::object& owner, const char* field) {
  if (auto* ports = ArrayAt(owner, field)) {
    for (auto& port : *ports) {
      if (port.is_object()) {
        Default(port.as_object(), "protocol", "TCP");
      }
    }
  }
}

void DefaultContainers(json::object& spec, const char* field) {
  auto* containers = ArrayAt(spec, field);
  if (containers == nullptr) {
    return;
  }
  for (auto& item : *containers) {
    if (!item.is_object()) {
      continue;
    }
    auto& container = item.as_object();
    DefaultPorts(container, "ports");
    Default(container, "terminationMessagePath", "/dev/termination-log");
    Default(container, "terminationMessagePolicy", "File");
    if (!container.contains("imagePullPolicy")) {
      const auto* image = container.if_contains("image");
      std::string name =
          image != nullptr && image->is_string() ? std::string(image->as_string()) : "";
      size_t slash = name.rfind('/');
      std::string last = slash == std::string::npos ? name : name.substr(slash + 1);
      bool latest = name.find('@') == std::string::npos &&
                    (last.find(':') == std::string::npos || last.ends_with(":latest"));
      container["imagePullPolicy"] = latest ? "Always" : "IfNotPresent";
    }
  }
}

void DefaultPodSpec(json::object& spec) {
  DefaultContainers(spec, "containers");
  DefaultContainers(spec, "initContainers");
  Default(spec, "restartPolicy", "Always");
  Default(spec, "terminationGracePeriodSeconds", 30);
  Default(spec, "dnsPolicy", "ClusterFirst");
  Default(spec, "schedulerName", "default-scheduler");
  Default(spec, "securityContext", json::object());
}

void DefaultTemplate(json::object& spec) {
  if (auto* tmpl = ObjectAt(spec, "template")) {
    if (auto* pod = ObjectAt(*tmpl, "spec")) {
      DefaultPodSpec(*pod);
    }
  }
}

// A pod's containers request what they limit where they request nothing
// of that resource (Kubernetes' SetDefaults_Pod; templates keep theirs).
void DefaultRequestsFromLimits(json::object& spec, const char* field) {
  auto* containers = ArrayAt(spec, field);
  if (containers == nullptr) {
    return;
  }
  for (auto& item : *containers) {
    auto* resources = item.is_object() ? ObjectAt(item.as_object(), "resources") : nullptr;
    const auto* limits = resources != nullptr ? ObjectAt(*resources, "limits") : nullptr;
    if (limits == nullptr || limits->empty()) {
      continue;
    }
    // A copy: adding "requests" may move the members `limits` points into.
    const json::object limited = *limits;
    json::value& requests = (*resources)["requests"];
    if (requests.is_null()) {
      requests = json::object();
    }
    if (!requests.is_object()) {
      continue;  // validation refuses it
    }
    for (const auto& [name, quantity] : limited) {
      if (!requests.as_object().contains(name)) {
        requests.as_object()[name] = quantity;
      }
    }
  }
}

// Each kind's defaults, on the object (`spec` is its spec, when it has one
// that is an object).
void DefaultPod(json::object& /*object*/, json::object& spec) {
  DefaultPodSpec(spec);
  DefaultRequestsFromLimits(spec, "containers");
  DefaultRequestsFromLimits(spec, "initContainers");
}

void DefaultDeployment(json::object& /*object*/, json::object& spec) {
  DefaultTemplate(spec);
  Default(spec, "revisionHistoryLimit", 10);
  Default(spec, "progressDeadlineSeconds", 600);
  if (!spec.contains("strategy") ||
      (spec.at("strategy").is_object() && spec.at("strategy").as_object().empty())) {
    spec["strategy"] = json::object{
        {"type", "RollingUpdate"},
        {"rollingUpdate", json::object{{"maxSurge", "25%"}, {"maxUnavailable", "25%"}}}};
  }
}

void DefaultReplicated(json::object& /*object*/, json::object& spec) { DefaultTemplate(spec); }

void DefaultStatefulSet(json::object& /*object*/, json::object& spec) {
  DefaultTemplate(spec);
  Default(spec, "podManagementPolicy", "OrderedReady");
  Default(spec, "revisionHistoryLimit", 10);
  Default(
      spec, "updateStrategy",
      json::object{{"type", "RollingUpdate"}, {"rollingUpdate", json::object{{"partition", 0}}}});
  Default(spec, "persistentVolumeClaimRetentionPolicy",
          json::object{{"whenDeleted", "Retain"}, {"whenScaled", "Retain"}});
}

void DefaultDaemonSet(json::object& /*object*/, json::object& spec) {
  DefaultTemplate(spec);
  Default(spec, "revisionHistoryLimit", 10);
  Default(spec, "updateStrategy",
          json::object{{"type", "RollingUpdate"},
                       {"rollingUpdate", json::object{{"maxUnavailable", 1}, {"maxSurge", 0}}}});
}

void DefaultJob(json::object& /*object*/, json::object& spec) {
  DefaultTemplate(spec);
  // Neither set: one pod to run once. Parallelism alone: a work queue,
  // with no completions.
  const auto unset = [&](const char* field) {
    return !spec.contains(field) || spec.at(field).is_null();
  };
  if (unset("completions") && unset("parallelism")) {
    spec["completions"] = 1;
  }
  if (unset("parallelism")) {
    spec["parallelism"] = 1;
  }
  Default(spec, "backoffLimit", 6);
  Default(spec, "completionMode", "NonIndexed");
  Default(spec, "suspend", false);
  Default(spec, "podReplacementPolicy",
          spec.contains("podFailurePolicy") ? "Failed" : "TerminatingOrFailed");
}

void DefaultCronJob(json::object& /*object*/, json::object& spec) {
  Default(spec, "concurrencyPolicy", "Allow");
  Default(spec, "suspend", false);
  Default(spec, "successfulJobsHistoryLimit", 3);
  Default(spec, "failedJobsHistoryLimit", 1);
  if (auto* job = ObjectAt(spec, "jobTemplate")) {
    if (auto* job_spec = ObjectAt(*job, "spec")) {
      DefaultTemplate(*job_spec);
    }
  }
}

void DefaultService(json::object& /*object*/, json::object& spec) {
  Default(spec, "type", "ClusterIP");
  Default(spec, "sessionAffinity", "None");
  if (auto* ports = ArrayAt(spec, "ports")) {
    for (auto& port : *ports) {
      if (!port.is_object()) {
        continue;
      }
      auto& p = port.as_object();
      Default(p, "protocol", "TCP");
      if (const auto* number = p.if_contains("port"); number != nullptr) {
        Default(p, "targetPort", *number);
      }
    }
  }
}

struct KindDefaults {
  void (*apply)(json::object& object, json::object& spec);
  bool needs_spec;  // applied only when the object has a spec
};

// By group and kind: a custom resource named like a built-in kind gets
// none of them.
const std::map<std::string, KindDefaults>& DefaultsByKind() {
  static const std::map<std::string, KindDefaults> kDefaults = {
      {"/Pod", {DefaultPod, true}},
      {"apps/Deployment", {DefaultDeployment, true}},
      {"apps/ReplicaSet", {DefaultReplicated, true}},
      {"/ReplicationController", {DefaultReplicated, true}},
      {"apps/StatefulSet", {DefaultStatefulSet, true}},
      {"apps/DaemonSet", {DefaultDaemonSet, true}},
      {"batch/Job", {DefaultJob, true}},
      {"batch/CronJob", {DefaultCronJob, true}},
      {"/Service", {DefaultService, true}},
      {"/Secret",
       {[](json::object& object, json::object& /*spec*/) { Default(object, "type", "Opaque"); },
        false}},
  };
  return kDefaults;
}

}  // namespace

void ApplyDefaults(const ResourceType& type, json::object& object) {
  if (type.custom) {
    return;
  }
  auto found = DefaultsByKind().find(type.group + "/" + type.kind);
  if (found == DefaultsByKind().end()) {
    return;
  }
  json::object* spec = ObjectAt(object, "spec");
  if (spec != nullptr) {
    found->second.apply(object, *spec);
  } else if (!found->second.needs_spec) {
    json::object none;
    found->second.apply(object, none);
  }
}

}  // namespace bulkhead::controlplane
