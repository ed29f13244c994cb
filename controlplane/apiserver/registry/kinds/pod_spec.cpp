#include "controlplane/apiserver/registry/kinds/pod_spec.h"

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "common/quantity.h"
#include "controlplane/apiserver/object_validation.h"
#include "controlplane/apiserver/registry/kinds/field_checks.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

StatusCause Required(const std::string& field) {
  return {"FieldValueRequired", "Required value", field};
}

bool Absent(const json::value* value) {
  return value == nullptr || value->is_null() || (value->is_string() && value->as_string().empty());
}

// A DNS label `name`, unique in `seen`.
void CheckName(const json::object& object, const std::string& field, std::set<std::string>& seen,
               std::vector<StatusCause>& causes) {
  if (Absent(object.if_contains("name"))) {
    causes.push_back(Required(field));
    return;
  }
  const std::string name = Text(object, "name");
  if (std::string problem = Dns1123LabelProblem(name); !problem.empty()) {
    causes.push_back(
        {"FieldValueInvalid", fmt::format("Invalid value: {}: {}", Quoted(name), problem), field});
  } else if (!seen.insert(name).second) {
    causes.push_back(
        {"FieldValueDuplicate", fmt::format("Duplicate value: {}", Quoted(name)), field});
  }
}

void CheckPort(const json::object& port, const std::string& at, std::set<std::string>& names,
               std::vector<StatusCause>& causes) {
  const json::value* number = port.if_contains("containerPort");
  if (number == nullptr || number->is_null() || (number->is_int64() && number->as_int64() == 0)) {
    causes.push_back(Required(at + ".containerPort"));
  } else if (!PortNumber(*number)) {
    causes.push_back({"FieldValueInvalid",
                      fmt::format("Invalid value: {}: must be between 1 and 65535, inclusive",
                                  json::serialize(*number)),
                      at + ".containerPort"});
  }
  const json::value* host = port.if_contains("hostPort");
  if (host != nullptr && !host->is_null() && !(host->is_int64() && host->as_int64() == 0) &&
      !PortNumber(*host)) {
    causes.push_back({"FieldValueInvalid",
                      fmt::format("Invalid value: {}: must be between 1 and 65535, inclusive",
                                  json::serialize(*host)),
                      at + ".hostPort"});
  }
  CheckDefaultedEnum(port, "protocol", at + ".protocol", {"SCTP", "TCP", "UDP"}, causes);
  if (const std::string name = Text(port, "name"); !name.empty()) {
    if (!IsPortName(name)) {
      causes.push_back(
          {"FieldValueInvalid",
           fmt::format("Invalid value: {}: must contain 1 to 15 lowercase letters, digits or "
                       "'-', at least one letter, and no '-' at either end or twice in a row",
                       Quoted(name)),
           at + ".name"});
    } else if (!names.insert(name).second) {
      causes.push_back(
          {"FieldValueDuplicate", fmt::format("Duplicate value: {}", Quoted(name)), at + ".name"});
    }
  }
}

// A container's requests and limits: quantities, none negative, no
// request above its limit.
void CheckResources(const json::object& container, const std::string& at,
                    std::vector<StatusCause>& causes) {
  const json::object* resources = ObjectAt(container, "resources");
  if (resources == nullptr) {
    return;
  }
  std::map<std::string, Quantity> limits;
  for (const char* field : {"limits", "requests"}) {
    const json::object* list = ObjectAt(*resources, field);
    if (list == nullptr) {
      continue;
    }
    for (const auto& [name, value] : *list) {
      const std::string where = fmt::format("{}.resources.{}[{}]", at, field, std::string(name));
      const std::string text =
          value.is_string() ? std::string(value.as_string()) : json::serialize(value);
      std::optional<Quantity> quantity = Quantity::Parse(text);
      if (!quantity) {
        causes.push_back({"FieldValueInvalid",
                          fmt::format("Invalid value: {}: quantities must match the regular "
                                      "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                                      Quoted(text)),
                          where});
        continue;
      }
      if (quantity->milli < 0) {
        causes.push_back(
            {"FieldValueInvalid",
             fmt::format("Invalid value: {}: must be greater than or equal to 0", Quoted(text)),
             where});
        continue;
      }
      if (std::string_view(field) == "limits") {
        limits[std::string(name)] = *quantity;
      } else if (auto limit = limits.find(std::string(name));
                 limit != limits.end() && *quantity > limit->second) {
        causes.push_back({"FieldValueInvalid",
                          fmt::format("Invalid value: {}: must be less than or equal to {} limit "
                                      "of {}",
                                      Quoted(text), std::string(name), limit->second.ToString()),
                          fmt::format("{}.resources.requests", at)});
      }
    }
  }
}

void CheckContainer(const json::object& container, const std::string& at,
                    const std::set<std::string>& volumes, std::set<std::string>& names,
                    std::vector<StatusCause>& causes) {
  CheckName(container, at + ".name", names, causes);
  CheckResources(container, at, causes);
  if (Absent(container.if_contains("image"))) {
    causes.push_back(Required(at + ".image"));
  }
  CheckDefaultedEnum(container, "imagePullPolicy", at + ".imagePullPolicy",
                     {"Always", "IfNotPresent", "Never"}, causes);
  CheckDefaultedEnum(container, "terminationMessagePolicy", at + ".terminationMessagePolicy",
                     {"File", "FallbackToLogsOnError"}, causes);
  if (const json::array* ports = ArrayAt(container, "ports"); ports != nullptr) {
    std::set<std::string> port_names;
    for (size_t i = 0; i < ports->size(); ++i) {
      if ((*ports)[i].is_object()) {
        CheckPort((*ports)[i].as_object(), fmt::format("{}.ports[{}]", at, i), port_names, causes);
      }
    }
  }
  if (const json::array* env = ArrayAt(container, "env"); env != nullptr) {
    for (size_t i = 0; i < env->size(); ++i) {
      if ((*env)[i].is_object() && Absent((*env)[i].as_object().if_contains("name"))) {
        causes.push_back(Required(fmt::format("{}.env[{}].name", at, i)));
      }
    }
  }
  if (const json::array* mounts = ArrayAt(container, "volumeMounts"); mounts != nullptr) {
    for (size_t i = 0; i < mounts->size(); ++i) {
      if (!(*mounts)[i].is_object()) {
        continue;
      }
      const json::object& mount = (*mounts)[i].as_object();
      const std::string field = fmt::format("{}.volumeMounts[{}]", at, i);
      if (Absent(mount.if_contains("name"))) {
        causes.push_back(Required(field + ".name"));
      } else if (const std::string name = Text(mount, "name"); !volumes.contains(name)) {
        causes.push_back(
            {"FieldValueNotFound", fmt::format("Not found: {}", Quoted(name)), field + ".name"});
      }
      if (Absent(mount.if_contains("mountPath"))) {
        causes.push_back(Required(field + ".mountPath"));
      }
    }
  }
}

}  // namespace

void ValidatePodSpec(const json::object& spec, const std::string& at,
                     std::vector<StatusCause>& causes) {
  std::set<std::string> volumes;
  if (const json::array* list = ArrayAt(spec, "volumes"); list != nullptr) {
    for (size_t i = 0; i < list->size(); ++i) {
      if ((*list)[i].is_object()) {
        CheckName((*list)[i].as_object(), fmt::format("{}.volumes[{}].name", at, i), volumes,
                  causes);
      }
    }
  }
  std::set<std::string> names;  // one name space for init and app containers
  // App containers first: a clash is the init container's, as in Kubernetes.
  for (const char* list_name : {"containers", "initContainers"}) {
    const json::array* list = ArrayAt(spec, list_name);
    if (list == nullptr || list->empty()) {
      if (std::string_view(list_name) == "containers") {
        causes.push_back(Required(at + ".containers"));
      }
      continue;
    }
    for (size_t i = 0; i < list->size(); ++i) {
      if ((*list)[i].is_object()) {
        CheckContainer((*list)[i].as_object(), fmt::format("{}.{}[{}]", at, list_name, i), volumes,
                       names, causes);
      }
    }
  }
  CheckDefaultedEnum(spec, "restartPolicy", at + ".restartPolicy", {"Always", "OnFailure", "Never"},
                     causes);
  CheckDefaultedEnum(spec, "dnsPolicy", at + ".dnsPolicy",
                     {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"}, causes);
}

std::vector<StatusCause> ValidatePodSpecOf(const std::string& group, const std::string& kind,
                                           const json::object& object) {
  std::vector<StatusCause> causes;
  const json::object* spec = ObjectAt(object, "spec");
  if (spec == nullptr) {
    return causes;
  }
  if (group.empty() && kind == "Pod") {
    ValidatePodSpec(*spec, "spec", causes);
    return causes;
  }
  const bool keeps_running = group == "apps" && (kind == "Deployment" || kind == "ReplicaSet" ||
                                                 kind == "StatefulSet" || kind == "DaemonSet");
  const bool has_template = keeps_running || (group.empty() && kind == "ReplicationController") ||
                            (group == "batch" && kind == "Job");
  std::string at = "spec.template.spec";
  const json::object* template_spec = nullptr;
  if (has_template) {
    const json::object* pod_template = ObjectAt(*spec, "template");
    template_spec = pod_template != nullptr ? ObjectAt(*pod_template, "spec") : nullptr;
  } else if (group == "batch" && kind == "CronJob") {
    at = "spec.jobTemplate.spec.template.spec";
    const json::object* job = ObjectAt(*spec, "jobTemplate");
    const json::object* job_spec = job != nullptr ? ObjectAt(*job, "spec") : nullptr;
    const json::object* pod_template =
        job_spec != nullptr ? ObjectAt(*job_spec, "template") : nullptr;
    template_spec = pod_template != nullptr ? ObjectAt(*pod_template, "spec") : nullptr;
  }
  if (template_spec == nullptr) {
    return causes;
  }
  // A StatefulSet's template mounts volumes its claim templates make, so
  // Kubernetes judges no more of it than the restart policy.
  if (kind != "StatefulSet") {
    ValidatePodSpec(*template_spec, at, causes);
  }
  if (keeps_running) {
    CheckDefaultedEnum(*template_spec, "restartPolicy", at + ".restartPolicy", {"Always"}, causes);
  }
  return causes;
}

}  // namespace bulkhead::controlplane
