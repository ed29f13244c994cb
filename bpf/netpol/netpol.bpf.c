// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
// Per-tenant network isolation, attached to the cgroup v2 directory that
// holds every pod of the node (the "pods root"):
//   cgroup/connect4, connect6, sendmsg4, sendmsg6: refuse at the syscall, so
//     the application gets EPERM at once instead of a timeout;
//   cgroup_skb/egress, ingress: packet level, for raw sockets, spoofed
//     sources and traffic arriving from other nodes.
// The rules are in docs/netpol.md; every decision below names its reason.
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "netpol/netpol_maps.h"
#include "netpol/netpol_structs.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define DNS_PORT 53
#define IP_OFFSET_MASK 0x1FFF

#define PASS 1
#define DROP 0

#define FLOW_IDLE_DEFAULT_NS (300ULL * 1000000000ULL)

// One attempt, in the terms every hook shares.
struct attempt {
  __u8 saddr[NETPOL_ADDR_LEN];
  __u8 daddr[NETPOL_ADDR_LEN];
  __u16 sport;  // network byte order
  __u16 dport;  // network byte order
  __u8 proto;
  __u8 hook;
};

struct decision {
  __u32 src_tenant;
  __u32 dst_tenant;
  netpol_pod_id src_pod;
  netpol_pod_id dst_pod;
  __u8 verdict;
  __u8 reason;
  __u8 record;      // emit a flow record and count it
  __u8 track_flow;  // remember the flow so its packets pass quietly
};

static __always_inline void addr_from_v4(__u8* out, __u32 ip4_be) {
  __builtin_memset(out, 0, 10);
  out[10] = 0xff;
  out[11] = 0xff;
  __builtin_memcpy(out + 12, &ip4_be, 4);
}

static __always_inline void addr_from_v6(__u8* out, const __u32* ip6_be) {
  __builtin_memcpy(out, ip6_be, NETPOL_ADDR_LEN);
}

static __always_inline int is_v4_mapped(const __u8* a) {
  for (int i = 0; i < 10; i++) {
    if (a[i] != 0) {
      return 0;
    }
  }
  return a[10] == 0xff && a[11] == 0xff;
}

// 127.0.0.0/8 and ::1. The kernel drops such sources arriving on any
// interface but loopback, so a loopback packet never left its network
// namespace: for a pod, itself; for a host-network pod, the node.
static __always_inline int is_loopback(const __u8* a) {
  if (is_v4_mapped(a)) {
    return a[12] == 127;
  }
  for (int i = 0; i < 15; i++) {
    if (a[i] != 0) {
      return 0;
    }
  }
  return a[15] == 1;
}

// Link-local and multicast (fe80::/10, ff00::/8, 169.254.0.0/16,
// 224.0.0.0/4, 255.255.255.255): on a bridge these reach other pods of the
// link, so they are judged like addresses of a pod network (an address no
// endpoint owns is refused) unless they are the node's own.
static __always_inline int is_link_scope(const __u8* a) {
  if (is_v4_mapped(a)) {
    return (a[12] == 169 && a[13] == 254) || (a[12] & 0xf0) == 0xe0 ||
           (a[12] == 255 && a[13] == 255 && a[14] == 255 && a[15] == 255);
  }
  return a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
}

static __always_inline struct netpol_endpoint* lookup_endpoint(const __u8* addr) {
  struct netpol_addr_key key = {.prefixlen = 128};
  __builtin_memcpy(key.addr, addr, NETPOL_ADDR_LEN);
  return bpf_map_lookup_elem(&endpoints, &key);
}

static __always_inline int in_set(void* set, const __u8* addr) {
  struct netpol_addr key;
  __builtin_memcpy(key.addr, addr, NETPOL_ADDR_LEN);
  return bpf_map_lookup_elem(set, &key) != NULL;
}

static __always_inline int in_pod_networks(const __u8* addr) {
  struct netpol_addr_key key = {.prefixlen = 128};
  __builtin_memcpy(key.addr, addr, NETPOL_ADDR_LEN);
  return bpf_map_lookup_elem(&pod_networks, &key) != NULL;
}

// Fail closed: an address inside a pod network or of link scope that no
// endpoint owns is nobody's to reach or to trust.
static __always_inline int is_unowned_pod_address(const __u8* addr) {
  return is_link_scope(addr) || in_pod_networks(addr);
}

// May the node open (proto, dport) on this pod address? (probes)
static __always_inline int is_probe(const struct attempt* a) {
  struct netpol_probe_key key = {.port = a->dport, .proto = a->proto};
  __builtin_memcpy(key.addr, a->daddr, NETPOL_ADDR_LEN);
  return bpf_map_lookup_elem(&probe_ports, &key) != NULL;
}

static __always_inline int is_denied_destination(const struct attempt* a) {
  struct netpol_deny_key key = {.prefixlen = NETPOL_DENY_FIXED_BITS + 128};
  __builtin_memcpy(key.addr, a->daddr, NETPOL_ADDR_LEN);
  key.proto = a->proto;
  key.port = a->dport;
  if (bpf_map_lookup_elem(&denied_dests, &key)) {
    return 1;
  }
  key.port = 0;
  if (bpf_map_lookup_elem(&denied_dests, &key)) {
    return 1;
  }
  key.proto = 0;
  return bpf_map_lookup_elem(&denied_dests, &key) != NULL;
}

// Is src_tenant granted (dst address, dport, proto)? Exact port and
// protocol first, then any port, then any protocol and port.
static __always_inline int is_granted(__u32 src_tenant, const __u8* daddr, __u16 dport,
                                      __u8 proto) {
  struct netpol_grant_key key = {.prefixlen = NETPOL_GRANT_FIXED_BITS + 128};
  key.src_tenant = src_tenant;
  __builtin_memcpy(key.addr, daddr, NETPOL_ADDR_LEN);
  key.proto = proto;
  key.port = dport;
  if (bpf_map_lookup_elem(&grants, &key)) {
    return 1;
  }
  key.port = 0;
  if (bpf_map_lookup_elem(&grants, &key)) {
    return 1;
  }
  key.proto = 0;
  return bpf_map_lookup_elem(&grants, &key) != NULL;
}

static __always_inline struct netpol_node_config* node_config_of(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&node_config, &zero);
}

static __always_inline __u64 flow_idle_ns(void) {
  struct netpol_node_config* config = node_config_of();
  return (config && config->flow_idle_ns) ? config->flow_idle_ns : FLOW_IDLE_DEFAULT_NS;
}

static __always_inline void flow_key(struct netpol_flow_key* key, const __u8* peer, __u16 peer_port,
                                     __u16 local_port, __u32 tenant, __u8 proto) {
  __builtin_memset(key, 0, sizeof(*key));
  __builtin_memcpy(key->peer, peer, NETPOL_ADDR_LEN);
  key->peer_port = peer_port;
  key->local_port = local_port;
  key->tenant = tenant;
  key->proto = proto;
}

static __always_inline void count_lost(__u32 slot) {
  __u64* lost = bpf_map_lookup_elem(&flow_lost, &slot);
  if (lost) {
    *lost += 1;
  }
}

#ifndef NETPOL_LAYOUT_V1
// The tenant's entry of a per-tenant map, created on first use.
static __always_inline void* tenant_entry(void* map, __u32 tenant, const void* zero) {
  void* entry = bpf_map_lookup_elem(map, &tenant);
  if (!entry) {
    bpf_map_update_elem(map, &tenant, zero, BPF_NOEXIST);
    entry = bpf_map_lookup_elem(map, &tenant);
  }
  return entry;
}

static __always_inline __u64* tenant_flow_count(__u32 tenant) {
  __u64 zero = 0;
  return tenant_entry(&tenant_flows, tenant, &zero);
}

static __always_inline struct netpol_tenant_records* tenant_records_of(__u32 tenant) {
  struct netpol_tenant_records zero = {};
  return tenant_entry(&tenant_records, tenant, &zero);
}
#endif

// Removes a tracked flow and gives its slot back to the tenant it counted against.
static __always_inline void forget_flow(const struct netpol_flow_key* key,
                                        const struct netpol_flow_value* value) {
#ifdef NETPOL_LAYOUT_V1
  bpf_map_delete_elem(&granted_flows, key);
#else
  __u32 charged = value->charged;
  if (bpf_map_delete_elem(&granted_flows, key) == 0) {
    __u64* count = bpf_map_lookup_elem(&tenant_flows, &charged);
    if (count && *count > 0) {
      __sync_fetch_and_add(count, (__u64)-1);
    }
  }
#endif
}

// A live tracked flow; refreshes its idle timer.
static __always_inline int flow_is_tracked(const struct netpol_flow_key* key) {
  struct netpol_flow_value* value = bpf_map_lookup_elem(&granted_flows, key);
  if (!value) {
    return 0;
  }
  __u64 now = bpf_ktime_get_ns();
  if (now - value->last_seen_ns > flow_idle_ns()) {
    forget_flow(key, value);
    return 0;
  }
  value->last_seen_ns = now;
  return 1;
}

// Tracks a flow `charged` opened, within that tenant's flows_per_tenant:
// a tenant over its share loses only its own tracking, never another's.
static __always_inline void track_flow(const struct netpol_flow_key* key, __u32 charged) {
  struct netpol_flow_value value = {.last_seen_ns = bpf_ktime_get_ns()};
#ifdef NETPOL_LAYOUT_V1
  if (bpf_map_update_elem(&granted_flows, key, &value, BPF_ANY) != 0) {
    count_lost(NETPOL_LOST_FLOWS);
  }
#else
  value.charged = charged;
  struct netpol_node_config* config = node_config_of();
  __u32 limit = config ? config->flows_per_tenant : 0;
  __u64* count = tenant_flow_count(charged);
  if (limit != 0 && count && *count >= limit) {
    struct netpol_tenant_records* records = tenant_records_of(charged);
    if (records) {
      __sync_fetch_and_add(&records->flows_refused, 1);
    }
    count_lost(NETPOL_LOST_FLOWS);
    return;
  }
  long err = bpf_map_update_elem(&granted_flows, key, &value, BPF_NOEXIST);
  if (err == 0) {
    if (count) {
      __sync_fetch_and_add(count, 1);
    }
    return;
  }
  struct netpol_flow_value* existing = bpf_map_lookup_elem(&granted_flows, key);
  if (existing) {
    existing->last_seen_ns = value.last_seen_ns;  // another CPU tracked it first
    return;
  }
  count_lost(NETPOL_LOST_FLOWS);
#endif
}

static __always_inline struct netpol_tenant_settings* settings_of(__u32 tenant) {
  if (tenant == NETPOL_NO_TENANT) {
    return NULL;
  }
  return bpf_map_lookup_elem(&tenants, &tenant);
}

static __always_inline int in_audit(__u32 tenant) {
  struct netpol_tenant_settings* s = settings_of(tenant);
  return s && s->mode == NETPOL_MODE_AUDIT;
}

static __always_inline void allow(struct decision* d, __u8 reason) {
  d->verdict = NETPOL_ALLOWED;
  d->reason = reason;
}

// A deny that audit mode of either tenant turns into a recorded pass.
static __always_inline void deny(struct decision* d, __u8 reason) {
  d->verdict = (in_audit(d->src_tenant) || in_audit(d->dst_tenant)) ? NETPOL_AUDIT : NETPOL_DENIED;
  d->reason = reason;
  d->record = 1;
  d->track_flow = d->verdict == NETPOL_AUDIT;
}

// A node address: one of the node's own (every interface, link-local
// included) or, for a sender in the node's network namespace, loopback.
static __always_inline int is_node_address(const __u8* addr, int node_netns) {
  return in_set(&node_addrs, addr) || (node_netns && is_loopback(addr));
}

// Traffic leaving a local pod. `local` is the sender (NULL when its cgroup
// is not known yet); `packet` is set in cgroup_skb, where the source
// address can be checked and the flow tracked.
static __always_inline void decide_egress(const struct attempt* a,
                                          const struct netpol_endpoint* local, int packet,
                                          struct decision* d) {
  if (!local) {
    // Fail closed: a process in the pods root whose cgroup the agent has not
    // learned yet may only resolve names and talk to the node (probes).
    if (in_set(&dns_servers, a->daddr) && a->dport == bpf_htons(DNS_PORT)) {
      allow(d, NETPOL_REASON_DNS);
      return;
    }
    if (in_set(&node_addrs, a->daddr) && !is_denied_destination(a)) {
      allow(d, NETPOL_REASON_NODE);
      return;
    }
    struct netpol_endpoint* dst = lookup_endpoint(a->daddr);
    if (dst) {
      d->dst_tenant = dst->tenant;
      d->dst_pod = dst->pod;
    }
    d->verdict = NETPOL_DENIED;
    d->reason = NETPOL_REASON_UNKNOWN_SOURCE;
    d->record = 1;
    return;
  }
  d->src_tenant = local->tenant;
  d->src_pod = local->pod;
  int host_network = local->flags & NETPOL_ENDPOINT_HOST_NETWORK;
  if (!host_network && is_loopback(a->daddr)) {
    // The pod's own network namespace: itself.
    allow(d, NETPOL_REASON_SAME_TENANT);
    return;
  }
  if (packet && !is_loopback(a->saddr) && !is_link_scope(a->saddr)) {
    struct netpol_endpoint* src = lookup_endpoint(a->saddr);
    if ((src && (src->tenant != local->tenant || src->pod != local->pod)) ||
        (!src && !host_network && in_pod_networks(a->saddr))) {
      // Spoofing is never audited: it is denied in every mode.
      d->verdict = NETPOL_DENIED;
      d->reason = NETPOL_REASON_SPOOFED_SOURCE;
      d->record = 1;
      return;
    }
  }
  struct netpol_endpoint* dst = lookup_endpoint(a->daddr);
  if (dst) {
    // Same tenant first: the hot path costs a few lookups.
    if (dst->tenant == local->tenant) {
      allow(d, NETPOL_REASON_SAME_TENANT);
      return;
    }
    d->dst_tenant = dst->tenant;
    d->dst_pod = dst->pod;
  }
  if (in_set(&dns_servers, a->daddr) && a->dport == bpf_htons(DNS_PORT)) {
    allow(d, NETPOL_REASON_DNS);
    return;
  }
  if (is_denied_destination(a)) {
    deny(d, NETPOL_REASON_DENIED_DESTINATION);
    return;
  }
  if (dst) {
    if (host_network && is_probe(a)) {
      allow(d, NETPOL_REASON_PROBE);
      return;
    }
    struct netpol_flow_key key;
    flow_key(&key, a->daddr, a->dport, a->sport, local->tenant, a->proto);
    if (a->sport != 0 && flow_is_tracked(&key)) {
      allow(d, NETPOL_REASON_GRANTED_FLOW);
      return;
    }
    if (is_granted(local->tenant, a->daddr, a->dport, a->proto)) {
      allow(d, NETPOL_REASON_GRANT);
      // Recorded once, by the packet hook that starts tracking the flow.
      d->record = packet;
      d->track_flow = packet;
      return;
    }
    deny(d, NETPOL_REASON_CROSS_TENANT);
    return;
  }
  if (is_node_address(a->daddr, host_network)) {
    allow(d, NETPOL_REASON_NODE);
    return;
  }
  if (is_unowned_pod_address(a->daddr)) {
    // Fail closed: an address of the pod network (or of the link) that no
    // endpoint owns yet.
    deny(d, NETPOL_REASON_UNKNOWN_DESTINATION);
    return;
  }
  struct netpol_tenant_settings* s = settings_of(local->tenant);
  if (s && s->egress_default == NETPOL_EGRESS_DENY) {
    deny(d, NETPOL_REASON_EGRESS_DEFAULT);
    return;
  }
  allow(d, NETPOL_REASON_EXTERNAL);
}

// Is the receiving socket connected to the packet's source (a TCP socket
// that is not listening, or a connected UDP socket)? Then the pod opened or
// accepted this connection, and its first packet was judged already.
static __always_inline int socket_connected_to_source(struct __sk_buff* skb,
                                                      const struct attempt* a) {
  if (!skb) {
    return 0;
  }
  struct bpf_sock* sk = skb->sk;
  if (!sk) {
    return 0;
  }
  sk = bpf_sk_fullsock(sk);
  if (!sk) {
    return 0;
  }
  if (sk->state == BPF_TCP_LISTEN || sk->state == BPF_TCP_CLOSE || sk->dst_port != a->sport ||
      a->sport == 0) {
    return 0;
  }
  // Each field is loaded on its own (the verifier refuses arithmetic on a
  // socket pointer, which a copy of the array would need).
  __u8 peer[NETPOL_ADDR_LEN];
  if (sk->family == 2 /* AF_INET */) {
    __u32 ip4 = sk->dst_ip4;
    asm volatile("" : "+r"(ip4));
    addr_from_v4(peer, ip4);
  } else {
    __u32 ip6[4];
    ip6[0] = sk->dst_ip6[0];
    asm volatile("" ::: "memory");
    ip6[1] = sk->dst_ip6[1];
    asm volatile("" ::: "memory");
    ip6[2] = sk->dst_ip6[2];
    asm volatile("" ::: "memory");
    ip6[3] = sk->dst_ip6[3];
    asm volatile("" ::: "memory");
    addr_from_v6(peer, ip6);
  }
  for (int i = 0; i < NETPOL_ADDR_LEN; i++) {
    if (peer[i] != a->saddr[i]) {
      return 0;
    }
  }
  return 1;
}

// A packet arriving at a local pod. `local` is the receiver.
static __always_inline void decide_ingress(struct __sk_buff* skb, const struct attempt* a,
                                           const struct netpol_endpoint* local,
                                           struct decision* d) {
  struct netpol_endpoint* src = lookup_endpoint(a->saddr);
  if (src && local && src->tenant == local->tenant) {
    allow(d, NETPOL_REASON_SAME_TENANT);  // the hot path: two lookups
    return;
  }
  if (src) {
    d->src_tenant = src->tenant;
    d->src_pod = src->pod;
  }
  if (is_loopback(a->saddr)) {
    // Never left the receiver's network namespace (see is_loopback).
    allow(d, NETPOL_REASON_NODE);
    return;
  }
  if (in_set(&dns_servers, a->saddr) && a->sport == bpf_htons(DNS_PORT)) {
    allow(d, NETPOL_REASON_DNS);
    return;
  }
  int from_node = !src && in_set(&node_addrs, a->saddr);
  if (!local) {
    // Fail closed: a pod not known yet receives only from the node (probes).
    if (from_node) {
      allow(d, NETPOL_REASON_NODE);
      return;
    }
    d->verdict = NETPOL_DENIED;
    d->reason = NETPOL_REASON_UNKNOWN_DESTINATION;
    d->record = 1;
    return;
  }
  d->dst_tenant = local->tenant;
  d->dst_pod = local->pod;
  __u32 src_tenant = 0;
  if (from_node) {
    // The node's own class: probes, answers to the pod's own connections,
    // and what a grant to the node's class allows.
    d->src_tenant = NETPOL_NODE_TENANT;
    if (local->tenant == NETPOL_NODE_TENANT) {
      allow(d, NETPOL_REASON_NODE);
      return;
    }
    if (is_probe(a)) {
      allow(d, NETPOL_REASON_PROBE);
      return;
    }
    if (socket_connected_to_source(skb, a)) {
      allow(d, NETPOL_REASON_REPLY);
      return;
    }
    src_tenant = NETPOL_NODE_TENANT;
  } else if (local->tenant == NETPOL_NODE_TENANT) {
    // A host-network pod is a node service: pods may reach it, as they may
    // reach the node, except on the denied ports.
    if (is_denied_destination(a)) {
      deny(d, NETPOL_REASON_DENIED_DESTINATION);
      d->record = !(src && (src->flags & NETPOL_ENDPOINT_LOCAL));
      return;
    }
    allow(d, NETPOL_REASON_NODE);
    return;
  } else if (src) {
    src_tenant = src->tenant;
  }
  // A local sender's egress hooks already decided and recorded.
  int sender_is_local = src && (src->flags & NETPOL_ENDPOINT_LOCAL);
  if (src_tenant != 0) {
    struct netpol_flow_key key;
    flow_key(&key, a->saddr, a->sport, a->dport, local->tenant, a->proto);
    if (flow_is_tracked(&key)) {
      allow(d, NETPOL_REASON_GRANTED_FLOW);
      return;
    }
    if (is_granted(src_tenant, a->daddr, a->dport, a->proto)) {
      allow(d, NETPOL_REASON_GRANT);
      d->record = !sender_is_local;
      d->track_flow = 1;
      return;
    }
    deny(d, NETPOL_REASON_CROSS_TENANT);
    if (sender_is_local && d->verdict == NETPOL_AUDIT) {
      d->record = 0;  // the sender's egress already recorded this audited flow
    }
    return;
  }
  if (is_unowned_pod_address(a->saddr)) {
    deny(d, NETPOL_REASON_UNKNOWN_SOURCE);
    return;
  }
  allow(d, NETPOL_REASON_EXTERNAL);
}

// Each tenant's share of the ring buffer: records_per_second records per
// one-second window, then one in record_sample; the rest are counted as
// the tenant's dropped records. Records are charged to the source tenant,
// or to the destination when the source is none. The window count is not
// atomic across CPUs: a window may admit a few records more.
static __always_inline int within_record_budget(const struct decision* d) {
#ifdef NETPOL_LAYOUT_V1
  return 1;
#else
  struct netpol_node_config* config = node_config_of();
  if (!config || config->records_per_second == 0) {
    return 1;
  }
  __u32 charged = d->src_tenant != NETPOL_NO_TENANT ? d->src_tenant : d->dst_tenant;
  struct netpol_tenant_records* records = tenant_records_of(charged);
  if (!records) {
    return 1;
  }
  __u64 now = bpf_ktime_get_ns();
  if (now - records->window_start_ns >= 1000000000ULL) {
    records->window_start_ns = now;
    records->in_window = 0;
  }
  __u64 seen = records->in_window + 1;
  records->in_window = seen;
  if (seen <= config->records_per_second) {
    return 1;
  }
  __u32 sample = config->record_sample;
  if (sample != 0 && seen % sample == 0) {
    return 1;
  }
  __sync_fetch_and_add(&records->dropped, 1);
  return 0;
#endif
}

static __always_inline void emit(const struct attempt* a, const struct decision* d) {
  struct netpol_counter_key ckey = {
      .src_tenant = d->src_tenant, .dst_tenant = d->dst_tenant, .verdict = d->verdict};
  __u64* count = bpf_map_lookup_elem(&flow_counters, &ckey);
  if (count) {
    *count += 1;
  } else {
    __u64 one = 1;
    if (bpf_map_update_elem(&flow_counters, &ckey, &one, BPF_NOEXIST) != 0) {
      count = bpf_map_lookup_elem(&flow_counters, &ckey);
      if (count) {
        *count += 1;
      } else {
        count_lost(NETPOL_LOST_COUNTERS);
      }
    }
  }

  if (!within_record_budget(d)) {
    return;  // counted above and in the tenant's dropped records
  }
  struct netpol_flow_record* r = bpf_ringbuf_reserve(&flow_events, sizeof(*r), 0);
  if (!r) {
    count_lost(NETPOL_LOST_RINGBUF);
    return;
  }
  r->timestamp_ns = bpf_ktime_get_ns();
  r->src_tenant = d->src_tenant;
  r->dst_tenant = d->dst_tenant;
  r->src_pod = d->src_pod;
  r->dst_pod = d->dst_pod;
  __builtin_memcpy(r->saddr, a->saddr, NETPOL_ADDR_LEN);
  __builtin_memcpy(r->daddr, a->daddr, NETPOL_ADDR_LEN);
  r->sport = bpf_ntohs(a->sport);
  r->dport = bpf_ntohs(a->dport);
  r->proto = a->proto;
  r->verdict = d->verdict;
  r->reason = d->reason;
  r->hook = a->hook;
  bpf_ringbuf_submit(r, 0);
}

static __always_inline int finish(const struct attempt* a, struct decision* d) {
  if (d->record) {
    emit(a, d);
  }
  return d->verdict == NETPOL_DENIED ? DROP : PASS;
}

// ---- socket hooks ---------------------------------------------------------

static __always_inline struct netpol_endpoint* current_endpoint(void) {
  __u64 cgroup = bpf_get_current_cgroup_id();
  return bpf_map_lookup_elem(&local_endpoints, &cgroup);
}

static __always_inline int sock_addr_common(struct bpf_sock_addr* ctx, struct attempt* a) {
  a->proto = (__u8)ctx->protocol;
  a->dport = (__u16)ctx->user_port;
  struct bpf_sock* sk = ctx->sk;
  a->sport = sk ? bpf_htons((__u16)sk->src_port) : 0;
  struct decision d = {};
  decide_egress(a, current_endpoint(), 0, &d);
  // Passes here are recorded by the packet hooks, once per flow; a deny
  // stops the attempt before any packet, so it is recorded here.
  if (d.verdict != NETPOL_DENIED) {
    d.record = 0;
  }
  return finish(a, &d);
}

static __always_inline int sock_addr4(struct bpf_sock_addr* ctx, __u8 hook) {
  struct attempt a = {.hook = hook};
  addr_from_v4(a.daddr, ctx->user_ip4);
  return sock_addr_common(ctx, &a);
}

static __always_inline int sock_addr6(struct bpf_sock_addr* ctx, __u8 hook) {
  struct attempt a = {.hook = hook};
  __u32 ip6[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};
  addr_from_v6(a.daddr, ip6);
  return sock_addr_common(ctx, &a);
}

SEC("cgroup/connect4")
int netpol_connect4(struct bpf_sock_addr* ctx) { return sock_addr4(ctx, NETPOL_HOOK_CONNECT4); }

SEC("cgroup/connect6")
int netpol_connect6(struct bpf_sock_addr* ctx) { return sock_addr6(ctx, NETPOL_HOOK_CONNECT6); }

SEC("cgroup/sendmsg4")
int netpol_sendmsg4(struct bpf_sock_addr* ctx) { return sock_addr4(ctx, NETPOL_HOOK_SENDMSG4); }

SEC("cgroup/sendmsg6")
int netpol_sendmsg6(struct bpf_sock_addr* ctx) { return sock_addr6(ctx, NETPOL_HOOK_SENDMSG6); }

// ---- packet hooks ---------------------------------------------------------

#define MAX_L4_OFFSET 64

// Copies `len` bytes at `offset` of the packet: straight from its linear
// data when that holds them (the usual case: no helper call per header), else
// through bpf_skb_load_bytes. Returns 0 on success.
static __always_inline int load_bytes(struct __sk_buff* skb, __u32 offset, void* to, __u32 len) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  if (offset <= MAX_L4_OFFSET && data + offset + len <= data_end) {
    __builtin_memcpy(to, data + offset, len);
    return 0;
  }
  return bpf_skb_load_bytes(skb, offset, to, len);
}

// Fills addresses, protocol and ports from the packet (network header at
// offset 0 in cgroup_skb). Returns 0 when the packet is not IP.
static __always_inline int parse_packet(struct __sk_buff* skb, struct attempt* a) {
  __u32 l4_offset = 0;
  if (skb->protocol == bpf_htons(ETH_P_IP)) {
    struct iphdr ip;
    if (load_bytes(skb, 0, &ip, sizeof(ip)) != 0) {
      return 0;
    }
    addr_from_v4(a->saddr, ip.saddr);
    addr_from_v4(a->daddr, ip.daddr);
    a->proto = ip.protocol;
    if (bpf_ntohs(ip.frag_off) & IP_OFFSET_MASK) {
      return 1;  // a later fragment carries no ports
    }
    l4_offset = ip.ihl * 4;
  } else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr ip6;
    if (load_bytes(skb, 0, &ip6, sizeof(ip6)) != 0) {
      return 0;
    }
    __builtin_memcpy(a->saddr, &ip6.saddr, NETPOL_ADDR_LEN);
    __builtin_memcpy(a->daddr, &ip6.daddr, NETPOL_ADDR_LEN);
    a->proto = ip6.nexthdr;
    l4_offset = sizeof(ip6);
  } else {
    return 0;
  }
  if (a->proto == IPPROTO_TCP_ || a->proto == IPPROTO_UDP_) {
    __u16 ports[2];
    if (load_bytes(skb, l4_offset, ports, sizeof(ports)) == 0) {
      a->sport = ports[0];
      a->dport = ports[1];
    }
  }
  return 1;
}

SEC("cgroup_skb/egress")
int netpol_egress(struct __sk_buff* skb) {
  struct attempt a = {.hook = NETPOL_HOOK_EGRESS};
  if (!parse_packet(skb, &a)) {
    return PASS;
  }
  __u64 cgroup = bpf_skb_cgroup_id(skb);
  struct netpol_endpoint* local = bpf_map_lookup_elem(&local_endpoints, &cgroup);
  struct decision d = {};
  decide_egress(&a, local, 1, &d);
  if (d.track_flow && local && a.sport != 0) {
    struct netpol_flow_key key;
    flow_key(&key, a.daddr, a.dport, a.sport, local->tenant, a.proto);
    track_flow(&key, local->tenant);
  }
  return finish(&a, &d);
}

SEC("cgroup_skb/ingress")
int netpol_ingress(struct __sk_buff* skb) {
  struct attempt a = {.hook = NETPOL_HOOK_INGRESS};
  if (!parse_packet(skb, &a)) {
    return PASS;
  }
  __u64 cgroup = bpf_skb_cgroup_id(skb);
  struct netpol_endpoint* local = bpf_map_lookup_elem(&local_endpoints, &cgroup);
  struct decision d = {};
  decide_ingress(skb, &a, local, &d);
  if (d.track_flow && local && a.dport != 0) {
    struct netpol_flow_key key;
    flow_key(&key, a.saddr, a.sport, a.dport, local->tenant, a.proto);
    // The sender opened it: the entry counts against the sender's tenant.
    track_flow(&key, d.src_tenant != NETPOL_NO_TENANT ? d.src_tenant : local->tenant);
  }
  return finish(&a, &d);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
