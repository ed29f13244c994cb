#include "controlplane/apiserver/registry/kinds/replication_controller.h"

#include <boost/json.hpp>

#include "controlplane/apiserver/registry/kinds/field_checks.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

bool EmptyMap(const json::value* value) {
  return value == nullptr || value->is_null() || (value->is_object() && value->as_object().empty());
}

}  // namespace

void DefaultReplicationController(json::object& controller) {
  json::value* spec = controller.if_contains("spec");
  if (spec == nullptr || !spec->is_object()) {
    return;
  }
  json::object& s = spec->as_object();
  const json::object* template_meta = nullptr;
  if (const json::object* pod_template = ObjectAt(s, "template")) {
    template_meta = ObjectAt(*pod_template, "metadata");
  }
  const json::object* template_labels =
      template_meta != nullptr ? ObjectAt(*template_meta, "labels") : nullptr;
  if (template_labels != nullptr && !template_labels->empty()) {
    if (EmptyMap(s.if_contains("selector"))) {
      s["selector"] = *template_labels;
    }
    json::value& meta = controller["metadata"];
    if (meta.is_object() && EmptyMap(meta.as_object().if_contains("labels"))) {
      meta.as_object()["labels"] = *template_labels;
    }
  }
  if (json::value* replicas = s.if_contains("replicas");
      replicas == nullptr || replicas->is_null()) {
    s["replicas"] = 1;
  }
}

std::vector<StatusCause> ValidateReplicationController(const json::object& controller) {
  std::vector<StatusCause> causes;
  const json::object* spec = ObjectAt(controller, "spec");
  const json::object empty;
  const json::object& s = spec != nullptr ? *spec : empty;
  CheckAtLeast(s, "replicas", "spec.replicas", 0, causes);
  CheckAtLeast(s, "minReadySeconds", "spec.minReadySeconds", 0, causes);
  const json::object* selector = ObjectAt(s, "selector");
  if (selector == nullptr || selector->empty()) {
    causes.push_back({"FieldValueRequired", "Required value", "spec.selector"});
  }
  const json::object* pod_template = ObjectAt(s, "template");
  if (pod_template == nullptr) {
    causes.push_back({"FieldValueRequired", "Required value", "spec.template"});
    return causes;
  }
  const json::object* meta = ObjectAt(*pod_template, "metadata");
  const json::object* labels = meta != nullptr ? ObjectAt(*meta, "labels") : nullptr;
  const json::object& template_labels = labels != nullptr ? *labels : empty;
  if (selector != nullptr && !selector->empty()) {
    bool matches = true;
    for (const auto& [key, value] : *selector) {
      const json::value* label = template_labels.if_contains(key);
      matches = matches && label != nullptr && *label == value;
    }
    if (!matches) {
      causes.push_back(
          {"FieldValueInvalid",
           fmt::format("Invalid value: {}: `selector` does not match template `labels`",
                       json::serialize(template_labels)),
           "spec.template.metadata.labels"});
    }
  }
  if (const json::object* pod_spec = ObjectAt(*pod_template, "spec")) {
    if (const json::value* policy = pod_spec->if_contains("restartPolicy");
        policy != nullptr && !(policy->is_string() && policy->as_string() == "Always")) {
      causes.push_back(Unsupported("spec.template.spec.restartPolicy", *policy, {"Always"}));
    }
  }
  return causes;
}

}  // namespace bulkhead::controlplane
