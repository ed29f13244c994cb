// The agent's handle on the eBPF network isolation of one node.
//
// Open() loads bpf/netpol, reuses the maps pinned under <bpf_root>/maps
// (creating them on first start) and attaches the six programs to the pods
// cgroup with bpf_links pinned under <bpf_root>/links; when those links are
// already there (a restart), it swaps the programs in place with
// BPF_LINK_UPDATE, so there is never a moment without enforcement. Closing
// the Datapath, or kill -9 of the agent, leaves programs, links and maps in
// place; Uninstall() removes them.
//
// Every change is validated first and written as one MapTransaction: a bad
// or oversized change is refused with a clear status and the previous state
// stays enforced.
#ifndef BULKHEAD_AGENT_NETPOL_DATAPATH_H_
#define BULKHEAD_AGENT_NETPOL_DATAPATH_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/netpol/model.h"
#include "common/status.h"

namespace bulkhead::agent::netpol {

struct DatapathOptions {
  // bpffs directory that holds maps-v<layout>/ and links/ (map_layout.h).
  std::string bpf_root = "/sys/fs/bpf/bulkhead";
  // cgroup v2 directory whose descendants are the pods of this node.
  std::string pods_cgroup;
  std::string node_name;
  // The node's network namespace, whose addresses are the node's (a
  // /proc/<pid>/ns/net or /run/netns/<name> path); empty: the agent's own.
  std::string node_netns;
};

// Everything the datapath enforces, as one value (start-up, file source).
struct DesiredState {
  NodeConfig node;
  std::vector<Tenant> tenants;
  std::vector<Endpoint> endpoints;
  std::vector<Grant> grants;
};

struct DatapathSummary {
  size_t tenants = 0;
  size_t endpoints = 0;
  size_t endpoint_addresses = 0;
  size_t local_endpoints = 0;
  size_t grants = 0;
  bool reused_pins = false;  // Open() found a previous agent's maps and links
  // Tenants, endpoints and grants the last Replace() left out, with the reason.
  std::vector<std::string> refused;
  // The older map layout Open() migrated from (0: none).
  int migrated_from_layout = 0;
};

// Ids the kernel sees for names (stable across restarts: a hash of the
// name). A pod's id is PodId() unless another pod already has it (then
// the first free of a few rehashes), and a pod keeps the id the pinned maps
// give it, so ids do not move across restarts or a map layout migration.
std::uint32_t TenantId(std::string_view tenant);
std::uint64_t PodId(std::string_view tenant, std::string_view pod);

class Datapath {
 public:
  static StatusOr<std::unique_ptr<Datapath>> Open(const DatapathOptions& options);
  // Detaches every program and removes every link, map and pin under bpf_root.
  static Status Uninstall(const std::string& bpf_root);

  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;
  ~Datapath();

  Status SetNodeConfig(const NodeConfig& config);
  Status UpsertTenant(const Tenant& tenant);
  // FAILED_PRECONDITION while endpoints or grants of the tenant remain.
  Status RemoveTenant(std::string_view name);
  Status UpsertEndpoint(const Endpoint& endpoint);
  Status RemoveEndpoint(std::string_view tenant, std::string_view pod);
  Status AddGrant(const Grant& grant);
  Status RemoveGrant(const Grant& grant);

  // Makes the datapath enforce exactly `state`: writes what is new, then
  // removes whatever else is in the maps (entries a previous agent left).
  // A tenant, endpoint or grant that is bad on its own (a vanished cgroup, an
  // address another pod holds, an unknown tenant) is left out and listed in
  // Summary().refused; only a bad node configuration refuses the whole state.
  Status Replace(const DesiredState& state);

  // Reads the node's addresses again and rewrites the node entries when
  // they changed. A thread of the Datapath does this on every address change.
  Status RefreshNodeAddresses();
  // The node addresses in force: read from the node, plus those configured.
  [[nodiscard]] std::vector<IpAddress> NodeAddresses() const;

  // The host-side interface whose antispoof program guards the pod, if any
  // yet (the pod needs a process to find its interface by).
  [[nodiscard]] std::optional<int> GuardedInterface(std::string_view tenant,
                                                    std::string_view pod) const;

  [[nodiscard]] DatapathSummary Summary() const;
  [[nodiscard]] std::vector<FlowCounter> Counters() const;
  [[nodiscard]] FlowLoss Loss() const;

  // The flow record ring buffer, for FlowLog.
  [[nodiscard]] int flow_events_fd() const;
  // Names for the ids in flow records ("" for 0; "#<id>" when unknown).
  [[nodiscard]] std::string TenantName(std::uint32_t id) const;
  [[nodiscard]] std::string PodName(std::uint64_t id) const;
  // Each tenant's tracked flows and what its shares cost it (tenants with any).
  [[nodiscard]] std::vector<TenantFlowUse> TenantFlows() const;
  // Removes granted flows idle longer than the node's flow idle timeout and
  // recounts each tenant's share. Returns how many were removed.
  size_t SweepFlows();
  [[nodiscard]] const DatapathOptions& options() const { return options_; }

 private:
  struct Impl;
  Datapath(DatapathOptions options, std::unique_ptr<Impl> impl);

  void FollowNodeAddresses();

  DatapathOptions options_;
  std::unique_ptr<Impl> impl_;
  mutable std::mutex mutex_;
  std::atomic<bool> stopping_{false};
  std::thread follower_;
};

}  // namespace bulkhead::agent::netpol

#endif  // BULKHEAD_AGENT_NETPOL_DATAPATH_H_
