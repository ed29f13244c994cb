// What the agent tells the datapath: tenants, endpoints, grants and the
// node's own addresses; and what it reads back: flow records and counters.
#ifndef BULKHEAD_AGENT_NETPOL_MODEL_H_
#define BULKHEAD_AGENT_NETPOL_MODEL_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/netpol/address.h"

namespace bulkhead::agent::netpol {

enum class TenantMode { kEnforce, kAudit };

// The name flow records and counters give the node's own class (traffic
// from a node address, host-network pods); no tenant name has parentheses.
inline constexpr std::string_view kNodeClassName = "(node)";
enum class EgressDefault { kAllow, kDeny };

struct Tenant {
  std::string name;
  TenantMode mode = TenantMode::kEnforce;
  // Traffic to addresses outside the pod networks, the node and DNS.
  EgressDefault egress_default = EgressDefault::kAllow;
};

// A pod: its addresses, and on this node its cgroup v2 directory.
struct Endpoint {
  std::string tenant;
  std::string pod;
  std::vector<IpAddress> addresses;
  std::string cgroup;  // empty: the pod runs on another node
  // TCP ports the node may open on the pod's addresses (kubelet probes).
  // Nothing else from a node address reaches the pod but answers to
  // connections the pod opened.
  std::vector<std::uint16_t> probe_ports{};
  // Shares the node's network namespace: judged as the node's class, not
  // as its tenant, with no addresses of its own (it has the node's).
  bool host_network = false;
};

enum class Protocol : std::uint8_t { kAny = 0, kIcmp = 1, kTcp = 6, kUdp = 17, kIcmpV6 = 58 };

// Lets `tenant` open traffic to `destination` (a service or pod address,
// or a prefix) on `port` (0: any) over `protocol`.
struct Grant {
  std::string tenant;
  Cidr destination = Cidr::Host(IpAddress());
  std::uint16_t port = 0;
  Protocol protocol = Protocol::kAny;

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const Grant&) const = default;
};

// A destination no tenant may reach: port 0 means every port.
struct DeniedDestination {
  Cidr destination = Cidr::Host(IpAddress());
  std::uint16_t port = 0;
  Protocol protocol = Protocol::kAny;

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const DeniedDestination&) const = default;
};

// Ports no pod may reach on any node address (TCP and UDP): the kubelet
// (10250, 10255), the agent's API and metrics (9443, 9444) and the control
// planes (6443).
std::vector<std::uint16_t> DefaultNodePorts();

struct NodeConfig {
  // Added to the addresses the datapath reads from the node itself (every
  // interface of its network namespace, followed as they change).
  std::vector<IpAddress> node_addresses;
  std::vector<IpAddress> dns;             // every tenant may reach these on port 53
  std::vector<Cidr> pod_networks;         // unknown addresses here are refused (fail closed)
  std::vector<DeniedDestination> denied;  // metadata and anything else listed
  // Denied on every node address, on fe80::/10, 127.0.0.0/8 and ::1.
  std::vector<std::uint16_t> node_ports = DefaultNodePorts();
  std::chrono::seconds flow_idle{300};
  // Tracked granted flows one tenant may hold; 0: the node's flow table
  // divided evenly among its tenants (so one tenant never takes another's).
  std::uint32_t flows_per_tenant = 0;
  // Flow records per tenant per second into the kernel's ring buffer; past
  // that, one in record_sample is kept and the rest counted as dropped.
  std::uint32_t records_per_second = 2000;
  std::uint32_t record_sample = 64;
};

// The default deny list: cloud metadata, and the node ports on `nodes`
// (the datapath adds the node ports on every address it finds itself).
std::vector<DeniedDestination> DefaultDeniedDestinations(const std::vector<IpAddress>& nodes);

enum class Verdict : std::uint8_t { kAllowed = 1, kDenied = 2, kAudit = 3 };
enum class Reason : std::uint8_t {
  kSameTenant = 1,
  kCrossTenant = 2,
  kGrant = 3,
  kGrantedFlow = 4,
  kDeniedDestination = 5,
  kUnknownSource = 6,
  kUnknownDestination = 7,
  kSpoofedSource = 8,
  kEgressDefault = 9,
  kDns = 10,
  kNode = 11,
  kExternal = 12,
  kProbe = 13,
  kReply = 14,
};
enum class Hook : std::uint8_t {
  kConnect4 = 1,
  kConnect6 = 2,
  kSendmsg4 = 3,
  kSendmsg6 = 4,
  kIngress = 5,
  kEgress = 6,
};

std::string_view VerdictName(Verdict verdict);
std::string_view ReasonName(Reason reason);
std::string_view HookName(Hook hook);
std::string_view ProtocolName(Protocol protocol);
StatusOr<Protocol> ParseProtocol(std::string_view text);

// One cross-tenant (or denied) attempt, with names resolved. Tenant and
// pod names are empty for "none" (the node, outside, or not known).
struct FlowRecord {
  std::chrono::system_clock::time_point time;
  std::string node;
  std::string src_tenant;
  std::string dst_tenant;
  std::string src_pod;
  std::string dst_pod;
  IpAddress src_address;
  IpAddress dst_address;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  Protocol protocol = Protocol::kAny;
  Verdict verdict = Verdict::kDenied;
  Reason reason = Reason::kCrossTenant;
  Hook hook = Hook::kEgress;
};

struct FlowCounter {
  std::string src_tenant;
  std::string dst_tenant;
  Verdict verdict = Verdict::kDenied;
  std::uint64_t count = 0;
};

// Records the kernel could not hand over, and attempts it could not count.
struct FlowLoss {
  std::uint64_t ring_buffer_full = 0;
  std::uint64_t counters_full = 0;
  std::uint64_t flow_table_full = 0;
};

// What one tenant's share of the flow table and ring buffer cost it.
struct TenantFlowUse {
  std::string tenant;
  std::uint64_t tracked_flows = 0;    // granted flows held now
  std::uint64_t flows_refused = 0;    // not tracked: the tenant held its share
  std::uint64_t records_dropped = 0;  // over its record budget and not sampled
};

}  // namespace bulkhead::agent::netpol

#endif  // BULKHEAD_AGENT_NETPOL_MODEL_H_
