// `bulkhead-agent run`: the agent's main loop on one node.
#ifndef BULKHEAD_AGENT_RUNNER_H_
#define BULKHEAD_AGENT_RUNNER_H_

#include <chrono>
#include <string>

#include "common/status.h"

namespace bulkhead::agent {

struct RunOptions {
  std::string endpoints_file;  // empty: wait for the host API source
  std::string pods_cgroup;     // empty: detect (kubepods.slice, kubepods)
  std::string bpf_root = "/sys/fs/bpf/bulkhead";
  // The node's network namespace, whose interfaces give the node's addresses
  // (empty: the agent's own).
  std::string node_netns;
  std::string node_name;     // empty: host name
  bool print_flows = false;  // one JSON line per flow record on stdout
  std::chrono::milliseconds reload_interval{500};
  // The gRPC API (mutual TLS). Off when certs_dir is empty.
  std::string listen = "127.0.0.1:9443";
  std::string certs_dir;  // ca.crt, agent.crt, agent.key
  unsigned cert_refresh_seconds = 5;
  // Prometheus text endpoint (plain HTTP); off when empty.
  std::string metrics_listen;
  // The bearer token that unlocks the tenant-labelled series; empty: none
  // does (every scrape gets the node-level series only).
  std::string metrics_token_file;
  // Policies, bounds and budgets accepted over the API, kept across
  // restarts; empty: kept in memory only.
  std::string state_file;
  // How budgets reach the cgroups: "kubelet", "placed" or "off".
  std::string budgets = "kubelet";
  std::string kubelet_cgroup_driver;  // empty: from the pods cgroup's name
  std::string kubelet_cgroup_root = "/";
  std::string budget_cgroup_root = "bulkhead";  // for "placed"
  // Every budget is applied again this often: pods resized or whose cgroup
  // was made again behind the agent's back get their ceilings back.
  unsigned budget_resync_seconds = 5;
  // The host cluster's API server, for removing this node's
  // bulkhead.io/agent-not-ready taint once the programs are attached. Empty:
  // the pod's service account when in a pod, else no host API.
  std::string kubeconfig;
};

// Opens (or takes over) the datapath, applies the endpoints file merged
// with the tenants' policies and re-applies it when it changes, writes the
// tenants' budgets into cgroups, reads flow records, serves the gRPC API
// and the metrics, and returns on SIGTERM or SIGINT. Enforcement stays in place when it returns. A
// bad file at start is an error; a bad file later is logged and the previous state kept.
Status RunAgent(const RunOptions& options);

// Finds the pods cgroup on the cgroup v2 mount when none is given.
StatusOr<std::string> DetectPodsCgroup(const std::string& unified_mount);

}  // namespace bulkhead::agent

#endif  // BULKHEAD_AGENT_RUNNER_H_
