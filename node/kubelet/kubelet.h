// The node's pod manager: watches the pods the host API binds to this node,
// keeps one worker per pod, tells workers when the runtime's view of their
// containers changes (one ListContainers per relist period, as a kubelet's
// pod lifecycle event generator does), and removes sandboxes whose pod no
// longer exists (deleted while the node was down).
#ifndef BULKHEAD_NODE_KUBELET_KUBELET_H_
#define BULKHEAD_NODE_KUBELET_KUBELET_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "node/kubelet/pod_worker.h"

namespace bulkhead::node {

class Kubelet {
 public:
  Kubelet(const HostClient& host, cri::CriClient& cri, KubeletOptions options);
  ~Kubelet();
  Kubelet(const Kubelet&) = delete;
  Kubelet& operator=(const Kubelet&) = delete;

  // Blocks until `stop` is set. Workers stop with it; containers keep
  // running (a restarted node adopts them).
  void Run(const std::atomic<bool>& stop);

  struct LogFiles {
    std::string current;   // the current attempt's CRI log file
    std::string previous;  // the attempt before, "" when none
    bool running = false;
  };
  // The log files of a container of a pod on this node; nullopt when the
  // node runs no such pod or the container has not been made yet.
  std::optional<LogFiles> ContainerLogFiles(const std::string& ns, const std::string& pod,
                                            const std::string& container);

  // What exec, attach and port-forward need of a pod on this node: its
  // sandbox and, when `container` is named, that container's current CRI
  // container and whether it runs. nullopt: no such pod (or container).
  struct StreamIds {
    std::string sandbox_id;
    std::string container_id;
    bool running = false;
  };
  std::optional<StreamIds> FindStreamIds(const std::string& ns, const std::string& pod,
                                         const std::string& container);

 private:
  // The live worker of a pod (nullptr: none); under mutex_.
  PodWorker* FindWorker(const std::string& ns, const std::string& pod);
  void OnList(const std::vector<json>& pods);
  void OnEvent(const std::string& type, const json& pod);
  void Relist();

  const HostClient& host_;
  cri::CriClient& cri_;
  const KubeletOptions options_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<PodWorker>> workers_;  // by pod uid
  std::map<std::string, int> container_states_;                // by container id
  bool listed_ = false;
};

}  // namespace bulkhead::node

#endif  // BULKHEAD_NODE_KUBELET_KUBELET_H_
