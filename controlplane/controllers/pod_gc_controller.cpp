#include "controlplane/controllers/pod_gc_controller.h"

#include <algorithm>
#include <boost/json.hpp>
#include <tuple>
#include <vector>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/controllers/daemon_set_controller.h"
#include "controlplane/controllers/object_helpers.h"

namespace bulkhead::controlplane::controllers {

namespace json = boost::json;

namespace {

constexpr const char* kOutOfService = "node.kubernetes.io/out-of-service";

bool HasEnded(const json::object& pod) {
  const std::string phase = StringAt(pod, ".status.phase");
  return phase == "Succeeded" || phase == "Failed";
}

// Not Ready, and tainted out of service by its administrator.
bool IsOutOfService(const json::object& node) {
  const json::object* ready = FindCondition(PathValue(node, ".status.conditions"), "Ready");
  if (ready != nullptr && StringField(*ready, "status") == "True") {
    return false;
  }
  const json::value* taints = PathValue(node, ".spec.taints");
  if (taints == nullptr || !taints->is_array()) {
    return false;
  }
  return std::any_of(
      taints->as_array().begin(), taints->as_array().end(), [](const json::value& taint) {
        return taint.is_object() && StringField(taint.as_object(), "key") == kOutOfService;
      });
}

// Sets the DisruptionTarget condition PodGC gives an orphan; its
// transition time moves only when its status does.
void MarkDisrupted(json::object& pod) {
  json::value* conditions = PathValue(pod, ".status.conditions", true);
  if (!conditions->is_array()) {
    *conditions = json::array();
  }
  json::object* condition = nullptr;
  for (auto& existing : conditions->as_array()) {
    if (existing.is_object() && StringField(existing.as_object(), "type") == "DisruptionTarget") {
      condition = &existing.as_object();
    }
  }
  if (condition == nullptr) {
    conditions->as_array().emplace_back(json::object{{"type", "DisruptionTarget"}});
    condition = &conditions->as_array().back().as_object();
  }
  if (StringField(*condition, "status") != "True") {
    (*condition)["lastTransitionTime"] = NowRfc3339();
  }
  (*condition)["status"] = "True";
  (*condition)["reason"] = "DeletionByPodGC";
  (*condition)["message"] = "PodGC: node no longer exists";
}

}  // namespace

PodGcController::PodGcController(Client& client, Informer& pods, Informer& nodes,
                                 PodGcOptions options)
    : Controller("pod-garbage-collector", 1),
      client_(client),
      pods_(pods),
      nodes_(nodes),
      options_(options) {
  pods_.AddHandler([this](const InformerEvent& event) {
    if (event.type != InformerEvent::Type::kDeleted) {
      OnPod(*event.object);
    }
  });
  nodes_.AddHandler([this](const InformerEvent& event) {
    // A node that comes or goes ends or starts its pods' quarantine.
    if (event.type != InformerEvent::Type::kModified || IsOutOfService(*event.object)) {
      Enqueue(MetaString(*event.object, "name"));
    }
  });
  Enqueue("");
}

void PodGcController::OnPod(const json::object& pod) {
  const std::string node_name = StringAt(pod, ".spec.nodeName");
  if (node_name.empty()) {
    return;
  }
  ObjectPtr node = nodes_.Get("", node_name);
  if (node == nullptr || (IsTerminating(pod) && IsOutOfService(*node))) {
    Enqueue(node_name);
  }
}

Status PodGcController::Reconcile(const std::string& key) {
  if (key.empty()) {
    return Sweep();
  }
  if (ObjectPtr node = nodes_.Get("", key); node != nullptr) {
    {
      std::lock_guard lock(mutex_);
      missing_since_.erase(key);
    }
    return CollectOutOfService(*node);
  }
  const auto now = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point since;
  {
    std::lock_guard lock(mutex_);
    since = missing_since_.try_emplace(key, now).first->second;
  }
  if (now - since < options_.quarantine) {
    EnqueueAfter(key, since + options_.quarantine - now);
    return absl::OkStatus();
  }
  // The cache may be behind: only the API says a node is gone.
  auto live = client_.Get(In(kNodesRef, "", key));
  if (!live.ok() && ToHttpError(live.status()).code != 404) {
    return live.status();
  }
  if (!live.ok()) {
    BH_RETURN_IF_ERROR(CollectOrphans(key));
  }
  std::lock_guard lock(mutex_);
  missing_since_.erase(key);
  return absl::OkStatus();
}

Status PodGcController::Sweep() {
  EnqueueAfter("", options_.check_period);
  for (const ObjectPtr& pod : pods_.List()) {
    OnPod(*pod);
  }
  return CollectTerminated();
}

Status PodGcController::CollectOrphans(const std::string& node) {
  Status first = absl::OkStatus();
  for (const ObjectPtr& pod : pods_.List()) {
    if (StringAt(*pod, ".spec.nodeName") == node) {
      first.Update(ForceDelete(*pod, /*orphan=*/true));
    }
  }
  return first;
}

Status PodGcController::CollectOutOfService(const json::object& node) {
  if (!IsOutOfService(node)) {
    return absl::OkStatus();
  }
  const std::string name = MetaString(node, "name");
  Status first = absl::OkStatus();
  for (const ObjectPtr& pod : pods_.List()) {
    if (IsTerminating(*pod) && StringAt(*pod, ".spec.nodeName") == name) {
      first.Update(ForceDelete(*pod, /*orphan=*/false));
    }
  }
  return first;
}

Status PodGcController::CollectTerminated() {
  if (options_.terminated_threshold <= 0) {
    return absl::OkStatus();
  }
  // Evicted first, then the oldest, then by key.
  using Rank = std::tuple<bool, std::string, std::string>;
  std::vector<std::pair<Rank, ObjectPtr>> ended;
  for (ObjectPtr& pod : pods_.List()) {
    if (HasEnded(*pod)) {
      const bool evicted = StringAt(*pod, ".status.reason") == "Evicted" &&
                           StringAt(*pod, ".status.phase") == "Failed";
      const auto created = ParseRfc3339(MetaString(*pod, "creationTimestamp"));
      // Sortable as text: a fixed-width UTC form.
      std::string at = created ? FormatRfc3339(*created) : "";
      ended.emplace_back(Rank{!evicted, std::move(at), KeyOf(*pod)}, std::move(pod));
    }
  }
  const auto excess = static_cast<int64_t>(ended.size()) - options_.terminated_threshold;
  if (excess <= 0) {
    return absl::OkStatus();
  }
  const auto cut = ended.begin() + excess;
  std::partial_sort(ended.begin(), cut, ended.end(),
                    [](const auto& a, const auto& b) { return a.first < b.first; });
  Status first = absl::OkStatus();
  for (auto it = ended.begin(); it != cut; ++it) {
    first.Update(ForceDelete(*it->second, /*orphan=*/false));
  }
  return first;
}

Status PodGcController::ForceDelete(const json::object& pod, bool orphan) {
  const std::string uid = MetaString(pod, "uid");
  const std::string ns = MetaString(pod, "namespace");
  const std::string name = MetaString(pod, "name");
  // Failed first: no kubelet will ever say how a pod of a gone node ended.
  if (!HasEnded(pod)) {
    auto marked = client_.Mutate(In(kPodsRef, ns, name, "status"), [&](json::object& next) {
      if (MetaString(next, "uid") != uid) {
        return absl::FailedPreconditionError("the pod was replaced");
      }
      *PathValue(next, ".status.phase", true) = "Failed";
      if (orphan) {
        MarkDisrupted(next);
      }
      return absl::OkStatus();
    });
    if (!marked.ok()) {
      return Settles(marked.status()) ? absl::OkStatus() : marked.status();
    }
  }
  DeleteOptions options;
  options.uid = uid;
  options.grace_period_seconds = 0;
  Status deleted = client_.Delete(In(kPodsRef, ns, name), options);
  return Settles(deleted) ? absl::OkStatus() : deleted;
}

}  // namespace bulkhead::controlplane::controllers
