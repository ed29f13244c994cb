// The host's pod garbage collector (host mode only), as Kubernetes 1.32's
// podgc controller: a pod is force-deleted (grace 0, its uid as
// precondition) when no node will ever end it.
// - Orphans: a pod bound to a node that does not exist. The node is given
//   a quarantine (40 s) to show up, then read once more with a live GET;
//   still gone, each of its pods is marked Failed with a DisruptionTarget
//   condition (reason DeletionByPodGC) and deleted, terminating or not.
// - A terminating pod on a node that is not Ready and carries the
//   node.kubernetes.io/out-of-service taint: marked Failed and deleted.
// - Above `terminated_threshold` Succeeded or Failed pods (0: no limit),
//   the oldest go (evicted ones first, then by creation, then by name).
// An unbound pod never waits for a node: the registry removes it on its
// first delete, so there is no unscheduled terminating pod to collect.
// Node keys are checked on pod and node events; a sweep every
// `check_period` (20 s) also looks at every pod.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_POD_GC_CONTROLLER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_POD_GC_CONTROLLER_H_

#include <boost/json/object.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/controller.h"

namespace bulkhead::controlplane::controllers {

struct PodGcOptions {
  // How long a node missing from the cache is waited for.
  std::chrono::milliseconds quarantine{std::chrono::seconds(40)};
  // How often every pod is looked at.
  std::chrono::milliseconds check_period{std::chrono::seconds(20)};
  // The most Succeeded or Failed pods kept (0: no limit).
  int64_t terminated_threshold = 12500;
};

class PodGcController : public Controller {
 public:
  PodGcController(Client& client, Informer& pods, Informer& nodes, PodGcOptions options);
  ~PodGcController() override { Stop(); }
  PodGcController(const PodGcController&) = delete;
  PodGcController& operator=(const PodGcController&) = delete;

 protected:
  // "" is the sweep; any other key a node's name.
  Status Reconcile(const std::string& key) override;

 private:
  Status Sweep();
  Status CollectOrphans(const std::string& node);
  // Terminating pods on `node` when it is out of service.
  Status CollectOutOfService(const boost::json::object& node);
  Status CollectTerminated();
  // Marks `pod` Failed (with a DisruptionTarget condition for `orphan`)
  // unless it has ended, then deletes it with grace 0.
  Status ForceDelete(const boost::json::object& pod, bool orphan);
  // A pod's event: its node is looked at when it may have to go.
  void OnPod(const boost::json::object& pod);

  Client& client_;
  Informer& pods_;
  Informer& nodes_;
  const PodGcOptions options_;
  std::mutex mutex_;
  // When each node that pods are bound to was first found missing.
  std::map<std::string, std::chrono::steady_clock::time_point> missing_since_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_POD_GC_CONTROLLER_H_
