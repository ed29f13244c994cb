// Maps of the netpol programs. Every map is pinned by name under the
// agent's bpffs root (LIBBPF_PIN_BY_NAME), so a restarted agent reuses them
// and enforcement never depends on the agent process being alive.
#ifndef BULKHEAD_BPF_NETPOL_NETPOL_MAPS_H_
#define BULKHEAD_BPF_NETPOL_NETPOL_MAPS_H_

#include "netpol/netpol_structs.h"

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, NETPOL_MAX_ENDPOINT_ADDRS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct netpol_addr_key);
  __type(value, struct netpol_endpoint);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} endpoints SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NETPOL_MAX_LOCAL_ENDPOINTS);
  __type(key, __u64);  // cgroup v2 id
  __type(value, struct netpol_endpoint);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} local_endpoints SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NETPOL_MAX_TENANTS);
  __type(key, __u32);
  __type(value, struct netpol_tenant_settings);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} tenants SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, NETPOL_MAX_GRANTS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct netpol_grant_key);
  __type(value, __u32);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} grants SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, NETPOL_MAX_DENIED);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct netpol_deny_key);
  __type(value, __u32);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} denied_dests SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NETPOL_MAX_ADDR_SET);
  __type(key, struct netpol_addr);
  __type(value, __u8);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} dns_servers SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NETPOL_MAX_ADDR_SET);
  __type(key, struct netpol_addr);
  __type(value, __u8);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} node_addrs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, NETPOL_MAX_ADDR_SET);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct netpol_addr_key);
  __type(value, __u8);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} pod_networks SEC(".maps");

// probe_ports: (pod address, protocol, port) the node may open. A new map
// needs no layout bump (it starts empty), so it is in both builds.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NETPOL_MAX_PROBES);
  __type(key, struct netpol_probe_key);
  __type(value, __u8);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} probe_ports SEC(".maps");

#ifdef NETPOL_LAYOUT_V1
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, NETPOL_MAX_FLOWS);
  __type(key, struct netpol_flow_key);
  __type(value, struct netpol_flow_value);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} granted_flows SEC(".maps");
#else
// Not an LRU: a shared LRU lets one tenant's flood evict the others'
// flows. Each tenant holds at most flows_per_tenant entries (counted in
// tenant_flows); idle entries go when next looked up or at the agent's sweep.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NETPOL_MAX_FLOWS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct netpol_flow_key);
  __type(value, struct netpol_flow_value);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} granted_flows SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NETPOL_MAX_TENANTS + 2);  // and "none", the node
  __type(key, __u32);                           // tenant id (0: none)
  __type(value, __u64);                         // granted_flows entries charged to it
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} tenant_flows SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NETPOL_MAX_TENANTS + 2);  // and "none", the node
  __type(key, __u32);                           // tenant id (0: none)
  __type(value, struct netpol_tenant_records);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} tenant_records SEC(".maps");
#endif

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, NETPOL_MAX_COUNTERS);
  __type(key, struct netpol_counter_key);
  __type(value, __u64);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} flow_counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, NETPOL_RINGBUF_BYTES);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} flow_events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NETPOL_LOST_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} flow_lost SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct netpol_node_config);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} node_config SEC(".maps");

#endif  // BULKHEAD_BPF_NETPOL_NETPOL_MAPS_H_
