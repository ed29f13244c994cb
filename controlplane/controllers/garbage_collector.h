// Garbage collection by owner references, for the objects the controllers
// make (ReplicaSets of Deployments, Pods of ReplicaSets and Jobs), with the
// three propagation policies of a delete (registry/propagation.h):
// - Background: an object all of whose owners are gone is deleted, which
//   deletes its own dependents in turn; a reference to an owner that is
//   gone is removed while another owner lives;
// - Foreground: an owner being deleted with the foregroundDeletion
//   finalizer has its dependents deleted (those that own others, in the
//   foreground too), and loses the finalizer once no dependent whose
//   reference has blockOwnerDeletion is left;
// - Orphan: an owner being deleted with the orphan finalizer is taken out
//   of its dependents' ownerReferences, then loses the finalizer.
// An owner counts as gone only when the API says so (not found, or another
// object by that name), never from a cache that may lag. The dependents of
// an owner are found through an index by owner uid, kept from the
// dependents' informers, so an owner's delete costs its own dependents only.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_GARBAGE_COLLECTOR_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_GARBAGE_COLLECTOR_H_

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/controller.h"

namespace bulkhead::controlplane::controllers {

struct Followed {
  ObjectRef collection;
  Informer* informer = nullptr;
};

class GarbageCollector : public Controller {
 public:
  // `owners`: each kind that owns, by "<group>/<Kind>" ("apps/Deployment",
  // "batch/Job"); `dependents`: each kind that is owned, by Kind ("Pod").
  GarbageCollector(Client& client, std::map<std::string, Followed> owners,
                   std::map<std::string, Followed> dependents);
  ~GarbageCollector() override { Stop(); }
  GarbageCollector(const GarbageCollector&) = delete;
  GarbageCollector& operator=(const GarbageCollector&) = delete;

 protected:
  // `key`: "dependent|<Kind>|<namespace>/<name>" or
  // "owner|<group>/<Kind>|<namespace>/<name>".
  Status Reconcile(const std::string& key) override;

 private:
  // An object with owners: collected when all are gone, else loses the
  // references to the gone ones.
  Status ReconcileDependent(const std::string& kind, const std::string& ns,
                            const std::string& name);
  // An owner being deleted in the foreground or orphaning.
  Status ReconcileOwner(const std::string& owner_kind, const std::string& ns,
                        const std::string& name);
  // Whether the owner `ref` names (in `ns`) exists with its uid.
  StatusOr<bool> OwnerLives(const std::string& ns, const boost::json::object& ref);
  // kDrop takes `uid` out of the dependent's ownerReferences; kUnblock
  // clears blockOwnerDeletion on its reference to `uid`.
  enum class ReferenceEdit { kDrop, kUnblock };
  Status EditReference(const std::string& dependent, const std::string& uid, ReferenceEdit edit);
  // Whether any dependent of `owner_uid` is itself waiting in the
  // foreground for its own dependents: a dependent of an owner waiting on
  // it, such as the two halves of an ownerReference cycle, would otherwise
  // wait forever (Kubernetes breaks it the same way, with the same false
  // positives: a longer chain of foreground owners may lose its order).
  [[nodiscard]] bool HasDependentDeletingItsOwn(const std::string& owner_uid) const;
  // The index: what `object` (a dependent's key) names as owners.
  void Index(const std::string& dependent, const boost::json::object* object);
  [[nodiscard]] std::vector<std::string> DependentsOf(const std::string& owner_uid) const;

  Client& client_;
  std::map<std::string, Followed> owners_;
  std::map<std::string, Followed> dependents_;

  mutable std::mutex mu_;
  // "<Kind>|<namespace>/<name>" of dependents, by owner uid; and back.
  std::map<std::string, std::set<std::string>> dependents_of_;
  std::map<std::string, std::vector<std::string>> owners_of_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_GARBAGE_COLLECTOR_H_
