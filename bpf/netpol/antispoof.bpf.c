// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
// Anti-spoofing where a pod's frames leave it: attached (tcx ingress, one
// bpf_link per interface) to the host side of the pod's interface, it
// drops every frame whose source is not one of the pod's addresses, so a
// pod sends only as itself through any socket type, AF_PACKET included
// (the cgroup hooks never see those). Checked: the IPv4 and IPv6 source,
// the ARP sender address and the target of IPv6 neighbour advertisements.
// Frames of other types (VLAN-tagged, unknown ethertypes) are dropped.
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "netpol/antispoof_structs.h"

#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ETH_P_IPV6 0x86DD
#define IPPROTO_ICMPV6_ 58
#define ND_NEIGHBOR_SOLICIT 135
#define ND_NEIGHBOR_ADVERT 136
#define TCX_NEXT (-1)
#define TCX_DROP 2

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NETPOL_MAX_POD_SOURCES);
  __type(key, struct netpol_pod_source);
  __type(value, __u8);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} pod_sources SEC(".maps");

static __always_inline int owns(__u32 ifindex, const __u8* addr) {
  struct netpol_pod_source key = {.ifindex = ifindex};
  __builtin_memcpy(key.addr, addr, NETPOL_ADDR_LEN);
  return bpf_map_lookup_elem(&pod_sources, &key) != NULL;
}

static __always_inline int owns_v4(__u32 ifindex, __u32 ip4_be) {
  __u8 addr[NETPOL_ADDR_LEN] = {};
  addr[10] = 0xff;
  addr[11] = 0xff;
  __builtin_memcpy(addr + 12, &ip4_be, 4);
  return owns(ifindex, addr);
}

static __always_inline int is_unspecified(const __u8* addr) {
  for (int i = 0; i < NETPOL_ADDR_LEN; i++) {
    if (addr[i] != 0) {
      return 0;
    }
  }
  return 1;
}

SEC("tc")
int netpol_antispoof(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) {
    return TCX_DROP;
  }
  __u32 ifindex = skb->ifindex;
  if (eth->h_proto == bpf_htons(ETH_P_IP)) {
    struct iphdr* ip = (void*)(eth + 1);
    if ((void*)(ip + 1) > data_end) {
      return TCX_DROP;
    }
    return owns_v4(ifindex, ip->saddr) ? TCX_NEXT : TCX_DROP;
  }
  if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr* ip6 = (void*)(eth + 1);
    if ((void*)(ip6 + 1) > data_end) {
      return TCX_DROP;
    }
    __u8 saddr[NETPOL_ADDR_LEN];
    __builtin_memcpy(saddr, &ip6->saddr, NETPOL_ADDR_LEN);
    if (ip6->nexthdr == IPPROTO_ICMPV6_) {
      __u8 icmp[4 + 4 + NETPOL_ADDR_LEN];  // type, code, checksum, flags, target
      if (bpf_skb_load_bytes(skb, sizeof(*eth) + sizeof(*ip6), icmp, sizeof(icmp)) == 0) {
        if (icmp[0] == ND_NEIGHBOR_ADVERT && !owns(ifindex, icmp + 8)) {
          return TCX_DROP;  // claims an address that is not the pod's
        }
        if (icmp[0] == ND_NEIGHBOR_SOLICIT && is_unspecified(saddr)) {
          return TCX_NEXT;  // duplicate address detection sends from ::
        }
      }
    }
    return owns(ifindex, saddr) ? TCX_NEXT : TCX_DROP;
  }
  if (eth->h_proto == bpf_htons(ETH_P_ARP)) {
    // Ethernet/IPv4 ARP: 8 bytes of header, sender MAC (6), sender IP (4).
    __u8* arp = (void*)(eth + 1);
    if ((void*)(arp + 18) > data_end) {
      return TCX_DROP;
    }
    __u32 sender = 0;
    __builtin_memcpy(&sender, arp + 14, 4);
    return (sender == 0 || owns_v4(ifindex, sender)) ? TCX_NEXT : TCX_DROP;
  }
  return TCX_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
