// The verbs on stored resources: get, list, create, update, patch, delete,
// deletecollection, and the scale subresource. (Watch is in watch.cpp.)

#include <boost/json.hpp>

#include "common/logging.h"
#include "common/strings.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/api_server.h"
#include "controlplane/apiserver/crd.h"
#include "controlplane/apiserver/defaults.h"
#include "controlplane/apiserver/field_schema.h"
#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_validation.h"
#include "controlplane/apiserver/patch.h"
#include "controlplane/apiserver/protobuf_body.h"
#include "controlplane/apiserver/responses.h"
#include "controlplane/apiserver/selectors.h"
#include "controlplane/pki/base64.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;
using Clock = std::chrono::system_clock;

constexpr int kMaxWriteAttempts = 16;

// Namespaces the cluster itself needs (Kubernetes' NamespaceLifecycle).
bool IsSystemNamespace(const ResourceTarget& target) {
  if (target.type->kind != "Namespace" || !target.type->group.empty()) {
    return false;
  }
  for (const char* name : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    if (target.name == name) {
      return true;
    }
  }
  return false;
}

StatusOr<json::object> ParseObject(const HttpRequest& request, const char* what) {
  const std::string& body = request.body;
  if (request.content_type.starts_with(kProtobufContentType)) {
    auto decoded = DecodeProtobufObject(body);
    if (!decoded.ok()) {
      return BadRequest(fmt::format("{}: {}", what, MessageOf(decoded.status())));
    }
    return decoded;
  }
  boost::system::error_code ec;
  json::value value = ParseJson(body, ec);
  if (ec) {
    return BadRequest(fmt::format("{}: json parse error: {}", what, ec.message()));
  }
  if (!value.is_object()) {
    return BadRequest(fmt::format("{}: the body must be a JSON object", what));
  }
  return std::move(value.as_object());
}

// The value stored for `object` at `revision`, within the limits on what is
// stored (object_limits.h).
StatusOr<std::string> Render(json::object& object, int64_t revision, size_t max_object_bytes) {
  Metadata(object)["resourceVersion"] = std::to_string(revision);
  std::string value = json::serialize(object);
  BH_RETURN_IF_ERROR(CheckStorable(value, max_object_bytes));
  return value;
}

Status StoreError(const Status& status, const ResourceTarget& target, const std::string& name) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return NotFoundError(target.type->group, target.type->resource, name);
    case absl::StatusCode::kAlreadyExists:
      return AlreadyExistsError(target.type->group, target.type->resource, name);
    case absl::StatusCode::kAborted:
      return ConflictError(target.type->group, target.type->resource, name,
                           "the object has been modified; please apply your changes to the latest "
                           "version and try again");
    default:
      return status;
  }
}

bool DryRun(const HttpRequest& request) {
  for (const auto& [key, value] : request.query) {
    if (key == "dryRun" && value == "All") {
      return true;
    }
  }
  return false;
}

std::string FieldValidation(const HttpRequest& request) {
  auto mode = request.Query("fieldValidation");
  return mode.has_value() ? std::string(*mode) : "Warn";
}

// The value at a ".a.b" path, optionally created.
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

// Read-only lookup (PathValue without create never changes the object).
const json::value* PathValue(const json::object& object, std::string_view path) {
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

// Applies the parts of `incoming` that a write to `target` may change onto
// `current`: the whole object but status (status subresource: status only),
// keeping what the server owns in metadata.
json::object MergeWrite(const ResourceTarget& target, const json::object& current,
                        json::object incoming) {
  json::object result;
  if (target.subresource == "status") {
    result = current;
    if (const auto* status = incoming.if_contains("status")) {
      result["status"] = *status;
    } else {
      result.erase("status");
    }
    Metadata(result)["resourceVersion"] = MetaString(incoming, "resourceVersion");
  } else {
    result = std::move(incoming);
    if (target.type->status_subresource) {
      if (const auto* status = current.if_contains("status")) {
        result["status"] = *status;
      } else {
        result.erase("status");
      }
    }
  }
  json::object& meta = Metadata(result);
  const auto* old_meta_value = current.if_contains("metadata");
  json::object old_meta = old_meta_value != nullptr && old_meta_value->is_object()
                              ? old_meta_value->as_object()
                              : json::object();
  for (const char* field : {"uid", "creationTimestamp", "deletionTimestamp",
                            "deletionGracePeriodSeconds", "name", "namespace"}) {
    if (const auto* value = old_meta.if_contains(field)) {
      meta[field] = *value;
    } else {
      meta.erase(field);
    }
  }
  if (const auto* generation = old_meta.if_contains("generation")) {
    int64_t next = IntOf(generation, 1);
    const auto* old_spec = current.if_contains("spec");
    const auto* new_spec = result.if_contains("spec");
    bool changed = (old_spec == nullptr) != (new_spec == nullptr) ||
                   (old_spec != nullptr && *old_spec != *new_spec);
    meta["generation"] = changed && target.subresource.empty() ? next + 1 : next;
  }
  result["apiVersion"] = target.type->GroupVersion();
  result["kind"] = target.type->kind;
  return result;
}

json::object ScaleOf(const ResourceType& type, const json::object& object) {
  json::object meta;
  for (const char* field : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
    std::string value = MetaString(object, field);
    if (!value.empty()) {
      meta[field] = value;
    }
  }
  int64_t replicas = IntOf(PathValue(object, type.spec_replicas_path), type.custom ? 0 : 1);
  int64_t current = IntOf(PathValue(object, type.status_replicas_path), 0);
  std::string selector;
  if (type.custom) {
    if (const auto* value = PathValue(object, type.label_selector_path);
        value != nullptr && value->is_string()) {
      selector = std::string(value->as_string());
    }
  } else if (const auto* labels = PathValue(object, ".spec.selector.matchLabels");
             labels != nullptr && labels->is_object()) {
    for (const auto& [key, value] : labels->as_object()) {
      selector += fmt::format("{}{}={}", selector.empty() ? "" : ",", std::string(key),
                              value.is_string() ? std::string(value.as_string()) : "");
    }
  }
  json::object status{{"replicas", current}};
  if (!selector.empty()) {
    status["selector"] = selector;
  }
  return {{"kind", "Scale"},
          {"apiVersion", "autoscaling/v1"},
          {"metadata", std::move(meta)},
          {"spec", json::object{{"replicas", replicas}}},
          {"status", std::move(status)}};
}

std::string ContentTypeBase(const std::string& content_type) {
  std::string_view base = content_type;
  base = base.substr(0, base.find(';'));
  return std::string(TrimSpace(base));
}

enum class PatchKind { kJson, kMerge, kStrategic };

StatusOr<PatchKind> PatchKindOf(const std::string& content_type, const ResourceType& type) {
  std::string base = ContentTypeBase(content_type);
  if (base == "application/json-patch+json") {
    return PatchKind::kJson;
  }
  if (base == "application/merge-patch+json") {
    return PatchKind::kMerge;
  }
  if (base == "application/strategic-merge-patch+json") {
    if (type.custom) {
      return ApiError(415, "UnsupportedMediaType",
                      "the body of the request was in an unknown format - accepted media types "
                      "include: application/json-patch+json, application/merge-patch+json");
    }
    return PatchKind::kStrategic;
  }
  if (base == "application/apply-patch+yaml" || base == "application/apply-patch+cbor") {
    return ApiError(415, "UnsupportedMediaType",
                    "server-side apply is not supported by this server yet; use client-side "
                    "apply (kubectl apply without --server-side) or a patch - accepted media "
                    "types include: application/json-patch+json, application/merge-patch+json, "
                    "application/strategic-merge-patch+json");
  }
  return ApiError(415, "UnsupportedMediaType",
                  fmt::format("the body of the request was in an unknown format ({}) - accepted "
                              "media types include: application/json-patch+json, "
                              "application/merge-patch+json, "
                              "application/strategic-merge-patch+json",
                              base));
}

StatusOr<json::value> ApplyPatch(PatchKind kind, json::value document, const std::string& body,
                                 const std::string& object_kind, size_t max_object_bytes) {
  boost::system::error_code ec;
  json::value patch = ParseJson(body, ec);
  if (ec) {
    return BadRequest(fmt::format("error decoding patch: json parse error: {}", ec.message()));
  }
  StatusOr<json::value> result = absl::InternalError("no patch");
  switch (kind) {
    case PatchKind::kJson:
      result = ApplyJsonPatch(std::move(document), patch,
                              {max_object_bytes, static_cast<size_t>(kMaxObjectDepth)});
      break;
    case PatchKind::kMerge:
      if (!patch.is_object()) {
        return BadRequest("a merge patch must be a JSON object");
      }
      result = ApplyMergePatch(std::move(document), patch);
      break;
    case PatchKind::kStrategic:
      result = ApplyStrategicMergePatch(std::move(document), patch, object_kind);
      break;
  }
  if (result.status().code() == absl::StatusCode::kResourceExhausted) {
    return ApiError(413, "RequestEntityTooLarge",
                    fmt::format("Request entity too large: {}", MessageOf(result.status())));
  }
  if (!result.ok()) {
    return ApiError(422, "Invalid",
                    fmt::format("the patch could not be applied: {}", MessageOf(result.status())));
  }
  if (!result->is_object()) {
    return ApiError(422, "Invalid", "the patched object is not a JSON object");
  }
  return result;
}

}  // namespace

std::string ApiServer::Present(const ResourceTarget& target, const std::string& value) {
  if (!target.type->custom ||
      value.find(fmt::format("\"apiVersion\":\"{}\"", target.type->GroupVersion())) !=
          std::string::npos) {
    return value;
  }
  boost::system::error_code ec;
  json::value object = ParseJson(value, ec);
  if (ec || !object.is_object()) {
    return value;
  }
  object.as_object()["apiVersion"] = target.type->GroupVersion();
  return json::serialize(object);
}

Status ApiServer::CheckObject(const ResourceTarget& target, const HttpRequest& request,
                              json::object& object, std::vector<std::string>& warnings) {
  const ResourceType& type = *target.type;
  std::string api_version = StringField(object, "apiVersion");
  std::string kind = StringField(object, "kind");
  if (!api_version.empty() && api_version != type.GroupVersion()) {
    return BadRequest(
        fmt::format("the API version in the data ({}) does not match the expected API version ({})",
                    api_version, type.GroupVersion()));
  }
  if (!kind.empty() && kind != type.kind) {
    return BadRequest(fmt::format("the kind in the data ({}) does not match the expected kind ({})",
                                  kind, type.kind));
  }
  object["apiVersion"] = type.GroupVersion();
  object["kind"] = type.kind;
  json::value whole(std::move(object));
  FieldCheck check = PruneUnknownFields(type, whole);
  object = std::move(whole.as_object());
  std::string name = MetaString(object, "name");
  if (!check.invalid.empty()) {
    return InvalidError(type.group, type.kind, name, check.invalid);
  }
  if (!check.unknown.empty()) {
    std::string mode = FieldValidation(request);
    if (mode == "Strict") {
      std::string list;
      for (const auto& field : check.unknown) {
        list += fmt::format("{}unknown field \"{}\"", list.empty() ? "" : ", ", field);
      }
      return BadRequest("strict decoding error: " + list);
    }
    if (mode == "Warn") {
      for (const auto& field : check.unknown) {
        warnings.push_back(fmt::format("unknown field \"{}\"", field));
      }
    }
  }
  json::object& meta = Metadata(object);
  std::string ns = MetaString(object, "namespace");
  if (type.namespaced) {
    if (!ns.empty() && ns != target.namespace_name) {
      return BadRequest(
          "the namespace of the provided object does not match the namespace sent on the request");
    }
    meta["namespace"] = target.namespace_name;
  } else {
    meta.erase("namespace");
  }
  std::vector<StatusCause> causes = ValidateObjectMeta(type, object);
  if (type.kind == "CustomResourceDefinition") {
    auto more = ValidateCrd(object);
    causes.insert(causes.end(), more.begin(), more.end());
    const auto* group = PathValue(object, ".spec.group");
    const auto* plural = PathValue(object, ".spec.names.plural");
    if (group != nullptr && group->is_string() && plural != nullptr && plural->is_string() &&
        registry_.IsBuiltin(std::string(group->as_string()), std::string(plural->as_string()))) {
      causes.push_back(
          {"FieldValueInvalid",
           fmt::format("Invalid value: \"{}\": {}.{} is a built-in resource and cannot be "
                       "defined by a CustomResourceDefinition",
                       std::string(group->as_string()), std::string(plural->as_string()),
                       std::string(group->as_string())),
           "spec.group"});
    }
  }
  if (!causes.empty()) {
    return InvalidError(type.group, type.kind, name, std::move(causes));
  }
  return absl::OkStatus();
}

void ApiServer::Get(const ResourceTarget& target, const HttpRequest& request,
                    ResponseWriter& writer) {
  auto kv = store_.Get(target.Key());
  if (!kv.ok()) {
    SendError(writer, kv.status());
    return;
  }
  if (!kv->has_value()) {
    SendError(writer, NotFoundError(target.type->group, target.type->resource, target.name));
    return;
  }
  std::string value = Present(target, (*kv)->value);
  if (WantsTable(request)) {
    boost::system::error_code ec;
    json::value object = ParseJson(value, ec);
    if (!ec && object.is_object()) {
      json::object table = MakeTable(
          *target.type, {object.as_object()}, IncludeObjectOf(request),
          json::object{{"resourceVersion", std::to_string((*kv)->mod_revision)}}, Clock::now());
      writer.Send(200, kTableContentType, json::serialize(table));
      return;
    }
  }
  SendRawJson(writer, 200, std::move(value));
}

void ApiServer::List(const ResourceTarget& target, const HttpRequest& request,
                     ResponseWriter& writer) {
  auto parsed_selectors =
      QuerySelectors::Parse(request.Query("labelSelector"), request.Query("fieldSelector"));
  if (!parsed_selectors.ok()) {
    SendError(writer, BadRequest(MessageOf(parsed_selectors.status())));
    return;
  }
  const QuerySelectors& selectors = *parsed_selectors;
  size_t limit = 0;
  if (auto text = request.Query("limit"); text.has_value() && !text->empty()) {
    auto parsed = ParseInteger<int64_t>(*text);
    if (!parsed.has_value() || *parsed < 0) {
      SendError(writer, BadRequest(fmt::format("invalid limit \"{}\"", *text)));
      return;
    }
    limit = static_cast<size_t>(*parsed);
  }
  std::string start_after;
  int64_t revision = 0;
  if (auto token = request.Query("continue"); token.has_value() && !token->empty()) {
    auto decoded = Base64Decode(*token);
    boost::system::error_code ec;
    json::value doc = decoded.has_value() ? ParseJson(*decoded, ec) : json::value();
    if (!decoded.has_value() || ec || !doc.is_object() || !doc.as_object().contains("rv") ||
        !doc.as_object().contains("start")) {
      SendError(writer, BadRequest("continue key is not valid"));
      return;
    }
    revision = IntOf(doc.as_object().if_contains("rv"), 0);
    start_after = target.CollectionPrefix() + StringField(doc.as_object(), "start");
    if (revision < store_.CompactedRevision()) {
      SendError(writer,
                ApiError(410, "Expired",
                         "The provided continue parameter is too old to display a consistent list "
                         "result. You can start a new list without the continue parameter."));
      return;
    }
  } else if (auto rv = request.Query("resourceVersion"); rv.has_value() && !rv->empty()) {
    auto asked = ParseInteger<int64_t>(*rv);
    if (!asked.has_value() || *asked < 0) {
      SendError(writer, BadRequest(fmt::format("invalid resourceVersion \"{}\"", *rv)));
      return;
    }
    if (*asked > store_.Revision()) {
      SendError(writer, TooLargeResourceVersionError(*asked, store_.Revision()));
      return;
    }
    if (request.Query("resourceVersionMatch") == "Exact") {
      revision = *asked;
    }
  }
  const bool filter = !selectors.empty();
  const bool table = WantsTable(request);
  const std::string prefix = target.CollectionPrefix();
  std::vector<std::string> items;
  std::vector<json::object> objects;
  std::string last_key;
  bool more = false;
  int64_t list_revision = 0;
  std::string cursor = start_after;
  while (true) {
    size_t want = limit == 0 ? 0 : limit - items.size();
    auto page = store_.List(
        prefix, cursor, filter ? (limit == 0 ? 0 : std::max<size_t>(want, 64)) : want, revision);
    if (!page.ok()) {
      SendError(writer, page.status().code() == absl::StatusCode::kOutOfRange
                            ? ApiError(410, "Expired", MessageOf(page.status()))
                            : page.status());
      return;
    }
    list_revision = page->revision;
    revision = page->revision;
    bool full = false;
    for (size_t i = 0; i < page->items.size(); ++i) {
      auto& kv = page->items[i];
      if (limit != 0 && items.size() + objects.size() == limit) {
        full = true;
        break;
      }
      last_key = kv.key;
      std::string value = Present(target, kv.value);
      if (filter || table) {
        boost::system::error_code ec;
        json::value object = ParseJson(value, ec);
        if (ec || !object.is_object()) {
          continue;
        }
        if (!selectors.Matches(object.as_object())) {
          continue;
        }
        if (table) {
          objects.push_back(std::move(object.as_object()));
          continue;
        }
      }
      items.push_back(std::move(value));
    }
    if (full) {
      more = true;
      break;
    }
    if (!page->more) {
      break;
    }
    if (limit != 0 && items.size() + objects.size() == limit) {
      more = true;
      break;
    }
    cursor = last_key;
  }
  json::object metadata{{"resourceVersion", std::to_string(list_revision)}};
  if (more) {
    json::object token{
        {"v", "meta.k8s.io/v1"}, {"rv", list_revision}, {"start", last_key.substr(prefix.size())}};
    metadata["continue"] = Base64Encode(json::serialize(token));
  }
  if (table) {
    writer.Send(200, kTableContentType,
                json::serialize(MakeTable(*target.type, objects, IncludeObjectOf(request),
                                          std::move(metadata), Clock::now())));
    return;
  }
  std::string body =
      fmt::format(R"({{"kind":"{}","apiVersion":"{}","metadata":{},"items":[)",
                  target.type->list_kind, target.type->GroupVersion(), json::serialize(metadata));
  for (size_t i = 0; i < items.size(); ++i) {
    if (i != 0) {
      body += ',';
    }
    body += items[i];
  }
  body += "]}";
  SendRawJson(writer, 200, std::move(body));
}

void ApiServer::Create(const ResourceTarget& target, const HttpRequest& request,
                       ResponseWriter& writer) {
  const ResourceType& type = *target.type;
  if (!target.subresource.empty() || (type.namespaced && target.namespace_name.empty())) {
    SendError(writer, ApiError(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested resource"));
    return;
  }
  auto parsed = ParseObject(request, "couldn't get version/kind");
  if (!parsed.ok()) {
    SendError(writer, parsed.status());
    return;
  }
  json::object object = std::move(parsed).value();
  json::object& meta = Metadata(object);
  std::string generate = MetaString(object, "generateName");
  bool generated = MetaString(object, "name").empty() && !generate.empty();
  if (generated) {
    meta["name"] = generate.substr(0, 58) + RandomNameSuffix(5);
  }
  std::vector<std::string> warnings;
  if (Status status = CheckObject(target, request, object, warnings); !status.ok()) {
    SendError(writer, status);
    return;
  }
  std::string name = MetaString(object, "name");
  if (!MetaString(object, "resourceVersion").empty()) {
    SendError(writer, BadRequest("resourceVersion should not be set on objects to be created"));
    return;
  }
  if (type.namespaced) {
    auto ns_type = registry_.Find("", "v1", "namespaces");
    ResourceTarget ns_target{ns_type, "", target.namespace_name, ""};
    auto ns = store_.Get(ns_target.Key());
    if (!ns.ok()) {
      SendError(writer, ns.status());
      return;
    }
    if (!ns->has_value()) {
      SendError(writer, NotFoundError("", "namespaces", target.namespace_name));
      return;
    }
  }
  std::string now = NowRfc3339();
  json::object& m = Metadata(object);
  m["uid"] = NewUid();
  m["creationTimestamp"] = now;
  m.erase("deletionTimestamp");
  m.erase("deletionGracePeriodSeconds");
  m.erase("selfLink");
  if (object.contains("spec") || type.kind == "Pod") {
    m["generation"] = 1;
  }
  if (type.status_subresource) {
    object.erase("status");
  }
  if (type.kind == "Pod") {
    object["status"] = json::object{{"phase", "Pending"}, {"qosClass", "BestEffort"}};
  } else if (type.kind == "Namespace") {
    object["status"] = json::object{{"phase", "Active"}};
    json::object& labels = [&]() -> json::object& {
      json::value& value = m["labels"];
      if (!value.is_object()) {
        value = json::object();
      }
      return value.as_object();
    }();
    labels["kubernetes.io/metadata.name"] = name;
  } else if (type.kind == "CustomResourceDefinition") {
    object["status"] = CrdStatus(object, now);
  } else if (!type.custom && (type.kind == "Deployment" || type.kind == "ReplicaSet" ||
                              type.kind == "StatefulSet")) {
    if (auto* replicas = PathValue(object, ".spec.replicas", true); replicas->is_null()) {
      *replicas = 1;
    }
  }
  ApplyDefaults(type, object);
  AddWarnings(writer, warnings);
  auto render = [&](int64_t revision, int64_t) {
    return Render(object, revision, options_.max_object_bytes);
  };
  if (DryRun(request)) {
    if (auto checked = render(0, 0); !checked.ok()) {
      SendError(writer, checked.status());
      return;
    }
    Metadata(object).erase("resourceVersion");
    SendJson(writer, 201, object);
    return;
  }
  auto created = store_.Create(target.KeyOf(name), render);
  for (int attempt = 0; generated && attempt < 8 && !created.ok() &&
                        created.status().code() == absl::StatusCode::kAlreadyExists;
       ++attempt) {
    name = generate.substr(0, 58) + RandomNameSuffix(5);
    Metadata(object)["name"] = name;
    created = store_.Create(target.KeyOf(name), render);
  }
  if (!created.ok()) {
    SendError(writer, StoreError(created.status(), target, name));
    return;
  }
  if (type.kind == "CustomResourceDefinition") {
    OnCrdChanged(&object, name);
  }
  SendRawJson(writer, 201, Present(target, created->value));
}

StatusOr<KeyValue> ApiServer::Mutate(const ResourceTarget& target, const Change& change,
                                     bool dry_run, std::vector<std::string>* warnings) {
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    if (warnings != nullptr) {
      warnings->clear();
    }
    BH_ASSIGN_OR_RETURN(auto current, store_.Get(target.Key()));
    if (!current.has_value()) {
      return NotFoundError(target.type->group, target.type->resource, target.name);
    }
    boost::system::error_code ec;
    json::value parsed = ParseJson(current->value, ec);
    if (ec || !parsed.is_object()) {
      return absl::InternalError(fmt::format("stored object {} is not JSON", target.Key()));
    }
    BH_ASSIGN_OR_RETURN(json::object next, change(parsed.as_object()));
    std::string pinned = MetaString(next, "resourceVersion");
    if (!pinned.empty() && pinned != std::to_string(current->mod_revision)) {
      return StoreError(absl::AbortedError("stale"), target, target.name);
    }
    if (dry_run) {
      KeyValue kv = *current;
      BH_ASSIGN_OR_RETURN(kv.value, Render(next, current->mod_revision, options_.max_object_bytes));
      return kv;
    }
    const auto* finalizers = PathValue(next, ".metadata.finalizers", false);
    bool no_finalizers =
        finalizers == nullptr || !finalizers->is_array() || finalizers->as_array().empty();
    if (!MetaString(next, "deletionTimestamp").empty() && no_finalizers &&
        target.subresource.empty()) {
      auto deleted = DeleteKey(target, *current);
      if (deleted.ok() || deleted.status().code() != absl::StatusCode::kAborted) {
        return deleted;
      }
      continue;
    }
    auto updated =
        store_.Update(target.Key(), current->mod_revision, [&](int64_t revision, int64_t) {
          return Render(next, revision, options_.max_object_bytes);
        });
    if (updated.ok()) {
      if (target.type->kind == "CustomResourceDefinition") {
        OnCrdChanged(&next, target.name);
      }
      return updated;
    }
    if (updated.status().code() != absl::StatusCode::kAborted) {
      return StoreError(updated.status(), target, target.name);
    }
  }
  return StoreError(absl::AbortedError("too many conflicts"), target, target.name);
}

void ApiServer::Update(const ResourceTarget& target, const HttpRequest& request,
                       ResponseWriter& writer) {
  auto parsed = ParseObject(request, "couldn't get version/kind");
  if (!parsed.ok()) {
    SendError(writer, parsed.status());
    return;
  }
  std::string body_name = MetaString(*parsed, "name");
  if (body_name != target.name) {
    SendError(writer, BadRequest(fmt::format(
                          "the name of the object ({}) does not match the name on the URL ({})",
                          body_name, target.name)));
    return;
  }
  std::vector<std::string> warnings;
  json::object incoming = std::move(parsed).value();
  auto updated = Mutate(
      target,
      [&](const json::object& current) -> StatusOr<json::object> {
        json::object copy = incoming;
        std::vector<std::string> found;
        BH_RETURN_IF_ERROR(CheckObject(target, request, copy, found));
        warnings = found;
        std::string pinned = MetaString(copy, "resourceVersion");
        json::object next = MergeWrite(target, current, std::move(copy));
        ApplyDefaults(*target.type, next);
        Metadata(next)["resourceVersion"] = pinned;
        return next;
      },
      DryRun(request), nullptr);
  if (!updated.ok()) {
    SendError(writer, updated.status());
    return;
  }
  AddWarnings(writer, warnings);
  SendRawJson(writer, 200, Present(target, updated->value));
}

void ApiServer::Patch(const ResourceTarget& target, const HttpRequest& request,
                      ResponseWriter& writer) {
  auto kind = PatchKindOf(request.content_type, *target.type);
  if (!kind.ok()) {
    SendError(writer, kind.status());
    return;
  }
  std::vector<std::string> warnings;
  auto updated = Mutate(
      target,
      [&](const json::object& current) -> StatusOr<json::object> {
        BH_ASSIGN_OR_RETURN(json::value patched,
                            ApplyPatch(*kind, json::value(current), request.body, target.type->kind,
                                       options_.max_object_bytes));
        json::object next = std::move(patched.as_object());
        std::vector<std::string> found;
        BH_RETURN_IF_ERROR(CheckObject(target, request, next, found));
        warnings = found;
        std::string pinned = MetaString(next, "resourceVersion");
        json::object merged = MergeWrite(target, current, std::move(next));
        ApplyDefaults(*target.type, merged);
        Metadata(merged)["resourceVersion"] = pinned;
        return merged;
      },
      DryRun(request), nullptr);
  if (!updated.ok()) {
    SendError(writer, updated.status());
    return;
  }
  AddWarnings(writer, warnings);
  SendRawJson(writer, 200, Present(target, updated->value));
}

StatusOr<KeyValue> ApiServer::DeleteKey(const ResourceTarget& target, const KeyValue& current) {
  if (target.type->kind == "Namespace") {
    BH_RETURN_IF_ERROR(CascadeNamespace(target.name));
  }
  auto deleted = store_.Delete(target.Key(), current.mod_revision);
  if (!deleted.ok()) {
    return deleted.status().code() == absl::StatusCode::kAborted
               ? deleted.status()
               : StoreError(deleted.status(), target, target.name);
  }
  if (target.type->kind == "CustomResourceDefinition") {
    boost::system::error_code ec;
    json::value crd = ParseJson(current.value, ec);
    if (!ec && crd.is_object()) {
      BH_RETURN_IF_ERROR(CascadeCustomResources(crd.as_object()));
    }
    OnCrdChanged(nullptr, target.name);
  }
  return deleted;
}

Status ApiServer::CascadeNamespace(const std::string& name) {
  std::vector<std::string> prefixes;
  for (const auto& type : registry_.All()) {
    std::string prefix = type->KeyPrefix() + name + "/";
    if (type->namespaced && std::find(prefixes.begin(), prefixes.end(), prefix) == prefixes.end()) {
      prefixes.push_back(prefix);
    }
  }
  for (const auto& prefix : prefixes) {
    BH_ASSIGN_OR_RETURN(auto list, store_.List(prefix, "", 0, 0));
    for (const auto& kv : list.items) {
      auto deleted = store_.Delete(kv.key, 0);
      if (!deleted.ok() && deleted.status().code() != absl::StatusCode::kNotFound) {
        return deleted.status();
      }
    }
  }
  return absl::OkStatus();
}

Status ApiServer::CascadeCustomResources(const json::object& crd) {
  auto types = ResourceTypesOfCrd(crd);
  // A CRD stored before built-in names were refused must not take the
  // built-in objects with it.
  if (types.empty() || registry_.IsBuiltin(types.front().group, types.front().resource)) {
    return absl::OkStatus();
  }
  BH_ASSIGN_OR_RETURN(auto list, store_.List(types.front().KeyPrefix(), "", 0, 0));
  for (const auto& kv : list.items) {
    auto deleted = store_.Delete(kv.key, 0);
    if (!deleted.ok() && deleted.status().code() != absl::StatusCode::kNotFound) {
      return deleted.status();
    }
  }
  return absl::OkStatus();
}

void ApiServer::Delete(const ResourceTarget& target, const HttpRequest& request,
                       ResponseWriter& writer) {
  if (IsSystemNamespace(target)) {
    SendError(writer,
              ForbiddenError("", "namespaces", target.name, "this namespace may not be deleted"));
    return;
  }
  json::object options;
  // DeleteOptions sent as protobuf (meta.k8s.io, outside the served groups)
  // are not read; kubectl sends them as JSON.
  if (!TrimSpace(request.body).empty() && !request.content_type.starts_with(kProtobufContentType)) {
    auto parsed = ParseObject(request, "error decoding DeleteOptions");
    if (!parsed.ok()) {
      SendError(writer, parsed.status());
      return;
    }
    options = std::move(parsed).value();
  }
  bool dry_run = DryRun(request);
  if (const auto* flags = options.if_contains("dryRun"); flags != nullptr && flags->is_array()) {
    for (const auto& flag : flags->as_array()) {
      dry_run = dry_run || (flag.is_string() && flag.as_string() == "All");
    }
  }
  std::string want_uid;
  std::string want_rv;
  if (const auto* pre = options.if_contains("preconditions"); pre != nullptr && pre->is_object()) {
    want_uid = StringField(pre->as_object(), "uid");
    want_rv = StringField(pre->as_object(), "resourceVersion");
  }
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    auto current = store_.Get(target.Key());
    if (!current.ok()) {
      SendError(writer, current.status());
      return;
    }
    if (!current->has_value()) {
      SendError(writer, NotFoundError(target.type->group, target.type->resource, target.name));
      return;
    }
    boost::system::error_code ec;
    json::value object = ParseJson((*current)->value, ec);
    if (ec || !object.is_object()) {
      // An object that no longer reads (stored before the limits of
      // object_limits.h) can still be deleted: it has no finalizers to honour.
      Logger(Component::kApiserver)
          .warn("deleting unreadable object key={} error={}", target.Key(), ec.message());
      object = json::object();
    }
    std::string uid = MetaString(object.as_object(), "uid");
    if (!want_uid.empty() && want_uid != uid) {
      SendError(writer, ConflictError(target.type->group, target.type->resource, target.name,
                                      fmt::format("Precondition failed: UID in precondition: {}, "
                                                  "UID in object meta: {}",
                                                  want_uid, uid)));
      return;
    }
    if (!want_rv.empty() && want_rv != std::to_string((*current)->mod_revision)) {
      SendError(writer, ConflictError(target.type->group, target.type->resource, target.name,
                                      fmt::format("Precondition failed: ResourceVersion in "
                                                  "precondition: {}, ResourceVersion in object "
                                                  "meta: {}",
                                                  want_rv, (*current)->mod_revision)));
      return;
    }
    if (dry_run) {
      SendRawJson(writer, 200, Present(target, (*current)->value));
      return;
    }
    const auto* finalizers = PathValue(object.as_object(), ".metadata.finalizers", false);
    if (target.type->kind != "Namespace" && finalizers != nullptr && finalizers->is_array() &&
        !finalizers->as_array().empty()) {
      json::object next = object.as_object();
      if (MetaString(next, "deletionTimestamp").empty()) {
        Metadata(next)["deletionTimestamp"] = NowRfc3339();
        Metadata(next)["deletionGracePeriodSeconds"] = 0;
      }
      auto updated =
          store_.Update(target.Key(), (*current)->mod_revision, [&](int64_t revision, int64_t) {
            return Render(next, revision, options_.max_object_bytes);
          });
      if (updated.ok()) {
        SendRawJson(writer, 200, Present(target, updated->value));
        return;
      }
      if (updated.status().code() != absl::StatusCode::kAborted) {
        SendError(writer, updated.status());
        return;
      }
      continue;
    }
    auto deleted = DeleteKey(target, **current);
    if (deleted.ok()) {
      SendRawJson(writer, 200, Present(target, (*current)->value));
      return;
    }
    if (deleted.status().code() != absl::StatusCode::kAborted) {
      SendError(writer, deleted.status());
      return;
    }
  }
  SendError(writer, StoreError(absl::AbortedError("conflict"), target, target.name));
}

void ApiServer::DeleteCollection(const ResourceTarget& target, const HttpRequest& request,
                                 ResponseWriter& writer) {
  auto parsed_selectors =
      QuerySelectors::Parse(request.Query("labelSelector"), request.Query("fieldSelector"));
  if (!parsed_selectors.ok()) {
    SendError(writer, BadRequest(MessageOf(parsed_selectors.status())));
    return;
  }
  const QuerySelectors& selectors = *parsed_selectors;
  auto list = store_.List(target.CollectionPrefix(), "", 0, 0);
  if (!list.ok()) {
    SendError(writer, list.status());
    return;
  }
  std::string items;
  for (const auto& kv : list->items) {
    boost::system::error_code ec;
    json::value object = ParseJson(kv.value, ec);
    if (ec || !object.is_object() || !selectors.Matches(object.as_object())) {
      continue;
    }
    ResourceTarget one = target;
    one.name = MetaString(object.as_object(), "name");
    one.namespace_name = MetaString(object.as_object(), "namespace");
    if (IsSystemNamespace(one)) {
      continue;
    }
    if (DryRun(request)) {
      items += (items.empty() ? "" : ",") + Present(target, kv.value);
      continue;
    }
    auto deleted = DeleteKey(one, kv);
    if (deleted.ok()) {
      items += (items.empty() ? "" : ",") + Present(target, kv.value);
    } else if (deleted.status().code() != absl::StatusCode::kNotFound &&
               deleted.status().code() != absl::StatusCode::kAborted) {
      SendError(writer, deleted.status());
      return;
    }
  }
  SendRawJson(
      writer, 200,
      fmt::format(
          R"({{"kind":"{}","apiVersion":"{}","metadata":{{"resourceVersion":"{}"}},"items":[{}]}})",
          target.type->list_kind, target.type->GroupVersion(), store_.Revision(), items));
}

void ApiServer::GetScale(const ResourceTarget& target, const HttpRequest& /*request*/,
                         ResponseWriter& writer) {
  auto kv = store_.Get(target.Key());
  if (!kv.ok()) {
    SendError(writer, kv.status());
    return;
  }
  if (!kv->has_value()) {
    SendError(writer, NotFoundError(target.type->group, target.type->resource, target.name));
    return;
  }
  boost::system::error_code ec;
  json::value object = ParseJson((*kv)->value, ec);
  if (ec || !object.is_object()) {
    SendError(writer, absl::InternalError("stored object is not JSON"));
    return;
  }
  SendJson(writer, 200, ScaleOf(*target.type, object.as_object()));
}

void ApiServer::UpdateScale(const ResourceTarget& target, const HttpRequest& request,
                            ResponseWriter& writer) {
  std::optional<PatchKind> patch_kind;
  if (request.method == "PATCH") {
    auto kind = PatchKindOf(request.content_type, *target.type);
    if (!kind.ok() &&
        ContentTypeBase(request.content_type) != "application/strategic-merge-patch+json") {
      SendError(writer, kind.status());
      return;
    }
    // A Scale has no merge keys: a strategic merge patch of it is a merge patch.
    patch_kind = kind.ok() && *kind != PatchKind::kStrategic ? *kind : PatchKind::kMerge;
  }
  json::object result_scale;
  auto updated = Mutate(
      target,
      [&](const json::object& current) -> StatusOr<json::object> {
        json::object scale = ScaleOf(*target.type, current);
        json::object wanted;
        if (patch_kind.has_value()) {
          BH_ASSIGN_OR_RETURN(json::value patched,
                              ApplyPatch(*patch_kind, json::value(scale), request.body, "Scale",
                                         options_.max_object_bytes));
          wanted = std::move(patched.as_object());
        } else {
          BH_ASSIGN_OR_RETURN(wanted, ParseObject(request, "couldn't get version/kind"));
        }
        const json::value* replicas = PathValue(wanted, ".spec.replicas", false);
        if (replicas == nullptr || !(replicas->is_int64() || replicas->is_uint64()) ||
            IntOf(replicas, -1) < 0) {
          return InvalidError(
              "autoscaling", "Scale", target.name,
              {{"FieldValueInvalid", "Invalid value: must be greater than or equal to 0",
                "spec.replicas"}});
        }
        json::object next = current;
        *PathValue(next, target.type->spec_replicas_path, true) = IntOf(replicas, 0);
        Metadata(next)["resourceVersion"] = MetaString(wanted, "resourceVersion");
        const auto* generation = PathValue(next, ".metadata.generation", false);
        Metadata(next)["generation"] = IntOf(generation, 1) + 1;
        return next;
      },
      DryRun(request), nullptr);
  if (!updated.ok()) {
    SendError(writer, updated.status());
    return;
  }
  boost::system::error_code ec;
  json::value object = ParseJson(updated->value, ec);
  if (ec || !object.is_object()) {
    SendError(writer, absl::InternalError("stored object is not JSON"));
    return;
  }
  SendJson(writer, 200, ScaleOf(*target.type, object.as_object()));
}

}  // namespace bulkhead::controlplane
