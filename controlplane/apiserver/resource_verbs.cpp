// The verbs on stored resources: get, list, create, update, patch, delete,
// deletecollection, and the scale subresource. (Watch is in watch.cpp.)

#include <boost/json.hpp>
#include <charconv>
#include <optional>

#include "common/logging.h"
#include "common/strings.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/api_server.h"
#include "controlplane/apiserver/crd.h"
#include "controlplane/apiserver/defaults.h"
#include "controlplane/apiserver/field_schema.h"
#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/object_validation.h"
#include "controlplane/apiserver/patch.h"
#include "controlplane/apiserver/protobuf_body.h"
#include "controlplane/apiserver/registry/object_registry.h"
#include "controlplane/apiserver/request_body.h"
#include "controlplane/apiserver/responses.h"
#include "controlplane/apiserver/selectors.h"
#include "controlplane/auth/escalation.h"
#include "controlplane/pki/base64.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;
using Clock = std::chrono::system_clock;

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
  } else if (const auto* labels = PathValue(object, type.kind == "ReplicationController"
                                                        ? ".spec.selector"
                                                        : ".spec.selector.matchLabels");
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

// DeleteOptions.propagationPolicy (the query parameter wins), or the
// deprecated orphanDependents; a 422 as Kubernetes words it for anything
// else or for both at once.
StatusOr<Propagation> DeletePropagation(const json::object& options, const HttpRequest& request) {
  const json::value* policy_value = options.if_contains("propagationPolicy");
  std::optional<std::string> policy;
  if (policy_value != nullptr && policy_value->is_string()) {
    policy = std::string(policy_value->as_string());
  }
  if (auto query = request.Query("propagationPolicy"); query.has_value()) {
    policy = std::string(*query);
  }
  std::optional<bool> orphan;
  if (const json::value* body = options.if_contains("orphanDependents");
      body != nullptr && !body->is_null()) {
    orphan = body->is_bool() && body->as_bool();
  } else if (auto query = request.Query("orphanDependents"); query.has_value()) {
    orphan = *query == "true";
  }
  if (policy.has_value() && orphan.has_value()) {
    return InvalidError(
        "meta.k8s.io", "DeleteOptions", "",
        {{"FieldValueInvalid", "orphanDependents and deletionPropagation cannot be both set",
          "propagationPolicy"}});
  }
  if (orphan.has_value()) {
    return *orphan ? Propagation::kOrphan : Propagation::kBackground;
  }
  if (!policy.has_value()) {
    return Propagation::kDefault;
  }
  auto parsed = ParsePropagation(*policy);
  if (!parsed.has_value()) {
    return InvalidError(
        "meta.k8s.io", "DeleteOptions", "",
        {{"FieldValueNotSupported",
          fmt::format("Unsupported value: \"{}\": supported values: \"Background\", "
                      "\"Foreground\", \"Orphan\"",
                      *policy),
          "propagationPolicy"}});
  }
  return *parsed;
}

// DeleteOptions.gracePeriodSeconds, else the gracePeriodSeconds query
// parameter (used, as Kubernetes does, when the body names none); a 400 for
// what is not an integer.
StatusOr<std::optional<int64_t>> DeleteGracePeriod(const json::object& options,
                                                   const HttpRequest& request) {
  if (const json::value* body = options.if_contains("gracePeriodSeconds");
      body != nullptr && !body->is_null()) {
    if (!body->is_int64()) {
      return BadRequest("error decoding DeleteOptions: gracePeriodSeconds must be an integer");
    }
    return body->as_int64();
  }
  auto query = request.Query("gracePeriodSeconds");
  if (!query.has_value()) {
    return std::optional<int64_t>();
  }
  int64_t seconds = 0;
  const char* end = query->data() + query->size();
  auto [ptr, error] = std::from_chars(query->data(), end, seconds);
  if (error != std::errc() || ptr != end) {
    return BadRequest(
        fmt::format("invalid value for gracePeriodSeconds: {}: not an integer", *query));
  }
  return seconds;
}

struct DeleteRequest {
  DeleteOptions options;
  bool dry_run = false;
};

// The DeleteOptions of a delete or deletecollection: from the body
// (DeleteOptions sent as protobuf, meta.k8s.io outside the served groups,
// are not read; kubectl sends them as JSON) and the query.
StatusOr<DeleteRequest> ReadDeleteRequest(const HttpRequest& request) {
  json::object options;
  if (!TrimSpace(request.body).empty() && !request.content_type.starts_with(kProtobufContentType)) {
    BH_ASSIGN_OR_RETURN(options, ParseRequestObject(request, "error decoding DeleteOptions"));
  }
  DeleteRequest parsed;
  parsed.dry_run = DryRun(request);
  if (const auto* flags = options.if_contains("dryRun"); flags != nullptr && flags->is_array()) {
    for (const auto& flag : flags->as_array()) {
      parsed.dry_run = parsed.dry_run || (flag.is_string() && flag.as_string() == "All");
    }
  }
  if (const auto* pre = options.if_contains("preconditions"); pre != nullptr && pre->is_object()) {
    parsed.options.uid = StringField(pre->as_object(), "uid");
    parsed.options.resource_version = StringField(pre->as_object(), "resourceVersion");
  }
  BH_ASSIGN_OR_RETURN(parsed.options.propagation, DeletePropagation(options, request));
  BH_ASSIGN_OR_RETURN(parsed.options.grace_period_seconds, DeleteGracePeriod(options, request));
  return parsed;
}

}  // namespace

void ApiServer::Get(const ResourceTarget& target, const HttpRequest& request,
                    ResponseWriter& writer) {
  auto kv = objects_.GetExisting(target);
  if (!kv.ok()) {
    SendError(writer, kv.status());
    return;
  }
  std::string value = objects_.Present(target, kv->value);
  if (WantsTable(request)) {
    boost::system::error_code ec;
    json::value object = ParseJson(value, ec);
    if (!ec && object.is_object()) {
      json::object table = MakeTable(
          *target.type, {object.as_object()}, IncludeObjectOf(request),
          json::object{{"resourceVersion", std::to_string(kv->mod_revision)}}, Clock::now());
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
    if (revision < objects_.CompactedRevision()) {
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
    if (*asked > objects_.Revision()) {
      SendError(writer, TooLargeResourceVersionError(*asked, objects_.Revision()));
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
    auto page = objects_.List(
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
      std::string value = objects_.Present(target, kv.value);
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
  auto parsed = ParseRequestObject(request, "couldn't get version/kind");
  if (!parsed.ok()) {
    SendError(writer, parsed.status());
    return;
  }
  if (Status admitted = ConfirmNoEscalation(*authorizer_, *request.user, target, *parsed, nullptr);
      !admitted.ok()) {
    SendError(writer, admitted);
    return;
  }
  std::vector<std::string> warnings;
  bool dry_run = DryRun(request);
  auto created = objects_.Create(target, std::move(parsed).value(), FieldValidation(request),
                                 dry_run, warnings);
  AddWarnings(writer, warnings);
  if (!created.ok()) {
    SendError(writer, created.status());
    return;
  }
  SendRawJson(writer, 201, dry_run ? created->value : objects_.Present(target, created->value));
}

void ApiServer::Update(const ResourceTarget& target, const HttpRequest& request,
                       ResponseWriter& writer) {
  auto parsed = ParseRequestObject(request, "couldn't get version/kind");
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
  auto updated = objects_.GuaranteedUpdate(
      target,
      [&](const json::object& current) -> StatusOr<json::object> {
        warnings.clear();
        BH_ASSIGN_OR_RETURN(
            json::object next,
            objects_.PrepareUpdate(target, current, incoming, FieldValidation(request), warnings));
        BH_RETURN_IF_ERROR(
            ConfirmNoEscalation(*authorizer_, *request.user, target, next, &current));
        return next;
      },
      DryRun(request));
  if (!updated.ok()) {
    SendError(writer, updated.status());
    return;
  }
  AddWarnings(writer, warnings);
  SendRawJson(writer, 200, objects_.Present(target, updated->value));
}

void ApiServer::Patch(const ResourceTarget& target, const HttpRequest& request,
                      ResponseWriter& writer) {
  auto kind = PatchKindOf(request.content_type, *target.type);
  if (!kind.ok()) {
    SendError(writer, kind.status());
    return;
  }
  std::vector<std::string> warnings;
  auto updated = objects_.GuaranteedUpdate(
      target,
      [&](const json::object& current) -> StatusOr<json::object> {
        BH_ASSIGN_OR_RETURN(json::value patched,
                            ApplyPatch(*kind, json::value(current), request.body, target.type->kind,
                                       options_.max_object_bytes));
        warnings.clear();
        BH_ASSIGN_OR_RETURN(json::object next,
                            objects_.PrepareUpdate(target, current, std::move(patched.as_object()),
                                                   FieldValidation(request), warnings));
        BH_RETURN_IF_ERROR(
            ConfirmNoEscalation(*authorizer_, *request.user, target, next, &current));
        return next;
      },
      DryRun(request));
  if (!updated.ok()) {
    SendError(writer, updated.status());
    return;
  }
  AddWarnings(writer, warnings);
  SendRawJson(writer, 200, objects_.Present(target, updated->value));
}

void ApiServer::Delete(const ResourceTarget& target, const HttpRequest& request,
                       ResponseWriter& writer) {
  // Refused before the options are read: a 403 comes before a 400.
  if (Status allowed = objects_.CanDelete(target); !allowed.ok()) {
    SendError(writer, allowed);
    return;
  }
  auto parsed = ReadDeleteRequest(request);
  if (!parsed.ok()) {
    SendError(writer, parsed.status());
    return;
  }
  auto deleted = objects_.Delete(target, parsed->options, parsed->dry_run);
  if (!deleted.ok()) {
    SendError(writer, deleted.status());
    return;
  }
  SendRawJson(writer, 200, objects_.Present(target, deleted->value));
}

void ApiServer::DeleteCollection(const ResourceTarget& target, const HttpRequest& request,
                                 ResponseWriter& writer) {
  auto parsed_selectors =
      QuerySelectors::Parse(request.Query("labelSelector"), request.Query("fieldSelector"));
  if (!parsed_selectors.ok()) {
    SendError(writer, BadRequest(MessageOf(parsed_selectors.status())));
    return;
  }
  auto parsed = ReadDeleteRequest(request);
  if (!parsed.ok()) {
    SendError(writer, parsed.status());
    return;
  }
  auto deleted =
      objects_.DeleteCollection(target, *parsed_selectors, parsed->options, parsed->dry_run);
  if (!deleted.ok()) {
    SendError(writer, deleted.status());
    return;
  }
  std::string items;
  for (const std::string& value : *deleted) {
    items += (items.empty() ? "" : ",") + value;
  }
  SendRawJson(
      writer, 200,
      fmt::format(
          R"({{"kind":"{}","apiVersion":"{}","metadata":{{"resourceVersion":"{}"}},"items":[{}]}})",
          target.type->list_kind, target.type->GroupVersion(), objects_.Revision(), items));
}

void ApiServer::GetScale(const ResourceTarget& target, const HttpRequest& /*request*/,
                         ResponseWriter& writer) {
  auto kv = objects_.GetExisting(target);
  if (!kv.ok()) {
    SendError(writer, kv.status());
    return;
  }
  boost::system::error_code ec;
  json::value object = ParseJson(kv->value, ec);
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
  auto updated = objects_.GuaranteedUpdate(
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
          BH_ASSIGN_OR_RETURN(wanted, ParseRequestObject(request, "couldn't get version/kind"));
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
      DryRun(request));
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
