#include "controlplane/apiserver/registry/kinds/field_checks.h"

#include <boost/json.hpp>
#include <limits>
#include <optional>

#include "fmt/format.h"

namespace bulkhead::controlplane {

namespace json = boost::json;

std::string Text(const json::object& object, std::string_view key, const char* fallback) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : fallback;
}

const json::object* ObjectAt(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_object() ? &value->as_object() : nullptr;
}

const json::array* ArrayAt(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_array() ? &value->as_array() : nullptr;
}

std::string Quoted(const std::string& text) { return json::serialize(json::value(text)); }

bool IsPortName(const std::string& name) {
  if (name.empty() || name.size() > 15 || name.front() == '-' || name.back() == '-' ||
      name.find("--") != std::string::npos) {
    return false;
  }
  bool letter = false;
  for (char c : name) {
    if (c >= 'a' && c <= 'z') {
      letter = true;
    } else if (!(c >= '0' && c <= '9') && c != '-') {
      return false;
    }
  }
  return letter;
}

std::optional<int64_t> PortNumber(const json::value& value) {
  if (value.is_int64() && value.as_int64() >= 1 && value.as_int64() <= 65535) {
    return value.as_int64();
  }
  if (value.is_uint64() && value.as_uint64() >= 1 && value.as_uint64() <= 65535) {
    return static_cast<int64_t>(value.as_uint64());
  }
  return std::nullopt;
}

StatusCause Unsupported(const std::string& field, const json::value& value,
                        std::initializer_list<const char*> supported) {
  std::string list;
  for (const char* item : supported) {
    list += fmt::format("{}\"{}\"", list.empty() ? "" : ", ", item);
  }
  return {"FieldValueNotSupported",
          fmt::format("Unsupported value: {}: supported values: {}", json::serialize(value), list),
          field};
}

void CheckEnum(const json::object& object, std::string_view key, const std::string& field,
               std::initializer_list<const char*> supported, std::vector<StatusCause>& causes) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) {
    return;
  }
  for (const char* item : supported) {
    if (value->is_string() && value->as_string() == item) {
      return;
    }
  }
  causes.push_back(Unsupported(field, *value, supported));
}

void CheckDefaultedEnum(const json::object& object, std::string_view key, const std::string& field,
                        std::initializer_list<const char*> supported,
                        std::vector<StatusCause>& causes) {
  const json::value* value = object.if_contains(key);
  if (value != nullptr && value->is_string() && value->as_string().empty()) {
    return;
  }
  CheckEnum(object, key, field, supported, causes);
}

void CheckAtLeast(const json::object& object, std::string_view key, const std::string& field,
                  int64_t minimum, std::vector<StatusCause>& causes) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) {
    return;
  }
  constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();
  if (!value->is_int64() && !value->is_uint64()) {
    causes.push_back({"FieldValueInvalid",
                      fmt::format("Invalid value: {}: must be an integer", json::serialize(*value)),
                      field});
  } else if (value->is_uint64() || value->as_int64() > kMaxInt32) {
    causes.push_back({"FieldValueInvalid",
                      fmt::format("Invalid value: {}: must be no greater than {}",
                                  json::serialize(*value), kMaxInt32),
                      field});
  } else if (value->as_int64() < minimum) {
    causes.push_back({"FieldValueInvalid",
                      fmt::format("Invalid value: {}: must be greater than or equal to {}",
                                  json::serialize(*value), minimum),
                      field});
  }
}

}  // namespace bulkhead::controlplane
