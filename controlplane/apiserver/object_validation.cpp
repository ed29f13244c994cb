#include "controlplane/apiserver/object_validation.h"

#include <boost/json.hpp>

#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

std::string FieldText(const json::object& object, const char* name) {
  const auto* value = object.if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

void CheckStringMap(const json::object& metadata, const char* field, bool values_are_labels,
                    std::vector<StatusCause>& causes) {
  const auto* map = metadata.if_contains(field);
  if (map == nullptr || map->is_null()) {
    return;
  }
  if (!map->is_object()) {
    causes.push_back(
        {"FieldValueInvalid", "must be a map of strings", fmt::format("metadata.{}", field)});
    return;
  }
  size_t total = 0;
  for (const auto& [raw_key, value] : map->as_object()) {
    std::string key(raw_key);
    if (std::string problem = QualifiedNameProblem(key); !problem.empty()) {
      causes.push_back({"FieldValueInvalid", fmt::format("Invalid value: \"{}\": {}", key, problem),
                        fmt::format("metadata.{}", field)});
    }
    if (!value.is_string()) {
      causes.push_back({"FieldValueInvalid", "Invalid value: must be a string",
                        fmt::format("metadata.{}.{}", field, key)});
      continue;
    }
    std::string text(value.as_string());
    total += key.size() + text.size();
    if (values_are_labels) {
      if (std::string problem = LabelValueProblem(text); !problem.empty()) {
        causes.push_back({"FieldValueInvalid",
                          fmt::format("Invalid value: \"{}\": {}", text, problem),
                          fmt::format("metadata.{}", field)});
      }
    }
  }
  if (!values_are_labels && total > size_t{256} * 1024) {
    causes.push_back(
        {"FieldValueTooLong", "Too long: must have at most 262144 bytes", "metadata.annotations"});
  }
}

}  // namespace

std::string Dns1123LabelProblem(const std::string& name) {
  bool ok =
      !name.empty() && name.size() <= 63 && IsLowerAlnum(name.front()) && IsLowerAlnum(name.back());
  for (char c : name) {
    ok = ok && (IsLowerAlnum(c) || c == '-');
  }
  return ok ? ""
            : "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
              "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
              "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
}

std::string Dns1123SubdomainProblem(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 253 && IsLowerAlnum(name.front()) &&
            IsLowerAlnum(name.back());
  for (size_t i = 0; ok && i < name.size(); ++i) {
    char c = name[i];
    ok =
        IsLowerAlnum(c) || c == '-' ||
        (c == '.' && IsLowerAlnum(name[i - 1]) && i + 1 < name.size() && IsLowerAlnum(name[i + 1]));
  }
  return ok ? ""
            : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
              "'-' or '.', and must start and end with an alphanumeric character (e.g. "
              "'example.com', regex used for validation is "
              "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
}

namespace {

std::string Dns1035LabelProblem(const std::string& name) {
  if (!Dns1123LabelProblem(name).empty() || !(name.front() >= 'a' && name.front() <= 'z')) {
    return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
           "with an alphabetic character, and end with an alphanumeric character (e.g. "
           "'my-name',  or 'abc-123', regex used for validation is "
           "'[a-z]([-a-z0-9]*[a-z0-9])?')";
  }
  return "";
}

std::string PathSegmentProblem(const std::string& name) {
  if (name.empty()) {
    return "must not be empty";
  }
  if (name == "." || name == "..") {
    return fmt::format("may not be '{}'", name);
  }
  if (name.find_first_of("/%") != std::string::npos) {
    return "may not contain '/' or '%'";
  }
  return "";
}

std::string NamePartProblem(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 63 && IsAlnum(name.front()) && IsAlnum(name.back());
  for (char c : name) {
    ok = ok && (IsAlnum(c) || c == '-' || c == '_' || c == '.');
  }
  return ok ? ""
            : "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
              "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
              "'123-abc', regex used for validation is "
              "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
}

}  // namespace

std::string QualifiedNameProblem(const std::string& key) {
  size_t slash = key.find('/');
  if (slash == std::string::npos) {
    return NamePartProblem(key);
  }
  std::string prefix = key.substr(0, slash);
  if (std::string problem = Dns1123SubdomainProblem(prefix); !problem.empty()) {
    return "prefix part " + problem;
  }
  return NamePartProblem(key.substr(slash + 1));
}

std::string LabelValueProblem(const std::string& value) {
  if (value.empty()) {
    return "";
  }
  if (value.size() > 63) {
    return "must be no more than 63 characters";
  }
  if (!NamePartProblem(value).empty()) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', "
           "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  "
           "or 'my_value',  or '12345', regex used for validation is "
           "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
  }
  return "";
}

std::vector<StatusCause> ValidateObjectMeta(const ResourceType& type, const json::object& object) {
  std::vector<StatusCause> causes;
  const auto* meta_value = object.if_contains("metadata");
  if (meta_value == nullptr || !meta_value->is_object()) {
    causes.push_back({"FieldValueRequired", "Required value", "metadata"});
    return causes;
  }
  const auto& metadata = meta_value->as_object();
  std::string name = FieldText(metadata, "name");
  if (name.empty()) {
    causes.push_back({"FieldValueRequired", "Required value: name or generateName is required",
                      "metadata.name"});
  } else {
    std::string problem;
    if (type.group == "rbac.authorization.k8s.io") {
      problem = PathSegmentProblem(name);
    } else if (!type.custom && type.kind == "Namespace") {
      problem = Dns1123LabelProblem(name);
    } else if (!type.custom && type.kind == "Service") {
      problem = Dns1035LabelProblem(name);
    } else {
      problem = Dns1123SubdomainProblem(name);
    }
    if (!problem.empty()) {
      causes.push_back({"FieldValueInvalid",
                        fmt::format("Invalid value: \"{}\": {}", name, problem), "metadata.name"});
    }
  }
  CheckStringMap(metadata, "labels", true, causes);
  CheckStringMap(metadata, "annotations", false, causes);
  return causes;
}

namespace {

// `path` + where below it the first non-integer number is, or "" for none.
std::string FindNonInteger(const json::value& value, const std::string& path);

std::string FindNonIntegerIn(const json::object& object, const std::string& path) {
  for (const auto& [key, field] : object) {
    std::string found =
        FindNonInteger(field, path.empty() ? std::string(key) : path + "." + std::string(key));
    if (!found.empty()) {
      return found;
    }
  }
  return "";
}

std::string FindNonInteger(const json::value& value, const std::string& path) {
  if (value.is_double()) {
    return path;
  }
  if (value.is_object()) {
    return FindNonIntegerIn(value.as_object(), path);
  }
  if (value.is_array()) {
    const json::array& items = value.as_array();
    for (size_t i = 0; i < items.size(); ++i) {
      std::string found = FindNonInteger(items[i], fmt::format("{}[{}]", path, i));
      if (!found.empty()) {
        return found;
      }
    }
  }
  return "";
}

}  // namespace

std::string NonIntegerNumberPath(const json::object& object) {
  return FindNonIntegerIn(object, "");
}

}  // namespace bulkhead::controlplane
