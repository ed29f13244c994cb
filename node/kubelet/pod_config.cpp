#include "node/kubelet/pod_config.h"

#include <algorithm>
#include <sstream>

#include "common/quantity.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "node/kubelet/json_fields.h"
#include "node/kubelet/sub_paths.h"

namespace bulkhead::node {
namespace {

const json& Meta(const json& pod) { return Field(pod, "metadata"); }
const json& Spec(const json& pod) { return Field(pod, "spec"); }

// Thousandths of a unit of resources.<kind>.<name>, if set.
std::optional<int64_t> Resource(const json& container, const char* kind, const char* name) {
  const json& resources = Field(container, "resources");
  if (!resources.is_object()) {
    return std::nullopt;
  }
  const json& list = Field(resources, kind);
  if (!list.is_object() || !list.contains(name)) {
    return std::nullopt;
  }
  const json& value = list[name];
  std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  auto quantity = Quantity::Parse(text);
  if (!quantity) {
    return std::nullopt;
  }
  return quantity->milli;
}

// metadata.labels['key'] style field paths.
std::optional<std::string> MapField(const json& map, std::string_view path,
                                    std::string_view prefix) {
  if (!path.starts_with(prefix) || !path.ends_with("']")) {
    return std::nullopt;
  }
  std::string key(path.substr(prefix.size(), path.size() - prefix.size() - 2));
  return map.is_object() ? Str(map, key.c_str()) : "";
}

std::optional<std::string> PodField(const json& pod, const std::string& path,
                                    const std::string& pod_ip, const std::string& host_ip) {
  const json& meta = Meta(pod);
  const json& spec = Spec(pod);
  if (path == "metadata.name") {
    return Str(meta, "name");
  }
  if (path == "metadata.namespace") {
    return Str(meta, "namespace");
  }
  if (path == "metadata.uid") {
    return Str(meta, "uid");
  }
  if (path == "spec.nodeName") {
    return Str(spec, "nodeName");
  }
  if (path == "spec.serviceAccountName") {
    return Str(spec, "serviceAccountName");
  }
  if (path == "status.podIP" || path == "status.podIPs") {
    return pod_ip;
  }
  if (path == "status.hostIP" || path == "status.hostIPs") {
    return host_ip;
  }
  if (auto v = MapField(Field(meta, "labels"), path, "metadata.labels['")) {
    return v;
  }
  if (auto v = MapField(Field(meta, "annotations"), path, "metadata.annotations['")) {
    return v;
  }
  return std::nullopt;
}

std::string FormatResource(int64_t milli, int64_t divisor_milli) {
  if (divisor_milli <= 0) {
    divisor_milli = 1000;
  }
  // Rounded up, as Kubernetes does for resourceFieldRef.
  return std::to_string((milli + divisor_milli - 1) / divisor_milli);
}

}  // namespace

std::string QosClass(const json& pod) {
  std::string qos = Str(Field(pod, "status"), "qosClass");
  return qos.empty() ? "BestEffort" : qos;
}

std::string PodCgroupParent(const std::string& cgroup_root, const json& pod) {
  std::string root = cgroup_root;
  while (!root.empty() && root.back() == '/') {
    root.pop_back();
  }
  std::string qos = QosClass(pod);
  std::string uid = Str(Meta(pod), "uid");
  if (qos == "Guaranteed") {
    return fmt::format("{}/kubepods/pod{}", root, uid);
  }
  return fmt::format("{}/kubepods/{}/pod{}", root, qos == "Burstable" ? "burstable" : "besteffort",
                     uid);
}

runtime::v1::DNSConfig ParseResolvConf(const std::string& text) {
  runtime::v1::DNSConfig dns;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    for (std::string word; words >> word;) {
      if (key == "nameserver") {
        dns.add_servers(word);
      } else if (key == "search") {
        dns.add_searches(word);
      } else if (key == "options") {
        dns.add_options(word);
      }
    }
  }
  return dns;
}

StatusOr<runtime::v1::PodSandboxConfig> SandboxConfig(const json& pod,
                                                      const SandboxInputs& inputs) {
  const json& meta = Meta(pod);
  const json& spec = Spec(pod);
  runtime::v1::PodSandboxConfig config;
  auto* metadata = config.mutable_metadata();
  metadata->set_name(Str(meta, "name"));
  metadata->set_namespace_(Str(meta, "namespace"));
  metadata->set_uid(Str(meta, "uid"));
  metadata->set_attempt(inputs.attempt);
  std::string hostname = Str(spec, "hostname");
  if (hostname.empty()) {
    hostname = Str(meta, "name");
  }
  const bool host_network = Field(spec, "hostNetwork") == true;
  if (!host_network) {
    config.set_hostname(hostname.substr(0, 63));
  }
  config.set_log_directory(inputs.log_directory);

  // dnsPolicy: Default (and ClusterFirst with no cluster DNS, which this
  // node does not have) use the node's resolv.conf; None only dnsConfig.
  std::string policy = Str(spec, "dnsPolicy");
  auto* dns = config.mutable_dns_config();
  if (policy != "None") {
    *dns = inputs.host_dns;
  }
  const json& dns_config = Field(spec, "dnsConfig");
  if (dns_config.is_object()) {
    for (const json& s : Field(dns_config, "nameservers")) {
      if (s.is_string()) {
        dns->add_servers(s.get<std::string>());
      }
    }
    for (const json& s : Field(dns_config, "searches")) {
      if (s.is_string()) {
        dns->add_searches(s.get<std::string>());
      }
    }
    for (const json& o : Field(dns_config, "options")) {
      std::string name = Str(o, "name");
      std::string value = Str(o, "value");
      if (!name.empty()) {
        dns->add_options(value.empty() ? name : fmt::format("{}:{}", name, value));
      }
    }
  }

  for (const json& container : Field(spec, "containers")) {
    for (const json& port : Field(container, "ports")) {
      int64_t host_port = port.value("hostPort", 0);
      if (host_port <= 0) {
        continue;
      }
      auto* mapping = config.add_port_mappings();
      std::string protocol = port.value("protocol", "TCP");
      mapping->set_protocol(protocol == "UDP"    ? runtime::v1::UDP
                            : protocol == "SCTP" ? runtime::v1::SCTP
                                                 : runtime::v1::TCP);
      mapping->set_container_port(static_cast<int32_t>(port.value("containerPort", 0)));
      mapping->set_host_port(static_cast<int32_t>(host_port));
      mapping->set_host_ip(port.value("hostIP", ""));
    }
  }
  auto& labels = *config.mutable_labels();
  if (const json& pod_labels = Field(meta, "labels"); pod_labels.is_object()) {
    for (const auto& [key, value] : pod_labels.items()) {
      if (value.is_string()) {
        labels[key] = value.get<std::string>();
      }
    }
  }
  labels[kPodUidLabel] = Str(meta, "uid");
  labels[kPodNameLabel] = Str(meta, "name");
  labels[kPodNamespaceLabel] = Str(meta, "namespace");
  auto& annotations = *config.mutable_annotations();
  if (const json& pod_annotations = Field(meta, "annotations"); pod_annotations.is_object()) {
    for (const auto& [key, value] : pod_annotations.items()) {
      if (value.is_string()) {
        annotations[key] = value.get<std::string>();
      }
    }
  }

  // Kept with the sandbox: how long to wait for its containers when the
  // pod is gone from the API before the node could look (a restart).
  if (spec.contains("terminationGracePeriodSeconds") &&
      spec["terminationGracePeriodSeconds"].is_number_integer()) {
    annotations[kGracePeriodAnnotation] =
        std::to_string(spec["terminationGracePeriodSeconds"].get<int64_t>());
  }

  auto* linux = config.mutable_linux();
  linux->set_cgroup_parent(PodCgroupParent(inputs.cgroup_root, pod));
  auto* security = linux->mutable_security_context();
  auto* namespaces = security->mutable_namespace_options();
  namespaces->set_network(host_network ? runtime::v1::NODE : runtime::v1::POD);
  namespaces->set_pid(Field(spec, "hostPID") == true                 ? runtime::v1::NODE
                      : Field(spec, "shareProcessNamespace") == true ? runtime::v1::POD
                                                                     : runtime::v1::CONTAINER);
  namespaces->set_ipc(Field(spec, "hostIPC") == true ? runtime::v1::NODE : runtime::v1::POD);
  const json& pod_security = Field(spec, "securityContext");
  if (pod_security.is_object()) {
    for (const json& sysctl : Field(pod_security, "sysctls")) {
      (*linux->mutable_sysctls())[Str(sysctl, "name")] = Str(sysctl, "value");
    }
    if (pod_security.contains("runAsUser") && pod_security["runAsUser"].is_number_integer()) {
      security->mutable_run_as_user()->set_value(pod_security["runAsUser"].get<int64_t>());
    }
    for (const json& group : Field(pod_security, "supplementalGroups")) {
      if (group.is_number_integer()) {
        security->add_supplemental_groups(group.get<int64_t>());
      }
    }
  }
  return config;
}

StatusOr<std::vector<runtime::v1::KeyValue>> ContainerEnv(const json& pod, const json& container,
                                                          const std::string& pod_ip,
                                                          const std::string& host_ip,
                                                          const DataLookup& lookup,
                                                          const NodeAllocatable& node) {
  std::vector<runtime::v1::KeyValue> env;
  auto set = [&](const std::string& key, const std::string& value) {
    for (auto& kv : env) {
      if (kv.key() == key) {
        kv.set_value(value);
        return;
      }
    }
    runtime::v1::KeyValue kv;
    kv.set_key(key);
    kv.set_value(value);
    env.push_back(std::move(kv));
  };
  for (const json& from : Field(container, "envFrom")) {
    std::string prefix = Str(from, "prefix");
    for (const char* kind : {"configMapRef", "secretRef"}) {
      const json& ref = Field(from, kind);
      if (!ref.is_object()) {
        continue;
      }
      std::string name = Str(ref, "name");
      const std::string object_kind = std::string(kind) == "configMapRef" ? "ConfigMap" : "Secret";
      BH_ASSIGN_OR_RETURN(auto data, lookup(object_kind, name));
      if (!data) {
        if (Field(ref, "optional") == true) {
          continue;
        }
        return absl::FailedPreconditionError(fmt::format(
            "{} \"{}\" not found", object_kind == "ConfigMap" ? "configmap" : "secret", name));
      }
      for (const auto& [key, value] : *data) {
        set(prefix + key, value);
      }
    }
  }
  for (const json& var : Field(container, "env")) {
    std::string name = Str(var, "name");
    const json& from = Field(var, "valueFrom");
    if (!from.is_object()) {
      set(name, ExpandVariables(Str(var, "value"), env));
      continue;
    }
    if (const json& field = Field(from, "fieldRef"); field.is_object()) {
      auto value = PodField(pod, Str(field, "fieldPath"), pod_ip, host_ip);
      if (!value) {
        return absl::InvalidArgumentError(
            fmt::format("env {}: unsupported fieldPath {}", name, Str(field, "fieldPath")));
      }
      set(name, *value);
      continue;
    }
    if (const json& field = Field(from, "resourceFieldRef"); field.is_object()) {
      std::string resource = Str(field, "resource");
      std::string target_name = Str(field, "containerName");
      const json* target = &container;
      for (const json& c : Field(Spec(pod), "containers")) {
        if (!target_name.empty() && Str(c, "name") == target_name) {
          target = &c;
        }
      }
      size_t dot = resource.find('.');
      if (dot == std::string::npos) {
        return absl::InvalidArgumentError(fmt::format("env {}: bad resource {}", name, resource));
      }
      std::string kind = resource.substr(0, dot);
      std::string what = resource.substr(dot + 1);
      auto milli = Resource(*target, kind == "limits" ? "limits" : "requests", what.c_str());
      if (!milli && kind == "limits") {
        // An unset limit is the node's allocatable.
        const int64_t allocatable = what == "cpu"      ? node.cpu_milli
                                    : what == "memory" ? node.memory_bytes * 1000
                                    : what == "ephemeral-storage"
                                        ? node.ephemeral_storage_bytes * 1000
                                        : 0;
        if (allocatable > 0) {
          milli = allocatable;
        }
      }
      int64_t divisor = 1000;
      if (field.contains("divisor")) {
        const json& d = field["divisor"];
        if (auto q = Quantity::Parse(d.is_string() ? d.get<std::string>() : d.dump())) {
          divisor = q->milli;
        }
      }
      set(name, milli ? FormatResource(*milli, divisor) : "0");
      continue;
    }
    for (const char* kind : {"configMapKeyRef", "secretKeyRef"}) {
      const json& ref = Field(from, kind);
      if (!ref.is_object()) {
        continue;
      }
      const std::string object_kind =
          std::string(kind) == "configMapKeyRef" ? "ConfigMap" : "Secret";
      std::string object = Str(ref, "name");
      std::string key = Str(ref, "key");
      BH_ASSIGN_OR_RETURN(auto data, lookup(object_kind, object));
      const bool optional = Field(ref, "optional") == true;
      std::string lower = object_kind == "ConfigMap" ? "configmap" : "secret";
      if (!data) {
        if (optional) {
          break;
        }
        return absl::FailedPreconditionError(fmt::format("{} \"{}\" not found", lower, object));
      }
      auto it = data->find(key);
      if (it == data->end()) {
        if (optional) {
          break;
        }
        return absl::FailedPreconditionError(fmt::format("couldn't find key {} in {} {}/{}", key,
                                                         object_kind, Str(Meta(pod), "namespace"),
                                                         object));
      }
      set(name, it->second);
    }
  }
  return env;
}

std::string ExpandVariables(const std::string& text,
                            const std::vector<runtime::v1::KeyValue>& env) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out.push_back(text[i]);
      continue;
    }
    if (text[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    if (text[i + 1] == '(') {
      size_t close = text.find(')', i + 2);
      if (close != std::string::npos) {
        std::string name = text.substr(i + 2, close - i - 2);
        auto it = std::find_if(env.begin(), env.end(),
                               [&](const runtime::v1::KeyValue& kv) { return kv.key() == name; });
        if (it != env.end()) {
          out += it->value();
          i = close;
          continue;
        }
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

runtime::v1::LinuxContainerResources ContainerResources(const json& pod, const json& container,
                                                        int64_t node_memory_bytes) {
  runtime::v1::LinuxContainerResources resources;
  auto cpu_request = Resource(container, "requests", "cpu");
  auto cpu_limit = Resource(container, "limits", "cpu");
  auto memory_request = Resource(container, "requests", "memory");
  auto memory_limit = Resource(container, "limits", "memory");
  // cpu.shares: 1024 per CPU requested, at least 2 (a kubelet's minimum).
  int64_t shares = cpu_request ? *cpu_request * 1024 / 1000 : 2;
  resources.set_cpu_shares(std::max<int64_t>(2, shares));
  if (cpu_limit) {
    resources.set_cpu_period(100000);
    resources.set_cpu_quota(std::max<int64_t>(1000, *cpu_limit * 100));
  }
  if (memory_limit) {
    resources.set_memory_limit_in_bytes(*memory_limit / 1000);
  }
  std::string qos = QosClass(pod);
  if (qos == "Guaranteed") {
    resources.set_oom_score_adj(-997);
  } else if (qos == "BestEffort") {
    resources.set_oom_score_adj(1000);
  } else {
    int64_t request = memory_request ? *memory_request / 1000 : 0;
    int64_t score = node_memory_bytes > 0 ? 1000 - (1000 * request) / node_memory_bytes : 999;
    resources.set_oom_score_adj(std::clamp<int64_t>(score, 2, 999));
  }
  return resources;
}

StatusOr<runtime::v1::ContainerConfig> ContainerConfig(const json& pod, const json& container,
                                                       const ContainerInputs& inputs) {
  runtime::v1::ContainerConfig config;
  const std::string name = Str(container, "name");
  config.mutable_metadata()->set_name(name);
  config.mutable_metadata()->set_attempt(inputs.attempt);
  config.mutable_image()->set_image(Str(container, "image"));
  for (const json& c : Field(container, "command")) {
    config.add_command(ExpandVariables(c.is_string() ? c.get<std::string>() : "", inputs.env));
  }
  for (const json& a : Field(container, "args")) {
    config.add_args(ExpandVariables(a.is_string() ? a.get<std::string>() : "", inputs.env));
  }
  config.set_working_dir(Str(container, "workingDir"));
  for (const auto& kv : inputs.env) {
    *config.add_envs() = kv;
  }
  for (const json& mount : Field(container, "volumeMounts")) {
    std::string volume = Str(mount, "name");
    auto it = inputs.volume_paths.find(volume);
    if (it == inputs.volume_paths.end()) {
      return absl::InvalidArgumentError(
          fmt::format("container {}: volumeMount {} names no volume of the pod", name, volume));
    }
    std::string host_path = it->second;
    std::string sub_path = Str(mount, "subPath");
    if (!sub_path.empty()) {
      if (!IsLocalDescendingPath(sub_path)) {
        return absl::InvalidArgumentError(
            fmt::format("container {}: subPath {} must be relative and stay inside the volume",
                        name, sub_path));
      }
      if (inputs.pin_sub_path) {
        BH_ASSIGN_OR_RETURN(
            host_path,
            inputs.pin_sub_path(host_path, sub_path, static_cast<size_t>(config.mounts_size())));
      } else {
        host_path += "/" + sub_path;
      }
    }
    auto* m = config.add_mounts();
    m->set_container_path(Str(mount, "mountPath"));
    m->set_host_path(host_path);
    // What the node writes (configMap, secret, downwardAPI, projected) is
    // read-only in the container whatever the mount says, as on a kubelet:
    // a container must not plant links the node would follow.
    m->set_readonly(Field(mount, "readOnly") == true ||
                    inputs.node_written_volumes.count(volume) > 0);
  }
  const json& meta = Meta(pod);
  auto& labels = *config.mutable_labels();
  labels[kPodUidLabel] = Str(meta, "uid");
  labels[kPodNameLabel] = Str(meta, "name");
  labels[kPodNamespaceLabel] = Str(meta, "namespace");
  labels[kContainerNameLabel] = name;
  auto& annotations = *config.mutable_annotations();
  annotations[kRestartCountAnnotation] = std::to_string(inputs.attempt);
  if (inputs.init) {
    annotations[kInitContainerAnnotation] = "true";
  }
  config.set_log_path(fmt::format("{}/{}.log", name, inputs.attempt));
  config.set_stdin(Field(container, "stdin") == true);
  config.set_stdin_once(Field(container, "stdinOnce") == true);
  config.set_tty(Field(container, "tty") == true);

  auto* linux = config.mutable_linux();
  *linux->mutable_resources() = ContainerResources(pod, container, inputs.node_memory_bytes);
  auto* security = linux->mutable_security_context();
  const json& spec = Spec(pod);
  auto* namespaces = security->mutable_namespace_options();
  namespaces->set_network(Field(spec, "hostNetwork") == true ? runtime::v1::NODE
                                                             : runtime::v1::POD);
  namespaces->set_pid(Field(spec, "hostPID") == true                 ? runtime::v1::NODE
                      : Field(spec, "shareProcessNamespace") == true ? runtime::v1::POD
                                                                     : runtime::v1::CONTAINER);
  namespaces->set_ipc(Field(spec, "hostIPC") == true ? runtime::v1::NODE : runtime::v1::POD);
  json context =
      Field(spec, "securityContext").is_object() ? Field(spec, "securityContext") : json::object();
  if (const json& own = Field(container, "securityContext"); own.is_object()) {
    for (const auto& [key, value] : own.items()) {
      context[key] = value;
    }
  }
  if (context.contains("runAsUser") && context["runAsUser"].is_number_integer()) {
    security->mutable_run_as_user()->set_value(context["runAsUser"].get<int64_t>());
  }
  if (context.contains("runAsGroup") && context["runAsGroup"].is_number_integer()) {
    security->mutable_run_as_group()->set_value(context["runAsGroup"].get<int64_t>());
  }
  for (const json& group : Field(context, "supplementalGroups")) {
    if (group.is_number_integer()) {
      security->add_supplemental_groups(group.get<int64_t>());
    }
  }
  security->set_privileged(Field(context, "privileged") == true);
  if (!security->privileged()) {
    // What a kubelet masks and makes read-only for an unprivileged container
    // (containerd applies none of its own when the lists are empty).
    for (const char* path :
         {"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
          "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
          "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"}) {
      security->add_masked_paths(path);
    }
    for (const char* path :
         {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}) {
      security->add_readonly_paths(path);
    }
  }
  security->set_readonly_rootfs(Field(context, "readOnlyRootFilesystem") == true);
  security->set_no_new_privs(Field(context, "allowPrivilegeEscalation") == false);
  if (const json& caps = Field(context, "capabilities"); caps.is_object()) {
    for (const json& c : Field(caps, "add")) {
      if (c.is_string()) {
        security->mutable_capabilities()->add_add_capabilities(c.get<std::string>());
      }
    }
    for (const json& c : Field(caps, "drop")) {
      if (c.is_string()) {
        security->mutable_capabilities()->add_drop_capabilities(c.get<std::string>());
      }
    }
  }
  if (const json& seccomp = Field(context, "seccompProfile"); seccomp.is_object()) {
    std::string type = Str(seccomp, "type");
    auto* profile = security->mutable_seccomp();
    if (type == "RuntimeDefault") {
      profile->set_profile_type(runtime::v1::SecurityProfile::RuntimeDefault);
    } else if (type == "Localhost") {
      profile->set_profile_type(runtime::v1::SecurityProfile::Localhost);
      profile->set_localhost_ref(Str(seccomp, "localhostProfile"));
    } else {
      profile->set_profile_type(runtime::v1::SecurityProfile::Unconfined);
    }
  }
  return config;
}

}  // namespace bulkhead::node
