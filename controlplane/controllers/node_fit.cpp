#include "controlplane/controllers/node_fit.h"

#include <boost/json.hpp>
#include <string>

#include "common/strings.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/controllers/object_helpers.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;

const json::array& ArrayOrEmpty(const json::value* value) {
  static const json::array kEmpty;
  return value != nullptr && value->is_array() ? value->as_array() : kEmpty;
}

bool InValues(const json::array& values, const json::value* actual) {
  if (actual == nullptr || !actual->is_string()) {
    return false;
  }
  for (const auto& value : values) {
    if (value == *actual) {
      return true;
    }
  }
  return false;
}

// One NodeSelectorRequirement against `fields` (labels, or {metadata.name}).
bool RequirementHolds(const json::object& requirement, const json::object& fields) {
  const std::string key = StringField(requirement, "key");
  const std::string op = StringField(requirement, "operator");
  const json::array& values = ArrayOrEmpty(requirement.if_contains("values"));
  const json::value* actual = fields.if_contains(key);
  if (op == "In") {
    return InValues(values, actual);
  }
  if (op == "NotIn") {
    return !InValues(values, actual);
  }
  if (op == "Exists") {
    return actual != nullptr;
  }
  if (op == "DoesNotExist") {
    return actual == nullptr;
  }
  if (op == "Gt" || op == "Lt") {
    if (actual == nullptr || !actual->is_string() || values.size() != 1 || !values[0].is_string()) {
      return false;
    }
    auto have = ParseInteger<int64_t>(std::string(actual->as_string()));
    auto bound = ParseInteger<int64_t>(std::string(values[0].as_string()));
    return have && bound && (op == "Gt" ? *have > *bound : *have < *bound);
  }
  return false;  // an operator Kubernetes does not know matches nothing
}

bool TermHolds(const json::object& term, const json::object& labels,
               const json::object& node_fields) {
  const json::array& expressions = ArrayOrEmpty(term.if_contains("matchExpressions"));
  const json::array& fields = ArrayOrEmpty(term.if_contains("matchFields"));
  if (expressions.empty() && fields.empty()) {
    return false;  // an empty term selects no node
  }
  for (const auto& requirement : expressions) {
    if (!requirement.is_object() || !RequirementHolds(requirement.as_object(), labels)) {
      return false;
    }
  }
  for (const auto& requirement : fields) {
    if (!requirement.is_object() || !RequirementHolds(requirement.as_object(), node_fields)) {
      return false;
    }
  }
  return true;
}

bool Tolerates(const json::object& toleration, const json::object& taint) {
  const std::string effect = StringField(toleration, "effect");
  if (!effect.empty() && effect != StringField(taint, "effect")) {
    return false;
  }
  const std::string key = StringField(toleration, "key");
  std::string op = StringField(toleration, "operator");
  if (op.empty()) {
    op = "Equal";
  }
  if (key.empty()) {
    return op == "Exists";  // an empty key with Exists tolerates everything
  }
  if (key != StringField(taint, "key")) {
    return false;
  }
  return op == "Exists" ||
         (op == "Equal" && StringField(toleration, "value") == StringField(taint, "value"));
}

}  // namespace

bool NodeSelectionMatches(const json::object& pod_spec, const json::object& node) {
  const std::string node_name = MetaString(node, "name");
  if (std::string wanted = StringField(pod_spec, "nodeName");
      !wanted.empty() && wanted != node_name) {
    return false;
  }
  const json::object& labels = LabelsOf(node);
  if (const json::value* selector = pod_spec.if_contains("nodeSelector");
      selector != nullptr && selector->is_object()) {
    for (const auto& [key, value] : selector->as_object()) {
      const json::value* label = labels.if_contains(key);
      if (label == nullptr || *label != value) {
        return false;
      }
    }
  }
  const json::value* required =
      PathValue(pod_spec, ".affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution");
  if (required == nullptr || !required->is_object()) {
    return true;
  }
  const json::object node_fields{{"metadata.name", node_name}};
  for (const auto& term : ArrayOrEmpty(required->as_object().if_contains("nodeSelectorTerms"))) {
    if (term.is_object() && TermHolds(term.as_object(), labels, node_fields)) {
      return true;
    }
  }
  return false;
}

const json::object* UntoleratedTaint(const json::array& tolerations, const json::object& node,
                                     std::string_view effect) {
  for (const auto& taint : ArrayOrEmpty(PathValue(node, ".spec.taints"))) {
    if (!taint.is_object()) {
      continue;
    }
    const std::string taint_effect = StringField(taint.as_object(), "effect");
    const bool counts = effect.empty()
                            ? (taint_effect == "NoSchedule" || taint_effect == "NoExecute")
                            : taint_effect == effect;
    if (!counts) {
      continue;
    }
    bool tolerated = false;
    for (const auto& toleration : tolerations) {
      tolerated = tolerated ||
                  (toleration.is_object() && Tolerates(toleration.as_object(), taint.as_object()));
    }
    if (!tolerated) {
      return &taint.as_object();
    }
  }
  return nullptr;
}

bool ToleratesTaints(const json::array& tolerations, const json::object& node,
                     std::string_view effect) {
  return UntoleratedTaint(tolerations, node, effect) == nullptr;
}

void AddDaemonTolerations(json::object& pod_spec) {
  json::value& tolerations = pod_spec["tolerations"];
  if (!tolerations.is_array()) {
    tolerations = json::array();
  }
  json::array& list = tolerations.as_array();
  const auto add = [&](const char* key, const char* effect) {
    for (const auto& toleration : list) {
      if (toleration.is_object() && StringField(toleration.as_object(), "key") == key &&
          StringField(toleration.as_object(), "effect") == effect) {
        return;
      }
    }
    list.push_back(json::object{{"key", key}, {"operator", "Exists"}, {"effect", effect}});
  };
  add("node.kubernetes.io/not-ready", "NoExecute");
  add("node.kubernetes.io/unreachable", "NoExecute");
  add("node.kubernetes.io/disk-pressure", "NoSchedule");
  add("node.kubernetes.io/memory-pressure", "NoSchedule");
  add("node.kubernetes.io/pid-pressure", "NoSchedule");
  add("node.kubernetes.io/unschedulable", "NoSchedule");
  const json::value* host_network = pod_spec.if_contains("hostNetwork");
  if (host_network != nullptr && host_network->is_bool() && host_network->as_bool()) {
    add("node.kubernetes.io/network-unavailable", "NoSchedule");
  }
}

}  // namespace bulkhead::controlplane::controllers
