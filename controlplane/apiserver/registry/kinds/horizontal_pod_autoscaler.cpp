#include "controlplane/apiserver/registry/kinds/horizontal_pod_autoscaler.h"

#include <boost/json.hpp>
#include <optional>
#include <string>

#include "controlplane/apiserver/registry/kinds/field_checks.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

// The member of a metric that holds its source, by its type.
const char* SourceField(const std::string& type) {
  if (type == "Object") {
    return "object";
  }
  if (type == "Pods") {
    return "pods";
  }
  if (type == "Resource") {
    return "resource";
  }
  if (type == "ContainerResource") {
    return "containerResource";
  }
  if (type == "External") {
    return "external";
  }
  return nullptr;
}

constexpr char kMetricsAnnotation[] = "autoscaling.alpha.kubernetes.io/metrics";
constexpr char kBehaviorAnnotation[] = "autoscaling.alpha.kubernetes.io/behavior";
constexpr char kConditionsAnnotation[] = "autoscaling.alpha.kubernetes.io/conditions";

json::object* MutableObject(json::object& parent, std::string_view key) {
  json::value* value = parent.if_contains(key);
  return value != nullptr && value->is_object() ? &value->as_object() : nullptr;
}

// Takes the annotation `key` off `object`, parsed; null when absent or not JSON.
json::value TakeAnnotation(json::object& object, const char* key) {
  json::object* meta = MutableObject(object, "metadata");
  json::object* annotations = meta != nullptr ? MutableObject(*meta, "annotations") : nullptr;
  if (annotations == nullptr) {
    return nullptr;
  }
  json::value found = nullptr;
  if (const json::value* text = annotations->if_contains(key);
      text != nullptr && text->is_string()) {
    boost::system::error_code ec;
    found = json::parse(text->as_string(), ec);
    if (ec) {
      found = nullptr;
    }
  }
  annotations->erase(key);
  if (annotations->empty()) {
    meta->erase("annotations");
  }
  return found;
}

void PutAnnotation(json::object& object, const char* key, const json::value& value) {
  json::value& meta = object["metadata"];
  if (!meta.is_object()) {
    meta = json::object();
  }
  json::value& annotations = meta.as_object()["annotations"];
  if (!annotations.is_object()) {
    annotations = json::object();
  }
  annotations.as_object()[key] = json::serialize(value);
}

// The CPU utilization target of a v2 metric, if it is one.
std::optional<int64_t> CpuUtilization(const json::value& metric, const char* source,
                                      const char* target) {
  if (!metric.is_object() || Text(metric.as_object(), "type") != "Resource") {
    return std::nullopt;
  }
  const json::object* resource = ObjectAt(metric.as_object(), source);
  const json::object* goal = resource != nullptr ? ObjectAt(*resource, target) : nullptr;
  if (resource == nullptr || Text(*resource, "name") != "cpu" || goal == nullptr) {
    return std::nullopt;
  }
  const json::value* utilization = goal->if_contains("averageUtilization");
  if (utilization == nullptr || !utilization->is_int64()) {
    return std::nullopt;
  }
  return utilization->as_int64();
}

}  // namespace

bool IsV1Autoscaler(const ResourceType& type) {
  return !type.custom && type.group == "autoscaling" && type.version == "v1" &&
         type.kind == "HorizontalPodAutoscaler";
}

json::object AutoscalerToV2(json::object autoscaler) {
  if (Text(autoscaler, "apiVersion") != "autoscaling/v1") {
    return autoscaler;
  }
  autoscaler["apiVersion"] = "autoscaling/v2";
  json::value more_metrics = TakeAnnotation(autoscaler, kMetricsAnnotation);
  json::value behavior = TakeAnnotation(autoscaler, kBehaviorAnnotation);
  json::value conditions = TakeAnnotation(autoscaler, kConditionsAnnotation);
  if (json::object* spec = MutableObject(autoscaler, "spec")) {
    json::array metrics;
    if (const json::value* cpu = spec->if_contains("targetCPUUtilizationPercentage");
        cpu != nullptr && !cpu->is_null()) {
      metrics.push_back(json::object{
          {"type", "Resource"},
          {"resource", json::object{{"name", "cpu"},
                                    {"target", json::object{{"type", "Utilization"},
                                                            {"averageUtilization", *cpu}}}}}});
    }
    spec->erase("targetCPUUtilizationPercentage");
    if (more_metrics.is_array()) {
      for (const auto& metric : more_metrics.as_array()) {
        metrics.push_back(metric);
      }
    }
    if (!metrics.empty()) {
      (*spec)["metrics"] = std::move(metrics);
    }
    if (behavior.is_object()) {
      (*spec)["behavior"] = behavior;
    }
  }
  if (json::object* status = MutableObject(autoscaler, "status")) {
    if (const json::value* cpu = status->if_contains("currentCPUUtilizationPercentage");
        cpu != nullptr && !cpu->is_null()) {
      (*status)["currentMetrics"] = json::array{json::object{
          {"type", "Resource"},
          {"resource", json::object{{"name", "cpu"},
                                    {"current", json::object{{"averageUtilization", *cpu}}}}}}};
    }
    status->erase("currentCPUUtilizationPercentage");
    if (conditions.is_array()) {
      (*status)["conditions"] = conditions;
    }
  }
  return autoscaler;
}

json::object AutoscalerToV1(json::object autoscaler) {
  if (Text(autoscaler, "apiVersion") != "autoscaling/v2") {
    return autoscaler;
  }
  autoscaler["apiVersion"] = "autoscaling/v1";
  if (json::object* spec = MutableObject(autoscaler, "spec")) {
    json::array others;
    if (const json::array* metrics = ArrayAt(*spec, "metrics")) {
      bool cpu_taken = false;
      for (const auto& metric : *metrics) {
        auto cpu = CpuUtilization(metric, "resource", "target");
        if (cpu && !cpu_taken) {
          (*spec)["targetCPUUtilizationPercentage"] = *cpu;
          cpu_taken = true;
        } else {
          others.push_back(metric);
        }
      }
    }
    if (!others.empty()) {
      PutAnnotation(autoscaler, kMetricsAnnotation, others);
    }
    spec->erase("metrics");
    if (const json::value* behavior = spec->if_contains("behavior");
        behavior != nullptr && behavior->is_object()) {
      PutAnnotation(autoscaler, kBehaviorAnnotation, *behavior);
    }
    spec->erase("behavior");
  }
  if (json::object* status = MutableObject(autoscaler, "status")) {
    if (const json::array* current = ArrayAt(*status, "currentMetrics")) {
      for (const auto& metric : *current) {
        if (auto cpu = CpuUtilization(metric, "resource", "current")) {
          (*status)["currentCPUUtilizationPercentage"] = *cpu;
          break;
        }
      }
    }
    status->erase("currentMetrics");
    if (const json::value* conditions = status->if_contains("conditions");
        conditions != nullptr && conditions->is_array()) {
      PutAnnotation(autoscaler, kConditionsAnnotation, *conditions);
    }
    status->erase("conditions");
  }
  return autoscaler;
}

void DefaultHorizontalPodAutoscaler(json::object& autoscaler) {
  json::value* spec = autoscaler.if_contains("spec");
  if (spec == nullptr || !spec->is_object()) {
    return;
  }
  json::object& s = spec->as_object();
  if (json::value* min = s.if_contains("minReplicas"); min == nullptr || min->is_null()) {
    s["minReplicas"] = 1;
  }
  const json::value* metrics = s.if_contains("metrics");
  if (metrics == nullptr || metrics->is_null() ||
      (metrics->is_array() && metrics->as_array().empty())) {
    s["metrics"] = json::array{json::object{
        {"type", "Resource"},
        {"resource", json::object{{"name", "cpu"},
                                  {"target", json::object{{"type", "Utilization"},
                                                          {"averageUtilization", 80}}}}}}};
  }
}

std::vector<StatusCause> ValidateHorizontalPodAutoscaler(const json::object& autoscaler) {
  std::vector<StatusCause> causes;
  const json::object empty;
  const json::object* spec = ObjectAt(autoscaler, "spec");
  const json::object& s = spec != nullptr ? *spec : empty;
  const json::object* target = ObjectAt(s, "scaleTargetRef");
  for (const char* field : {"kind", "name"}) {
    if (target == nullptr || Text(*target, field).empty()) {
      causes.push_back(
          {"FieldValueRequired", "Required value", std::string("spec.scaleTargetRef.") + field});
    }
  }
  CheckAtLeast(s, "minReplicas", "spec.minReplicas", 1, causes);
  const json::value* min = s.if_contains("minReplicas");
  const json::value* max = s.if_contains("maxReplicas");
  const int64_t minimum = min != nullptr && min->is_int64() ? min->as_int64() : 1;
  if (max == nullptr || max->is_null()) {
    causes.push_back({"FieldValueInvalid",
                      "Invalid value: 0: must be greater than or equal to `minReplicas`",
                      "spec.maxReplicas"});
  } else if (max->is_int64() && max->as_int64() < minimum) {
    causes.push_back(
        {"FieldValueInvalid",
         fmt::format("Invalid value: {}: must be greater than or equal to `minReplicas`",
                     max->as_int64()),
         "spec.maxReplicas"});
  } else {
    CheckAtLeast(s, "maxReplicas", "spec.maxReplicas", 1, causes);
  }
  if (const json::array* metrics = ArrayAt(s, "metrics")) {
    for (size_t i = 0; i < metrics->size(); ++i) {
      const std::string at = fmt::format("spec.metrics[{}]", i);
      if (!(*metrics)[i].is_object()) {
        causes.push_back({"FieldValueInvalid", "Invalid value: must be an object", at});
        continue;
      }
      const json::object& metric = (*metrics)[i].as_object();
      const json::value* type = metric.if_contains("type");
      if (type == nullptr || type->is_null()) {
        causes.push_back({"FieldValueRequired", "Required value: must specify a metric source type",
                          at + ".type"});
        continue;
      }
      const char* source =
          type->is_string() ? SourceField(std::string(type->as_string())) : nullptr;
      if (source == nullptr) {
        causes.push_back(Unsupported(
            at + ".type", *type, {"ContainerResource", "External", "Object", "Pods", "Resource"}));
        continue;
      }
      if (ObjectAt(metric, source) == nullptr) {
        causes.push_back({"FieldValueRequired",
                          "Required value: must populate information for the given metric source",
                          at + "." + source});
      }
    }
  }
  return causes;
}

}  // namespace bulkhead::controlplane
