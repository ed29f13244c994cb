#include "controlplane/controllers/object_helpers.h"

#include <boost/json.hpp>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/selectors.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;

const json::object& EmptyObject() {
  static const json::object kEmpty;
  return kEmpty;
}

}  // namespace

std::string KeyOf(const json::object& object) {
  std::string ns = MetaString(object, "namespace");
  std::string name = MetaString(object, "name");
  return ns.empty() ? name : ns + "/" + name;
}

std::pair<std::string, std::string> SplitKey(const std::string& key) {
  size_t slash = key.find('/');
  if (slash == std::string::npos) {
    return {"", key};
  }
  return {key.substr(0, slash), key.substr(slash + 1)};
}

std::optional<OwnerRef> ControllerOf(const json::object& object) {
  const json::value* refs = PathValue(object, ".metadata.ownerReferences");
  if (refs == nullptr || !refs->is_array()) {
    return std::nullopt;
  }
  for (const auto& ref : refs->as_array()) {
    if (!ref.is_object()) {
      continue;
    }
    const json::object& r = ref.as_object();
    const json::value* controller = r.if_contains("controller");
    if (controller != nullptr && controller->is_bool() && controller->as_bool()) {
      return OwnerRef{StringField(r, "apiVersion"), StringField(r, "kind"), StringField(r, "name"),
                      StringField(r, "uid")};
    }
  }
  return std::nullopt;
}

std::string_view ControllerUid(const json::object& object) {
  const json::value* meta = object.if_contains("metadata");
  const json::value* refs = meta != nullptr && meta->is_object()
                                ? meta->as_object().if_contains("ownerReferences")
                                : nullptr;
  if (refs == nullptr || !refs->is_array()) {
    return {};
  }
  for (const auto& ref : refs->as_array()) {
    if (!ref.is_object()) {
      continue;
    }
    const json::value* controller = ref.as_object().if_contains("controller");
    if (controller != nullptr && controller->is_bool() && controller->as_bool()) {
      const json::value* uid = ref.as_object().if_contains("uid");
      return uid != nullptr && uid->is_string() ? std::string_view(uid->as_string())
                                                : std::string_view("?");
    }
  }
  return {};
}

json::object ControllerReference(const json::object& owner) {
  return json::object{{"apiVersion", StringField(owner, "apiVersion")},
                      {"kind", StringField(owner, "kind")},
                      {"name", MetaString(owner, "name")},
                      {"uid", MetaString(owner, "uid")},
                      {"controller", true},
                      {"blockOwnerDeletion", true}};
}

const json::object& LabelsOf(const json::object& object) {
  const json::value* labels = PathValue(object, ".metadata.labels");
  return labels != nullptr && labels->is_object() ? labels->as_object() : EmptyObject();
}

bool SelectorMatches(const json::value* selector, const json::object& labels) {
  return MatchesLabelSelector(selector, labels);
}

bool IsTerminating(const json::object& object) {
  return !MetaString(object, "deletionTimestamp").empty();
}

bool IsPodActive(const json::object& pod) {
  const json::value* phase = PathValue(pod, ".status.phase");
  bool ended = phase != nullptr && phase->is_string() &&
               (phase->as_string() == "Succeeded" || phase->as_string() == "Failed");
  return !ended && !IsTerminating(pod);
}

const json::object* FindCondition(const json::value* conditions, std::string_view type) {
  if (conditions == nullptr || !conditions->is_array()) {
    return nullptr;
  }
  for (const auto& c : conditions->as_array()) {
    if (c.is_object() && StringField(c.as_object(), "type") == type) {
      return &c.as_object();
    }
  }
  return nullptr;
}

bool IsPodReady(const json::object& pod) {
  const json::object* ready = FindCondition(PathValue(pod, ".status.conditions"), "Ready");
  return ready != nullptr && StringField(*ready, "status") == "True";
}

void SetAnnotation(json::object& object, std::string_view name, std::string_view value) {
  json::value& annotations = Metadata(object)["annotations"];
  if (!annotations.is_object()) {
    annotations = json::object();
  }
  annotations.as_object()[name] = value;
}

int64_t IntAt(const json::object& object, std::string_view path, int64_t missing) {
  return IntOf(PathValue(object, path), missing);
}

std::string SafeHash(std::string_view text) {
  uint32_t hash = 2166136261U;  // FNV-1a
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 16777619U;
  }
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  for (char digit : std::to_string(hash)) {
    out += kAlphabet[static_cast<size_t>(digit) % kAlphabet.size()];
  }
  return out;
}

std::string StringAt(const json::object& object, std::string_view path) {
  const json::value* value = PathValue(object, path);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

bool Settles(const Status& status) {
  if (status.ok() || status.code() == absl::StatusCode::kFailedPrecondition) {
    return true;
  }
  const int code = ToHttpError(status).code;
  return code == 404 || code == 409;
}

}  // namespace bulkhead::controlplane::controllers
