#include "node/kubelet/node_status.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/file.h"
#include "common/logging.h"
#include "common/strings.h"
#include "fmt/chrono.h"
#include "fmt/format.h"

namespace bulkhead::node {
namespace {

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return std::string(TrimSpace(line));
}

std::string Architecture(const std::string& machine) {
  if (machine == "x86_64") {
    return "amd64";
  }
  if (machine == "aarch64") {
    return "arm64";
  }
  return machine;
}

json Condition(const std::string& type, const std::string& status, const std::string& reason,
               const std::string& message) {
  std::string now = NowRfc3339();
  return {{"type", type},       {"status", status},         {"reason", reason},
          {"message", message}, {"lastHeartbeatTime", now}, {"lastTransitionTime", now}};
}

}  // namespace

std::string NowRfc3339() {
  return fmt::format(
      "{:%Y-%m-%dT%H:%M:%SZ}",
      fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
}

std::string NowRfc3339Micro() {
  auto now = std::chrono::system_clock::now();
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()) %
                std::chrono::seconds(1);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}Z",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(now)), micros.count());
}

MachineInfo ReadMachineInfo() {
  MachineInfo info;
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) == 0) {
    info.hostname = host;
  }
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  info.cpus = cpus > 0 ? cpus : 1;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemTotal:") {
      info.memory_bytes = kib * 1024;
      break;
    }
  }
  utsname uts{};
  if (::uname(&uts) == 0) {
    info.kernel_version = uts.release;
    info.architecture = Architecture(uts.machine);
  }
  std::ifstream release("/etc/os-release");
  for (std::string line; std::getline(release, line);) {
    std::string_view value = line;
    if (ConsumePrefix(value, "PRETTY_NAME=")) {
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      info.os_image = std::string(value);
    }
  }
  info.machine_id = FirstLine("/etc/machine-id");
  info.boot_id = FirstLine("/proc/sys/kernel/random/boot_id");
  return info;
}

json NodeObject(const NodeIdentity& identity, const MachineInfo& machine) {
  const int64_t allocatable_memory =
      std::max<int64_t>(0, machine.memory_bytes - identity.reserved_memory_bytes);
  json capacity = {{"cpu", std::to_string(machine.cpus)},
                   {"memory", fmt::format("{}Ki", machine.memory_bytes / 1024)},
                   {"pods", std::to_string(identity.max_pods)}};
  json allocatable = capacity;
  allocatable["memory"] = fmt::format("{}Ki", allocatable_memory / 1024);
  json addresses = json::array({{{"type", "Hostname"}, {"address", identity.name}}});
  if (!identity.internal_ip.empty()) {
    addresses.insert(addresses.begin(),
                     json{{"type", "InternalIP"}, {"address", identity.internal_ip}});
  }
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata",
           {{"name", identity.name},
            {"labels",
             {{"kubernetes.io/hostname", identity.name},
              {"kubernetes.io/os", "linux"},
              {"kubernetes.io/arch", machine.architecture},
              {"beta.kubernetes.io/os", "linux"},
              {"beta.kubernetes.io/arch", machine.architecture}}}}},
          {"spec", json::object()},
          {"status",
           {{"capacity", capacity},
            {"allocatable", allocatable},
            {"addresses", addresses},
            {"conditions",
             json::array(
                 {Condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
                            "kubelet has sufficient memory available"),
                  Condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
                            "kubelet has no disk pressure"),
                  Condition("PIDPressure", "False", "KubeletHasSufficientPID",
                            "kubelet has sufficient PID available"),
                  Condition("Ready", "True", "KubeletReady", "kubelet is posting ready status")})},
            {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", identity.kubelet_port}}}}},
            {"nodeInfo",
             {{"machineID", machine.machine_id},
              {"systemUUID", machine.machine_id},
              {"bootID", machine.boot_id},
              {"kernelVersion", machine.kernel_version},
              {"osImage", machine.os_image},
              {"containerRuntimeVersion", identity.runtime_version},
              {"kubeletVersion", identity.kubelet_version},
              {"kubeProxyVersion", ""},
              {"operatingSystem", "linux"},
              {"architecture", machine.architecture}}}}}};
}

NodeHeartbeat::NodeHeartbeat(const HostClient& host, NodeIdentity identity, MachineInfo machine,
                             std::chrono::seconds lease_period)
    : host_(host),
      identity_(std::move(identity)),
      machine_(std::move(machine)),
      lease_period_(lease_period) {}

NodeHeartbeat::~NodeHeartbeat() {
  stop_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
}

Status NodeHeartbeat::Register() {
  json node = NodeObject(identity_, machine_);
  auto created = host_.Create("/api/v1/nodes", node);
  if (created.status().code() == absl::StatusCode::kAlreadyExists) {
    // Registered before (a restart): the machine's figures and Ready again.
    BH_RETURN_IF_ERROR(host_
                           .MergePatch("/api/v1/nodes/" + identity_.name + "/status",
                                       json{{"status", node["status"]}})
                           .status());
    BH_RETURN_IF_ERROR(host_
                           .MergePatch("/api/v1/nodes/" + identity_.name,
                                       json{{"metadata", {{"labels", node["metadata"]["labels"]}}}})
                           .status());
  } else if (!created.ok()) {
    return created.status();
  } else {
    // The create may have dropped the status: post it.
    BH_RETURN_IF_ERROR(host_
                           .MergePatch("/api/v1/nodes/" + identity_.name + "/status",
                                       json{{"status", node["status"]}})
                           .status());
  }
  return RenewLease();
}

Status NodeHeartbeat::RenewLease() {
  const std::string path =
      "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/" + identity_.name;
  json spec = {{"holderIdentity", identity_.name},
               {"leaseDurationSeconds", 40},
               {"renewTime", NowRfc3339Micro()}};
  auto patched = host_.MergePatch(path, json{{"spec", spec}});
  if (patched.status().code() != absl::StatusCode::kNotFound) {
    return patched.status();
  }
  auto node = host_.Get("/api/v1/nodes/" + identity_.name);
  json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", identity_.name}, {"namespace", "kube-node-lease"}}},
                {"spec", spec}};
  if (node.ok()) {
    lease["metadata"]["ownerReferences"] =
        json::array({{{"apiVersion", "v1"},
                      {"kind", "Node"},
                      {"name", identity_.name},
                      {"uid", (*node)["metadata"].value("uid", "")}}});
  }
  auto created =
      host_.Create("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease);
  return created.status().code() == absl::StatusCode::kAlreadyExists ? absl::OkStatus()
                                                                     : created.status();
}

Status NodeHeartbeat::PostStatusIfNotReady() {
  BH_ASSIGN_OR_RETURN(json node, host_.Get("/api/v1/nodes/" + identity_.name));
  for (const json& condition : node["status"].value("conditions", json::array())) {
    if (condition.value("type", "") == "Ready" && condition.value("status", "") == "True") {
      return absl::OkStatus();
    }
  }
  Logger(Component::kNode)
      .info("node {} was marked not ready: posting Ready again", identity_.name);
  return host_
      .MergePatch("/api/v1/nodes/" + identity_.name + "/status",
                  json{{"status", NodeObject(identity_, machine_)["status"]}})
      .status();
}

void NodeHeartbeat::Start() {
  thread_ = std::thread([this] { Run(); });
}

void NodeHeartbeat::Run() {
  auto next = std::chrono::steady_clock::now() + lease_period_;
  while (!stop_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (std::chrono::steady_clock::now() < next) {
      continue;
    }
    next = std::chrono::steady_clock::now() + lease_period_;
    if (Status renewed = RenewLease(); !renewed.ok()) {
      Logger(Component::kNode).warn("renewing the node's lease: {}", MessageOf(renewed));
      next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      continue;
    }
    if (Status posted = PostStatusIfNotReady(); !posted.ok()) {
      Logger(Component::kNode).warn("posting the node's status: {}", MessageOf(posted));
    }
  }
}

}  // namespace bulkhead::node
