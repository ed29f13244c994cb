#include "controlplane/apiserver/registry/kinds/priority_class.h"

#include <boost/json.hpp>
#include <limits>
#include <string>

#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/registry/kinds/field_checks.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

constexpr int64_t kHighestUserDefinable = 1000000000;

struct SystemClass {
  const char* name;
  int64_t value;
  const char* description;
};
constexpr SystemClass kSystemClasses[] = {
    {"system-node-critical", 2000001000,
     "Used for system critical pods that must not be moved from their current node."},
    {"system-cluster-critical", 2000000000,
     "Used for system critical pods that must run in the cluster, but can be moved to another "
     "node if necessary."},
};

}  // namespace

std::vector<json::object> SystemPriorityClasses() {
  std::vector<json::object> out;
  for (const SystemClass& system : kSystemClasses) {
    out.push_back(json::object{{"apiVersion", "scheduling.k8s.io/v1"},
                               {"kind", "PriorityClass"},
                               {"metadata", json::object{{"name", system.name}}},
                               {"value", system.value},
                               {"description", system.description},
                               {"preemptionPolicy", "PreemptLowerPriority"}});
  }
  return out;
}

void DefaultPriorityClass(json::object& priority_class) {
  if (json::value* policy = priority_class.if_contains("preemptionPolicy");
      policy == nullptr || policy->is_null()) {
    priority_class["preemptionPolicy"] = "PreemptLowerPriority";
  }
}

std::vector<StatusCause> ValidatePriorityClass(const json::object& priority_class) {
  std::vector<StatusCause> causes;
  const std::string name = MetaString(priority_class, "name");
  const json::value* value = priority_class.if_contains("value");
  const SystemClass* system = nullptr;
  for (const SystemClass& known : kSystemClasses) {
    system = name == known.name ? &known : system;
  }
  if (system != nullptr) {
    if (value == nullptr || !value->is_int64() || value->as_int64() != system->value) {
      causes.push_back({"FieldValueForbidden",
                        fmt::format("Forbidden: {} is a system priority class: its value is {}",
                                    name, system->value),
                        "value"});
    }
  } else if (name.rfind("system-", 0) == 0) {
    causes.push_back({"FieldValueForbidden",
                      "Forbidden: priority class names with 'system-' prefix are reserved",
                      "metadata.name"});
  } else if (value != nullptr && value->is_int64() && value->as_int64() > kHighestUserDefinable) {
    causes.push_back(
        {"FieldValueForbidden",
         fmt::format("Forbidden: maximum allowed value of a user defined priority is {}",
                     kHighestUserDefinable),
         "value"});
  }
  if (value == nullptr || value->is_null()) {
    causes.push_back({"FieldValueRequired", "Required value", "value"});
  } else {
    CheckAtLeast(priority_class, "value", "value", std::numeric_limits<int32_t>::min(), causes);
  }
  CheckEnum(priority_class, "preemptionPolicy", "preemptionPolicy",
            {"Never", "PreemptLowerPriority"}, causes);
  return causes;
}

}  // namespace bulkhead::controlplane
