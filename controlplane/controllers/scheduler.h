// The host's scheduler (host mode only: in a virtual cluster the host runs
// the pods): binds each pod that names no node, and no scheduler other
// than default-scheduler, to the node that fits it best (see scheduling.h)
// by setting spec.nodeName with the PodScheduled=True condition and a
// Scheduled event. A pod that fits nowhere gets PodScheduled=False,
// reason Unschedulable, with Kubernetes' message ("0/2 nodes are
// available: ...") and a FailedScheduling event, and is tried again when a
// node or a pod changes (something may have made room) and every 30 s.
// Pods are placed one at a time, each against the loads that the pods
// placed before it take, including those the cache does not show yet.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_SCHEDULER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_SCHEDULER_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "controlplane/controllers/controller.h"
#include "controlplane/controllers/event_recorder.h"

namespace bulkhead::controlplane::controllers {

inline constexpr const char* kDefaultScheduler = "default-scheduler";

class Scheduler : public Controller {
 public:
  Scheduler(Client& client, Informer& pods, Informer& nodes);
  ~Scheduler() override { Stop(); }
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

 protected:
  Status Reconcile(const std::string& key) override;

 private:
  // Every pod waiting for a node, queued again.
  void RetryWaiting();
  Status MarkUnschedulable(const boost::json::object& pod, const std::string& message);

  Client& client_;
  Informer& pods_;
  Informer& nodes_;
  EventRecorder events_;
  // Pods bound here that the cache may not show bound yet: key -> node
  // (one worker, so reconciles never race on it).
  std::mutex mutex_;
  std::map<std::string, std::string> assumed_;
  // Pods found to fit nowhere, with the generation that was tried.
  std::map<std::string, int64_t> unschedulable_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_SCHEDULER_H_
