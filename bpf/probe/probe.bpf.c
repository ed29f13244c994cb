// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
// Feature probe for `bulkhead-agent check`: a cgroup connect4 hook that
// allows every connect and counts the calls it saw from the cgroup it is
// attached to. The check attaches it to a scratch cgroup, connects a UDP
// socket from a process inside that cgroup, and reads the counter back: a
// non-zero count proves the kernel runs cgroup socket-address programs.
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

#include "probe/probe.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct probe_counts);
} probe_counts SEC(".maps");

SEC("cgroup/connect4")
int probe_connect4(struct bpf_sock_addr* ctx) {
  __u32 key = 0;
  struct probe_counts* counts = bpf_map_lookup_elem(&probe_counts, &key);
  if (counts) {
    __sync_fetch_and_add(&counts->connect4_calls, 1);
  }
  return 1;  // allow
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
