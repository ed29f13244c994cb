// DaemonSet (apps/v1), as Kubernetes 1.32's daemonset controller runs it:
// one pod of its template on every node the template may run on (node
// name, node selector, required node affinity, and the node's NoSchedule
// and NoExecute taints tolerated; node_fit.h), with the tolerations every
// daemon pod gets. Each pod is pinned to its node as Kubernetes pins it,
// by a required node affinity on metadata.name (a scheduler binds it; a
// standalone control plane leaves it Pending), and labelled
// controller-revision-hash (a hash of the template) and
// pod-template-generation.
//
// - A pod that failed is replaced after a wait per node (1 s, doubling
//   with each failure there, up to 15 min), so a node that cannot run it
//   is not a create-and-delete loop.
// - A node that stops fitting loses its pod; a NoSchedule taint added
//   later does not evict a running one (only an untolerated NoExecute
//   taint does). A pod that failed is replaced; a second pod on one node
//   is deleted (the oldest stays); a pod not yet bound whose node is gone is deleted (a bound one
//   is the pod garbage collector's, as in Kubernetes).
// - RollingUpdate: pods of an older template are deleted so that at most
//   maxUnavailable (default 1; a percentage of the nodes, rounded up) of
//   the nodes that should run one have no available pod; each is then
//   made again from the template. OnDelete: only pods someone deletes get
//   the new template.
// - Status: desiredNumberScheduled, currentNumberScheduled,
//   numberMisscheduled, numberReady, updatedNumberScheduled,
//   numberAvailable (ready for minReadySeconds), numberUnavailable and observedGeneration:
//   what `kubectl rollout status daemonset` reads.
//
// Not here: maxSurge (pods are replaced, never surged),
// ControllerRevision objects (no `kubectl rollout undo` of a DaemonSet).
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_DAEMON_SET_CONTROLLER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_DAEMON_SET_CONTROLLER_H_

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/controller.h"
#include "controlplane/controllers/pod_expectations.h"

namespace bulkhead::controlplane::controllers {

inline const ObjectRef kDaemonSetsRef{"apps", "v1", "daemonsets", "", "", ""};
inline const ObjectRef kNodesRef{"", "v1", "nodes", "", "", ""};

// The node a daemon pod is for: spec.nodeName, else the metadata.name its
// required node affinity names; "" when neither.
std::string DaemonPodNode(const boost::json::object& pod);

class DaemonSetController : public Controller {
 public:
  DaemonSetController(Client& client, Informer& sets, Informer& pods, Informer& nodes);
  ~DaemonSetController() override { Stop(); }
  DaemonSetController(const DaemonSetController&) = delete;
  DaemonSetController& operator=(const DaemonSetController&) = delete;

 protected:
  Status Reconcile(const std::string& key) override;

 private:
  // How long a failed pod on the node "namespace/set|node" must wait to be
  // replaced; zero when it may go now (the next failure then waits longer).
  std::chrono::milliseconds FailureWait(const std::string& node_key);

  Client& client_;
  Informer& sets_;
  Informer& pods_;
  Informer& nodes_;
  PodExpectations expectations_{pods_};
  struct Backoff {
    std::chrono::milliseconds delay{0};
    std::chrono::steady_clock::time_point until;
  };
  std::mutex mu_;
  std::map<std::string, Backoff> failed_;  // "namespace/set|node"
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_DAEMON_SET_CONTROLLER_H_
