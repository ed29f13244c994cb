#include "node/kubelet/pod_worker.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/logging.h"
#include "fmt/chrono.h"
#include "fmt/format.h"
#include "node/kubelet/json_fields.h"
#include "node/kubelet/node_status.h"
#include "node/kubelet/pod_cgroups.h"
#include "node/kubelet/sub_paths.h"

namespace bulkhead::node {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

spdlog::logger& Log() { return Logger(Component::kNode); }

std::string PodName(const json& pod) {
  return Str(pod["metadata"], "namespace") + "/" + Str(pod["metadata"], "name");
}

bool Exited(const runtime::v1::ContainerStatus& status) {
  return status.state() == runtime::v1::CONTAINER_EXITED;
}

bool Running(const runtime::v1::ContainerStatus& status) {
  return status.state() == runtime::v1::CONTAINER_RUNNING;
}

json Terminated(const runtime::v1::ContainerStatus& status) {
  std::string reason = status.reason();
  if (reason.empty()) {
    reason = status.exit_code() == 0 ? "Completed" : "Error";
  }
  json terminated = {{"exitCode", status.exit_code()},
                     {"reason", reason},
                     {"containerID", "containerd://" + status.id()}};
  if (!status.message().empty()) {
    terminated["message"] = status.message();
  }
  if (status.started_at() > 0) {
    terminated["startedAt"] = Rfc3339FromNanos(status.started_at());
  }
  if (status.finished_at() > 0) {
    terminated["finishedAt"] = Rfc3339FromNanos(status.finished_at());
  }
  return terminated;
}

int64_t GracePeriod(const json& pod) {
  const json& meta = pod["metadata"];
  if (meta.contains("deletionGracePeriodSeconds") &&
      meta["deletionGracePeriodSeconds"].is_number_integer() &&
      !Str(meta, "deletionTimestamp").empty()) {
    return meta["deletionGracePeriodSeconds"].get<int64_t>();
  }
  const json& spec = pod["spec"];
  if (spec.contains("terminationGracePeriodSeconds") &&
      spec["terminationGracePeriodSeconds"].is_number_integer()) {
    return spec["terminationGracePeriodSeconds"].get<int64_t>();
  }
  return 30;
}

json Condition(const json& previous, const std::string& type, bool value,
               const std::string& reason = "") {
  const std::string status = value ? "True" : "False";
  for (const json& c : previous.value("conditions", json::array())) {
    if (c.value("type", "") == type && c.value("status", "") == status &&
        c.value("reason", "") == reason) {
      return c;  // unchanged: keep its transition time
    }
  }
  json condition = {{"type", type},
                    {"status", status},
                    {"lastProbeTime", nullptr},
                    {"lastTransitionTime", NowRfc3339()}};
  if (!reason.empty()) {
    condition["reason"] = reason;
  }
  return condition;
}

}  // namespace

std::string Rfc3339FromNanos(int64_t nanos) {
  std::time_t seconds = static_cast<std::time_t>(nanos / 1000000000);
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(seconds));
}

PodWorker::PodWorker(const HostClient& host, cri::CriClient& cri, const KubeletOptions& options,
                     json pod)
    : host_(host), cri_(cri), options_(options), pod_(std::move(pod)) {
  uid_ = Str(pod_["metadata"], "uid");
  // A pod that ended before this node (re)started is not run again, and
  // its status, written by the node that ran it, is left as it is.
  std::string phase = Str(Field(pod_, "status"), "phase");
  if (phase == "Succeeded" || phase == "Failed") {
    terminal_phase_ = phase;
    ended_before_ = true;
  }
  pod_dir_ = fmt::format("{}/pods/{}", options_.state_dir, uid_);
  thread_ = std::thread([this] { Run(); });
}

PodWorker::~PodWorker() {
  stop_ = true;
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::optional<PodWorker::LogState> PodWorker::ContainerLogState(
    const std::string& container) const {
  std::lock_guard lock(mutex_);
  auto it = log_states_.find(container);
  if (it == log_states_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::string PodWorker::SandboxId() const {
  std::lock_guard lock(mutex_);
  return synced_sandbox_id_;
}

std::string PodWorker::pod_namespace() const {
  std::lock_guard lock(mutex_);
  return Str(pod_["metadata"], "namespace");
}

std::string PodWorker::pod_name() const {
  std::lock_guard lock(mutex_);
  return Str(pod_["metadata"], "name");
}

void PodWorker::Update(json pod) {
  std::lock_guard lock(mutex_);
  pod_ = std::move(pod);
  dirty_ = true;
  wake_.notify_all();
}

void PodWorker::Gone() {
  std::lock_guard lock(mutex_);
  gone_ = true;
  dirty_ = true;
  wake_.notify_all();
}

void PodWorker::Wake() {
  std::lock_guard lock(mutex_);
  dirty_ = true;
  wake_.notify_all();
}

void PodWorker::WakeAt(Clock::time_point when) { next_wake_ = std::min(next_wake_, when); }

void PodWorker::Run() {
  while (!stop_.load() && !done_.load()) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_wake_, [&] { return dirty_ || stop_.load(); });
      dirty_ = false;
    }
    if (stop_.load()) {
      return;
    }
    next_wake_ = Clock::now() + std::chrono::seconds(10);  // a periodic resync
    try {
      Sync();
    } catch (const std::exception& error) {
      // A pod object the node cannot read (a field of the wrong type): it
      // says so in an event and the node goes on with the others.
      json pod;
      {
        std::lock_guard lock(mutex_);
        pod = pod_;
      }
      Log().warn("pod {}: {}", uid_, error.what());
      try {
        Event(pod, "Warning", "Failed",
              fmt::format("the node cannot run this pod: {}", error.what()));
      } catch (const std::exception&) {
      }
      next_wake_ = Clock::now() + std::chrono::seconds(10);
    }
  }
}

StatusOr<std::optional<std::map<std::string, std::string>>> PodWorker::Lookup(
    const json& pod, const std::string& kind, const std::string& name) const {
  std::string ns = Str(pod["metadata"], "namespace");
  std::string path = fmt::format("/api/v1/namespaces/{}/{}/{}", ns,
                                 kind == "ConfigMap" ? "configmaps" : "secrets", name);
  auto object = host_.Get(path);
  if (!object.ok()) {
    if (object.status().code() == absl::StatusCode::kNotFound) {
      return std::nullopt;
    }
    return absl::UnavailableError(
        fmt::format("reading {} {}/{}: {}", kind, ns, name, MessageOf(object.status())));
  }
  std::map<std::string, std::string> data;
  if (const json& values = Field(*object, "data"); values.is_object()) {
    for (const auto& [key, value] : values.items()) {
      std::string text = value.is_string() ? value.get<std::string>() : "";
      if (kind == "Secret") {
        text = DecodeBase64(text).value_or("");
      }
      data[key] = text;
    }
  }
  if (const json& binary = Field(*object, "binaryData"); binary.is_object()) {
    for (const auto& [key, value] : binary.items()) {
      data[key] = DecodeBase64(value.is_string() ? value.get<std::string>() : "").value_or("");
    }
  }
  return data;
}

void PodWorker::Event(const json& pod, const std::string& type, const std::string& reason,
                      const std::string& message) const {
  const json& meta = pod["metadata"];
  std::string ns = Str(meta, "namespace");
  std::string now = NowRfc3339();
  json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"generateName", Str(meta, "name") + "."}, {"namespace", ns}}},
                {"involvedObject",
                 {{"apiVersion", "v1"},
                  {"kind", "Pod"},
                  {"name", Str(meta, "name")},
                  {"namespace", ns},
                  {"uid", Str(meta, "uid")}}},
                {"type", type},
                {"reason", reason},
                {"message", message},
                {"source", {{"component", "kubelet"}, {"host", options_.node_name}}},
                {"reportingComponent", "kubelet"},
                {"reportingInstance", options_.node_name},
                {"firstTimestamp", now},
                {"lastTimestamp", now},
                {"count", 1}};
  auto created = host_.Create(fmt::format("/api/v1/namespaces/{}/events", ns), event);
  if (!created.ok()) {
    Log().debug("event for {}: {}", PodName(pod), MessageOf(created.status()));
  }
}

void PodWorker::Adopt(const json& pod) {
  adopted_ = true;
  runtime::v1::PodSandboxFilter filter;
  (*filter.mutable_label_selector())[kPodUidLabel] = uid_;
  auto sandboxes = cri_.ListPodSandbox(filter);
  if (sandboxes.ok()) {
    for (const auto& sandbox : *sandboxes) {
      if (sandbox.state() == runtime::v1::SANDBOX_READY && sandbox_id_.empty()) {
        sandbox_id_ = sandbox.id();
      }
    }
  }
  if (sandbox_id_.empty()) {
    return;
  }
  if (auto status = cri_.PodSandboxStatus(sandbox_id_); status.ok()) {
    pod_ip_ = status->network().ip();
  }
  runtime::v1::ContainerFilter containers;
  containers.set_pod_sandbox_id(sandbox_id_);
  auto found = cri_.ListContainers(containers);
  if (!found.ok()) {
    return;
  }
  // The newest attempt of each container is the one that counts.
  for (const auto& c : *found) {
    const std::string name = c.metadata().name();
    bool init = c.annotations().count(kInitContainerAnnotation) > 0;
    ContainerRecord& record = init ? init_[name] : containers_[name];
    int attempt = static_cast<int>(c.metadata().attempt());
    if (record.id.empty() || attempt >= record.restart_count) {
      record.id = c.id();
      record.restart_count = attempt;
    }
  }
  if (!containers_.empty() || !init_.empty()) {
    volumes_ready_ = false;  // written again: tokens may have run out meanwhile
    Log().info("adopted pod {} (sandbox {}, {} containers)", PodName(pod),
               sandbox_id_.substr(0, 12), found->size());
  }
}

bool PodWorker::EnsureSandbox(const json& pod) {
  if (!sandbox_id_.empty()) {
    return true;
  }
  SandboxInputs inputs;
  inputs.cgroup_root = options_.cgroup_root;
  inputs.log_directory = pod_dir_ + "/logs";
  std::ifstream resolv(options_.resolv_conf);
  std::stringstream text;
  text << resolv.rdbuf();
  inputs.host_dns = ParseResolvConf(text.str());
  std::error_code error;
  fs::create_directories(inputs.log_directory, error);
  auto config = SandboxConfig(pod, inputs);
  StatusOr<std::string> id =
      config.ok() ? cri_.RunPodSandbox(*config) : StatusOr<std::string>(config.status());
  if (!id.ok()) {
    std::string message = fmt::format("Failed to create pod sandbox: {}", MessageOf(id.status()));
    if (message != sandbox_error_) {
      Event(pod, "Warning", "FailedCreatePodSandBox", message);
    }
    sandbox_error_ = message;
    WakeAt(Clock::now() + std::chrono::seconds(2));
    return false;
  }
  sandbox_error_.clear();
  sandbox_id_ = *id;
  if (auto status = cri_.PodSandboxStatus(sandbox_id_); status.ok()) {
    pod_ip_ = status->network().ip();
  }
  return true;
}

bool PodWorker::EnsureVolumes(const json& pod) {
  if (volumes_ready_ && std::chrono::system_clock::now() < volumes_.refresh_at) {
    return true;
  }
  VolumeSources sources;
  sources.lookup = [&](const std::string& kind, const std::string& name) {
    return Lookup(pod, kind, name);
  };
  sources.token = [&](const std::string& audience,
                      int64_t seconds) -> StatusOr<ServiceAccountToken> {
    const json& meta = pod["metadata"];
    std::string account = Str(pod["spec"], "serviceAccountName");
    if (account.empty()) {
      account = "default";
    }
    json request = {{"apiVersion", "authentication.k8s.io/v1"},
                    {"kind", "TokenRequest"},
                    {"spec",
                     {{"audiences", audience.empty() ? json::array() : json::array({audience})},
                      {"expirationSeconds", seconds},
                      {"boundObjectRef",
                       {{"apiVersion", "v1"},
                        {"kind", "Pod"},
                        {"name", Str(meta, "name")},
                        {"uid", Str(meta, "uid")}}}}}};
    BH_ASSIGN_OR_RETURN(json answer,
                        host_.Create(fmt::format("/api/v1/namespaces/{}/serviceaccounts/{}/token",
                                                 Str(meta, "namespace"), account),
                                     request));
    ServiceAccountToken token;
    token.token = Str(Field(answer, "status"), "token");
    token.expires = std::chrono::system_clock::now() + std::chrono::seconds(seconds);
    return token;
  };
  auto prepared = PrepareVolumes(pod, pod_dir_, sources);
  if (!prepared.ok()) {
    std::string message = MessageOf(prepared.status());
    if (message != volume_error_) {
      Event(pod, "Warning", "FailedMount", message);
    }
    volume_error_ = message;
    WakeAt(Clock::now() + std::chrono::seconds(2));
    return false;
  }
  volume_error_.clear();
  volumes_ = std::move(*prepared);
  volumes_ready_ = true;
  if (volumes_.refresh_at != std::chrono::system_clock::time_point::max()) {
    auto left = volumes_.refresh_at - std::chrono::system_clock::now();
    WakeAt(Clock::now() + std::chrono::duration_cast<Clock::duration>(left));
  }
  return true;
}

void PodWorker::RefreshStatuses() {
  for (auto* records : {&init_, &containers_}) {
    for (auto& [name, record] : *records) {
      if (record.id.empty()) {
        continue;
      }
      auto status = cri_.ContainerStatus(record.id);
      if (status.ok()) {
        record.status = *status;
      } else if (status.status().code() == absl::StatusCode::kNotFound) {
        record.id.clear();
        record.status.Clear();
      }
    }
  }
}

void PodWorker::Backoff(ContainerRecord& record, const std::string& reason,
                        const std::string& message) {
  record.waiting_reason = reason;
  record.waiting_message = message;
  record.backoff = record.backoff.count() == 0
                       ? options_.restart_backoff
                       : std::min(record.backoff * 2, options_.restart_backoff_max);
  record.retry_at = Clock::now() + record.backoff;
  WakeAt(record.retry_at);
}

bool PodWorker::Restarts(const std::string& policy, const ContainerRecord& record) {
  if (policy == "Never") {
    return false;
  }
  if (policy == "OnFailure") {
    return record.status.exit_code() != 0;
  }
  return true;
}

// runAsNonRoot is the kubelet's to check (the runtime has no such field):
// the container's user, else the pod's, else the image's must be a
// number other than 0.
Status PodWorker::CheckRunAsNonRoot(const json& pod, const json& container,
                                    const std::string& image) {
  auto setting = [&](const char* key) -> const json* {
    for (const json* context :
         {&Field(container, "securityContext"), &Field(Field(pod, "spec"), "securityContext")}) {
      if (context->is_object() && context->contains(key)) {
        return &(*context)[key];
      }
    }
    return nullptr;
  };
  const json* non_root = setting("runAsNonRoot");
  if (non_root == nullptr || *non_root != true) {
    return absl::OkStatus();
  }
  if (const json* user = setting("runAsUser"); user != nullptr && user->is_number_integer()) {
    return user->get<int64_t>() == 0
               ? absl::FailedPreconditionError(fmt::format(
                     "container's runAsUser breaks non-root policy (pod: \"{}\", container: {})",
                     Str(pod["metadata"], "name"), Str(container, "name")))
               : absl::OkStatus();
  }
  auto found = cri_.ImageStatus(image);
  if (!found.ok() || !found->has_value()) {
    return absl::FailedPreconditionError(
        "container has runAsNonRoot and the image's user cannot be read");
  }
  const runtime::v1::Image& info = **found;
  if (info.has_uid()) {
    return info.uid().value() == 0 ? absl::FailedPreconditionError(
                                         "container has runAsNonRoot and image will run as root")
                                   : absl::OkStatus();
  }
  if (!info.username().empty()) {
    return absl::FailedPreconditionError(fmt::format(
        "container has runAsNonRoot and image has non-numeric user ({}), cannot verify user is "
        "non-root",
        info.username()));
  }
  return absl::FailedPreconditionError("container has runAsNonRoot and image will run as root");
}

bool PodWorker::StartContainer(const json& pod, const json& container, ContainerRecord& record,
                               bool init) {
  if (Clock::now() < record.retry_at) {
    return false;  // still backing off
  }
  const std::string name = Str(container, "name");
  const std::string image = Str(container, "image");
  auto present = cri_.ImageStatus(image);
  if (present.ok() && !present->has_value()) {
    std::string policy = Str(container, "imagePullPolicy");
    auto pulled = policy == "Never" ? StatusOr<std::string>(absl::NotFoundError(
                                          "the image is not present and imagePullPolicy is Never"))
                                    : cri_.PullImage(image, runtime::v1::PodSandboxConfig());
    if (!pulled.ok()) {
      std::string message = fmt::format(
          "Failed to pull image \"{}\": {}. On a node without a registry, import it with "
          "`bulkhead node import FILE.tar`.",
          image, MessageOf(pulled.status()));
      bool first =
          record.waiting_reason != "ErrImagePull" && record.waiting_reason != "ImagePullBackOff";
      if (first) {
        Event(pod, "Warning", "Failed", message);
      }
      Backoff(record, first ? "ErrImagePull" : "ImagePullBackOff", message);
      return false;
    }
    Event(pod, "Normal", "Pulled", fmt::format("Successfully pulled image \"{}\"", image));
  } else if (!present.ok()) {
    Backoff(record, "ErrImagePull", MessageOf(present.status()));
    return false;
  }
  if (Status non_root = CheckRunAsNonRoot(pod, container, image); !non_root.ok()) {
    Event(pod, "Warning", "Failed", "Error: " + std::string(non_root.message()));
    Backoff(record, "CreateContainerConfigError", MessageOf(non_root));
    return false;
  }
  auto env = ContainerEnv(
      pod, container, pod_ip_, options_.node_ip,
      [&](const std::string& kind, const std::string& object) { return Lookup(pod, kind, object); },
      options_.allocatable);
  if (!env.ok()) {
    Event(pod, "Warning", "Failed", "Error: " + std::string(env.status().message()));
    Backoff(record, "CreateContainerConfigError", MessageOf(env.status()));
    return false;
  }
  ContainerInputs inputs;
  inputs.env = std::move(*env);
  inputs.volume_paths = volumes_.paths;
  inputs.node_written_volumes = volumes_.node_written;
  inputs.attempt = static_cast<uint32_t>(record.restart_count);
  inputs.init = init;
  inputs.node_memory_bytes = options_.node_memory_bytes;
  inputs.pin_sub_path = [&](const std::string& volume, const std::string& sub_path,
                            size_t index) -> StatusOr<std::string> {
    std::string target = fmt::format("{}/volume-subpaths/{}/{}", pod_dir_, name, index);
    BH_RETURN_IF_ERROR(PinSubPath(volume, sub_path, target));
    return target;
  };
  auto config = ContainerConfig(pod, container, inputs);
  if (!config.ok()) {
    Backoff(record, "CreateContainerConfigError", MessageOf(config.status()));
    return false;
  }
  std::string log_dir = fmt::format("{}/logs/{}", pod_dir_, name);
  std::error_code error;
  fs::create_directories(log_dir, error);
  SandboxInputs sandbox_inputs;
  sandbox_inputs.cgroup_root = options_.cgroup_root;
  sandbox_inputs.log_directory = pod_dir_ + "/logs";
  auto sandbox_config = SandboxConfig(pod, sandbox_inputs);
  auto id =
      cri_.CreateContainer(sandbox_id_, *config,
                           sandbox_config.ok() ? *sandbox_config : runtime::v1::PodSandboxConfig());
  if (!id.ok()) {
    Event(pod, "Warning", "Failed", "Error: " + std::string(id.status().message()));
    Backoff(record, "CreateContainerError", MessageOf(id.status()));
    return false;
  }
  record.id = *id;
  record.waiting_reason.clear();
  record.waiting_message.clear();
  Event(pod, "Normal", "Created", fmt::format("Created container {}", name));
  if (Status started = cri_.StartContainer(*id); !started.ok()) {
    Event(pod, "Warning", "Failed", "Error: " + std::string(started.message()));
    Log().info("pod {}: container {} did not start: {}", PodName(pod), name, MessageOf(started));
  } else {
    Event(pod, "Normal", "Started", fmt::format("Started container {}", name));
  }
  if (auto status = cri_.ContainerStatus(*id); status.ok()) {
    record.status = *status;
    if (Exited(record.status) && record.status.reason().empty()) {
      // runc could not start the process (a missing command, say).
      record.status.set_reason("StartError");
    }
  }
  return true;
}

void PodWorker::Sync() {
  json pod;
  bool gone = false;
  {
    std::lock_guard lock(mutex_);
    pod = pod_;
    gone = gone_;
  }
  const bool deleting = !Str(pod["metadata"], "deletionTimestamp").empty();
  if (!adopted_) {
    Adopt(pod);
  }
  if (gone || deleting) {
    Terminate(pod);
    if (!gone) {
      // The node's word that the pod is gone: the final delete.
      json options = {{"apiVersion", "v1"},
                      {"kind", "DeleteOptions"},
                      {"gracePeriodSeconds", 0},
                      {"preconditions", {{"uid", uid_}}}};
      Status deleted = host_.Delete(
          PodPath(Str(pod["metadata"], "namespace"), Str(pod["metadata"], "name")), options);
      if (!deleted.ok() && deleted.code() != absl::StatusCode::kNotFound &&
          deleted.code() != absl::StatusCode::kAborted) {
        Log().warn("deleting pod {}: {}", PodName(pod), MessageOf(deleted));
      }
    }
    done_ = true;
    return;
  }
  if (start_time_.empty()) {
    start_time_ = Str(Field(pod, "status"), "startTime");
    if (start_time_.empty()) {
      start_time_ = NowRfc3339();
    }
  }
  RefreshStatuses();
  if (!terminal_phase_.empty()) {
    WriteStatus(pod);
    return;
  }
  if (!EnsureVolumes(pod) || !EnsureSandbox(pod)) {
    WriteStatus(pod);
    return;
  }
  const std::string policy = pod["spec"].value("restartPolicy", "Always");
  // Init containers one at a time, each to success, before any container.
  bool initialized = true;
  for (const json& container : Field(pod["spec"], "initContainers")) {
    ContainerRecord& record = init_[Str(container, "name")];
    if (Exited(record.status) && record.status.exit_code() == 0) {
      continue;
    }
    initialized = false;
    if (record.id.empty()) {
      StartContainer(pod, container, record, true);
    } else if (Exited(record.status)) {
      if (policy == "Never") {
        terminal_phase_ = "Failed";
      } else if (Clock::now() < record.restart_at) {
        record.waiting_reason = "CrashLoopBackOff";
        record.waiting_message =
            fmt::format("back-off restarting failed container {}", Str(container, "name"));
        WakeAt(record.restart_at);
      } else {
        RestartContainer(pod, container, record, true);
      }
    }
    break;
  }
  if (initialized && terminal_phase_.empty()) {
    bool any_restarting = false;
    bool all_exited = true;
    bool all_succeeded = true;
    for (const json& container : Field(pod["spec"], "containers")) {
      ContainerRecord& record = containers_[Str(container, "name")];
      if (record.id.empty()) {
        all_exited = false;
        StartContainer(pod, container, record, false);
        continue;
      }
      if (!Exited(record.status)) {
        all_exited = false;
        continue;
      }
      if (!Restarts(policy, record)) {
        all_succeeded = all_succeeded && record.status.exit_code() == 0;
        continue;
      }
      any_restarting = true;
      all_exited = false;
      if (Clock::now() < record.restart_at) {
        record.waiting_reason = "CrashLoopBackOff";
        record.waiting_message = fmt::format(
            "back-off {}s restarting failed container={} pod={}",
            std::chrono::duration_cast<std::chrono::seconds>(record.restart_backoff).count(),
            Str(container, "name"), Str(pod["metadata"], "name"));
        if (!record.backoff_reported) {
          Event(pod, "Warning", "BackOff",
                "Back-off restarting failed container " + Str(container, "name"));
          record.backoff_reported = true;
        }
        WakeAt(record.restart_at);
        continue;
      }
      RestartContainer(pod, container, record, false);
    }
    (void)any_restarting;
    if (all_exited && !Field(pod["spec"], "containers").empty()) {
      terminal_phase_ = all_succeeded ? "Succeeded" : "Failed";
    }
  }
  if (terminal_phase_.empty()) {
    Probe(pod);
  }
  if (!terminal_phase_.empty()) {
    // A pod that has ended keeps no running process: its sandbox stops.
    for (auto* records : {&init_, &containers_}) {
      for (auto& [name, record] : *records) {
        if (!record.id.empty() && !Exited(record.status)) {
          (void)cri_.StopContainer(record.id, GracePeriod(pod));
        }
      }
    }
    if (!sandbox_id_.empty()) {
      (void)cri_.StopPodSandbox(sandbox_id_);
    }
    RefreshStatuses();
  }
  WriteStatus(pod);
}

void PodWorker::RestartContainer(const json& pod, const json& container, ContainerRecord& record,
                                 bool init) {
  record.last_terminated = Terminated(record.status);
  (void)cri_.RemoveContainer(record.id);
  record.id.clear();
  record.status.Clear();
  ++record.restart_count;
  record.waiting_reason.clear();
  record.waiting_message.clear();
  record.backoff_reported = false;
  // The first restart is at once; each later one waits twice as long as
  // the one before, from 10 s up to five minutes.
  record.restart_backoff = record.restart_backoff.count() == 0
                               ? options_.restart_backoff
                               : std::min(record.restart_backoff * 2, options_.restart_backoff_max);
  record.restart_at = Clock::now() + record.restart_backoff;
  StartContainer(pod, container, record, init);
}

void PodWorker::Probe(const json& pod) {
  const auto now = Clock::now();
  for (const json& container : Field(pod["spec"], "containers")) {
    auto found = containers_.find(Str(container, "name"));
    if (found == containers_.end()) {
      continue;
    }
    ContainerRecord& record = found->second;
    if (record.id.empty() || !Running(record.status)) {
      continue;
    }
    if (record.probed_id != record.id) {
      record.probed_id = record.id;
      record.started = now;
      record.startup_done = !container.contains("startupProbe");
      record.startup.reset();
      record.liveness.reset();
      record.readiness.reset();
      if (container.contains("startupProbe")) {
        record.startup.emplace(container["startupProbe"], true);
      }
      if (container.contains("livenessProbe")) {
        record.liveness.emplace(container["livenessProbe"], true);
      }
      if (container.contains("readinessProbe")) {
        record.readiness.emplace(container["readinessProbe"], false);
      }
    }
    const std::string id = record.id;
    ProbeExec exec = [this, id](
                         const std::vector<std::string>& command,
                         std::chrono::seconds timeout) -> StatusOr<std::pair<int, std::string>> {
      BH_ASSIGN_OR_RETURN(runtime::v1::ExecSyncResponse answer,
                          cri_.ExecSync(id, command, timeout));
      return std::make_pair(answer.exit_code(), answer.stdout() + answer.stderr());
    };
    auto run = [&](ProbeTracker& tracker, const std::string& kind) {
      if (!tracker.Due(now, record.started)) {
        WakeAt(tracker.next_due(record.started));
        return;
      }
      ProbeOutcome outcome = RunProbe(tracker.probe(), container, pod_ip_, exec);
      tracker.Record(outcome, now);
      if (outcome.result == ProbeResult::kFailure) {
        Event(pod, "Warning", "Unhealthy", ProbeEventMessage(kind, outcome));
      } else if (kind == "Startup") {
        record.startup_done = true;
      }
      WakeAt(tracker.next_due(record.started));
    };
    std::string kill;
    if (record.startup && !record.startup_done) {
      run(*record.startup, "Startup");
      if (!record.startup->succeeded()) {
        kill = "failed startup probe";
      }
    }
    if (kill.empty() && record.startup_done && record.liveness) {
      run(*record.liveness, "Liveness");
      if (!record.liveness->succeeded()) {
        kill = "failed liveness probe";
      }
    }
    if (kill.empty() && record.startup_done && record.readiness) {
      run(*record.readiness, "Readiness");
    }
    if (!kill.empty()) {
      Event(pod, "Normal", "Killing",
            fmt::format("Container {} {}, will be restarted", Str(container, "name"), kill));
      if (Status stopped = cri_.StopContainer(record.id, GracePeriod(pod)); !stopped.ok()) {
        Log().warn("pod {}: stopping container {}: {}", PodName(pod), Str(container, "name"),
                   MessageOf(stopped));
      }
      record.probed_id.clear();
      if (auto status = cri_.ContainerStatus(record.id); status.ok()) {
        record.status = *status;
      }
      WakeAt(Clock::now());
    }
  }
}

void PodWorker::Terminate(const json& pod) {
  const int64_t grace = GracePeriod(pod);
  std::vector<std::thread> stoppers;
  for (auto* records : {&init_, &containers_}) {
    for (auto& [name, record] : *records) {
      if (!record.id.empty()) {
        stoppers.emplace_back([this, id = record.id, grace] {
          if (Status stopped = cri_.StopContainer(id, grace); !stopped.ok()) {
            Log().warn("stopping container {}: {}", id.substr(0, 12), MessageOf(stopped));
          }
        });
      }
    }
  }
  for (auto& t : stoppers) {
    t.join();
  }
  // Every sandbox of the pod, also those of earlier attempts.
  runtime::v1::PodSandboxFilter filter;
  (*filter.mutable_label_selector())[kPodUidLabel] = uid_;
  std::vector<std::string> sandboxes;
  if (auto found = cri_.ListPodSandbox(filter); found.ok()) {
    for (const auto& s : *found) {
      sandboxes.push_back(s.id());
    }
  }
  for (const std::string& id : sandboxes) {
    if (Status stopped = cri_.StopPodSandbox(id); !stopped.ok()) {
      Log().warn("stopping sandbox {}: {}", id.substr(0, 12), MessageOf(stopped));
    }
    if (Status removed = cri_.RemovePodSandbox(id); !removed.ok()) {
      Log().warn("removing sandbox {}: {}", id.substr(0, 12), MessageOf(removed));
    }
  }
  // Under each QoS parent: a pod deleted while the node was down is known
  // only by its sandbox, not by its class.
  for (const char* qos : {"Guaranteed", "Burstable", "BestEffort"}) {
    json classed = {{"metadata", {{"uid", uid_}}}, {"status", {{"qosClass", qos}}}};
    RemovePodCgroups(PodCgroupParent(options_.cgroup_root, classed));
  }
  // Pinned subPaths are bind mounts into volumes: never remove through one.
  if (UnmountAllUnder(pod_dir_)) {
    std::error_code error;
    fs::remove_all(pod_dir_, error);
  } else {
    Log().warn("pod {}: mounts remain under {}; its files are kept", PodName(pod), pod_dir_);
  }
  Log().info("pod {} stopped and removed", PodName(pod));
}

json PodWorker::StatusOf(const json& pod) const {
  const json& previous = Field(pod, "status").is_object() ? pod["status"] : json::object();
  auto container_status = [&](const json& container, const ContainerRecord& record, bool init) {
    json status = {{"name", Str(container, "name")},
                   {"image", Str(container, "image")},
                   {"imageID", record.status.image_ref()},
                   {"restartCount", record.restart_count},
                   {"ready", false},
                   {"started", false}};
    if (!record.id.empty()) {
      status["containerID"] = "containerd://" + record.id;
    }
    if (!record.waiting_reason.empty() && (record.id.empty() || Exited(record.status))) {
      status["state"] = {
          {"waiting", {{"reason", record.waiting_reason}, {"message", record.waiting_message}}}};
      if (!record.id.empty() && Exited(record.status)) {
        status["lastState"] = {{"terminated", Terminated(record.status)}};
      }
    } else if (record.id.empty()) {
      status["state"] = {{"waiting", {{"reason", init ? "PodInitializing" : "ContainerCreating"}}}};
    } else if (Running(record.status)) {
      status["state"] = {
          {"running", {{"startedAt", Rfc3339FromNanos(record.status.started_at())}}}};
      const bool probed = record.probed_id == record.id;
      status["started"] = !probed || record.startup_done;
      status["ready"] = !init && status["started"] == true &&
                        (!probed || !record.readiness || record.readiness->succeeded()) &&
                        (probed || !container.contains("readinessProbe"));
    } else if (Exited(record.status)) {
      status["state"] = {{"terminated", Terminated(record.status)}};
    } else {
      status["state"] = {{"waiting", {{"reason", "ContainerCreating"}}}};
    }
    if (!record.last_terminated.is_null() && !status.contains("lastState")) {
      status["lastState"] = {{"terminated", record.last_terminated}};
    }
    if (!status.contains("lastState")) {
      status["lastState"] = json::object();
    }
    return status;
  };
  json statuses = json::array();
  bool all_ready = true;
  bool any_running = false;
  for (const json& container : Field(pod["spec"], "containers")) {
    auto it = containers_.find(Str(container, "name"));
    ContainerRecord empty;
    json status = container_status(container, it != containers_.end() ? it->second : empty, false);
    all_ready = all_ready && status["ready"] == true;
    any_running = any_running || status["state"].contains("running");
    statuses.push_back(std::move(status));
  }
  json init_statuses = json::array();
  bool initialized = true;
  for (const json& container : Field(pod["spec"], "initContainers")) {
    auto it = init_.find(Str(container, "name"));
    ContainerRecord empty;
    const ContainerRecord& record = it != init_.end() ? it->second : empty;
    initialized = initialized && Exited(record.status) && record.status.exit_code() == 0;
    init_statuses.push_back(container_status(container, record, true));
  }
  std::string phase = terminal_phase_;
  if (phase.empty()) {
    // As a kubelet judges it: Pending while a container has never run,
    // Running while one runs or is being restarted after it ran.
    bool never_ran = false;
    for (const json& status : statuses) {
      const json& state = status["state"];
      if (state.contains("waiting") && !status["lastState"].contains("terminated")) {
        never_ran = true;
      }
    }
    phase = !initialized || never_ran ? "Pending" : "Running";
    (void)any_running;
  }
  if (phase != "Running") {
    all_ready = false;
  }
  json conditions = json::array();
  conditions.push_back(Condition(previous, "PodReadyToStartContainers", !sandbox_id_.empty()));
  conditions.push_back(Condition(previous, "Initialized", initialized,
                                 initialized ? "" : "ContainersNotInitialized"));
  conditions.push_back(
      Condition(previous, "Ready", all_ready, all_ready ? "" : "ContainersNotReady"));
  conditions.push_back(
      Condition(previous, "ContainersReady", all_ready, all_ready ? "" : "ContainersNotReady"));
  for (const json& c : previous.value("conditions", json::array())) {
    if (c.value("type", "") == "PodScheduled") {
      conditions.push_back(c);
    }
  }
  json status = {{"phase", phase},
                 {"conditions", conditions},
                 {"hostIP", options_.node_ip},
                 {"hostIPs", json::array({{{"ip", options_.node_ip}}})},
                 {"startTime", start_time_},
                 {"containerStatuses", statuses}};
  if (!init_statuses.empty()) {
    status["initContainerStatuses"] = init_statuses;
  }
  if (!pod_ip_.empty()) {
    status["podIP"] = pod_ip_;
    status["podIPs"] = json::array({{{"ip", pod_ip_}}});
  }
  if (!sandbox_error_.empty() || !volume_error_.empty()) {
    status["message"] = sandbox_error_.empty() ? volume_error_ : sandbox_error_;
  }
  if (previous.contains("qosClass")) {
    status["qosClass"] = previous["qosClass"];
  }
  return status;
}

void PodWorker::WriteStatus(const json& pod) {
  if (ended_before_) {
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (gone_) {
      return;
    }
  }
  {
    std::map<std::string, LogState> states;
    for (const auto* records : {&init_, &containers_}) {
      for (const auto& [name, record] : *records) {
        if (!record.id.empty()) {
          states[name] = LogState{record.restart_count, Running(record.status), record.id};
        }
      }
    }
    std::lock_guard lock(mutex_);
    log_states_ = std::move(states);
    synced_sandbox_id_ = sandbox_id_;
  }
  json status = StatusOf(pod);
  if (status == last_status_) {
    return;
  }
  auto written = host_.MergePatch(
      PodPath(Str(pod["metadata"], "namespace"), Str(pod["metadata"], "name")) + "/status",
      json{{"metadata", {{"uid", uid_}}}, {"status", status}});
  if (written.ok()) {
    last_status_ = std::move(status);
  } else if (written.status().code() != absl::StatusCode::kNotFound) {
    Log().warn("pod {}: writing its status: {}", PodName(pod), MessageOf(written.status()));
    WakeAt(Clock::now() + std::chrono::seconds(1));
  }
}

}  // namespace bulkhead::node
