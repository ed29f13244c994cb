#include "controlplane/apiserver/registry/kinds/secret.h"

#include <boost/json.hpp>
#include <string>

#include "controlplane/apiserver/registry/kinds/field_checks.h"
#include "controlplane/pki/base64.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

const json::value kAbsent;

bool IsConfigKey(std::string_view key) {
  if (key.empty() || key.size() > 253 || key == "." || key == "..") {
    return false;
  }
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool HasKey(const json::object& secret, const char* key) {
  for (const char* field : {"data", "stringData"}) {
    const json::object* data = ObjectAt(secret, field);
    if (data != nullptr && data->contains(key)) {
      return true;
    }
  }
  return false;
}

const json::value& Member(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr ? *value : kAbsent;
}

}  // namespace

void DefaultSecret(json::object& secret) {
  const json::value* found = secret.if_contains("stringData");
  if (found == nullptr || !found->is_object()) {
    return;
  }
  // A copy: adding "data" below may move the object's members.
  const json::object written = found->as_object();
  json::value& data = secret["data"];
  if (!data.is_object()) {
    data = json::object();
  }
  bool all_strings = true;
  for (const auto& [key, value] : written) {
    if (value.is_string()) {
      data.as_object()[key] = Base64Encode(value.as_string());
    } else {
      all_strings = false;
    }
  }
  // Written only: what was given is in data now (a value that is not a
  // string stays, for validation to refuse).
  if (all_strings) {
    secret.erase("stringData");
  }
}

std::vector<StatusCause> ValidateSecret(const json::object& secret) {
  std::vector<StatusCause> causes;
  for (const char* field : {"data", "stringData"}) {
    const json::object* data = ObjectAt(secret, field);
    if (data == nullptr) {
      continue;
    }
    for (const auto& [key, value] : *data) {
      if (!IsConfigKey(key)) {
        causes.push_back(
            {"FieldValueInvalid",
             fmt::format("Invalid value: {}: a valid config key must consist of alphanumeric "
                         "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                         "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                         Quoted(std::string(key))),
             fmt::format("{}[{}]", field, std::string_view(key))});
      }
    }
  }
  if (const json::object* written = ObjectAt(secret, "stringData"); written != nullptr) {
    for (const auto& [key, value] : *written) {
      if (!value.is_string()) {
        causes.push_back({"FieldValueInvalid", "Invalid value: must be a string",
                          fmt::format("stringData[{}]", std::string_view(key))});
      }
    }
  }
  const std::string type = Text(secret, "type");
  if (type == "kubernetes.io/service-account-token") {
    const json::object* meta = ObjectAt(secret, "metadata");
    const json::object* annotations = meta != nullptr ? ObjectAt(*meta, "annotations") : nullptr;
    if (annotations == nullptr ||
        Text(*annotations, "kubernetes.io/service-account.name").empty()) {
      causes.push_back({"FieldValueRequired", "Required value",
                        "metadata.annotations[kubernetes.io/service-account.name]"});
    }
  } else if (type == "kubernetes.io/tls") {
    for (const char* key : {"tls.crt", "tls.key"}) {
      if (!HasKey(secret, key)) {
        causes.push_back({"FieldValueRequired", "Required value", fmt::format("data[{}]", key)});
      }
    }
  } else if (type == "kubernetes.io/dockerconfigjson") {
    if (!HasKey(secret, ".dockerconfigjson")) {
      causes.push_back({"FieldValueRequired", "Required value", "data[.dockerconfigjson]"});
    }
  }
  return causes;
}

std::vector<StatusCause> ValidateSecretUpdate(const json::object& current,
                                              const json::object& next) {
  std::vector<StatusCause> causes;
  const std::string before = Text(current, "type", "Opaque");
  const std::string after = Text(next, "type", "Opaque");
  if (before != after) {
    causes.push_back({"FieldValueInvalid",
                      fmt::format("Invalid value: {}: field is immutable", Quoted(after)), "type"});
  }
  const json::value& was_immutable = Member(current, "immutable");
  if (was_immutable.is_bool() && was_immutable.as_bool()) {
    const json::value& still = Member(next, "immutable");
    if (!still.is_bool() || !still.as_bool()) {
      causes.push_back({"FieldValueForbidden",
                        "Forbidden: field is immutable when `immutable` is set", "immutable"});
    }
    if (Member(current, "data") != Member(next, "data") || next.contains("stringData")) {
      causes.push_back(
          {"FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set", "data"});
    }
  }
  return causes;
}

}  // namespace bulkhead::controlplane
