// bulkhead-node: a kubelet for one machine. It starts (or finds) its own
// containerd, imports the images it builds offline, registers its Node with
// the host API, renews its Lease and runs the pods bound to it over CRI.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "common/cli.h"
#include "common/hostapi/host_config.h"
#include "common/logging.h"
#include "common/version.h"
#include "fmt/format.h"
#include "node/containerd/containerd_process.h"
#include "node/cri/cri_client.h"
#include "node/images/image_import.h"
#include "node/images/run_program.h"
#include "node/kubelet/kubelet.h"
#include "node/kubelet/node_status.h"
#include "node/kubelet/pod_cgroups.h"
#include "node/kubelet/sub_paths.h"
#include "node/server/node_server.h"
#include "node/server/runtime_streams.h"

namespace {

using namespace bulkhead;        // NOLINT(google-build-using-namespace)
using namespace bulkhead::node;  // NOLINT(google-build-using-namespace)

std::atomic<bool> g_stop{false};

void OnSignal(int /*signal*/) { g_stop = true; }

std::string Home() {
  const char* home = std::getenv("BULKHEAD_HOME");
  return home != nullptr && *home != '\0' ? home : "/var/lib/bulkhead";
}

// The pause program beside this binary (the build tree or an install).
std::string DefaultPauseBinary() {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  for (const char* relative :
       {"bulkhead-pause", "images/bulkhead-pause", "../lib/bulkhead/bulkhead-pause"}) {
    std::filesystem::path candidate = self.parent_path() / relative;
    if (std::filesystem::exists(candidate, error)) {
      return candidate.string();
    }
  }
  return "";
}

// The gateway of the pod network: the node's address that pods and the
// host both reach.
std::string GatewayOf(const std::string& cidr) {
  std::string base = cidr.substr(0, cidr.find('/'));
  size_t dot = base.rfind('.');
  if (dot == std::string::npos) {
    return "";
  }
  int last = std::atoi(base.substr(dot + 1).c_str());
  return base.substr(0, dot + 1) + std::to_string(last + 1);
}

// The pod network's bridge with the gateway address, made now rather than
// by the first sandbox's CNI call, so that the node's address (and its log
// endpoint on it) exists from the start. The bridge plugin takes it as is.
Status EnsureBridge(const std::string& bridge, const std::string& gateway,
                    const std::string& cidr) {
  const std::string prefix = cidr.substr(cidr.find('/'));
  if (!std::filesystem::exists("/sys/class/net/" + bridge)) {
    BH_ASSIGN_OR_RETURN(auto added,
                        images::RunProgram({"/sbin/ip", "link", "add", bridge, "type", "bridge"}));
    if (added.exit_code != 0 && !std::filesystem::exists("/sys/class/net/" + bridge)) {
      return absl::FailedPreconditionError(
          fmt::format("ip link add {}: {}", bridge, images::LastLineOf(added)));
    }
  }
  BH_ASSIGN_OR_RETURN(auto shown,
                      images::RunProgram({"/sbin/ip", "-o", "addr", "show", "dev", bridge}));
  if (shown.out.find(" " + gateway + "/") == std::string::npos) {
    BH_ASSIGN_OR_RETURN(auto address, images::RunProgram({"/sbin/ip", "addr", "add",
                                                          gateway + prefix, "dev", bridge}));
    if (address.exit_code != 0) {
      return absl::FailedPreconditionError(fmt::format(
          "ip addr add {} dev {}: {}", gateway + prefix, bridge, images::LastLineOf(address)));
    }
  }
  BH_ASSIGN_OR_RETURN(auto up, images::RunProgram({"/sbin/ip", "link", "set", bridge, "up"}));
  if (up.exit_code != 0) {
    return absl::FailedPreconditionError(
        fmt::format("ip link set {} up: {}", bridge, images::LastLineOf(up)));
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "bulkhead-node: a kubelet for one machine that runs the host API's pods in real "
      "containers through containerd's CRI",
      "bulkhead-node"};
  app.footer(
      "It starts its own containerd under --state-dir (or finds the one it started before), "
      "imports bulkhead.local/pause:1 and bulkhead.local/busybox:1.35, registers the Node and "
      "runs the pods bound to it. Stopped, it leaves containerd and the pods running; started "
      "again it adopts them.\n"
      "Example:\n  bulkhead-node --kubeconfig /var/lib/bulkhead/host/kubeconfig");
  std::string log_level = "info";
  AddLogLevelFlag(app, log_level);
  std::string kubeconfig = Home() + "/host/kubeconfig";
  std::string state_dir = Home() + "/node";
  MachineInfo machine = ReadMachineInfo();
  std::string node_name = machine.hostname;
  std::string node_ip;
  std::string pause_binary = DefaultPauseBinary();
  ContainerdOptions containerd;
  KubeletOptions kubelet;
  int64_t lease_seconds = 10;
  app.add_option("--kubeconfig", kubeconfig, "The host API's kubeconfig")->capture_default_str();
  app.add_option("--node-name", node_name, "The Node's name")->capture_default_str();
  app.add_option("--node-ip", node_ip,
                 "The node's InternalIP (default: the pod network's gateway address)");
  app.add_option("--state-dir", state_dir, "Directory of the node's containerd, pod files and logs")
      ->capture_default_str();
  app.add_option("--pod-cidr", containerd.pod_cidr, "IPv4 range of this node's pod addresses")
      ->capture_default_str();
  app.add_option("--bridge", containerd.bridge, "Name of the pod network's bridge")
      ->capture_default_str();
  app.add_option("--network-name", containerd.network_name,
                 "Name of the pod network (CNI), which also names its files under "
                 "/var/lib/cni/results")
      ->capture_default_str();
  app.add_option("--cgroup-root", kubelet.cgroup_root,
                 "cgroup under which the node makes kubepods/ (the agent's kubelet budget mode "
                 "reads this layout)")
      ->capture_default_str();
  app.add_option("--pause-binary", pause_binary, "The sandbox image's program")
      ->capture_default_str();
  app.add_option("--lease-seconds", lease_seconds, "Seconds between renewals of the node's Lease")
      ->check(CLI::Range(1, 300))
      ->capture_default_str();
  int64_t backoff_ms = kubelet.restart_backoff.count();
  app.add_option("--restart-backoff-ms", backoff_ms,
                 "First back-off before a crashed container runs again; doubled per restart up "
                 "to five minutes")
      ->check(CLI::Range(10, 300000))
      ->capture_default_str();
  std::string serve_address;
  uint16_t serve_port = 10250;
  app.add_option("--serve-address", serve_address,
                 "Address of the node's HTTPS endpoint, which serves containers' logs to the "
                 "host API (default: --node-ip)");
  app.add_option("--serve-port", serve_port,
                 "Port of that endpoint, advertised as status.daemonEndpoints.kubeletEndpoint")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  bool uninstall = false;
  app.add_flag("--uninstall", uninstall,
               "Remove everything of this node instead of running it: every pod sandbox and "
               "container, containerd and its shims, the bridge, CNI files, mounts, the state "
               "directory and the kubepods cgroups under --cgroup-root");
  if (int rc = ParseCli(app, argc, argv); rc >= 0) {
    return rc;
  }
  containerd.state_dir = state_dir;
  // The node makes and removes cgroups below this path in every hierarchy:
  // it must stay below the hierarchies' roots.
  if (kubelet.cgroup_root.empty() || kubelet.cgroup_root.front() != '/' ||
      (kubelet.cgroup_root != "/" && !IsLocalDescendingPath(kubelet.cgroup_root.substr(1)))) {
    PrintError(app, fmt::format("--cgroup-root {}: must be an absolute cgroup path without \"..\"",
                                kubelet.cgroup_root));
    return kExitUsage;
  }
  // One node per state directory: a second one would run the same pods.
  std::error_code dir_error;
  if (!uninstall) {
    std::filesystem::create_directories(state_dir + "/pods", dir_error);
    ::chmod(state_dir.c_str(), 0700);  // pods' secrets and tokens are below
    ::chmod((state_dir + "/pods").c_str(), 0700);
  }
  const bool state_exists = std::filesystem::exists(state_dir, dir_error);
  int lock_fd = state_exists ? ::open((state_dir + "/node.lock").c_str(),
                                      O_RDWR | O_CLOEXEC | (uninstall ? 0 : O_CREAT), 0600)
                             : -1;
  if ((!uninstall && lock_fd < 0) || (lock_fd >= 0 && ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0)) {
    PrintError(app, fmt::format("another bulkhead-node runs on --state-dir {} (or it cannot be "
                                "locked: {}); stop it first",
                                state_dir, std::strerror(errno)));
    return kExitFailure;
  }
  if (uninstall) {
    Status removed = Teardown(containerd);
    RemoveCgroupTree(kubelet.cgroup_root + "/kubepods");
    if (kubelet.cgroup_root != "/") {
      // Only if nothing else is in it: the root may be a cgroup of others.
      RemoveCgroupIfEmpty(kubelet.cgroup_root);
    }
    if (!removed.ok()) {
      PrintError(app, fmt::format("uninstall: {}", MessageOf(removed)));
      return kExitFailure;
    }
    return kExitOk;
  }
  kubelet.restart_backoff = std::chrono::milliseconds(backoff_ms);
  auto host_config = hostapi::LoadKubeconfig(kubeconfig);
  if (!host_config.ok()) {
    PrintError(app,
               fmt::format("--kubeconfig {}: {}", kubeconfig, MessageOf(host_config.status())));
    return kExitUsage;
  }
  if (pause_binary.empty() || !std::filesystem::exists(pause_binary)) {
    PrintError(app,
               "the pause program (bulkhead-pause) is not beside this binary; give "
               "--pause-binary PATH");
    return kExitUsage;
  }
  if (node_ip.empty()) {
    node_ip = GatewayOf(containerd.pod_cidr);
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  auto& log = Logger(Component::kNode);

  auto started = std::chrono::steady_clock::now();
  auto runtime = Containerd::StartOrFind(containerd);
  if (!runtime.ok()) {
    PrintError(app, fmt::format("containerd: {}", MessageOf(runtime.status())));
    return kExitFailure;
  }
  (*runtime)->Detach();  // it outlives this process: pods keep running
  if (Status bridge =
          EnsureBridge(containerd.bridge, GatewayOf(containerd.pod_cidr), containerd.pod_cidr);
      !bridge.ok()) {
    PrintError(app, fmt::format("the pod network's bridge: {}", MessageOf(bridge)));
    return kExitFailure;
  }
  if (Status imported =
          images::ImportBuiltinImages((*runtime)->socket(), state_dir + "/images", pause_binary);
      !imported.ok()) {
    PrintError(app, fmt::format("importing the builtin images: {}", MessageOf(imported)));
    return kExitFailure;
  }
  auto cri = cri::CriClient::Connect((*runtime)->socket());
  if (!cri.ok()) {
    PrintError(app, MessageOf(cri.status()));
    return kExitFailure;
  }
  auto version = (*cri)->Version();
  log.info("containerd {} ready in {} ms ({})", version.ok() ? version->runtime_version() : "?",
           std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 started)
               .count(),
           (*runtime)->socket());

  HostClient host(*host_config);
  NodeIdentity identity;
  identity.name = node_name;
  identity.internal_ip = node_ip;
  identity.runtime_version =
      "containerd://" + (version.ok() ? version->runtime_version() : std::string("unknown"));
  identity.kubelet_version = "v1.32.0-bulkhead";
  identity.kubelet_port = serve_port;
  NodeHeartbeat heartbeat(host, identity, machine, std::chrono::seconds(lease_seconds));
  for (int attempt = 0;; ++attempt) {
    Status registered = heartbeat.Register();
    if (registered.ok()) {
      break;
    }
    if (attempt >= 30 || g_stop.load() ||
        registered.code() == absl::StatusCode::kPermissionDenied ||
        registered.code() == absl::StatusCode::kUnauthenticated) {
      PrintError(app, fmt::format("registering node {}: {}", node_name, MessageOf(registered)));
      return kExitFailure;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  heartbeat.Start();
  log.info("node {} registered ({}, pods in {})", node_name, node_ip, containerd.pod_cidr);

  kubelet.node_name = node_name;
  kubelet.node_ip = node_ip;
  kubelet.state_dir = state_dir;
  kubelet.node_memory_bytes = machine.memory_bytes;
  // As the Node's allocatable says (node_status.cpp).
  kubelet.allocatable.cpu_milli = machine.cpus * 1000;
  kubelet.allocatable.memory_bytes =
      std::max<int64_t>(0, machine.memory_bytes - identity.reserved_memory_bytes);
  Kubelet pods(host, **cri, kubelet);
  NodeServerOptions serve;
  serve.address = serve_address.empty() ? node_ip : serve_address;
  serve.port = serve_port;
  serve.state_dir = state_dir;
  serve.node_name = node_name;
  auto server = NodeServer::Start(
      serve, HostAccessCheck(host, node_name),
      [&pods](const std::string& ns, const std::string& pod,
              const std::string& container) -> std::optional<ContainerLogFiles> {
        auto files = pods.ContainerLogFiles(ns, pod, container);
        if (!files) {
          return std::nullopt;
        }
        return ContainerLogFiles{files->current, files->previous, files->running};
      },
      RuntimeStreams(pods, **cri));
  if (!server.ok()) {
    PrintError(app, fmt::format("--serve-address {}:{}: {}", serve.address, serve_port,
                                MessageOf(server.status())));
    return kExitFailure;
  }
  log.info("serving logs, exec, attach and port-forward on https://{}:{}", serve.address,
           serve_port);
  pods.Run(g_stop);
  log.info("node {} stopping; containerd and its pods keep running", node_name);
  return kExitOk;
}
