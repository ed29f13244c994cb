#include "controlplane/apiserver/patch.h"

#include <algorithm>
#include <boost/json.hpp>
#include <vector>

#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

// ---- JSON patch ----

StatusOr<std::vector<std::string>> ParsePointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) {
    return tokens;
  }
  if (pointer.front() != '/') {
    return absl::InvalidArgumentError(fmt::format("path \"{}\" does not start with /", pointer));
  }
  pointer.remove_prefix(1);
  while (true) {
    size_t slash = pointer.find('/');
    std::string_view raw = pointer.substr(0, slash);
    std::string token;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        token += raw[i];
      }
    }
    tokens.push_back(std::move(token));
    if (slash == std::string_view::npos) {
      break;
    }
    pointer.remove_prefix(slash + 1);
  }
  return tokens;
}

StatusOr<size_t> ArrayIndex(const std::string& token, size_t size, bool allow_end) {
  if (allow_end && token == "-") {
    return size;
  }
  auto index = ParseInteger<size_t>(token);
  if (!index.has_value() || *index > size || (!allow_end && *index == size)) {
    return absl::InvalidArgumentError(fmt::format("array index \"{}\" out of range", token));
  }
  return *index;
}

// The container that holds the last token of `tokens`.
StatusOr<json::value*> Parent(json::value& document, const std::vector<std::string>& tokens,
                              std::string_view path) {
  json::value* current = &document;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    if (current->is_object()) {
      current = current->as_object().if_contains(tokens[i]);
    } else if (current->is_array()) {
      auto index = ArrayIndex(tokens[i], current->as_array().size(), false);
      current = index.ok() ? &current->as_array()[*index] : nullptr;
    } else {
      current = nullptr;
    }
    if (current == nullptr) {
      return absl::InvalidArgumentError(fmt::format("path \"{}\" does not exist", path));
    }
  }
  return current;
}

StatusOr<json::value> Take(json::value& document, const std::vector<std::string>& tokens,
                           std::string_view path, bool remove) {
  if (tokens.empty()) {
    json::value whole = document;
    return whole;
  }
  BH_ASSIGN_OR_RETURN(json::value * parent, Parent(document, tokens, path));
  const std::string& last = tokens.back();
  if (parent->is_object()) {
    auto& object = parent->as_object();
    auto it = object.find(last);
    if (it == object.end()) {
      return absl::InvalidArgumentError(fmt::format("path \"{}\" does not exist", path));
    }
    json::value value = it->value();
    if (remove) {
      object.erase(it);
    }
    return value;
  }
  if (parent->is_array()) {
    auto& array = parent->as_array();
    BH_ASSIGN_OR_RETURN(size_t index, ArrayIndex(last, array.size(), false));
    json::value value = array[index];
    if (remove) {
      array.erase(array.begin() + static_cast<std::ptrdiff_t>(index));
    }
    return value;
  }
  return absl::InvalidArgumentError(fmt::format("path \"{}\" does not exist", path));
}

Status Put(json::value& document, const std::vector<std::string>& tokens, std::string_view path,
           json::value value, bool replace) {
  if (tokens.empty()) {
    document = std::move(value);
    return absl::OkStatus();
  }
  BH_ASSIGN_OR_RETURN(json::value * parent, Parent(document, tokens, path));
  const std::string& last = tokens.back();
  if (parent->is_object()) {
    auto& object = parent->as_object();
    if (replace && !object.contains(last)) {
      return absl::InvalidArgumentError(fmt::format("path \"{}\" does not exist", path));
    }
    object[last] = std::move(value);
    return absl::OkStatus();
  }
  if (parent->is_array()) {
    auto& array = parent->as_array();
    BH_ASSIGN_OR_RETURN(size_t index, ArrayIndex(last, array.size(), !replace));
    if (replace) {
      array[index] = std::move(value);
    } else {
      array.insert(array.begin() + static_cast<std::ptrdiff_t>(index), std::move(value));
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(fmt::format("path \"{}\" does not exist", path));
}

std::string StringField(const json::object& object, const char* name) {
  const auto* value = object.if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

// ---- strategic merge patch ----

struct ListStrategy {
  bool merge = false;
  std::string key;  // empty: a list of primitives merged as a set
};

bool InContainer(const std::vector<std::string>& path) {
  for (const auto& part : path) {
    if (part == "containers" || part == "initContainers" || part == "ephemeralContainers") {
      return true;
    }
  }
  return false;
}

ListStrategy StrategyFor(const std::string& field, const std::vector<std::string>& path,
                         const std::string& kind) {
  static const std::vector<std::pair<std::string, std::string>> kByName = {
      {"containers", "name"},
      {"initContainers", "name"},
      {"ephemeralContainers", "name"},
      {"volumes", "name"},
      {"env", "name"},
      {"imagePullSecrets", "name"},
      {"resourceClaims", "name"},
      {"schedulingGates", "name"},
      {"volumeMounts", "mountPath"},
      {"volumeDevices", "devicePath"},
      {"hostAliases", "ip"},
      {"conditions", "type"},
      {"ownerReferences", "uid"},
      {"topologySpreadConstraints", "topologyKey"},
  };
  for (const auto& [name, key] : kByName) {
    if (field == name) {
      return {true, key};
    }
  }
  if (field == "ports") {
    if (kind == "Service" && path.size() == 1 && path[0] == "spec") {
      return {true, "port"};
    }
    if (InContainer(path)) {
      return {true, "containerPort"};
    }
  }
  if (field == "addresses" && kind == "Node") {
    return {true, "type"};
  }
  if (field == "finalizers" && path.size() == 1 && path[0] == "metadata") {
    return {true, ""};
  }
  return {};
}

json::value StripDirectives(json::value value) {
  if (value.is_object()) {
    auto& object = value.as_object();
    for (auto it = object.begin(); it != object.end();) {
      if (it->key().starts_with("$")) {
        it = object.erase(it);
      } else {
        it->value() = StripDirectives(std::move(it->value()));
        ++it;
      }
    }
  } else if (value.is_array()) {
    auto& array = value.as_array();
    json::array kept;
    for (auto& item : array) {
      if (item.is_object() && item.as_object().contains("$patch")) {
        continue;
      }
      kept.push_back(StripDirectives(std::move(item)));
    }
    return kept;
  }
  return value;
}

StatusOr<json::object> MergeObject(json::object original, const json::object& patch,
                                   std::vector<std::string>& path, const std::string& kind);

bool SameKey(const json::value& item, const std::string& key, const json::value& wanted) {
  if (!item.is_object()) {
    return false;
  }
  const auto* value = item.as_object().if_contains(key);
  return value != nullptr && *value == wanted;
}

StatusOr<json::array> MergeList(json::array original, const json::array& patch,
                                const ListStrategy& strategy, std::vector<std::string>& path,
                                const std::string& kind) {
  for (const auto& item : patch) {
    if (item.is_object() && StringField(item.as_object(), "$patch") == "replace") {
      return StripDirectives(json::value(patch)).as_array();
    }
  }
  if (strategy.key.empty()) {
    for (const auto& item : patch) {
      if (std::find(original.begin(), original.end(), item) == original.end()) {
        original.push_back(item);
      }
    }
    return original;
  }
  for (const auto& item : patch) {
    if (!item.is_object()) {
      return absl::InvalidArgumentError(fmt::format(
          "list {} merges by {}, but an element is not an object", path.back(), strategy.key));
    }
    const auto& element = item.as_object();
    const auto* key_value = element.if_contains(strategy.key);
    if (key_value == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("an element of list {} lacks its merge key {}", path.back(), strategy.key));
    }
    auto it = std::find_if(original.begin(), original.end(), [&](const json::value& existing) {
      return SameKey(existing, strategy.key, *key_value);
    });
    std::string directive = StringField(element, "$patch");
    if (directive == "delete") {
      if (it != original.end()) {
        original.erase(it);
      }
      continue;
    }
    if (it != original.end() && it->is_object()) {
      BH_ASSIGN_OR_RETURN(json::object merged, MergeObject(it->as_object(), element, path, kind));
      *it = std::move(merged);
    } else {
      original.push_back(StripDirectives(item));
    }
  }
  return original;
}

// Orders `list` as `order` says (elements named in `order` first, in its
// order; the others after, in their own order).
json::array ApplyOrder(const json::array& list, const json::array& order, const std::string& key) {
  json::array sorted;
  std::vector<bool> used(list.size(), false);
  for (const auto& wanted : order) {
    for (size_t i = 0; i < list.size(); ++i) {
      if (used[i]) {
        continue;
      }
      bool match = key.empty() ? list[i] == wanted
                               : wanted.is_object() && wanted.as_object().contains(key) &&
                                     SameKey(list[i], key, wanted.as_object().at(key));
      if (match) {
        sorted.push_back(list[i]);
        used[i] = true;
        break;
      }
    }
  }
  for (size_t i = 0; i < list.size(); ++i) {
    if (!used[i]) {
      sorted.push_back(list[i]);
    }
  }
  return sorted;
}

StatusOr<json::object> MergeObject(json::object original, const json::object& patch,
                                   std::vector<std::string>& path, const std::string& kind) {
  std::string directive = StringField(patch, "$patch");
  if (directive == "replace") {
    return StripDirectives(json::value(patch)).as_object();
  }
  if (const auto* retain = patch.if_contains("$retainKeys");
      retain != nullptr && retain->is_array()) {
    for (auto it = original.begin(); it != original.end();) {
      if (std::find(retain->as_array().begin(), retain->as_array().end(), json::value(it->key())) ==
          retain->as_array().end()) {
        it = original.erase(it);
      } else {
        ++it;
      }
    }
  }
  std::vector<std::pair<std::string, const json::value*>> orders;
  for (const auto& [raw_key, value] : patch) {
    std::string key(raw_key);
    if (key == "$patch" || key == "$retainKeys") {
      continue;
    }
    if (key.starts_with("$setElementOrder/")) {
      orders.emplace_back(key.substr(17), &value);
      continue;
    }
    if (key.starts_with("$deleteFromPrimitiveList/")) {
      std::string field = key.substr(25);
      if (auto* list = original.if_contains(field);
          list != nullptr && list->is_array() && value.is_array()) {
        auto& items = list->as_array();
        for (const auto& gone : value.as_array()) {
          items.erase(std::remove(items.begin(), items.end(), gone), items.end());
        }
      }
      continue;
    }
    if (value.is_null()) {
      original.erase(key);
      continue;
    }
    json::value* existing = original.if_contains(key);
    if (value.is_object() && existing != nullptr && existing->is_object()) {
      if (StringField(value.as_object(), "$patch") == "delete") {
        original.erase(key);
        continue;
      }
      path.push_back(key);
      auto merged = MergeObject(existing->as_object(), value.as_object(), path, kind);
      path.pop_back();
      if (!merged.ok()) {
        return merged.status();
      }
      *existing = std::move(merged).value();
      continue;
    }
    if (value.is_array() && existing != nullptr && existing->is_array()) {
      ListStrategy strategy = StrategyFor(key, path, kind);
      if (strategy.merge) {
        path.push_back(key);
        auto merged = MergeList(existing->as_array(), value.as_array(), strategy, path, kind);
        path.pop_back();
        if (!merged.ok()) {
          return merged.status();
        }
        *existing = std::move(merged).value();
        continue;
      }
    }
    original[key] = StripDirectives(value);
  }
  for (const auto& [field, order] : orders) {
    auto* list = original.if_contains(field);
    if (list == nullptr || !list->is_array() || !order->is_array()) {
      continue;
    }
    ListStrategy strategy = StrategyFor(field, path, kind);
    *list = ApplyOrder(list->as_array(), order->as_array(), strategy.key);
  }
  return original;
}

}  // namespace

namespace {

// The serialized size of a string: quotes, and escapes for quotes,
// backslashes and control characters (\uXXXX at most).
size_t QuotedSize(std::string_view text) {
  size_t size = 2;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    size += byte < 0x20 ? 6 : (c == '"' || c == '\\') ? 2 : 1;
  }
  return size;
}

}  // namespace

JsonExtent MeasureJson(const json::value& value) {
  JsonExtent extent;
  std::vector<std::pair<const json::value*, size_t>> pending{{&value, 0}};
  while (!pending.empty()) {
    auto [item, level] = pending.back();
    pending.pop_back();
    switch (item->kind()) {
      case json::kind::object:
        extent.depth = std::max(extent.depth, level + 1);
        extent.bytes += 2;
        for (const auto& [key, child] : item->as_object()) {
          extent.bytes += QuotedSize(std::string_view(key.data(), key.size())) + 2;
          pending.emplace_back(&child, level + 1);
        }
        break;
      case json::kind::array:
        extent.depth = std::max(extent.depth, level + 1);
        extent.bytes += 2;
        for (const auto& child : item->as_array()) {
          extent.bytes += 1;
          pending.emplace_back(&child, level + 1);
        }
        break;
      case json::kind::string:
        extent.bytes +=
            QuotedSize(std::string_view(item->as_string().data(), item->as_string().size()));
        break;
      default:
        extent.bytes += 24;
        break;
    }
  }
  return extent;
}

StatusOr<json::value> ApplyJsonPatch(json::value document, const json::value& patch,
                                     const JsonPatchLimits& limits) {
  if (!patch.is_array()) {
    return absl::InvalidArgumentError("a JSON patch must be a list of operations");
  }
  const bool limited = limits.max_bytes != std::numeric_limits<size_t>::max() ||
                       limits.max_depth != std::numeric_limits<size_t>::max();
  JsonExtent document_extent = limited ? MeasureJson(document) : JsonExtent{};
  size_t bytes = document_extent.bytes;
  size_t depth = document_extent.depth;
  // What an operation may add to the document, counted before it runs: its
  // value (from the patch, or a copy of part of the document) and the key
  // it is put under. Removals are not subtracted: an upper bound.
  auto grow = [&](const JsonExtent& added, const std::vector<std::string>& at) -> Status {
    if (!limited) {
      return absl::OkStatus();
    }
    // A key, its quotes, colon and comma.
    bytes += added.bytes + (at.empty() ? 0 : at.back().size() + 4);
    depth = std::max(depth, at.size() + added.depth);
    if (bytes > limits.max_bytes) {
      return absl::ResourceExhaustedError(
          fmt::format("the patch would make the object larger than {} bytes", limits.max_bytes));
    }
    if (depth > limits.max_depth) {
      return absl::InvalidArgumentError(fmt::format(
          "the patch would leave the object nested more than {} levels", limits.max_depth));
    }
    return absl::OkStatus();
  };
  for (const auto& operation : patch.as_array()) {
    if (!operation.is_object()) {
      return absl::InvalidArgumentError("a JSON patch operation must be an object");
    }
    const auto& op = operation.as_object();
    std::string name = StringField(op, "op");
    std::string path = StringField(op, "path");
    BH_ASSIGN_OR_RETURN(auto tokens, ParsePointer(path));
    const json::value* value = op.if_contains("value");
    if (name == "add" || name == "replace" || name == "test") {
      if (value == nullptr) {
        return absl::InvalidArgumentError(fmt::format("operation {} needs a value", name));
      }
    }
    if (name == "add") {
      BH_RETURN_IF_ERROR(grow(MeasureJson(*value), tokens));
      BH_RETURN_IF_ERROR(Put(document, tokens, path, *value, false));
    } else if (name == "remove") {
      BH_RETURN_IF_ERROR(Take(document, tokens, path, true).status());
    } else if (name == "replace") {
      BH_RETURN_IF_ERROR(grow(MeasureJson(*value), tokens));
      BH_RETURN_IF_ERROR(Put(document, tokens, path, *value, true));
    } else if (name == "move" || name == "copy") {
      std::string from = StringField(op, "from");
      BH_ASSIGN_OR_RETURN(auto from_tokens, ParsePointer(from));
      // RFC 6902: a value cannot be moved into itself (from the root, say,
      // which would leave the document and a copy of it inside).
      if (name == "move" && from_tokens.size() < tokens.size() &&
          std::equal(from_tokens.begin(), from_tokens.end(), tokens.begin())) {
        return absl::InvalidArgumentError(
            fmt::format("cannot move {} into itself (to {})", from.empty() ? "\"\"" : from, path));
      }
      BH_ASSIGN_OR_RETURN(json::value moved, Take(document, from_tokens, from, name == "move"));
      if (limited) {
        // A copy adds what it copies. A move adds only its new key, and
        // nests what it moves at most as deep as the document minus where it
        // was: bounded without walking it (a patch of many moves of a large
        // value must not cost a walk each).
        JsonExtent added;
        if (name == "copy") {
          added = MeasureJson(moved);
        } else {
          added.depth = depth > from_tokens.size() ? depth - from_tokens.size() : 0;
        }
        BH_RETURN_IF_ERROR(grow(added, tokens));
      }
      BH_RETURN_IF_ERROR(Put(document, tokens, path, std::move(moved), false));
    } else if (name == "test") {
      BH_ASSIGN_OR_RETURN(json::value current, Take(document, tokens, path, false));
      if (current != *value) {
        return absl::InvalidArgumentError(
            fmt::format("test failed: {} is {}", path, json::serialize(current)));
      }
    } else {
      return absl::InvalidArgumentError(fmt::format("unknown JSON patch operation \"{}\"", name));
    }
  }
  return document;
}

json::value ApplyMergePatch(json::value document, const json::value& patch) {
  if (!patch.is_object()) {
    return patch;
  }
  if (!document.is_object()) {
    document = json::object();
  }
  auto& target = document.as_object();
  for (const auto& [key, value] : patch.as_object()) {
    if (value.is_null()) {
      target.erase(key);
    } else {
      json::value* existing = target.if_contains(key);
      target[key] = ApplyMergePatch(existing != nullptr ? *existing : json::value(), value);
    }
  }
  return document;
}

StatusOr<json::value> ApplyStrategicMergePatch(json::value document, const json::value& patch,
                                               const std::string& kind) {
  if (!patch.is_object()) {
    return absl::InvalidArgumentError("a strategic merge patch must be an object");
  }
  if (!document.is_object()) {
    document = json::object();
  }
  std::vector<std::string> path;
  BH_ASSIGN_OR_RETURN(json::object merged,
                      MergeObject(std::move(document.as_object()), patch.as_object(), path, kind));
  return json::value(std::move(merged));
}

}  // namespace bulkhead::controlplane
