// The host's node lifecycle (host mode only), as Kubernetes 1.32's
// node-lifecycle-controller keeps it: a node's heartbeat is the newer of
// its Lease's renewTime (kube-node-lease/<node>) and its Ready condition's
// lastHeartbeatTime. A node with no heartbeat for the grace period (40 s
// by default, --node-monitor-grace-period) has its Ready, MemoryPressure,
// DiskPressure and PIDPressure conditions set to Unknown ("Kubelet stopped
// posting node status."), a NodeNotReady event, and the Ready condition of
// each of its pods set to False. Taints follow the Ready condition:
// node.kubernetes.io/unreachable (Unknown) or node.kubernetes.io/not-ready
// (False), NoSchedule and NoExecute, removed once it is True again. Pods
// are not evicted from a tainted node (no taint manager yet).
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_NODE_LIFECYCLE_CONTROLLER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_NODE_LIFECYCLE_CONTROLLER_H_

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/controller.h"
#include "controlplane/controllers/event_recorder.h"

namespace bulkhead::controlplane::controllers {

inline const ObjectRef kLeasesRef{"coordination.k8s.io", "v1", "leases", "", "", ""};
inline constexpr const char* kNodeLeaseNamespace = "kube-node-lease";

class NodeLifecycleController : public Controller {
 public:
  NodeLifecycleController(Client& client, Informer& nodes, Informer& leases, Informer& pods,
                          std::chrono::seconds grace);
  ~NodeLifecycleController() override { Stop(); }
  NodeLifecycleController(const NodeLifecycleController&) = delete;
  NodeLifecycleController& operator=(const NodeLifecycleController&) = delete;

 protected:
  Status Reconcile(const std::string& key) override;

 private:
  Status MarkPodsNotReady(const std::string& node);

  Client& client_;
  Informer& nodes_;
  Informer& leases_;
  Informer& pods_;
  const std::chrono::seconds grace_;
  EventRecorder events_;
  std::mutex mutex_;
  // When each node was first seen here: the heartbeat of one that never
  // sent any (a node object made by hand, or a node still starting).
  std::map<std::string, std::chrono::system_clock::time_point> first_seen_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_NODE_LIFECYCLE_CONTROLLER_H_
