#include "controlplane/apiserver/registry/kinds/pod_disruption_budget.h"

#include <boost/json.hpp>
#include <string>

#include "common/strings.h"
#include "controlplane/apiserver/registry/kinds/field_checks.h"
#include "controlplane/apiserver/workload_validation.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

// A percentage above 100 % (Kubernetes refuses it for a budget).
bool PercentAbove100(const json::value* value) {
  if (value == nullptr || !value->is_string() || value->as_string().empty() ||
      value->as_string().back() != '%') {
    return false;
  }
  const std::string text(value->as_string());
  auto percent = ParseInteger<int64_t>(text.substr(0, text.size() - 1));
  return percent.has_value() && *percent > 100;
}

}  // namespace

std::vector<StatusCause> ValidatePodDisruptionBudget(const json::object& budget) {
  std::vector<StatusCause> causes;
  const json::object empty;
  const json::object* spec = ObjectAt(budget, "spec");
  const json::object& s = spec != nullptr ? *spec : empty;
  const auto set = [&](const char* field) {
    const json::value* value = s.if_contains(field);
    return value != nullptr && !value->is_null();
  };
  if (set("minAvailable") && set("maxUnavailable")) {
    causes.push_back({"FieldValueInvalid",
                      "Invalid value: minAvailable and maxUnavailable cannot be both set", "spec"});
  }
  for (const char* field : {"minAvailable", "maxUnavailable"}) {
    bool zero = false;
    const std::string path = std::string(".spec.") + field;
    CheckIntOrPercent(budget, path.c_str(), causes, zero);
    if (PercentAbove100(s.if_contains(field))) {
      causes.push_back(
          {"FieldValueInvalid",
           "Invalid value: " + json::serialize(s.at(field)) + ": must not be greater than 100%",
           path.substr(1)});
    }
  }
  CheckEnum(s, "unhealthyPodEvictionPolicy", "spec.unhealthyPodEvictionPolicy",
            {"AlwaysAllow", "IfHealthyBudget"}, causes);
  return causes;
}

}  // namespace bulkhead::controlplane
