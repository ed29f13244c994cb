#include "controlplane/controllers/node_lifecycle_controller.h"

#include <algorithm>
#include <boost/json.hpp>
#include <optional>
#include <vector>

#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/controllers/daemon_set_controller.h"
#include "controlplane/controllers/object_helpers.h"
#include "fmt/format.h"

namespace bulkhead::controlplane::controllers {

namespace json = boost::json;

namespace {

using SystemClock = std::chrono::system_clock;

constexpr const char* kUnreachable = "node.kubernetes.io/unreachable";
constexpr const char* kNotReady = "node.kubernetes.io/not-ready";

std::optional<SystemClock::time_point> TimeAt(const json::object& object, std::string_view path) {
  const std::string text = StringAt(object, path);
  return text.empty() ? std::nullopt : ParseRfc3339(text);
}

bool IsManagedTaint(const json::value& taint) {
  if (!taint.is_object()) {
    return false;
  }
  const std::string key = StringField(taint.as_object(), "key");
  const std::string effect = StringField(taint.as_object(), "effect");
  return (key == kUnreachable || key == kNotReady) &&
         (effect == "NoSchedule" || effect == "NoExecute");
}

// The key of the managed taints `ready` calls for ("": none; a node that
// has not posted its status yet is judged not ready by the scheduler).
std::string WantedTaintKey(const std::string& ready) {
  if (ready == "False") {
    return kNotReady;
  }
  return ready == "Unknown" ? kUnreachable : "";
}

}  // namespace

NodeLifecycleController::NodeLifecycleController(Client& client, Informer& nodes, Informer& leases,
                                                 Informer& pods, std::chrono::seconds grace)
    : Controller("node-lifecycle", 1),
      client_(client),
      nodes_(nodes),
      leases_(leases),
      pods_(pods),
      grace_(grace),
      events_(client, "node-controller") {
  nodes_.AddHandler(
      [this](const InformerEvent& event) { Enqueue(MetaString(*event.object, "name")); });
  leases_.AddHandler([this](const InformerEvent& event) {
    if (MetaString(*event.object, "namespace") == kNodeLeaseNamespace &&
        event.type != InformerEvent::Type::kDeleted) {
      Enqueue(MetaString(*event.object, "name"));
    }
  });
}

Status NodeLifecycleController::Reconcile(const std::string& key) {
  ObjectPtr node = nodes_.Get("", key);
  const auto now = SystemClock::now();
  SystemClock::time_point first_seen;
  {
    std::lock_guard lock(mutex_);
    if (node == nullptr) {
      first_seen_.erase(key);
      return absl::OkStatus();
    }
    first_seen = first_seen_.try_emplace(key, now).first->second;
  }
  const json::object* ready = FindCondition(PathValue(*node, ".status.conditions"), "Ready");
  std::optional<SystemClock::time_point> heartbeat;
  if (ObjectPtr lease = leases_.Get(kNodeLeaseNamespace, key); lease != nullptr) {
    heartbeat = TimeAt(*lease, ".spec.renewTime");
  }
  if (ready != nullptr) {
    if (auto posted = TimeAt(*ready, ".lastHeartbeatTime");
        posted && (!heartbeat || *posted > *heartbeat)) {
      heartbeat = posted;
    }
  }
  const SystemClock::time_point last = heartbeat.value_or(first_seen);
  const bool stale = now - last > grace_;
  // "" while the node has never posted a Ready condition.
  std::string status = ready != nullptr ? StringField(*ready, "status") : "";
  if (stale && status != "Unknown") {
    const std::string stamp = NowRfc3339();
    const std::string message = ready == nullptr ? "Kubelet never posted node status."
                                                 : "Kubelet stopped posting node status.";
    auto written = client_.Mutate(In(kNodesRef, "", key, "status"), [&](json::object& next) {
      json::value* conditions = PathValue(next, ".status.conditions", true);
      if (!conditions->is_array()) {
        *conditions = json::array();
      }
      for (const char* type : {"MemoryPressure", "DiskPressure", "PIDPressure", "Ready"}) {
        json::object* condition = nullptr;
        for (auto& existing : conditions->as_array()) {
          if (existing.is_object() && StringField(existing.as_object(), "type") == type) {
            condition = &existing.as_object();
          }
        }
        if (condition == nullptr) {
          conditions->as_array().emplace_back(
              json::object{{"type", type}, {"lastHeartbeatTime", stamp}});
          condition = &conditions->as_array().back().as_object();
        }
        (*condition)["status"] = "Unknown";
        (*condition)["reason"] = "NodeStatusUnknown";
        (*condition)["message"] = message;
        (*condition)["lastTransitionTime"] = stamp;
      }
      return absl::OkStatus();
    });
    if (!written.ok()) {
      return Settles(written.status()) ? absl::OkStatus() : written.status();
    }
    status = "Unknown";
    events_.Record(*written, "Normal", "NodeNotReady",
                   fmt::format("Node {} status is now: NodeNotReady", key));
  }
  if (status == "Unknown") {
    // Again on every pass while it lasts: a pass that failed part way
    // leaves no pod Ready on a node nobody hears from.
    BH_RETURN_IF_ERROR(MarkPodsNotReady(key));
  }
  // The taints the Ready condition calls for.
  const std::string wanted_key = WantedTaintKey(status);
  std::vector<std::string> have;
  if (const json::value* taints = PathValue(*node, ".spec.taints");
      taints != nullptr && taints->is_array()) {
    for (const auto& taint : taints->as_array()) {
      if (IsManagedTaint(taint)) {
        have.push_back(StringField(taint.as_object(), "key") + "/" +
                       StringField(taint.as_object(), "effect"));
      }
    }
  }
  std::sort(have.begin(), have.end());
  const std::vector<std::string> wanted =
      wanted_key.empty()
          ? std::vector<std::string>{}
          : std::vector<std::string>{wanted_key + "/NoExecute", wanted_key + "/NoSchedule"};
  if (have != wanted) {
    auto tainted = client_.Mutate(In(kNodesRef, "", key), [&](json::object& next) {
      json::value* taints = PathValue(next, ".spec.taints", true);
      if (!taints->is_array()) {
        *taints = json::array();
      }
      json::array kept;
      for (auto& taint : taints->as_array()) {
        if (!IsManagedTaint(taint)) {
          kept.push_back(std::move(taint));
        }
      }
      if (!wanted_key.empty()) {
        kept.push_back(json::object{{"key", wanted_key}, {"effect", "NoSchedule"}});
        kept.push_back(json::object{
            {"key", wanted_key}, {"effect", "NoExecute"}, {"timeAdded", NowRfc3339()}});
      }
      if (kept.empty()) {
        next["spec"].as_object().erase("taints");
      } else {
        *taints = std::move(kept);
      }
      return absl::OkStatus();
    });
    if (!Settles(tainted.status())) {
      return tainted.status();
    }
  }
  // Looked at again when the heartbeat would run out.
  const auto left = stale ? grace_
                          : std::chrono::duration_cast<std::chrono::seconds>(last + grace_ - now) +
                                std::chrono::seconds(1);
  EnqueueAfter(key, std::max<std::chrono::steady_clock::duration>(left, std::chrono::seconds(1)));
  return absl::OkStatus();
}

Status NodeLifecycleController::MarkPodsNotReady(const std::string& node) {
  for (const ObjectPtr& pod : pods_.List()) {
    if (StringAt(*pod, ".spec.nodeName") != node || !IsPodReady(*pod)) {
      continue;
    }
    const std::string uid = MetaString(*pod, "uid");
    auto written = client_.Mutate(
        In(kPodsRef, MetaString(*pod, "namespace"), MetaString(*pod, "name"), "status"),
        [&](json::object& next) {
          json::value* conditions = PathValue(next, ".status.conditions", false);
          if (MetaString(next, "uid") != uid || conditions == nullptr || !conditions->is_array()) {
            return absl::OkStatus();
          }
          for (auto& condition : conditions->as_array()) {
            if (condition.is_object() && StringField(condition.as_object(), "type") == "Ready" &&
                StringField(condition.as_object(), "status") == "True") {
              condition.as_object()["status"] = "False";
              condition.as_object()["lastTransitionTime"] = NowRfc3339();
            }
          }
          return absl::OkStatus();
        });
    if (!Settles(written.status())) {
      return written.status();
    }
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::controlplane::controllers
