// Proves on the running kernel that a cgroup BPF program can be attached
// with a bpf_link, replaced in place (BPF_LINK_UPDATE) and that it runs:
// the probe program (bpf/probe) goes on a scratch cgroup v2 directory, a
// child process in that cgroup connects a UDP socket to 127.0.0.1 (UDP
// connect sends no packet), and the program's counter must move.
#ifndef BULKHEAD_AGENT_CHECK_ATTACH_PROBE_H_
#define BULKHEAD_AGENT_CHECK_ATTACH_PROBE_H_

#include <string>

#include "common/status.h"

namespace bulkhead::agent {

struct AttachProbeResult {
  unsigned long long connect_calls = 0;  // what the program counted
  bool link_update = false;              // BPF_LINK_UPDATE worked
};

// `unified_mount` is the cgroup v2 mount; the scratch cgroup is created
// there as bulkhead-check-<pid> and removed before returning.
StatusOr<AttachProbeResult> RunAttachProbe(const std::string& unified_mount);

}  // namespace bulkhead::agent

#endif  // BULKHEAD_AGENT_CHECK_ATTACH_PROBE_H_
