// Structs shared by probe.bpf.c and its userspace loader.
#ifndef BULKHEAD_BPF_PROBE_PROBE_H_
#define BULKHEAD_BPF_PROBE_PROBE_H_

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

struct probe_counts {
  __u64 connect4_calls;
};

#endif  // BULKHEAD_BPF_PROBE_PROBE_H_
