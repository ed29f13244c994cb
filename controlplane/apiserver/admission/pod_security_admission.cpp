#include "controlplane/apiserver/admission/pod_security_admission.h"

#include <boost/json.hpp>

#include "common/logging.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/registry/object_registry.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

constexpr std::string_view kLabelPrefix = "pod-security.kubernetes.io/";

struct Levels {
  PodSecurityLevel enforce = PodSecurityLevel::kPrivileged;
  PodSecurityLevel warn = PodSecurityLevel::kPrivileged;
  PodSecurityLevel audit = PodSecurityLevel::kPrivileged;
};

PodSecurityLevel LabelLevel(const json::object* labels, std::string_view mode) {
  const std::string key = std::string(kLabelPrefix) + std::string(mode);
  const json::value* value = labels == nullptr ? nullptr : labels->if_contains(key);
  if (value == nullptr || !value->is_string()) {
    return PodSecurityLevel::kPrivileged;
  }
  return ParsePodSecurityLevel(value->as_string()).value_or(PodSecurityLevel::kRestricted);
}

std::string Summary(PodSecurityLevel level, const std::vector<std::string>& violations) {
  std::string out = fmt::format("PodSecurity \"{}:latest\": ", LevelName(level));
  for (size_t i = 0; i < violations.size(); ++i) {
    out.append(i == 0 ? "" : ", ").append(violations[i]);
  }
  return out;
}

// The pod template a workload carries, if it is one.
const json::object* TemplateOf(const json::object& object, const ResourceType& type) {
  const char* path = nullptr;
  if (type.group == "batch" && type.resource == "cronjobs") {
    path = ".spec.jobTemplate.spec.template";
  } else if ((type.group == "apps" &&
              (type.resource == "deployments" || type.resource == "replicasets" ||
               type.resource == "statefulsets" || type.resource == "daemonsets")) ||
             (type.group == "batch" && type.resource == "jobs") ||
             (type.group.empty() && type.resource == "replicationcontrollers")) {
    path = ".spec.template";
  }
  const json::value* value = path == nullptr ? nullptr : PathValue(object, path);
  return value != nullptr && value->is_object() ? &value->as_object() : nullptr;
}

}  // namespace

Status PodSecurityAdmission::AdmitCreate(ObjectRegistry& objects, const ResourceTarget& target,
                                         json::object& object, bool /*dry_run*/,
                                         std::vector<std::string>& warnings) {
  const ResourceType& type = *target.type;
  const bool pod = type.group.empty() && type.resource == "pods" && target.subresource.empty();
  const json::object* pod_object = pod ? &object : TemplateOf(object, type);
  if (pod_object == nullptr) {
    return absl::OkStatus();
  }
  const json::value* spec = pod_object->if_contains("spec");
  if (spec == nullptr || !spec->is_object()) {
    return absl::OkStatus();
  }
  ResourceTarget ns{objects.types().Find("", "v1", "namespaces"), "", target.namespace_name, ""};
  BH_ASSIGN_OR_RETURN(auto stored, objects.Get(ns));
  Levels levels;
  if (stored.has_value()) {
    boost::system::error_code ec;
    json::value parsed = ParseJson(stored->value, ec);
    const json::value* labels =
        !ec && parsed.is_object() ? PathValue(parsed.as_object(), ".metadata.labels") : nullptr;
    const json::object* map =
        labels != nullptr && labels->is_object() ? &labels->as_object() : nullptr;
    levels = {LabelLevel(map, "enforce"), LabelLevel(map, "warn"), LabelLevel(map, "audit")};
  }
  levels.enforce = std::max(levels.enforce, floor_);
  const json::value* meta_value = pod_object->if_contains("metadata");
  const json::object* meta =
      meta_value != nullptr && meta_value->is_object() ? &meta_value->as_object() : nullptr;
  const std::string name = MetaString(object, "name");
  auto judged = [&](PodSecurityLevel level) {
    return PodSecurityViolations(level, spec->as_object(), meta);
  };
  if (!pod) {
    // A template is warned about as its pods will be judged.
    const PodSecurityLevel level = std::max(levels.enforce, levels.warn);
    if (auto violations = judged(level); !violations.empty()) {
      warnings.push_back("would violate " + Summary(level, violations));
    }
    return absl::OkStatus();
  }
  if (auto violations = judged(levels.enforce); !violations.empty()) {
    return ForbiddenError("", "pods", name, "violates " + Summary(levels.enforce, violations));
  }
  if (auto violations = judged(levels.warn); !violations.empty()) {
    warnings.push_back("would violate " + Summary(levels.warn, violations));
  }
  if (auto violations = judged(levels.audit); !violations.empty()) {
    Logger(Component::kApiserver)
        .info("pod security audit namespace={} pod={}: {}", target.namespace_name, name,
              Summary(levels.audit, violations));
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::controlplane
