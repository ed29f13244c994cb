// What a pod asks for, said in CRI terms: the sandbox (metadata, hostname,
// DNS, cgroup parent, namespaces) and each container (image, command, args,
// environment, mounts, resources). Pure functions of the pod object and of
// what the node looked up for it, so they are unit-tested without a runtime.
#ifndef BULKHEAD_NODE_KUBELET_POD_CONFIG_H_
#define BULKHEAD_NODE_KUBELET_POD_CONFIG_H_

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "cri/runtime/v1/api.pb.h"
#include "nlohmann/json.hpp"

namespace bulkhead::node {

using nlohmann::json;

// CRI labels by which the node finds its pods and containers again.
inline constexpr char kPodUidLabel[] = "io.kubernetes.pod.uid";
inline constexpr char kPodNameLabel[] = "io.kubernetes.pod.name";
inline constexpr char kPodNamespaceLabel[] = "io.kubernetes.pod.namespace";
inline constexpr char kContainerNameLabel[] = "io.kubernetes.container.name";
inline constexpr char kRestartCountAnnotation[] = "io.kubernetes.container.restartCount";
inline constexpr char kInitContainerAnnotation[] = "io.bulkhead.container.init";
inline constexpr char kGracePeriodAnnotation[] = "io.kubernetes.pod.terminationGracePeriod";

// Guaranteed, Burstable or BestEffort (status.qosClass, else BestEffort).
std::string QosClass(const json& pod);

// "<root>/kubepods/burstable/pod<uid>" as a kubelet with the cgroupfs driver
// lays it out (Guaranteed pods directly under kubepods).
std::string PodCgroupParent(const std::string& cgroup_root, const json& pod);

// The nameservers, searches and options of a resolv.conf text.
runtime::v1::DNSConfig ParseResolvConf(const std::string& text);

struct SandboxInputs {
  std::string cgroup_root = "/";
  std::string log_directory;        // the pod's log directory on the node
  runtime::v1::DNSConfig host_dns;  // the node's resolv.conf
  uint32_t attempt = 0;
};

// INVALID_ARGUMENT for what the node cannot run (e.g. hostNetwork with
// host ports it cannot give).
StatusOr<runtime::v1::PodSandboxConfig> SandboxConfig(const json& pod, const SandboxInputs& inputs);

// A ConfigMap's or Secret's data by namespace and name; nullopt when it
// does not exist, an error when that cannot be known now (the host API
// unreachable: the pod waits and retries rather than start without an
// optional object that exists). Secret values come decoded.
using DataLookup = std::function<StatusOr<std::optional<std::map<std::string, std::string>>>(
    const std::string& kind, const std::string& name)>;

// The container's environment: value, valueFrom (fieldRef,
// resourceFieldRef, configMapKeyRef, secretKeyRef) and envFrom, with
// $(VAR) references expanded as Kubernetes does. FAILED_PRECONDITION
// naming the missing object or key (not optional) when one is absent.
// What a resourceFieldRef of an unset limit reads, as a kubelet gives it:
// the node's allocatable (0: unknown, read as 0).
struct NodeAllocatable {
  int64_t cpu_milli = 0;
  int64_t memory_bytes = 0;
  int64_t ephemeral_storage_bytes = 0;
};
StatusOr<std::vector<runtime::v1::KeyValue>> ContainerEnv(const json& pod, const json& container,
                                                          const std::string& pod_ip,
                                                          const std::string& host_ip,
                                                          const DataLookup& lookup,
                                                          const NodeAllocatable& node = {});

// Expands $(VAR) from `env` in `text`; $$ is a literal $.
std::string ExpandVariables(const std::string& text, const std::vector<runtime::v1::KeyValue>& env);

struct ContainerInputs {
  std::vector<runtime::v1::KeyValue> env;
  // Volume name -> its directory (or file) on the node.
  std::map<std::string, std::string> volume_paths;
  uint32_t attempt = 0;
  bool init = false;
  int64_t node_memory_bytes = 0;  // for the Burstable OOM score
  // Volumes whose files the node writes: mounted read-only.
  std::set<std::string> node_written_volumes;
  // Pins a mount's subPath (volume path, subPath, index of the mount) and
  // returns the path to mount instead; without it the subPath is joined
  // lexically (unit tests).
  std::function<StatusOr<std::string>(const std::string&, const std::string&, size_t)> pin_sub_path;
};

// INVALID_ARGUMENT when a mount names a volume the pod does not have.
StatusOr<runtime::v1::ContainerConfig> ContainerConfig(const json& pod, const json& container,
                                                       const ContainerInputs& inputs);

// CPU shares, quota and memory limit from requests and limits, and the
// OOM score a kubelet gives the container's QoS class.
runtime::v1::LinuxContainerResources ContainerResources(const json& pod, const json& container,
                                                        int64_t node_memory_bytes);

}  // namespace bulkhead::node

#endif  // BULKHEAD_NODE_KUBELET_POD_CONFIG_H_
