// Reading fields of the pods and objects the node gets from the host API,
// which may be of any shape: a missing or wrongly typed field reads as
// empty, never throws.
#ifndef BULKHEAD_NODE_KUBELET_JSON_FIELDS_H_
#define BULKHEAD_NODE_KUBELET_JSON_FIELDS_H_

#include <string>

#include "nlohmann/json.hpp"

namespace bulkhead::node {

// The string at `key`, "" when absent or not a string.
inline std::string Str(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// The value at `key`, null when absent (or `object` is not an object).
inline const nlohmann::json& Field(const nlohmann::json& object, const char* key) {
  static const nlohmann::json kNull;
  auto it = object.find(key);
  return it != object.end() ? *it : kNull;
}

}  // namespace bulkhead::node

#endif  // BULKHEAD_NODE_KUBELET_JSON_FIELDS_H_
