#include "controlplane/apiserver/object_paths.h"

#include "common/strings.h"

namespace bulkhead::controlplane {

namespace json = boost::json;

json::value* PathValue(json::object& object, std::string_view path, bool create) {
  json::object* parent = &object;
  json::value* current = nullptr;
  auto parts = SplitNonEmpty(path, ".");
  for (size_t i = 0; i < parts.size(); ++i) {
    json::string_view key(parts[i].data(), parts[i].size());
    current = parent->if_contains(key);
    if (current == nullptr) {
      if (!create) {
        return nullptr;
      }
      current = &(*parent)[key];
      if (i + 1 < parts.size()) {
        *current = json::object();
      }
    }
    if (i + 1 < parts.size()) {
      if (!current->is_object()) {
        if (!create) {
          return nullptr;
        }
        *current = json::object();
      }
      parent = &current->as_object();
    }
  }
  return current;
}

const json::value* PathValue(const json::object& object, std::string_view path) {
  // Without create PathValue never changes the object.
  return PathValue(const_cast<json::object&>(object), path, false);  // NOLINT
}

int64_t IntOf(const json::value* value, int64_t missing) {
  if (value == nullptr) {
    return missing;
  }
  if (value->is_int64()) {
    return value->as_int64();
  }
  if (value->is_uint64()) {
    return static_cast<int64_t>(value->as_uint64());
  }
  return missing;
}

}  // namespace bulkhead::controlplane
