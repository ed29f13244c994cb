// StatefulSet (apps/v1), as Kubernetes 1.32's statefulset controller runs
// it: one pod per ordinal, named "<set>-<ordinal>" for ordinals from
// spec.ordinals.start, with hostname its name and subdomain
// spec.serviceName, labelled statefulset.kubernetes.io/pod-name,
// apps.kubernetes.io/pod-index and controller-revision-hash; and for each
// of spec.volumeClaimTemplates a PersistentVolumeClaim
// "<template>-<pod>" made before the pod and mounted by it (kept when the
// pod goes; owned by the set, so collected with it, when
// persistentVolumeClaimRetentionPolicy.whenDeleted is Delete).
//
// - OrderedReady: a pod is created only once every lower ordinal is
//   Running and Ready; surplus pods go from the highest ordinal, one at a
//   time, each only while the others are Running and Ready. Parallel:
//   all at once. A pod that ended (Succeeded or Failed) is replaced.
// - RollingUpdate: pods whose revision is not the template's are deleted
//   from the highest ordinal down to spec.updateStrategy.rollingUpdate.partition,
//   one at a time, each after the ones above it run the new revision and
//   are Ready; they are recreated from the template. OnDelete: a pod gets
//   the new template only when someone deletes it.
// - Status: replicas, readyReplicas, availableReplicas (ready for
//   minReadySeconds),
//   currentReplicas, updatedReplicas, currentRevision and updateRevision
//   (the revision is "<set>-<hash of the template>"), observedGeneration:
//   what `kubectl rollout status statefulset` reads.
//
// Not here: ControllerRevision objects (so no `kubectl rollout undo` of a
// StatefulSet, and a pod below the partition that is recreated gets the new
// template, where Kubernetes gives it the old one), whenScaled: Delete,
// maxUnavailable; OrderedReady waits on ready pods, not available ones.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_STATEFUL_SET_CONTROLLER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_STATEFUL_SET_CONTROLLER_H_

#include <boost/json/object.hpp>
#include <string>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/controller.h"

namespace bulkhead::controlplane::controllers {

inline const ObjectRef kStatefulSetsRef{"apps", "v1", "statefulsets", "", "", ""};
inline const ObjectRef kPersistentVolumeClaimsRef{"", "v1", "persistentvolumeclaims", "", "", ""};

class StatefulSetController : public Controller {
 public:
  StatefulSetController(Client& client, Informer& sets, Informer& pods);
  ~StatefulSetController() override { Stop(); }
  StatefulSetController(const StatefulSetController&) = delete;
  StatefulSetController& operator=(const StatefulSetController&) = delete;

 protected:
  Status Reconcile(const std::string& key) override;

 private:
  // Creates the claims of pod `ordinal` that do not exist yet, then the pod.
  Status CreatePod(const boost::json::object& set, int64_t ordinal, const std::string& revision);

  Client& client_;
  Informer& sets_;
  Informer& pods_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_STATEFUL_SET_CONTROLLER_H_
