// Structs and constants shared by netpol.bpf.c and the agent (agent/netpol).
// Every address is 16 bytes: IPv6 as is, IPv4 as an IPv4-mapped IPv6
// address (::ffff:a.b.c.d), so one LPM trie serves both families.
#ifndef BULKHEAD_BPF_NETPOL_NETPOL_STRUCTS_H_
#define BULKHEAD_BPF_NETPOL_NETPOL_STRUCTS_H_

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define NETPOL_ADDR_LEN 16

// Version of the map layout (the structs below, map types and sizes). The
// agent pins layout N's maps under <bpf_root>/maps-v<N> (layout 1, which
// had no number: <bpf_root>/maps) and moves older pins to the new layout
// in place (docs/netpol.md, "Map layouts and upgrades"). Any change to a
// pinned map's key, value, type or size bumps it. NETPOL_LAYOUT_V1 builds
// the programs over layout 1, for the migration tests only.
#ifdef NETPOL_LAYOUT_V1
#define NETPOL_LAYOUT_VERSION 1
#else
#define NETPOL_LAYOUT_VERSION 2
#endif

// Map capacities. The agent checks them before writing, so a full map is a
// clean error, never half a change.
#define NETPOL_MAX_ENDPOINT_ADDRS 65536
#define NETPOL_MAX_LOCAL_ENDPOINTS 16384
#define NETPOL_MAX_TENANTS 16384
#define NETPOL_MAX_GRANTS 65536
#define NETPOL_MAX_DENIED 1024
#define NETPOL_MAX_ADDR_SET 256
#ifdef NETPOL_LAYOUT_V1
#define NETPOL_MAX_FLOWS 65536
#else
// Tracked flows of all tenants (allocated as used); each tenant holds at
// most node_config.flows_per_tenant of them.
#define NETPOL_MAX_FLOWS (1 << 20)
#endif
#define NETPOL_MAX_COUNTERS 65536
#define NETPOL_MAX_PROBES 65536
#define NETPOL_RINGBUF_BYTES (1 << 20)

// Tenant id 0 means "no tenant" (the outside world, unknown).
#define NETPOL_NO_TENANT 0
// The node's own class: traffic from a node address and host-network pods.
// No tenant name hashes to it.
#define NETPOL_NODE_TENANT 0xFFFFFFFFU

enum netpol_verdict {
  NETPOL_ALLOWED = 1,
  NETPOL_DENIED = 2,
  NETPOL_AUDIT = 3,  // would be denied; passed because a tenant is in audit mode
};

enum netpol_reason {
  NETPOL_REASON_SAME_TENANT = 1,
  NETPOL_REASON_CROSS_TENANT = 2,         // default deny between tenants
  NETPOL_REASON_GRANT = 3,                // allowed by a cross-tenant grant
  NETPOL_REASON_GRANTED_FLOW = 4,         // a packet of a flow a grant opened (either direction)
  NETPOL_REASON_DENIED_DESTINATION = 5,   // always-denied: metadata, node agent ports
  NETPOL_REASON_UNKNOWN_SOURCE = 6,       // fail-closed: sender not known yet
  NETPOL_REASON_UNKNOWN_DESTINATION = 7,  // fail-closed: receiver not known yet
  NETPOL_REASON_SPOOFED_SOURCE = 8,       // source address is not the sender's
  NETPOL_REASON_EGRESS_DEFAULT = 9,       // external egress denied by tenant policy
  NETPOL_REASON_DNS = 10,
  NETPOL_REASON_NODE = 11,
  NETPOL_REASON_EXTERNAL = 12,
  NETPOL_REASON_PROBE = 13,  // from the node to a probe port of the pod
  NETPOL_REASON_REPLY = 14,  // from the node, to a socket the pod connected to it
};

enum netpol_hook {
  NETPOL_HOOK_CONNECT4 = 1,
  NETPOL_HOOK_CONNECT6 = 2,
  NETPOL_HOOK_SENDMSG4 = 3,
  NETPOL_HOOK_SENDMSG6 = 4,
  NETPOL_HOOK_INGRESS = 5,
  NETPOL_HOOK_EGRESS = 6,
};

enum netpol_mode {
  NETPOL_MODE_ENFORCE = 0,
  NETPOL_MODE_AUDIT = 1,
};

enum netpol_egress {
  NETPOL_EGRESS_ALLOW = 0,
  NETPOL_EGRESS_DENY = 1,
};

// The endpoint runs on this node (its egress hooks see its traffic).
#define NETPOL_ENDPOINT_LOCAL 1
// A host-network pod: it shares the node's network namespace and addresses,
// so its tenant is the node's class (NETPOL_NODE_TENANT).
#define NETPOL_ENDPOINT_HOST_NETWORK 2

// Who an address or a local cgroup belongs to. Pod ids are 64-bit (the
// agent resolves the rare collision); layout 1 had 32-bit ones.
#ifdef NETPOL_LAYOUT_V1
typedef __u32 netpol_pod_id;
struct netpol_endpoint {
  __u32 tenant;
  __u32 pod;
  __u32 flags;  // NETPOL_ENDPOINT_*
};
#else
typedef __u64 netpol_pod_id;
struct netpol_endpoint {
  __u32 tenant;
  __u32 flags;  // NETPOL_ENDPOINT_*
  __u64 pod;
};
#endif

// Key of the address sets (DNS servers, node addresses).
struct netpol_addr {
  __u8 addr[NETPOL_ADDR_LEN];
};

// endpoints: LPM trie key. prefixlen counts bits of addr.
struct netpol_addr_key {
  __u32 prefixlen;
  __u8 addr[NETPOL_ADDR_LEN];
};

struct netpol_tenant_settings {
  __u8 mode;            // enum netpol_mode
  __u8 egress_default;  // enum netpol_egress
  __u8 pad[2];
};

// grants: LPM trie key. Matched fields first (src_tenant, proto, port), then
// the destination prefix: prefixlen = 64 + destination prefix length.
// proto 0 or port 0 in a grant means "any"; the program tries the exact
// (proto, port), then (proto, any port), then (any, any).
struct netpol_grant_key {
  __u32 prefixlen;
  __u32 src_tenant;
  __u8 proto;
  __u8 pad;
  __u16 port;  // network byte order
  __u8 addr[NETPOL_ADDR_LEN];
};
#define NETPOL_GRANT_FIXED_BITS 64

// denied destinations: LPM trie key; prefixlen = 32 + destination prefix.
// port 0 means every port, proto 0 every protocol.
struct netpol_deny_key {
  __u32 prefixlen;
  __u8 proto;
  __u8 pad;
  __u16 port;  // network byte order
  __u8 addr[NETPOL_ADDR_LEN];
};
#define NETPOL_DENY_FIXED_BITS 32

// A cross-tenant flow that a grant (or audit mode) let through, as seen by
// one local tenant: packets to or from (peer, peer_port) on local_port pass
// without a new decision or record until the flow is idle for flow_idle_ns.
struct netpol_flow_key {
  __u8 peer[NETPOL_ADDR_LEN];
  __u16 peer_port;   // network byte order
  __u16 local_port;  // network byte order
  __u32 tenant;      // the local tenant
  __u8 proto;
  __u8 pad[3];
};

struct netpol_flow_value {
  __u64 last_seen_ns;
#ifndef NETPOL_LAYOUT_V1
  __u32 charged;  // the tenant that opened the flow; the entry counts against it
  __u32 pad;
#endif
};

#ifndef NETPOL_LAYOUT_V1
// tenant_records: per tenant, what its flow records cost in the ring buffer.
// A record is charged to its source tenant (the destination tenant when
// the source is none); each tenant may write records_per_second records per
// one-second window, and past that only one in record_sample.
struct netpol_tenant_records {
  __u64 window_start_ns;
  __u64 in_window;      // records charged in the current window
  __u64 dropped;        // records over budget and not sampled: never written
  __u64 flows_refused;  // flows not tracked: the tenant held flows_per_tenant
};
#endif

// probe_ports: hash key. The node may open (proto, port) on a pod address
// (kubelet probes); nothing else from the node reaches a tenant pod.
struct netpol_probe_key {
  __u8 addr[NETPOL_ADDR_LEN];
  __u16 port;  // network byte order
  __u8 proto;
  __u8 pad;
};

// counters: per-CPU hash key.
struct netpol_counter_key {
  __u32 src_tenant;
  __u32 dst_tenant;
  __u32 verdict;
};

// One flow record, written to the ring buffer for every cross-tenant
// attempt (allowed, denied or audited) and every denied attempt. Allowed
// and audited flows are recorded once, when they start; denied ones at each
// attempt. Each attempt is recorded at one hook only.
struct netpol_flow_record {
  __u64 timestamp_ns;  // CLOCK_MONOTONIC (bpf_ktime_get_ns)
  netpol_pod_id src_pod;
  netpol_pod_id dst_pod;
  __u32 src_tenant;
  __u32 dst_tenant;
  __u8 saddr[NETPOL_ADDR_LEN];
  __u8 daddr[NETPOL_ADDR_LEN];
  __u16 sport;  // host byte order
  __u16 dport;  // host byte order
  __u8 proto;
  __u8 verdict;
  __u8 reason;
  __u8 hook;
};

// Node-wide settings, in an array map of one entry.
struct netpol_node_config {
  __u64 flow_idle_ns;  // a granted flow expires after this long idle
#ifndef NETPOL_LAYOUT_V1
  __u32 flows_per_tenant;    // tracked flows one tenant may hold; 0: no limit
  __u32 records_per_second;  // flow records per tenant per second; 0: no limit
  __u32 record_sample;       // over budget, one record in record_sample is kept
  __u32 pad;
#endif
};

// Indexes of the per-CPU loss counters (flow_lost map).
#define NETPOL_LOST_RINGBUF 0   // ring buffer full: record dropped
#define NETPOL_LOST_COUNTERS 1  // counter map full: attempt not counted
#define NETPOL_LOST_FLOWS 2     // flow table insert failed
#define NETPOL_LOST_SLOTS 3

#endif  // BULKHEAD_BPF_NETPOL_NETPOL_STRUCTS_H_
