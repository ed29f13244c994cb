// Shared by antispoof.bpf.c and the agent (agent/netpol/antispoof.*).
#ifndef BULKHEAD_BPF_NETPOL_ANTISPOOF_STRUCTS_H_
#define BULKHEAD_BPF_NETPOL_ANTISPOOF_STRUCTS_H_

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#ifndef NETPOL_ADDR_LEN
#define NETPOL_ADDR_LEN 16
#endif

#define NETPOL_MAX_POD_SOURCES 65536

// pod_sources: (host-side interface, address) the pod on that interface may
// send from. Addresses as in netpol_structs.h (IPv4 as ::ffff:a.b.c.d).
struct netpol_pod_source {
  __u32 ifindex;  // in the node's network namespace
  __u8 addr[NETPOL_ADDR_LEN];
};

#endif  // BULKHEAD_BPF_NETPOL_ANTISPOOF_STRUCTS_H_
