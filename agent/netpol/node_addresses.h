// The node's own addresses, read from the node itself: every address of
// every interface of the node's network namespace (loopback and link-local
// included), through rtnetlink, and followed as interfaces and addresses
// come and go.
#ifndef BULKHEAD_AGENT_NETPOL_NODE_ADDRESSES_H_
#define BULKHEAD_AGENT_NETPOL_NODE_ADDRESSES_H_

#include <chrono>
#include <string>
#include <vector>

#include "agent/netpol/address.h"
#include "common/status.h"
#include "common/unique_fd.h"

namespace bulkhead::agent::netpol {

struct InterfaceAddress {
  int ifindex = 0;
  IpAddress address;
};

// Every address of every interface of the network namespace the calling
// thread is in.
StatusOr<std::vector<InterfaceAddress>> ReadInterfaceAddresses();

// The peer of a veth in the namespace the calling thread is in: the
// interface index of its other end (IFLA_LINK), in the peer's namespace.
StatusOr<int> VethPeerIndex(int ifindex);

class NodeAddressWatch {
 public:
  // `netns_path` is the node's network namespace (a /proc/<pid>/ns/net or
  // /run/netns/<name> path); empty: the namespace the agent runs in.
  static StatusOr<NodeAddressWatch> Open(const std::string& netns_path);

  // Every address now, sorted, without duplicates.
  StatusOr<std::vector<IpAddress>> Read();
  // Waits up to `timeout` for an address change; true when one came (the
  // caller then Read()s again). Notifications lost to a full socket buffer
  // count as a change.
  bool WaitForChange(std::chrono::milliseconds timeout);

 private:
  NodeAddressWatch(UniqueFd dump, UniqueFd events)
      : dump_(std::move(dump)), events_(std::move(events)) {}
  UniqueFd dump_;    // requests and answers
  UniqueFd events_;  // address notifications
  unsigned sequence_ = 1;
};

}  // namespace bulkhead::agent::netpol

#endif  // BULKHEAD_AGENT_NETPOL_NODE_ADDRESSES_H_
