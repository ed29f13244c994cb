#include "controlplane/apiserver/registry/object_registry.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>

#include "common/logging.h"
#include "controlplane/apiserver/admission/pod_resources.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/crd.h"
#include "controlplane/apiserver/defaults.h"
#include "controlplane/apiserver/field_schema.h"
#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/object_validation.h"
#include "controlplane/apiserver/registry/graceful_deletion.h"
#include "controlplane/apiserver/registry/kinds/horizontal_pod_autoscaler.h"
#include "controlplane/apiserver/registry/kinds/kind_strategy.h"
#include "controlplane/apiserver/registry/kinds/priority_class.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

constexpr int kMaxWriteAttempts = 16;
constexpr int kMaxGeneratedNameAttempts = 8;

constexpr const char* kDefaultNamespaces[] = {"default", "kube-system", "kube-public",
                                              "kube-node-lease"};

// A built-in type of this kind. A custom resource may take a built-in
// kind's name (in its own group): it never gets that kind's rules (the
// namespace cascade, CRD registration, pod status).
bool IsBuiltinKind(const ResourceType& type, std::string_view kind) {
  return !type.custom && type.kind == kind;
}

// Whether everything but metadata and status is the same in both (no
// copies: this runs on every update).
bool SameBeyondMetadata(const json::object& a, const json::object& b) {
  const auto judged = [](std::string_view key) { return key != "metadata" && key != "status"; };
  const auto count = [&](const json::object& o) {
    return std::count_if(o.begin(), o.end(), [&](const auto& m) { return judged(m.key()); });
  };
  if (count(a) != count(b)) {
    return false;
  }
  return std::all_of(a.begin(), a.end(), [&](const auto& m) {
    const json::value* other = b.if_contains(m.key());
    return !judged(m.key()) || (other != nullptr && *other == m.value());
  });
}

// Namespaces the cluster itself needs (Kubernetes' NamespaceLifecycle).
bool IsSystemNamespace(const ResourceTarget& target) {
  if (!IsBuiltinKind(*target.type, "Namespace") || !target.type->group.empty()) {
    return false;
  }
  return std::any_of(std::begin(kDefaultNamespaces), std::end(kDefaultNamespaces),
                     [&](const char* name) { return target.name == name; });
}

// The value stored for `object` at `revision`, within the limits on what is
// stored (object_limits.h).
StatusOr<std::string> Render(json::object& object, int64_t revision, size_t max_object_bytes) {
  Metadata(object)["resourceVersion"] = std::to_string(revision);
  std::string value = json::serialize(object);
  BH_RETURN_IF_ERROR(CheckStorable(value, max_object_bytes));
  return value;
}

bool HasFinalizers(const json::object& object) {
  const auto* finalizers = PathValue(object, ".metadata.finalizers");
  return finalizers != nullptr && finalizers->is_array() && !finalizers->as_array().empty();
}

// Whether an object marked for deletion may go once its finalizers are
// gone: a pod still being given time to go (deletionGracePeriodSeconds
// above 0) waits for the delete that ends it, as Kubernetes' update does.
bool NoGraceLeft(const json::object& object) {
  const json::value* grace = PathValue(object, ".metadata.deletionGracePeriodSeconds");
  return grace == nullptr || !grace->is_int64() || grace->as_int64() == 0;
}

// A namespace also waits for its spec.finalizers ("kubernetes": the
// namespace controller, once the namespace is empty).
bool HasFinalizers(const ResourceType& type, const json::object& object) {
  if (HasFinalizers(object)) {
    return true;
  }
  const auto* finalizers = PathValue(object, ".spec.finalizers");
  return IsBuiltinKind(type, "Namespace") && finalizers != nullptr && finalizers->is_array() &&
         !finalizers->as_array().empty();
}

// What a namespace being deleted becomes: Terminating, with the finalizer
// that the namespace controller removes once it has emptied it.
void MarkNamespaceTerminating(json::object& ns) {
  json::value& spec = ns["spec"];
  if (!spec.is_object()) {
    spec = json::object();
  }
  json::value& finalizers = spec.as_object()["finalizers"];
  if (!finalizers.is_array()) {
    finalizers = json::array();
  }
  if (std::find(finalizers.as_array().begin(), finalizers.as_array().end(),
                json::value("kubernetes")) == finalizers.as_array().end()) {
    finalizers.as_array().emplace_back("kubernetes");
  }
  json::value& status = ns["status"];
  if (!status.is_object()) {
    status = json::object();
  }
  status.as_object()["phase"] = "Terminating";
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

}  // namespace

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

ObjectRegistry::ObjectRegistry(Store& store, ResourceRegistry& types, size_t max_object_bytes,
                               ServiceNetwork service_network)
    : store_(store),
      types_(types),
      max_object_bytes_(max_object_bytes),
      services_(store, std::move(service_network)) {}

Status ObjectRegistry::Bootstrap() {
  // Writes `object` at `target` unless something is there. Read before
  // writing: a restart on a full disk writes nothing.
  const auto create_once = [this](const ResourceTarget& target, json::object object) -> Status {
    BH_ASSIGN_OR_RETURN(auto existing, store_.Get(target.Key()));
    if (existing.has_value()) {
      return absl::OkStatus();
    }
    auto created =
        store_.Create(target.Key(), [&object](int64_t revision, int64_t) -> StatusOr<std::string> {
          Metadata(object)["resourceVersion"] = std::to_string(revision);
          return json::serialize(object);
        });
    if (!created.ok() && created.status().code() != absl::StatusCode::kAlreadyExists) {
      return created.status();
    }
    if (created.ok()) {
      Told(target.Key(), false);
    }
    return absl::OkStatus();
  };
  auto namespaces = types_.Find("", "v1", "namespaces");
  for (const char* name : kDefaultNamespaces) {
    ResourceTarget target{namespaces, "", name, ""};
    json::object ns{
        {"apiVersion", "v1"},
        {"kind", "Namespace"},
        {"metadata", json::object{{"name", name},
                                  {"uid", NewUid()},
                                  {"creationTimestamp", NowRfc3339()},
                                  {"labels", json::object{{"kubernetes.io/metadata.name", name}}}}},
        {"spec", json::object{{"finalizers", json::array{"kubernetes"}}}},
        {"status", json::object{{"phase", "Active"}}}};
    BH_RETURN_IF_ERROR(create_once(target, std::move(ns)));
  }
  auto priority_classes = types_.Find("scheduling.k8s.io", "v1", "priorityclasses");
  for (json::object priority_class : SystemPriorityClasses()) {
    ResourceTarget target{priority_classes, "", MetaString(priority_class, "name"), ""};
    Metadata(priority_class)["uid"] = NewUid();
    Metadata(priority_class)["creationTimestamp"] = NowRfc3339();
    Metadata(priority_class)["generation"] = 1;
    BH_RETURN_IF_ERROR(create_once(target, std::move(priority_class)));
  }
  auto crds = types_.Find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  BH_ASSIGN_OR_RETURN(auto list, store_.List(crds->KeyPrefix(), "", 0, 0));
  for (const auto& kv : list.items) {
    boost::system::error_code ec;
    auto crd = ParseJson(kv.value, ec);
    if (!ec && crd.is_object()) {
      OnCrdChanged(&crd.as_object(), MetaString(crd.as_object(), "name"));
    }
  }
  Logger(Component::kApiserver)
      .info("bootstrapped revision={} crds={}", store_.Revision(), list.items.size());
  auto services = types_.Find("", "v1", "services");
  BH_ASSIGN_OR_RETURN(auto stored, ListAll(services->KeyPrefix()));
  std::vector<json::object> parsed_services;
  for (const auto& kv : stored.items) {
    boost::system::error_code ec;
    json::value service = ParseJson(kv.value, ec);
    if (!ec && service.is_object()) {
      parsed_services.push_back(std::move(service.as_object()));
    }
  }
  BH_RETURN_IF_ERROR(services_.Repair(parsed_services));
  return absl::OkStatus();
}

void ObjectRegistry::OnCrdChanged(const json::object* crd, const std::string& name) {
  if (crd == nullptr) {
    types_.SetCustom(name, {});
    return;
  }
  auto types = ResourceTypesOfCrd(*crd);
  if (!types.empty() && types_.IsBuiltin(types.front().group, types.front().resource)) {
    Logger(Component::kApiserver).warn("not serving crd={}: it names a built-in resource", name);
    types.clear();
  }
  types_.SetCustom(name, std::move(types));
}

StatusOr<std::optional<KeyValue>> ObjectRegistry::Get(const ResourceTarget& target) {
  return store_.Get(target.Key());
}

StatusOr<KeyValue> ObjectRegistry::GetExisting(const ResourceTarget& target) {
  BH_ASSIGN_OR_RETURN(std::optional<KeyValue> kv, store_.Get(target.Key()));
  if (!kv.has_value()) {
    return NotFoundError(target.type->group, target.type->resource, target.name);
  }
  return std::move(*kv);
}

StatusOr<ListResult> ObjectRegistry::List(std::string_view prefix, std::string_view start_after,
                                          size_t limit, int64_t revision) {
  return store_.List(prefix, start_after, limit, revision);
}

StatusOr<ListResult> ObjectRegistry::ListAll(std::string_view prefix) {
  constexpr size_t kPage = 500;
  ListResult all;
  std::string cursor;
  while (true) {
    BH_ASSIGN_OR_RETURN(ListResult page, store_.List(prefix, cursor, kPage, all.revision));
    all.revision = page.revision;
    if (page.items.empty()) {
      break;
    }
    cursor = page.items.back().key;
    for (KeyValue& kv : page.items) {
      all.items.push_back(std::move(kv));
    }
    if (!page.more) {
      break;
    }
  }
  return all;
}

StatusOr<std::unique_ptr<WatchStream>> ObjectRegistry::Watch(std::string_view prefix,
                                                             int64_t after_revision) {
  return store_.Watch(prefix, after_revision);
}

int64_t ObjectRegistry::Revision() { return store_.Revision(); }

int64_t ObjectRegistry::CompactedRevision() { return store_.CompactedRevision(); }

std::string ObjectRegistry::Present(const ResourceTarget& target, const std::string& value) const {
  if (IsV1Autoscaler(*target.type)) {
    boost::system::error_code ec;
    json::value object = ParseJson(value, ec);
    return ec || !object.is_object()
               ? value
               : json::serialize(AutoscalerToV1(std::move(object.as_object())));
  }
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

Status ObjectRegistry::Admit(const ResourceTarget& target, std::string_view field_validation,
                             json::object& object, std::vector<std::string>& warnings,
                             bool creating, const json::object* current) {
  const ResourceType& requested = *target.type;
  std::string api_version = StringField(object, "apiVersion");
  std::string kind = StringField(object, "kind");
  if (!api_version.empty() && api_version != requested.GroupVersion()) {
    return BadRequest(
        fmt::format("the API version in the data ({}) does not match the expected API version ({})",
                    api_version, requested.GroupVersion()));
  }
  if (!kind.empty() && kind != requested.kind) {
    return BadRequest(fmt::format("the kind in the data ({}) does not match the expected kind ({})",
                                  kind, requested.kind));
  }
  object["apiVersion"] = requested.GroupVersion();
  object["kind"] = requested.kind;
  // Judged and stored as the version it is kept in.
  ResourceTypePtr stored_as = target.type;
  if (IsV1Autoscaler(requested)) {
    object = AutoscalerToV2(std::move(object));
    stored_as = types_.Find("autoscaling", "v2", "horizontalpodautoscalers");
  }
  const ResourceType& type = *stored_as;
  if (!type.custom) {
    // As decoding into the kind's integer fields refuses it: 1.5, 1e3 or a
    // number past int64 (which would not read back as it was written).
    if (std::string path = NonIntegerNumberPath(object); !path.empty()) {
      return BadRequest(
          fmt::format("{} in version \"{}\" cannot be handled as a {}: field {} must be an integer",
                      type.kind, type.version, type.kind, path));
    }
  }
  json::value whole(std::move(object));
  FieldCheck check = PruneUnknownFields(type, whole);
  object = std::move(whole.as_object());
  std::string name = MetaString(object, "name");
  if (!check.invalid.empty()) {
    return InvalidError(type.group, type.kind, name, check.invalid);
  }
  if (!check.unknown.empty()) {
    if (field_validation == "Strict") {
      std::string list;
      for (const auto& field : check.unknown) {
        list += fmt::format("{}unknown field \"{}\"", list.empty() ? "" : ", ", field);
      }
      return BadRequest("strict decoding error: " + list);
    }
    if (field_validation == "Warn") {
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
  const KindStrategy& strategy = StrategyFor(type);
  strategy.Default(object);
  std::vector<StatusCause> causes = ValidateObjectMeta(type, object);
  if (current == nullptr ||
      (target.subresource != "status" && !SameBeyondMetadata(object, *current))) {
    strategy.Validate(object, creating, causes);
  }
  if (IsBuiltinKind(type, "CustomResourceDefinition")) {
    auto more = ValidateCrd(object);
    causes.insert(causes.end(), more.begin(), more.end());
    const auto* group = PathValue(object, ".spec.group");
    const auto* plural = PathValue(object, ".spec.names.plural");
    if (group != nullptr && group->is_string() && plural != nullptr && plural->is_string() &&
        types_.IsBuiltin(std::string(group->as_string()), std::string(plural->as_string()))) {
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

StatusOr<json::object> ObjectRegistry::PrepareUpdate(const ResourceTarget& target,
                                                     const json::object& current,
                                                     json::object incoming,
                                                     std::string_view field_validation,
                                                     std::vector<std::string>& warnings) {
  BH_RETURN_IF_ERROR(
      Admit(target, field_validation, incoming, warnings, /*creating=*/false, &current));
  std::string pinned = MetaString(incoming, "resourceVersion");
  json::object next =
      MergeWrite(target, IsV1Autoscaler(*target.type) ? AutoscalerToV2(current) : current,
                 std::move(incoming));
  ApplyDefaults(*target.type, next);
  std::vector<StatusCause> causes;
  // Against the stored object as decoding would default it now: one stored
  // before a default existed has not got it.
  const KindStrategy& strategy = StrategyFor(*target.type);
  if (strategy.validate_update) {
    json::object defaulted = current;
    strategy.Default(defaulted);
    strategy.ValidateUpdate(defaulted, next, causes);
  }
  if (!causes.empty()) {
    return InvalidError(target.type->group, target.type->kind, MetaString(next, "name"),
                        std::move(causes));
  }
  Metadata(next)["resourceVersion"] = pinned;
  return next;
}

StatusOr<KeyValue> ObjectRegistry::Create(const ResourceTarget& target, json::object object,
                                          std::string_view field_validation, bool dry_run,
                                          std::vector<std::string>& warnings) {
  const ResourceType& type = *target.type;
  std::string generate = MetaString(object, "generateName");
  bool generated = MetaString(object, "name").empty() && !generate.empty();
  if (generated) {
    Metadata(object)["name"] = generate.substr(0, 58) + RandomNameSuffix(5);
  }
  BH_RETURN_IF_ERROR(Admit(target, field_validation, object, warnings, /*creating=*/true));
  std::string name = MetaString(object, "name");
  if (!MetaString(object, "resourceVersion").empty()) {
    return BadRequest("resourceVersion should not be set on objects to be created");
  }
  if (type.namespaced) {
    ResourceTarget ns_target{types_.Find("", "v1", "namespaces"), "", target.namespace_name, ""};
    BH_ASSIGN_OR_RETURN(auto ns, store_.Get(ns_target.Key()));
    if (!ns.has_value()) {
      return NotFoundError("", "namespaces", target.namespace_name);
    }
    boost::system::error_code ec;
    json::value ns_object = ParseJson(ns->value, ec);
    if (!ec && ns_object.is_object() &&
        !MetaString(ns_object.as_object(), "deletionTimestamp").empty()) {
      return ForbiddenError(type.group, type.resource, name,
                            fmt::format("unable to create new content in namespace {} because it "
                                        "is being terminated",
                                        target.namespace_name));
    }
  }
  std::string now = NowRfc3339();
  json::object& m = Metadata(object);
  const std::string uid = NewUid();
  m["uid"] = uid;
  m["creationTimestamp"] = now;
  m.erase("deletionTimestamp");
  m.erase("deletionGracePeriodSeconds");
  m.erase("selfLink");
  if (object.contains("spec") || IsBuiltinKind(type, "Pod")) {
    m["generation"] = 1;
  }
  // A kubelet registers its Node with its status (capacity, conditions);
  // of every other kind with a status subresource, status is the server's.
  if (type.status_subresource && !IsBuiltinKind(type, "Node")) {
    object.erase("status");
  }
  if (IsBuiltinKind(type, "Pod")) {
    object["status"] = json::object{{"phase", "Pending"}, {"qosClass", "BestEffort"}};
  } else if (IsBuiltinKind(type, "Namespace")) {
    json::value& labels = m["labels"];
    if (!labels.is_object()) {
      labels = json::object();
    }
    labels.as_object()["kubernetes.io/metadata.name"] = name;
    // After the metadata: a new key may move it (`m` and `labels` with it).
    object["status"] = json::object{{"phase", "Active"}};
    object["spec"] = json::object{{"finalizers", json::array{"kubernetes"}}};
  } else if (IsBuiltinKind(type, "CustomResourceDefinition")) {
    object["status"] = CrdStatus(object, now);
  }
  StrategyFor(type).PrepareForCreate(object, uid);
  ApplyDefaults(type, object);
  if (admission_ != nullptr) {
    BH_RETURN_IF_ERROR(admission_->AdmitCreate(*this, target, object, dry_run, warnings));
  }
  if (IsBuiltinKind(type, "Pod")) {
    // From the resources as admitted (a LimitRange may have set them).
    const json::value* spec = object.if_contains("spec");
    object["status"].as_object()["qosClass"] =
        QosClassOf(spec != nullptr && spec->is_object() ? spec->as_object() : json::object());
  }
  ServiceAllocations::Reserved reserved;
  if (IsBuiltinKind(type, "Service")) {
    BH_ASSIGN_OR_RETURN(reserved, services_.Reserve(nullptr, object, dry_run));
  }
  auto render = [&](int64_t revision, int64_t) {
    return Render(object, revision, max_object_bytes_);
  };
  if (dry_run) {
    BH_RETURN_IF_ERROR(render(0, 0).status());
    Metadata(object).erase("resourceVersion");
    return KeyValue{target.KeyOf(name), json::serialize(object), 0, 0};
  }
  auto created = store_.Create(target.KeyOf(name), render);
  for (int attempt = 0; generated && attempt < kMaxGeneratedNameAttempts && !created.ok() &&
                        created.status().code() == absl::StatusCode::kAlreadyExists;
       ++attempt) {
    name = generate.substr(0, 58) + RandomNameSuffix(5);
    Metadata(object)["name"] = name;
    created = store_.Create(target.KeyOf(name), render);
  }
  if (created.ok()) {
    Told(target.KeyOf(name), false);
  }
  if (!created.ok()) {
    return StoreError(created.status(), target, name);
  }
  reserved.Commit();
  if (IsBuiltinKind(type, "CustomResourceDefinition")) {
    OnCrdChanged(&object, name);
  }
  return created;
}

StatusOr<KeyValue> ObjectRegistry::GuaranteedUpdate(const ResourceTarget& target,
                                                    const Change& change, bool dry_run) {
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    BH_ASSIGN_OR_RETURN(KeyValue current, GetExisting(target));
    boost::system::error_code ec;
    json::value parsed = ParseJson(current.value, ec);
    if (ec || !parsed.is_object()) {
      return absl::InternalError(fmt::format("stored object {} is not JSON", target.Key()));
    }
    // A v1 autoscaler is changed as v1 and kept as v2.
    const bool v1_autoscaler = IsV1Autoscaler(*target.type);
    BH_ASSIGN_OR_RETURN(json::object next, change(v1_autoscaler ? AutoscalerToV1(parsed.as_object())
                                                                : parsed.as_object()));
    if (v1_autoscaler) {
      next = AutoscalerToV2(std::move(next));
    }
    std::string pinned = MetaString(next, "resourceVersion");
    if (!pinned.empty() && pinned != std::to_string(current.mod_revision)) {
      return StoreError(absl::AbortedError("stale"), target, target.name);
    }
    const bool service = IsBuiltinKind(*target.type, "Service");
    ServiceAllocations::Reserved reserved;
    if (service && target.subresource.empty()) {
      BH_ASSIGN_OR_RETURN(reserved, services_.Reserve(&parsed.as_object(), next, dry_run));
    }
    if (dry_run) {
      KeyValue kv = current;
      BH_ASSIGN_OR_RETURN(kv.value, Render(next, current.mod_revision, max_object_bytes_));
      return kv;
    }
    if (!MetaString(next, "deletionTimestamp").empty() && !HasFinalizers(*target.type, next) &&
        NoGraceLeft(parsed.as_object()) && target.subresource.empty()) {
      auto deleted = DeleteKey(target, current);
      if (deleted.ok() || deleted.status().code() != absl::StatusCode::kAborted) {
        return deleted;
      }
      continue;
    }
    // A write that changes nothing is not written (as Kubernetes does): no
    // new resourceVersion, no watch event, so no controller can loop on its
    // own no-op writes.
    if (auto same = Render(next, current.mod_revision, max_object_bytes_);
        same.ok() && *same == current.value) {
      return current;
    }
    auto updated = store_.Update(
        target.Key(), current.mod_revision,
        [&](int64_t revision, int64_t) { return Render(next, revision, max_object_bytes_); });
    if (updated.ok()) {
      Told(target.Key(), false);
      reserved.Commit();
      if (service) {
        services_.ReleaseDropped(parsed.as_object(), &next);
      }
      if (IsBuiltinKind(*target.type, "CustomResourceDefinition")) {
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

Status ObjectRegistry::CanDelete(const ResourceTarget& target) const {
  if (IsSystemNamespace(target)) {
    return ForbiddenError("", "namespaces", target.name, "this namespace may not be deleted");
  }
  return absl::OkStatus();
}

StatusOr<KeyValue> ObjectRegistry::Delete(const ResourceTarget& target,
                                          const DeleteOptions& options, bool dry_run) {
  BH_RETURN_IF_ERROR(CanDelete(target));
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    BH_ASSIGN_OR_RETURN(KeyValue current, GetExisting(target));
    boost::system::error_code ec;
    json::value object = ParseJson(current.value, ec);
    if (ec || !object.is_object()) {
      // An object that no longer reads (stored before the limits of
      // object_limits.h) can still be deleted: it has no finalizers to honour.
      Logger(Component::kApiserver)
          .warn("deleting unreadable object key={} error={}", target.Key(), ec.message());
      object = json::object();
    }
    std::string uid = MetaString(object.as_object(), "uid");
    if (!options.uid.empty() && options.uid != uid) {
      return ConflictError(target.type->group, target.type->resource, target.name,
                           fmt::format("Precondition failed: UID in precondition: {}, "
                                       "UID in object meta: {}",
                                       options.uid, uid));
    }
    if (!options.resource_version.empty() &&
        options.resource_version != std::to_string(current.mod_revision)) {
      return ConflictError(target.type->group, target.type->resource, target.name,
                           fmt::format("Precondition failed: ResourceVersion in "
                                       "precondition: {}, ResourceVersion in object "
                                       "meta: {}",
                                       options.resource_version, current.mod_revision));
    }
    if (dry_run) {
      return current;
    }
    const bool ns = IsBuiltinKind(*target.type, "Namespace") && !object.as_object().empty();
    json::object next = object.as_object();
    // A pod on a node is given its grace period first; its node's delete
    // (grace 0) ends it.
    bool marked = false;
    if (const KindStrategy& strategy = StrategyFor(*target.type);
        strategy.DeletesGracefully() && !next.empty()) {
      switch (BeginGracefulDelete(strategy, next, options.grace_period_seconds,
                                  std::chrono::system_clock::now())) {
        case GracefulStep::kPending:
          return current;
        case GracefulStep::kMark:
          marked = true;
          break;
        case GracefulStep::kRemove:
          break;
      }
    }
    // An owner kept for its dependents waits with the policy's finalizer.
    if (CollectsDependentsOf(*target.type) && !next.empty()) {
      SetPropagationFinalizers(next, EffectivePropagation(*target.type, options.propagation));
    }
    if (ns || marked || HasFinalizers(next)) {
      if (ns) {
        MarkNamespaceTerminating(next);
      }
      if (MetaString(next, "deletionTimestamp").empty()) {
        Metadata(next)["deletionTimestamp"] = NowRfc3339();
        Metadata(next)["deletionGracePeriodSeconds"] = 0;
      } else if (next == object.as_object()) {
        return current;  // deleted already, as asked again: nothing to write
      }
      auto updated = store_.Update(
          target.Key(), current.mod_revision,
          [&](int64_t revision, int64_t) { return Render(next, revision, max_object_bytes_); });
      if (updated.ok()) {
        Told(target.Key(), false);
      }
      if (updated.ok() || updated.status().code() != absl::StatusCode::kAborted) {
        return updated;
      }
      continue;
    }
    auto deleted = DeleteKey(target, current);
    if (deleted.ok()) {
      return current;
    }
    if (deleted.status().code() != absl::StatusCode::kAborted) {
      return deleted.status();
    }
  }
  return StoreError(absl::AbortedError("conflict"), target, target.name);
}

StatusOr<std::vector<std::string>> ObjectRegistry::DeleteCollection(const ResourceTarget& target,
                                                                    const QuerySelectors& selectors,
                                                                    const DeleteOptions& options,
                                                                    bool dry_run) {
  BH_ASSIGN_OR_RETURN(ListResult list, store_.List(target.CollectionPrefix(), "", 0, 0));
  std::vector<std::string> deleted_values;
  for (const auto& kv : list.items) {
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
    auto deleted = Delete(one, options, dry_run);
    if (deleted.ok()) {
      deleted_values.push_back(Present(target, deleted->value));
    } else if (deleted.status().code() != absl::StatusCode::kNotFound) {
      return deleted.status();
    }
  }
  return deleted_values;
}

StatusOr<KeyValue> ObjectRegistry::DeleteKey(const ResourceTarget& target,
                                             const KeyValue& current) {
  if (IsBuiltinKind(*target.type, "Namespace")) {
    BH_RETURN_IF_ERROR(CascadeNamespace(target.name));
  }
  auto deleted = store_.Delete(target.Key(), current.mod_revision);
  if (!deleted.ok()) {
    return deleted.status().code() == absl::StatusCode::kAborted
               ? deleted.status()
               : StoreError(deleted.status(), target, target.name);
  }
  Told(target.Key(), true);
  AfterDelete(*target.type, current.value);
  if (IsBuiltinKind(*target.type, "CustomResourceDefinition")) {
    boost::system::error_code ec;
    json::value crd = ParseJson(current.value, ec);
    if (!ec && crd.is_object()) {
      BH_RETURN_IF_ERROR(CascadeCustomResources(crd.as_object()));
    }
    OnCrdChanged(nullptr, target.name);
  }
  return deleted;
}

Status ObjectRegistry::CascadeNamespace(const std::string& name) {
  // Each stored collection once (a type served at two versions is one).
  std::map<std::string, ResourceTypePtr> prefixes;
  for (const auto& type : types_.All()) {
    if (type->namespaced) {
      prefixes.emplace(type->KeyPrefix() + name + "/", type);
    }
  }
  for (const auto& [prefix, type] : prefixes) {
    BH_ASSIGN_OR_RETURN(auto list, store_.List(prefix, "", 0, 0));
    for (const auto& kv : list.items) {
      auto deleted = store_.Delete(kv.key, 0);
      if (!deleted.ok() && deleted.status().code() != absl::StatusCode::kNotFound) {
        return deleted.status();
      }
      if (deleted.ok()) {
        Told(kv.key, true);
        AfterDelete(*type, kv.value);
      }
    }
  }
  return absl::OkStatus();
}

void ObjectRegistry::AfterDelete(const ResourceType& type, const std::string& value) {
  if (!IsBuiltinKind(type, "Service")) {
    return;
  }
  boost::system::error_code ec;
  json::value service = ParseJson(value, ec);
  if (!ec && service.is_object()) {
    services_.ReleaseDropped(service.as_object(), nullptr);
  }
}

Status ObjectRegistry::CascadeCustomResources(const json::object& crd) {
  auto types = ResourceTypesOfCrd(crd);
  // A CRD stored before built-in names were refused must not take the
  // built-in objects with it.
  if (types.empty() || types_.IsBuiltin(types.front().group, types.front().resource)) {
    return absl::OkStatus();
  }
  BH_ASSIGN_OR_RETURN(auto list, store_.List(types.front().KeyPrefix(), "", 0, 0));
  for (const auto& kv : list.items) {
    auto deleted = store_.Delete(kv.key, 0);
    if (!deleted.ok() && deleted.status().code() != absl::StatusCode::kNotFound) {
      return deleted.status();
    }
    if (deleted.ok()) {
      Told(kv.key, true);
    }
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::controlplane
