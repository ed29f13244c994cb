// The one place that reads and writes stored objects: what every verb, the
// controllers and (later) the syncer go through, so that an object's life
// (creation metadata, retried updates, preconditions, finalizers and
// deletion timestamps, dry runs, cascades) follows the same rules whoever
// asks. It is the only code that touches the Store. HTTP stays in the verbs.
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_OBJECT_REGISTRY_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_OBJECT_REGISTRY_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "controlplane/apiserver/admission/admission.h"
#include "controlplane/apiserver/registry/kinds/service.h"
#include "controlplane/apiserver/registry/propagation.h"
#include "controlplane/apiserver/resource_registry.h"
#include "controlplane/apiserver/resource_target.h"
#include "controlplane/apiserver/selectors.h"
#include "controlplane/store/store.h"

namespace bulkhead::controlplane {

struct DeleteOptions {
  std::string uid;                                  // precondition; "" : any
  std::string resource_version;                     // precondition; "" : any
  Propagation propagation = Propagation::kDefault;  // propagation.h
  // gracePeriodSeconds: for a kind that gives its objects time to go
  // (graceful_deletion.h); nullopt: the kind's own (a pod's spec).
  std::optional<int64_t> grace_period_seconds = std::nullopt;
};

class ObjectRegistry {
 public:
  // `max_object_bytes`: the largest object stored (object_limits.h);
  // `service_network`: where Services' cluster IPs and node ports come from.
  ObjectRegistry(Store& store, ResourceRegistry& types, size_t max_object_bytes,
                 ServiceNetwork service_network = ServiceNetwork::Default());

  // Creates the default namespaces on a new store, serves the stored CRDs
  // and makes the Services' reserved addresses and ports match the Services.
  Status Bootstrap();

  // Told after every committed write: the key, and whether it was a delete
  // (authentication drops tokens of deleted objects; RBAC re-reads its
  // objects). Set before the registry serves; called on the writer's thread
  // after the store's lock is released, so it must be quick and never write.
  using CommitObserver = std::function<void(std::string_view key, bool deleted)>;
  void SetCommitObserver(CommitObserver observer) { observer_ = std::move(observer); }
  // Runs on every create (admission/admission.h); set before serving.
  void SetAdmission(const AdmissionChain* admission) { admission_ = admission; }

  ResourceRegistry& types() { return types_; }
  [[nodiscard]] const ResourceRegistry& types() const { return types_; }

  // ---- reads (never wait for a writer: callable on IO threads)
  StatusOr<std::optional<KeyValue>> Get(const ResourceTarget& target);
  // Get, and a 404 API error when the object is not there.
  StatusOr<KeyValue> GetExisting(const ResourceTarget& target);
  StatusOr<ListResult> List(std::string_view prefix, std::string_view start_after, size_t limit,
                            int64_t revision);
  // Every item under `prefix`, read page by page at the first page's revision.
  StatusOr<ListResult> ListAll(std::string_view prefix);
  StatusOr<std::unique_ptr<WatchStream>> Watch(std::string_view prefix, int64_t after_revision);
  int64_t Revision();
  int64_t CompactedRevision();
  // The stored value as served at `target`'s version (a custom resource
  // stored at another of its versions gets this one's apiVersion).
  [[nodiscard]] std::string Present(const ResourceTarget& target, const std::string& value) const;

  // ---- writes
  // Checks an incoming object for `target`: apiVersion and kind, unknown
  // fields (`field_validation`: Strict refuses them, Warn adds to
  // `warnings`, Ignore drops them), its metadata and the kind's own rules;
  // fills in apiVersion, kind and the namespace. `creating`: it is to be
  // created (some rules differ: a Job's selector may not be sent).
  // `current`: the object it replaces; a status write, or a write that
  // leaves all but metadata and status as stored, is not judged by the
  // kind's rules again (as Kubernetes ratchets them), so an object stored
  // before a rule existed still takes its controllers' writes.
  Status Admit(const ResourceTarget& target, std::string_view field_validation,
               boost::json::object& object, std::vector<std::string>& warnings, bool creating,
               const boost::json::object* current = nullptr);

  // Creates `object` in `target`'s collection: a name from generateName
  // when it has none, admitted, in an existing namespace; uid, creation
  // time, generation, the kind's first status and defaults are set here.
  // A dry run checks everything and stores nothing (the value has no
  // resourceVersion).
  StatusOr<KeyValue> Create(const ResourceTarget& target, boost::json::object object,
                            std::string_view field_validation, bool dry_run,
                            std::vector<std::string>& warnings);

  // The object a PUT (or a patch, once applied) of `incoming` over
  // `current` stores: admitted, with what the write may not change kept
  // from `current` (status, or all but status for the status subresource;
  // uid, name, creation and deletion times), the generation moved on when
  // the spec changed, defaults applied, and incoming's resourceVersion kept
  // (a precondition for GuaranteedUpdate).
  StatusOr<boost::json::object> PrepareUpdate(const ResourceTarget& target,
                                              const boost::json::object& current,
                                              boost::json::object incoming,
                                              std::string_view field_validation,
                                              std::vector<std::string>& warnings);

  // Reads, changes and writes one object, retrying on conflicts unless the
  // change pins a resourceVersion (which must then be current). An object
  // with a deletionTimestamp, no grace period left (a pod being given time
  // to go waits for its final delete) and no finalizers left is deleted
  // instead.
  using Change = std::function<StatusOr<boost::json::object>(const boost::json::object& current)>;
  StatusOr<KeyValue> GuaranteedUpdate(const ResourceTarget& target, const Change& change,
                                      bool dry_run);

  // Whether `target` may be deleted at all (the cluster's own namespaces
  // may not): a 403 API error when not.
  [[nodiscard]] Status CanDelete(const ResourceTarget& target) const;
  // Deletes one object: with finalizers it gets a deletionTimestamp and
  // stays until they are gone; a namespace takes what is in it, a CRD its
  // custom resources. An object of a kind the garbage collector follows as
  // an owner (CollectsDependentsOf) deleted with kForeground or kOrphan gets
  // that policy's finalizer. A kind whose objects are given time to go (a
  // bound pod) is only marked, with a deletionTimestamp and grace period
  // (graceful_deletion.h), until a delete with no grace left. Returns the
  // value to answer with (the object as it was, or as marked for deletion).
  StatusOr<KeyValue> Delete(const ResourceTarget& target, const DeleteOptions& options,
                            bool dry_run);
  // Deletes, as Delete does with `options` (each object is judged by its
  // preconditions, as Kubernetes does), every object of the collection that `selectors` match,
  // but the cluster's own namespaces. Returns their values as Delete
  // answers them (as they were, or as marked for deletion), as served.
  StatusOr<std::vector<std::string>> DeleteCollection(const ResourceTarget& target,
                                                      const QuerySelectors& selectors,
                                                      const DeleteOptions& options, bool dry_run);

 private:
  StatusOr<KeyValue> DeleteKey(const ResourceTarget& target, const KeyValue& current);
  Status CascadeNamespace(const std::string& name);
  Status CascadeCustomResources(const boost::json::object& crd);
  void OnCrdChanged(const boost::json::object* crd, const std::string& name);
  // What a kind does once one of its objects (stored as `value`) is gone.
  void AfterDelete(const ResourceType& type, const std::string& value);
  void Told(std::string_view key, bool deleted) const {
    if (observer_) {
      observer_(key, deleted);
    }
  }

  Store& store_;
  ResourceRegistry& types_;
  const size_t max_object_bytes_;
  ServiceAllocations services_;
  CommitObserver observer_;
  const AdmissionChain* admission_ = nullptr;
};

// The API error for a store error on `name` (404, 409 AlreadyExists, 409
// Conflict); other errors as they are.
Status StoreError(const Status& status, const ResourceTarget& target, const std::string& name);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_REGISTRY_OBJECT_REGISTRY_H_
