// The node's own object in the host API: what the machine has (capacity,
// allocatable, addresses, node info), its Ready condition, and the Lease in
// kube-node-lease that the node lifecycle controller reads as its heartbeat.
#ifndef BULKHEAD_NODE_KUBELET_NODE_STATUS_H_
#define BULKHEAD_NODE_KUBELET_NODE_STATUS_H_

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "common/status.h"
#include "node/kubelet/host_client.h"

namespace bulkhead::node {

struct MachineInfo {
  std::string hostname;
  int64_t cpus = 1;
  int64_t memory_bytes = 0;
  std::string kernel_version;
  std::string os_image;
  std::string architecture;  // amd64, arm64, ...
  std::string machine_id;
  std::string boot_id;
};

// Read from /proc, uname, /etc/os-release and /etc/machine-id.
MachineInfo ReadMachineInfo();

struct NodeIdentity {
  std::string name;
  std::string internal_ip;
  std::string runtime_version;  // "containerd://1.6.20"
  std::string kubelet_version;  // the version the node reports
  int64_t max_pods = 110;
  int kubelet_port = 10250;  // the node's HTTPS endpoint (logs)
  // Kept back from allocatable for the system and the node itself.
  int64_t reserved_memory_bytes = 256LL << 20;
};

// The Node object, status included, as the node registers it.
json NodeObject(const NodeIdentity& identity, const MachineInfo& machine);

// Registers the Node (creates it, or posts its status when it exists),
// then renews its Lease every `lease_period` and posts Ready again
// whenever the node lifecycle controller has marked it otherwise.
class NodeHeartbeat {
 public:
  NodeHeartbeat(const HostClient& host, NodeIdentity identity, MachineInfo machine,
                std::chrono::seconds lease_period = std::chrono::seconds(10));
  ~NodeHeartbeat();
  NodeHeartbeat(const NodeHeartbeat&) = delete;
  NodeHeartbeat& operator=(const NodeHeartbeat&) = delete;

  // The first registration and lease: the node is not started without.
  Status Register();
  void Start();  // the renewal thread

 private:
  Status RenewLease();
  Status PostStatusIfNotReady();
  void Run();

  const HostClient& host_;
  const NodeIdentity identity_;
  const MachineInfo machine_;
  const std::chrono::seconds lease_period_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string NowRfc3339();
std::string NowRfc3339Micro();

}  // namespace bulkhead::node

#endif  // BULKHEAD_NODE_KUBELET_NODE_STATUS_H_
