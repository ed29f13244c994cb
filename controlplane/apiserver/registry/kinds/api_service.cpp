#include "controlplane/apiserver/registry/kinds/api_service.h"

#include <boost/json.hpp>
#include <string>

#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/registry/kinds/field_checks.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

void CheckPriority(const json::object& spec, const char* field, int64_t maximum,
                   std::vector<StatusCause>& causes) {
  const json::value* value = spec.if_contains(field);
  const bool fits = value != nullptr && value->is_int64() && value->as_int64() > 0 &&
                    value->as_int64() <= maximum;
  if (!fits) {
    causes.push_back({"FieldValueInvalid",
                      fmt::format("Invalid value: {}: must be positive and less than {}",
                                  value != nullptr ? json::serialize(*value) : "0", maximum),
                      std::string("spec.") + field});
  }
}

}  // namespace

std::vector<StatusCause> ValidateApiService(const json::object& service) {
  std::vector<StatusCause> causes;
  const json::object empty;
  const json::object* spec = ObjectAt(service, "spec");
  const json::object& s = spec != nullptr ? *spec : empty;
  const std::string version = Text(s, "version");
  const std::string group = Text(s, "group");
  if (version.empty()) {
    causes.push_back({"FieldValueRequired", "Required value", "spec.version"});
  }
  if (group.empty() && version != "v1") {
    causes.push_back({"FieldValueRequired",
                      "Required value: only v1 may have an empty group and it better be legacy "
                      "kube",
                      "spec.group"});
  }
  const std::string name = MetaString(service, "name");
  if (name != version + "." + group) {
    causes.push_back(
        {"FieldValueInvalid",
         fmt::format("Invalid value: \"{}\": must be `spec.version+\".\"+spec.group`", name),
         "metadata.name"});
  }
  CheckPriority(s, "groupPriorityMinimum", 20000, causes);
  CheckPriority(s, "versionPriority", 1000, causes);
  if (const json::object* backend = ObjectAt(s, "service")) {
    for (const char* field : {"namespace", "name"}) {
      if (Text(*backend, field).empty()) {
        causes.push_back(
            {"FieldValueRequired", "Required value", std::string("spec.service.") + field});
      }
    }
  }
  const json::value* skip = s.if_contains("insecureSkipTLSVerify");
  if (skip != nullptr && skip->is_bool() && skip->as_bool() && !Text(s, "caBundle").empty()) {
    causes.push_back({"FieldValueInvalid",
                      "Invalid value: true: may not be true if caBundle is present",
                      "spec.insecureSkipTLSVerify"});
  }
  return causes;
}

}  // namespace bulkhead::controlplane
