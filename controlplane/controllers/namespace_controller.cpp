#include "controlplane/controllers/namespace_controller.h"

#include <boost/json.hpp>
#include <map>
#include <set>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/controllers/object_helpers.h"
#include "fmt/format.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;

// How soon a namespace is looked at again while objects in it wait for
// their finalizers (nothing tells the namespace when they go).
constexpr auto kRecheck = std::chrono::seconds(2);

json::object Condition(const std::string& type, bool on, const std::string& reason,
                       const std::string& message) {
  return {
      {"type", type}, {"status", on ? "True" : "False"}, {"reason", reason}, {"message", message}};
}

}  // namespace

NamespaceController::NamespaceController(Client& client, Informer& namespaces)
    : Controller("namespace", 2), client_(client), namespaces_(namespaces) {
  namespaces_.AddHandler([this](const InformerEvent& event) {
    if (event.type != InformerEvent::Type::kDeleted && IsTerminating(*event.object)) {
      Enqueue(KeyOf(*event.object));
    }
  });
}

Status NamespaceController::Reconcile(const std::string& key) {
  ObjectPtr ns = namespaces_.Get("", key);
  if (ns == nullptr || !IsTerminating(*ns)) {
    return absl::OkStatus();
  }
  // Every served namespaced collection once (a type served at two versions
  // is stored once).
  std::map<std::string, ObjectRef> collections;
  for (const ResourceTypePtr& type : client_.objects().types().All()) {
    if (type->namespaced) {
      collections.emplace(type->KeyPrefix(),
                          ObjectRef{type->group, type->version, type->resource, key, "", ""});
    }
  }
  std::map<std::string, int64_t> remaining;  // "resource.group" -> objects left
  std::set<std::string> finalizers;          // what those wait for
  Status first_error = absl::OkStatus();
  for (const auto& [prefix, collection] : collections) {
    auto items = client_.List(collection);
    if (!items.ok()) {
      first_error.Update(items.status());
      continue;
    }
    for (const json::object& item : *items) {
      const std::string name = MetaString(item, "name");
      if (!IsTerminating(item)) {
        ObjectRef one = collection;
        one.name = name;
        // Background: what the object owns goes too (and is in here anyway).
        Status deleted = client_.Delete(one, {"", "", Propagation::kBackground});
        if (!deleted.ok() && ToHttpError(deleted).code != 404) {
          first_error.Update(deleted);
        }
      }
      // Still there unless the delete took it at once.
      ObjectRef one = collection;
      one.name = name;
      auto still = client_.Get(one);
      if (still.ok()) {
        remaining[collection.resource + (collection.group.empty() ? "" : "." + collection.group)]++;
        if (const json::value* list = PathValue(*still, ".metadata.finalizers");
            list != nullptr && list->is_array()) {
          for (const json::value& finalizer : list->as_array()) {
            if (finalizer.is_string()) {
              finalizers.insert(std::string(finalizer.as_string()));
            }
          }
        }
      }
    }
  }
  std::string content;
  for (const auto& [resource, count] : remaining) {
    content +=
        fmt::format("{}{} has {} resource instances", content.empty() ? "" : ", ", resource, count);
  }
  std::string waiting;
  for (const std::string& finalizer : finalizers) {
    waiting += (waiting.empty() ? "" : ", ") + finalizer;
  }
  json::array conditions{
      Condition("NamespaceDeletionContentFailure", !first_error.ok(),
                first_error.ok() ? "ContentDeleted" : "ContentDeletionFailed",
                first_error.ok()
                    ? "All content successfully deleted, may be waiting on finalization"
                    : std::string(first_error.message())),
      Condition("NamespaceContentRemaining", !remaining.empty(),
                remaining.empty() ? "ContentRemoved" : "SomeResourcesRemain",
                remaining.empty() ? "All content successfully removed"
                                  : "Some resources are remaining: " + content),
      Condition("NamespaceFinalizersRemaining", !finalizers.empty(),
                finalizers.empty() ? "ContentHasNoFinalizers" : "SomeFinalizersRemain",
                finalizers.empty()
                    ? "All content-preserving finalizers finished"
                    : "Some content in the namespace has finalizers remaining: " + waiting)};
  const bool empty = remaining.empty() && first_error.ok();
  auto written = client_.Mutate(In(kNamespacesRef, "", key, "status"), [&](json::object& next) {
    json::value& status = next["status"];
    if (!status.is_object()) {
      status = json::object();
    }
    status.as_object()["phase"] = "Terminating";
    status.as_object()["conditions"] = conditions;
    return absl::OkStatus();
  });
  if (written.ok() && empty) {
    // The last step: the registry deletes a namespace with no finalizers left.
    written = client_.Mutate(In(kNamespacesRef, "", key), [](json::object& next) {
      if (json::value* list = PathValue(next, ".spec.finalizers", false);
          list != nullptr && list->is_array()) {
        json::array kept;
        for (const json::value& finalizer : list->as_array()) {
          if (finalizer != "kubernetes") {
            kept.push_back(finalizer);
          }
        }
        *list = std::move(kept);
      }
      return absl::OkStatus();
    });
  }
  if (!written.ok() && ToHttpError(written.status()).code != 404) {
    return written.status();
  }
  if (!first_error.ok()) {
    return first_error;
  }
  if (!empty) {
    EnqueueAfter(key, kRecheck);
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::controlplane::controllers
