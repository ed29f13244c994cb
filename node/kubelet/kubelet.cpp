#include "node/kubelet/kubelet.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "common/logging.h"
#include "fmt/format.h"

namespace bulkhead::node {
namespace {

std::string Uid(const json& pod) {
  const json* meta = pod.is_object() && pod.contains("metadata") ? &pod["metadata"] : nullptr;
  if (meta == nullptr || !meta->is_object() || !meta->contains("uid") ||
      !(*meta)["uid"].is_string()) {
    return "";
  }
  return (*meta)["uid"].get<std::string>();
}

// A uid names the pod's directory and cgroup: only what the API server
// makes (letters, digits and dashes) is taken.
bool ValidUid(const std::string& uid) {
  return !uid.empty() && uid.size() <= 64 && std::all_of(uid.begin(), uid.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
  });
}

}  // namespace

Kubelet::Kubelet(const HostClient& host, cri::CriClient& cri, KubeletOptions options)
    : host_(host), cri_(cri), options_(std::move(options)) {}

Kubelet::~Kubelet() {
  std::lock_guard lock(mutex_);
  workers_.clear();
}

void Kubelet::OnList(const std::vector<json>& pods) {
  std::set<std::string> listed;
  {
    std::lock_guard lock(mutex_);
    for (const json& pod : pods) {
      std::string uid = Uid(pod);
      if (!ValidUid(uid)) {
        continue;
      }
      listed.insert(uid);
      auto it = workers_.find(uid);
      if (it != workers_.end()) {
        it->second->Update(pod);
      } else {
        workers_[uid] = std::make_unique<PodWorker>(host_, cri_, options_, pod);
      }
    }
    for (auto& [uid, worker] : workers_) {
      if (listed.count(uid) == 0) {
        worker->Gone();
      }
    }
    listed_ = true;
  }
  // Sandboxes of pods that are gone from the host API (deleted while the
  // node was down): a worker that only ends them.
  auto sandboxes = cri_.ListPodSandbox();
  if (!sandboxes.ok()) {
    Logger(Component::kNode).warn("listing sandboxes: {}", MessageOf(sandboxes.status()));
    return;
  }
  std::lock_guard lock(mutex_);
  for (const auto& sandbox : *sandboxes) {
    auto uid = sandbox.labels().find(kPodUidLabel);
    if (uid == sandbox.labels().end() || !ValidUid(uid->second) || listed.count(uid->second) > 0 ||
        workers_.count(uid->second) > 0) {
      continue;
    }
    json stub = {{"metadata",
                  {{"uid", uid->second},
                   {"name", sandbox.metadata().name()},
                   {"namespace", sandbox.metadata().namespace_()}}},
                 {"spec", {{"terminationGracePeriodSeconds", 30}}}};
    if (auto grace = sandbox.annotations().find(kGracePeriodAnnotation);
        grace != sandbox.annotations().end()) {
      stub["spec"]["terminationGracePeriodSeconds"] = std::atoll(grace->second.c_str());
    }
    Logger(Component::kNode)
        .info("pod {}/{} is gone from the host API: removing its sandbox",
              sandbox.metadata().namespace_(), sandbox.metadata().name());
    auto worker = std::make_unique<PodWorker>(host_, cri_, options_, stub);
    worker->Gone();
    workers_[uid->second] = std::move(worker);
  }
}

void Kubelet::OnEvent(const std::string& type, const json& pod) {
  std::lock_guard lock(mutex_);
  std::string uid = Uid(pod);
  if (!ValidUid(uid)) {
    Logger(Component::kNode).warn("a pod without a valid uid ignored");
    return;
  }
  auto it = workers_.find(uid);
  if (type == "DELETED") {
    if (it != workers_.end()) {
      it->second->Gone();
    }
    return;
  }
  if (it != workers_.end()) {
    it->second->Update(pod);
  } else {
    workers_[uid] = std::make_unique<PodWorker>(host_, cri_, options_, pod);
  }
}

void Kubelet::Relist() {
  auto containers = cri_.ListContainers();
  std::lock_guard lock(mutex_);
  if (containers.ok()) {
    std::map<std::string, int> states;
    std::set<std::string> changed;
    for (const auto& c : *containers) {
      int state = static_cast<int>(c.state());
      states[c.id()] = state;
      auto before = container_states_.find(c.id());
      if (before == container_states_.end() || before->second != state) {
        auto uid = c.labels().find(kPodUidLabel);
        if (uid != c.labels().end()) {
          changed.insert(uid->second);
        }
      }
    }
    container_states_ = std::move(states);
    for (const std::string& uid : changed) {
      if (auto it = workers_.find(uid); it != workers_.end()) {
        it->second->Wake();
      }
    }
  }
  // Workers whose pod has ended and is cleaned up.
  for (auto it = workers_.begin(); it != workers_.end();) {
    it = it->second->done() ? workers_.erase(it) : std::next(it);
  }
}

std::optional<Kubelet::LogFiles> Kubelet::ContainerLogFiles(const std::string& ns,
                                                            const std::string& pod,
                                                            const std::string& container) {
  std::lock_guard lock(mutex_);
  if (PodWorker* worker = FindWorker(ns, pod); worker != nullptr) {
    auto state = worker->ContainerLogState(container);
    if (!state) {
      return std::nullopt;
    }
    LogFiles files;
    const std::string dir = fmt::format("{}/logs/{}", worker->pod_dir(), container);
    files.current = fmt::format("{}/{}.log", dir, state->attempt);
    if (state->attempt > 0) {
      std::string previous = fmt::format("{}/{}.log", dir, state->attempt - 1);
      std::error_code error;
      if (std::filesystem::exists(previous, error)) {
        files.previous = previous;
      }
    }
    files.running = state->running;
    return files;
  }
  return std::nullopt;
}

PodWorker* Kubelet::FindWorker(const std::string& ns, const std::string& pod) {
  for (const auto& [uid, worker] : workers_) {
    if (!worker->done() && worker->pod_namespace() == ns && worker->pod_name() == pod) {
      return worker.get();
    }
  }
  return nullptr;
}

std::optional<Kubelet::StreamIds> Kubelet::FindStreamIds(const std::string& ns,
                                                         const std::string& pod,
                                                         const std::string& container) {
  std::lock_guard lock(mutex_);
  if (PodWorker* worker = FindWorker(ns, pod); worker != nullptr) {
    StreamIds ids;
    ids.sandbox_id = worker->SandboxId();
    if (!container.empty()) {
      auto state = worker->ContainerLogState(container);
      if (!state) {
        return std::nullopt;
      }
      ids.container_id = state->container_id;
      ids.running = state->running;
    }
    return ids;
  }
  return std::nullopt;
}

void Kubelet::Run(const std::atomic<bool>& stop) {
  std::thread relist([&] {
    while (!stop.load()) {
      for (auto waited = std::chrono::milliseconds(0);
           waited < options_.relist_period && !stop.load();
           waited += std::chrono::milliseconds(50)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      Relist();
    }
  });
  HostClient::WatchHandlers handlers;
  handlers.on_list = [&](const std::vector<json>& pods) {
    try {
      OnList(pods);
    } catch (const std::exception& error) {
      Logger(Component::kNode).warn("a pod list the node cannot read: {}", error.what());
    }
  };
  handlers.on_event = [&](const std::string& type, const json& pod) {
    try {
      OnEvent(type, pod);
    } catch (const std::exception& error) {
      Logger(Component::kNode).warn("a pod event the node cannot read: {}", error.what());
    }
  };
  host_.ListWatch("/api/v1/pods", "fieldSelector=spec.nodeName%3D" + options_.node_name, handlers,
                  stop);
  relist.join();
  std::lock_guard lock(mutex_);
  workers_.clear();
}

}  // namespace bulkhead::node
