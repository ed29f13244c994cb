// A private containerd for bulkhead-node: its config, its CNI network, its
// process, and its removal.
//
// Everything of one instance lives under its state directory: containerd's
// root and state, runc's state, pod network namespaces, the CNI config and
// the IPAM store. Two things stay host-wide whatever the config says: CNI
// result files in /var/lib/cni/results (named after the network) and shim
// sockets in /run/containerd/s; Teardown removes this instance's ones. The
// system's own containerd (/run/containerd/containerd.sock,
// /var/lib/containerd) is never touched.
#ifndef BULKHEAD_NODE_CONTAINERD_CONTAINERD_PROCESS_H_
#define BULKHEAD_NODE_CONTAINERD_CONTAINERD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"

namespace bulkhead::node {

struct ContainerdOptions {
  std::string state_dir;             // everything of this containerd lives under it
  std::string bridge = "bulkhead0";  // the CNI bridge
  std::string pod_cidr = "10.244.0.0/24";
  std::string network_name = "bulkhead";  // the CNI network's name (also names CNI cache files)
  std::string sandbox_image = "bulkhead.local/pause:1";
  std::string cni_bin_dir = "/usr/lib/cni";
  std::string containerd_path = "/usr/bin/containerd";
  std::chrono::seconds start_timeout{30};
};

// Where an instance keeps its files, all derived from ContainerdOptions::state_dir.
struct ContainerdPaths {
  explicit ContainerdPaths(const std::string& state_dir);
  std::string containerd_dir;  // <state>/containerd
  std::string config;          // <state>/containerd/config.toml
  std::string socket;          // <state>/containerd/containerd.sock
  std::string log;             // <state>/containerd/containerd.log
  std::string root;            // <state>/containerd/root (images, snapshots, metadata)
  std::string state;           // <state>/containerd/state (bundles, netns, sockets)
  std::string opt;             // <state>/containerd/opt
  std::string runc_root;       // <state>/runc (runc's state, one dir per namespace)
  std::string cni_conf_dir;    // <state>/cni/net.d
  std::string cni_ipam_dir;    // <state>/cni/ipam (host-local's allocations)
};

// containerd's config.toml for `options`. `restrict_oom_score_adj` clamps
// negative OOM scores of containers to 0, for a process that may not lower
// them (no CAP_SYS_RESOURCE).
std::string ContainerdConfig(const ContainerdOptions& options, bool restrict_oom_score_adj);

// The CNI conflist of the pod network: a bridge that is the pods' gateway,
// host-local IPAM in `options.pod_cidr`, loopback.
std::string CniConflist(const ContainerdOptions& options);

// True when the effective capabilities of this process include CAP_SYS_RESOURCE.
StatusOr<bool> HasSysResourceCapability();

class Containerd {
 public:
  // Finds the containerd of `state_dir` when one answers on its socket, else
  // starts one: writes its config and CNI conflist, starts containerd with
  // its output in <state>/containerd/containerd.log and waits until CRI
  // Version answers. An exit or a timeout is an error with the log's tail.
  static StatusOr<std::unique_ptr<Containerd>> StartOrFind(const ContainerdOptions& options);

  Containerd(const Containerd&) = delete;
  Containerd& operator=(const Containerd&) = delete;
  // Stop() when started.
  ~Containerd();

  // The CRI socket's path.
  [[nodiscard]] const std::string& socket() const { return paths_.socket; }
  // False when an already running containerd was found.
  [[nodiscard]] bool started() const { return pid_ > 0; }
  // The process started, or -1.
  [[nodiscard]] pid_t pid() const { return pid_; }

  // Stops the process this object started: SIGTERM, up to 10 s, SIGKILL.
  // Running containers (their shims) keep running, as with a real node's
  // containerd restart. A found containerd is left alone.
  Status Stop();

  // Leaves the process running when this object goes: for a node that exits
  // and lets its successor find the containerd, and before Teardown (which
  // stops the process itself).
  void Detach() { pid_ = -1; }

 private:
  Containerd(const ContainerdOptions& options, pid_t pid);

  ContainerdOptions options_;
  ContainerdPaths paths_;
  pid_t pid_ = -1;
};

// For tests and `uninstall`: removes every pod sandbox through CRI (stop +
// remove), stops containerd, kills leftover shims of this instance
// (processes whose command line names this socket) and their containers,
// removes this network's files under /var/lib/cni/results and this
// instance's shim sockets, deletes the bridge, unmounts everything mounted
// under state_dir (deepest first) and removes state_dir. Keeps going past
// errors and returns the first one. A Containerd object of this instance
// must be stopped or detached first: Teardown reaps the process itself.
Status Teardown(const ContainerdOptions& options);

}  // namespace bulkhead::node

#endif  // BULKHEAD_NODE_CONTAINERD_CONTAINERD_PROCESS_H_
