// Where the kubelet puts a pod's cgroup, from the pod's UID and QoS class.
//
// The kubelet names its cgroups as a list of parts: its --cgroup-root, then
// "kubepods", then the QoS class ("burstable", "besteffort"; Guaranteed pods
// sit directly under kubepods), then "pod<uid>". The cgroupfs driver joins
// the parts with '/'. The systemd driver makes each prefix a slice, with '-'
// in a part escaped to '_' (systemd uses '-' for nesting):
//
//   cgroupfs  kubepods/burstable/pod1b2c-...
//   systemd   kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c_....slice
//
// The path is the same on cgroup v1 (below every controller's hierarchy) and
// v2 (below the unified mount); cgroup_place.h turns it into directories.
#ifndef BULKHEAD_AGENT_BUDGETS_KUBELET_PATHS_H_
#define BULKHEAD_AGENT_BUDGETS_KUBELET_PATHS_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace bulkhead::agent::budgets {

enum class CgroupDriver { kCgroupfs, kSystemd };
enum class QosClass { kGuaranteed, kBurstable, kBestEffort };

// "cgroupfs" | "systemd", as in the kubelet's cgroupDriver setting.
StatusOr<CgroupDriver> ParseCgroupDriver(std::string_view text);
// "Guaranteed" | "Burstable" | "BestEffort", as in a pod's status.qosClass.
StatusOr<QosClass> ParseQosClass(std::string_view text);
std::string_view CgroupDriverName(CgroupDriver driver);
std::string_view QosClassName(QosClass qos);

struct KubeletCgroupConfig {
  CgroupDriver driver = CgroupDriver::kCgroupfs;
  // The kubelet's --cgroup-root: "/" by default; "/kubelet" (cgroupfs style)
  // or "/kubelet.slice" (systemd style) for a nested kubelet.
  std::string cgroup_root = "/";
  // A plain directory inside every hierarchy below which the kubelet's tree
  // sits: empty on a node; "bulkhead-test-<pid>" in tests.
  std::string hierarchy_prefix;
};

// The kubelet's name parts for its --cgroup-root ("/kubelet.slice" under
// systemd is {"kubelet"}, like the kubelet's ParseSystemdToCgroupName).
std::vector<std::string> CgroupRootParts(const KubeletCgroupConfig& config);

// The pod's cgroup below every hierarchy root, hierarchy_prefix included.
// INVALID_ARGUMENT for a UID that is not letters, digits and '-' (a UID
// becomes a directory name, so '/' or ".." must never get through).
StatusOr<std::string> PodCgroupPath(const KubeletCgroupConfig& config, QosClass qos,
                                    std::string_view pod_uid);

}  // namespace bulkhead::agent::budgets

#endif  // BULKHEAD_AGENT_BUDGETS_KUBELET_PATHS_H_
