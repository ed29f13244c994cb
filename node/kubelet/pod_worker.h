// One pod on the node: its sandbox, init containers then containers, their
// restarts under the pod's restartPolicy with a kubelet's back-off, its
// status written back to the host API, and its end (containers stopped with
// the grace period, sandbox, cgroups and files removed). Each worker runs
// on its own thread and syncs when the pod changes, when one of its
// containers changes state in the runtime, or when a timer it set is due.
#ifndef BULKHEAD_NODE_KUBELET_POD_WORKER_H_
#define BULKHEAD_NODE_KUBELET_POD_WORKER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "node/cri/cri_client.h"
#include "node/kubelet/host_client.h"
#include "node/kubelet/pod_config.h"
#include "node/kubelet/pod_volumes.h"
#include "node/kubelet/prober.h"

namespace bulkhead::node {

struct KubeletOptions {
  std::string node_name;
  std::string node_ip;
  std::string state_dir;          // pods' files under <state>/pods/<uid>
  std::string cgroup_root = "/";  // pods' cgroups under <root>/kubepods
  std::string resolv_conf = "/etc/resolv.conf";
  int64_t node_memory_bytes = 0;
  NodeAllocatable allocatable;  // what unset limits read as (resourceFieldRef)
  std::chrono::milliseconds relist_period{1000};
  std::chrono::milliseconds restart_backoff{10000};       // doubled per restart
  std::chrono::milliseconds restart_backoff_max{300000};  // up to five minutes
};

class PodWorker {
 public:
  PodWorker(const HostClient& host, cri::CriClient& cri, const KubeletOptions& options, json pod);
  ~PodWorker();
  PodWorker(const PodWorker&) = delete;
  PodWorker& operator=(const PodWorker&) = delete;

  // What the node's log endpoint needs of one container, as of the last
  // sync: its current attempt and whether it runs.
  struct LogState {
    int attempt = 0;
    bool running = false;
    std::string container_id;  // the current attempt's CRI container
  };
  std::optional<LogState> ContainerLogState(const std::string& container) const;
  // The pod's CRI sandbox as of the last sync ("" before it has one).
  std::string SandboxId() const;
  std::string pod_namespace() const;
  std::string pod_name() const;
  const std::string& pod_dir() const { return pod_dir_; }

  void Update(json pod);  // a newer version of the pod
  void Gone();            // the pod is deleted from the host API
  void Wake();            // one of its containers changed state
  bool done() const { return done_.load(); }

 private:
  struct ContainerRecord {
    std::string id;  // the current CRI container, "" when none
    int restart_count = 0;
    runtime::v1::ContainerStatus status;  // the runtime's last word on `id`
    json last_terminated;                 // lastState.terminated
    std::string waiting_reason;           // ErrImagePull, CrashLoopBackOff, ...
    std::string waiting_message;
    std::chrono::steady_clock::time_point retry_at{};
    std::chrono::milliseconds backoff{0};
    // Crash restarts: when the next may happen and how long it waits.
    std::chrono::steady_clock::time_point restart_at{};
    std::chrono::milliseconds restart_backoff{0};
    bool backoff_reported = false;
    // Probes of the current container (`probed_id`), made when it starts.
    std::string probed_id;
    std::chrono::steady_clock::time_point started{};
    std::optional<ProbeTracker> startup;
    std::optional<ProbeTracker> liveness;
    std::optional<ProbeTracker> readiness;
    bool startup_done = false;
  };

  void Run();
  void Sync();
  bool EnsureSandbox(const json& pod);
  bool EnsureVolumes(const json& pod);
  void Adopt(const json& pod);
  void RefreshStatuses();
  // Starts (or restarts) the container; false when it could not.
  bool StartContainer(const json& pod, const json& container, ContainerRecord& record, bool init);
  Status CheckRunAsNonRoot(const json& pod, const json& container, const std::string& image);
  void RestartContainer(const json& pod, const json& container, ContainerRecord& record, bool init);
  // Whether an exited container is to run again under the pod's policy.
  static bool Restarts(const std::string& policy, const ContainerRecord& record);
  void Backoff(ContainerRecord& record, const std::string& reason, const std::string& message);
  // Runs the probes that are due; kills a container whose liveness or
  // startup probe failed (its restart policy then applies).
  void Probe(const json& pod);
  void Terminate(const json& pod);
  void WriteStatus(const json& pod);
  json StatusOf(const json& pod) const;
  void Event(const json& pod, const std::string& type, const std::string& reason,
             const std::string& message) const;
  StatusOr<std::optional<std::map<std::string, std::string>>> Lookup(const json& pod,
                                                                     const std::string& kind,
                                                                     const std::string& name) const;
  void WakeAt(std::chrono::steady_clock::time_point when);

  const HostClient& host_;
  cri::CriClient& cri_;
  const KubeletOptions& options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, LogState> log_states_;  // under mutex_
  std::string synced_sandbox_id_;               // under mutex_
  json pod_;
  bool gone_ = false;
  bool dirty_ = true;
  std::atomic<bool> done_{false};
  std::atomic<bool> stop_{false};

  // Owned by the worker's thread.
  std::string uid_;
  std::string pod_dir_;
  std::string sandbox_id_;
  std::string pod_ip_;
  std::string sandbox_error_;
  bool adopted_ = false;
  bool volumes_ready_ = false;
  std::string volume_error_;
  PreparedVolumes volumes_;
  std::map<std::string, ContainerRecord> init_;
  std::map<std::string, ContainerRecord> containers_;
  std::string terminal_phase_;  // Succeeded or Failed once decided
  bool ended_before_ = false;   // terminal when this worker began
  std::string start_time_;
  json last_status_;
  std::chrono::steady_clock::time_point next_wake_;

  std::thread thread_;
};

// Nanoseconds since the epoch as RFC 3339 (what CRI reports).
std::string Rfc3339FromNanos(int64_t nanos);

}  // namespace bulkhead::node

#endif  // BULKHEAD_NODE_KUBELET_POD_WORKER_H_
