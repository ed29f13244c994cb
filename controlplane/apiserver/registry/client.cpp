#include "controlplane/apiserver/registry/client.h"

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/object_meta.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

// Objects written in process come from our own code: a field the type does
// not know is dropped, never warned about to nobody.
constexpr std::string_view kFieldValidation = "Ignore";

StatusOr<json::object> Decode(const std::string& value, const std::string& key) {
  boost::system::error_code ec;
  json::value parsed = ParseJson(value, ec);
  if (ec || !parsed.is_object()) {
    return absl::InternalError("stored object " + key + " is not JSON");
  }
  return std::move(parsed.as_object());
}

}  // namespace

StatusOr<ResourceTarget> Client::Target(const ObjectRef& ref) const {
  ResourceTarget target{objects_.types().Find(ref.group, ref.version, ref.resource),
                        ref.namespace_name, ref.name, ref.subresource};
  if (target.type == nullptr ||
      (target.type->namespaced && target.namespace_name.empty() && !target.name.empty()) ||
      (!target.type->namespaced && !target.namespace_name.empty())) {
    return ApiError(404, "NotFound", "the server could not find the requested resource");
  }
  return target;
}

StatusOr<json::object> Client::Get(const ObjectRef& ref) {
  BH_ASSIGN_OR_RETURN(ResourceTarget target, Target(ref));
  BH_ASSIGN_OR_RETURN(KeyValue kv, objects_.GetExisting(target));
  return Decode(objects_.Present(target, kv.value), kv.key);
}

StatusOr<std::vector<json::object>> Client::List(const ObjectRef& collection, int64_t* revision) {
  BH_ASSIGN_OR_RETURN(ResourceTarget target, Target(collection));
  BH_ASSIGN_OR_RETURN(ListResult all, objects_.ListAll(target.CollectionPrefix()));
  std::vector<json::object> out;
  for (const KeyValue& kv : all.items) {
    BH_ASSIGN_OR_RETURN(json::object object, Decode(objects_.Present(target, kv.value), kv.key));
    out.push_back(std::move(object));
  }
  if (revision != nullptr) {
    *revision = all.revision;
  }
  return out;
}

StatusOr<json::object> Client::Create(const ObjectRef& collection, json::object object) {
  BH_ASSIGN_OR_RETURN(ResourceTarget target, Target(collection));
  std::vector<std::string> warnings;
  BH_ASSIGN_OR_RETURN(KeyValue kv, objects_.Create(target, std::move(object), kFieldValidation,
                                                   /*dry_run=*/false, warnings));
  return Decode(kv.value, kv.key);
}

StatusOr<json::object> Client::Update(const ObjectRef& ref, json::object object) {
  BH_ASSIGN_OR_RETURN(ResourceTarget target, Target(ref));
  std::vector<std::string> warnings;
  BH_ASSIGN_OR_RETURN(KeyValue kv, objects_.GuaranteedUpdate(
                                       target,
                                       [&](const json::object& current) {
                                         warnings.clear();
                                         return objects_.PrepareUpdate(target, current, object,
                                                                       kFieldValidation, warnings);
                                       },
                                       /*dry_run=*/false));
  return Decode(kv.value, kv.key);
}

StatusOr<json::object> Client::Mutate(const ObjectRef& ref,
                                      const std::function<Status(json::object&)>& change) {
  BH_ASSIGN_OR_RETURN(ResourceTarget target, Target(ref));
  std::vector<std::string> warnings;
  BH_ASSIGN_OR_RETURN(KeyValue kv, objects_.GuaranteedUpdate(
                                       target,
                                       [&](const json::object& current) -> StatusOr<json::object> {
                                         json::object next = current;
                                         BH_RETURN_IF_ERROR(change(next));
                                         // Written over whatever is current: no pinned version.
                                         Metadata(next).erase("resourceVersion");
                                         warnings.clear();
                                         return objects_.PrepareUpdate(target, current,
                                                                       std::move(next),
                                                                       kFieldValidation, warnings);
                                       },
                                       /*dry_run=*/false));
  return Decode(kv.value, kv.key);
}

Status Client::Delete(const ObjectRef& ref, const DeleteOptions& options) {
  BH_ASSIGN_OR_RETURN(ResourceTarget target, Target(ref));
  return objects_.Delete(target, options, /*dry_run=*/false).status();
}

StatusOr<std::unique_ptr<WatchStream>> Client::Watch(const ObjectRef& collection,
                                                     int64_t after_revision) {
  BH_ASSIGN_OR_RETURN(ResourceTarget target, Target(collection));
  return objects_.Watch(target.CollectionPrefix(), after_revision);
}

}  // namespace bulkhead::controlplane
