// Anti-spoofing on the host side of each pod's interface: the antispoof
// program (bpf/netpol/antispoof.bpf.c) attached with a tcx bpf_link pinned
// under <bpf_root>/links/antispoof-if<ifindex>, and the pod's own source
// addresses in the pinned pod_sources map. A pod then sends only as itself,
// through any socket type (AF_PACKET included).
//
// Finding the host side (docs/netpol.md, "CNI discovery"): through a process
// of the pod's cgroup, the agent looks in the pod's network namespace for the
// interface that holds the pod's addresses; for a veth (bridge CNIs, and the
// routed ones: Calico, Cilium in veth mode, the kindnet/ptp plugins) its
// IFLA_LINK is the host side's ifindex in the node's namespace. Its link-local
// addresses are allowed as sources too.
#ifndef BULKHEAD_AGENT_NETPOL_ANTISPOOF_H_
#define BULKHEAD_AGENT_NETPOL_ANTISPOOF_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/netpol/address.h"
#include "common/status.h"

namespace bulkhead::agent::netpol {

struct PodInterface {
  int host_ifindex = 0;            // in the node's network namespace
  std::vector<IpAddress> sources;  // the pod's addresses and its link-local ones
};

// Finds the host side of the pod's interface (see above). NOT_FOUND when the
// cgroup has no process yet or no interface holds the pod's addresses.
StatusOr<PodInterface> FindPodInterface(const std::string& cgroup,
                                        const std::vector<IpAddress>& addresses);

class AntiSpoof {
 public:
  // Loads the program, reusing the pinned map under the current layout's <bpf_root>/maps-v<N>.
  // `node_netns`: the node's network namespace (empty: the agent's own).
  static StatusOr<std::unique_ptr<AntiSpoof>> Open(const std::string& bpf_root,
                                                   const std::string& node_netns);
  AntiSpoof(const AntiSpoof&) = delete;
  AntiSpoof& operator=(const AntiSpoof&) = delete;
  ~AntiSpoof();

  // Allows exactly `sources` on the interface, then attaches the program
  // there, or swaps it into the pinned link in place (BPF_LINK_UPDATE).
  Status Guard(const PodInterface& pod);
  // Detaches from the interface and forgets its sources.
  Status Release(int host_ifindex);

  [[nodiscard]] int pod_sources_fd() const;

 private:
  struct Impl;
  explicit AntiSpoof(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bulkhead::agent::netpol

#endif  // BULKHEAD_AGENT_NETPOL_ANTISPOOF_H_
