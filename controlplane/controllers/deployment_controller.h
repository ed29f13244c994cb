// Deployment: owns one ReplicaSet per pod template (named <deployment>-<hash
// of the template>, the hash also a pod-template-hash label on its selector
// and pods) and moves replicas from the old ones to the new one:
// RollingUpdate within maxSurge and maxUnavailable, or Recreate (the old
// ones to zero first). Paused deployments are not rolled. Each ReplicaSet
// carries its revision (deployment.kubernetes.io/revision), so `kubectl
// rollout history` and `rollout undo` work; old ReplicaSets with no replicas
// beyond revisionHistoryLimit are deleted. Status carries the counts and
// the Available and Progressing conditions `kubectl rollout status` reads:
// Progressing is True (ReplicaSetUpdated) whenever the rollout moves, and
// False (ProgressDeadlineExceeded) once it has not moved for
// progressDeadlineSeconds, until it moves again. Pods count as available
// once ready for minReadySeconds (pod_availability.h).
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_DEPLOYMENT_CONTROLLER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_DEPLOYMENT_CONTROLLER_H_

#include <boost/json/object.hpp>
#include <string>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/controller.h"

namespace bulkhead::controlplane::controllers {

// The pod-template-hash of a template (FNV-1a of its JSON and the
// deployment's collision count), in Kubernetes' alphabet of safe characters.
std::string PodTemplateHash(const boost::json::object& pod_template, int64_t collision_count);

// maxSurge / maxUnavailable of `replicas`: an integer, or a percentage
// rounded up (surge) or down (unavailable).
int64_t ScaledValue(const boost::json::value* value, int64_t replicas, bool round_up,
                    int64_t missing);

class DeploymentController : public Controller {
 public:
  DeploymentController(Client& client, Informer& deployments, Informer& replica_sets);
  ~DeploymentController() override { Stop(); }
  DeploymentController(const DeploymentController&) = delete;
  DeploymentController& operator=(const DeploymentController&) = delete;

 protected:
  Status Reconcile(const std::string& key) override;

 private:
  Client& client_;
  Informer& deployments_;
  Informer& replica_sets_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_DEPLOYMENT_CONTROLLER_H_
