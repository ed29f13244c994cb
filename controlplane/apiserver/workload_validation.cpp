#include "controlplane/apiserver/workload_validation.h"

#include <boost/json.hpp>
#include <cstdint>
#include <limits>
#include <string>

#include "common/strings.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/selectors.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();

// An optional int32 field within [minimum, int32 max].
void CheckCount(const json::object& object, const char* path, int64_t minimum,
                std::vector<StatusCause>& causes) {
  const json::value* value = PathValue(object, path);
  if (value == nullptr || value->is_null()) {
    return;
  }
  std::string field = std::string(path).substr(1);
  if (!value->is_int64() && !value->is_uint64()) {
    causes.push_back({"FieldValueInvalid",
                      fmt::format("Invalid value: {}: must be an integer", json::serialize(*value)),
                      field});
    return;
  }
  bool too_big = value->is_uint64() ? value->as_uint64() > static_cast<uint64_t>(kMaxInt32)
                                    : value->as_int64() > kMaxInt32;
  if (too_big) {
    causes.push_back({"FieldValueInvalid",
                      fmt::format("Invalid value: {}: must be no greater than {}",
                                  json::serialize(*value), kMaxInt32),
                      field});
  } else if (value->is_int64() && value->as_int64() < minimum) {
    causes.push_back({"FieldValueInvalid",
                      fmt::format("Invalid value: {}: must be greater than or equal to {}",
                                  value->as_int64(), minimum),
                      field});
  }
}

}  // namespace

// maxSurge / maxUnavailable: an int32 >= 0 or "N%". Sets `zero` when 0 or "0%".
void CheckIntOrPercent(const json::object& object, const char* path,
                       std::vector<StatusCause>& causes, bool& zero) {
  const json::value* value = PathValue(object, path);
  zero = false;
  if (value == nullptr || value->is_null()) {
    return;
  }
  std::string field = std::string(path).substr(1);
  if (value->is_int64() || value->is_uint64()) {
    CheckCount(object, path, 0, causes);
    zero = IntOf(value, -1) == 0;
    return;
  }
  if (value->is_string()) {
    std::string text(value->as_string());
    auto percent = text.size() > 1 && text.back() == '%'
                       ? ParseInteger<int64_t>(text.substr(0, text.size() - 1))
                       : std::nullopt;
    if (percent.has_value() && *percent >= 0 && *percent <= kMaxInt32) {
      zero = *percent == 0;
      return;
    }
  }
  causes.push_back({"FieldValueInvalid",
                    fmt::format("Invalid value: {}: a valid percent string must be a numeric "
                                "string followed by an ending '%' (e.g. '1%',  or '93%', regex "
                                "used for validation is '[0-9]+%')",
                                json::serialize(*value)),
                    field});
}

std::vector<StatusCause> ValidateWorkload(const ResourceType& type, const json::object& object) {
  std::vector<StatusCause> causes;
  if (type.custom || type.group != "apps" ||
      (type.kind != "Deployment" && type.kind != "ReplicaSet" && type.kind != "StatefulSet" &&
       type.kind != "DaemonSet")) {
    return causes;
  }
  CheckCount(object, ".spec.replicas", 0, causes);
  CheckCount(object, ".spec.minReadySeconds", 0, causes);
  CheckCount(object, ".spec.revisionHistoryLimit", 0, causes);
  CheckCount(object, ".spec.progressDeadlineSeconds", 1, causes);
  const json::value* selector = PathValue(object, ".spec.selector");
  bool empty_selector =
      selector == nullptr || !selector->is_object() ||
      ((PathValue(selector->as_object(), ".matchLabels") == nullptr ||
        !PathValue(selector->as_object(), ".matchLabels")->is_object() ||
        PathValue(selector->as_object(), ".matchLabels")->as_object().empty()) &&
       (PathValue(selector->as_object(), ".matchExpressions") == nullptr ||
        !PathValue(selector->as_object(), ".matchExpressions")->is_array() ||
        PathValue(selector->as_object(), ".matchExpressions")->as_array().empty()));
  if (empty_selector) {
    causes.push_back({"FieldValueRequired", "Required value", "spec.selector"});
  } else {
    const json::value* labels = PathValue(object, ".spec.template.metadata.labels");
    const json::object none;
    const json::object& template_labels =
        labels != nullptr && labels->is_object() ? labels->as_object() : none;
    if (!MatchesLabelSelector(selector, template_labels)) {
      causes.push_back(
          {"FieldValueInvalid",
           fmt::format("Invalid value: {}: `selector` does not match template `labels`",
                       json::serialize(template_labels)),
           "spec.template.metadata.labels"});
    }
  }
  if (type.kind == "StatefulSet") {
    const json::value* policy = PathValue(object, ".spec.podManagementPolicy");
    if (policy != nullptr && !policy->is_null() &&
        !(policy->is_string() &&
          (policy->as_string() == "OrderedReady" || policy->as_string() == "Parallel"))) {
      causes.push_back({"FieldValueNotSupported",
                        fmt::format("Unsupported value: {}: supported values: \"OrderedReady\", "
                                    "\"Parallel\"",
                                    json::serialize(*policy)),
                        "spec.podManagementPolicy"});
    }
    CheckCount(object, ".spec.updateStrategy.rollingUpdate.partition", 0, causes);
    CheckCount(object, ".spec.ordinals.start", 0, causes);
  }
  if (type.kind == "StatefulSet" || type.kind == "DaemonSet") {
    const json::value* strategy = PathValue(object, ".spec.updateStrategy.type");
    if (strategy != nullptr && !strategy->is_null() &&
        !(strategy->is_string() &&
          (strategy->as_string() == "RollingUpdate" || strategy->as_string() == "OnDelete"))) {
      causes.push_back({"FieldValueNotSupported",
                        fmt::format("Unsupported value: {}: supported values: \"OnDelete\", "
                                    "\"RollingUpdate\"",
                                    json::serialize(*strategy)),
                        "spec.updateStrategy.type"});
    }
  }
  if (type.kind == "DaemonSet") {
    bool surge_zero = false;
    bool unavailable_zero = false;
    CheckIntOrPercent(object, ".spec.updateStrategy.rollingUpdate.maxSurge", causes, surge_zero);
    CheckIntOrPercent(object, ".spec.updateStrategy.rollingUpdate.maxUnavailable", causes,
                      unavailable_zero);
    if (surge_zero && unavailable_zero) {
      causes.push_back({"FieldValueInvalid", "Invalid value: 0: may not be 0 when `maxSurge` is 0",
                        "spec.updateStrategy.rollingUpdate.maxUnavailable"});
    }
  }
  if (type.kind == "Deployment") {
    // Defaulted to 600 when absent, as decoding would.
    const json::value* deadline = PathValue(object, ".spec.progressDeadlineSeconds");
    const json::value* min_ready = PathValue(object, ".spec.minReadySeconds");
    const int64_t deadline_seconds = deadline == nullptr || deadline->is_null() ? 600
                                     : deadline->is_int64() ? deadline->as_int64()
                                                            : std::numeric_limits<int64_t>::max();
    const int64_t min_ready_seconds =
        min_ready != nullptr && min_ready->is_int64() ? min_ready->as_int64() : 0;
    if (deadline_seconds <= min_ready_seconds) {
      causes.push_back(
          {"FieldValueInvalid",
           fmt::format("Invalid value: {}: must be greater than minReadySeconds", deadline_seconds),
           "spec.progressDeadlineSeconds"});
    }
    bool surge_zero = false;
    bool unavailable_zero = false;
    CheckIntOrPercent(object, ".spec.strategy.rollingUpdate.maxSurge", causes, surge_zero);
    CheckIntOrPercent(object, ".spec.strategy.rollingUpdate.maxUnavailable", causes,
                      unavailable_zero);
    if (surge_zero && unavailable_zero) {
      causes.push_back({"FieldValueInvalid", "Invalid value: 0: may not be 0 when `maxSurge` is 0",
                        "spec.strategy.rollingUpdate.maxUnavailable"});
    }
  }
  return causes;
}

}  // namespace bulkhead::controlplane
