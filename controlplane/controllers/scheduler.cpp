#include "controlplane/controllers/scheduler.h"

#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <vector>

#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/registry/pod_binding.h"
#include "controlplane/controllers/daemon_set_controller.h"
#include "controlplane/controllers/object_helpers.h"
#include "controlplane/controllers/scheduling.h"
#include "fmt/format.h"

namespace bulkhead::controlplane::controllers {

namespace json = boost::json;

namespace {

constexpr auto kRetry = std::chrono::seconds(30);

bool Ended(const json::object& pod) {
  const std::string phase = StringAt(pod, ".status.phase");
  return phase == "Succeeded" || phase == "Failed";
}

// A pod this scheduler is to place (not one held by scheduling gates).
bool Waiting(const json::object& pod) {
  if (!StringAt(pod, ".spec.nodeName").empty() || IsTerminating(pod) || Ended(pod)) {
    return false;
  }
  if (const json::value* gates = PathValue(pod, ".spec.schedulingGates");
      gates != nullptr && gates->is_array() && !gates->as_array().empty()) {
    return false;
  }
  const std::string scheduler = StringAt(pod, ".spec.schedulerName");
  return scheduler.empty() || scheduler == kDefaultScheduler;
}

}  // namespace

Scheduler::Scheduler(Client& client, Informer& pods, Informer& nodes)
    : Controller("scheduler", 1),
      client_(client),
      pods_(pods),
      nodes_(nodes),
      events_(client, kDefaultScheduler) {
  pods_.AddHandler([this](const InformerEvent& event) {
    const json::object& pod = *event.object;
    const std::string key = KeyOf(pod);
    const bool bound = !StringAt(pod, ".spec.nodeName").empty();
    const int64_t generation = IntAt(pod, ".metadata.generation", 0);
    bool tried = false;
    {
      std::lock_guard lock(mutex_);
      // An assumed pod leaves assumed_ in Reconcile, once the cache shows
      // it bound (so no pass can miss it in between).
      if (event.type == InformerEvent::Type::kDeleted) {
        assumed_.erase(key);
      }
      if (event.type == InformerEvent::Type::kDeleted || bound) {
        unschedulable_.erase(key);
      }
      // Its own Unschedulable write comes back as a change: nothing new to
      // try until the spec changes or room comes.
      auto found = unschedulable_.find(key);
      tried = event.type == InformerEvent::Type::kModified && found != unschedulable_.end() &&
              found->second == generation;
    }
    if (event.type != InformerEvent::Type::kDeleted && Waiting(pod) && !tried) {
      Enqueue(key);
    } else if (bound && (event.type == InformerEvent::Type::kDeleted || Ended(pod))) {
      RetryWaiting();  // room made on its node
    }
  });
  nodes_.AddHandler([this](const InformerEvent& /*event*/) { RetryWaiting(); });
}

void Scheduler::RetryWaiting() {
  for (const ObjectPtr& pod : pods_.List()) {
    if (Waiting(*pod)) {
      Enqueue(KeyOf(*pod));
    }
  }
}

Status Scheduler::MarkUnschedulable(const json::object& pod, const std::string& message) {
  const std::string ns = MetaString(pod, "namespace");
  const std::string name = MetaString(pod, "name");
  const std::string uid = MetaString(pod, "uid");
  auto written = client_.Mutate(In(kPodsRef, ns, name, "status"), [&](json::object& next) {
    if (MetaString(next, "uid") == uid && Waiting(next)) {
      SetPodScheduled(next, "False", "Unschedulable", message);
    }
    return absl::OkStatus();
  });
  if (!Settles(written.status())) {
    return written.status();
  }
  {
    std::lock_guard lock(mutex_);
    unschedulable_[KeyOf(pod)] = IntAt(pod, ".metadata.generation", 0);
  }
  events_.Record(pod, "Warning", "FailedScheduling", message);
  EnqueueAfter(KeyOf(pod), kRetry);
  return absl::OkStatus();
}

Status Scheduler::Reconcile(const std::string& key) {
  const auto parts = SplitKey(key);
  const std::string& ns = parts.first;
  const std::string& name = parts.second;
  ObjectPtr pod = pods_.Get(ns, name);
  if (pod == nullptr || !Waiting(*pod)) {
    return absl::OkStatus();
  }
  std::map<std::string, NodeLoad> loads;
  std::unique_lock lock(mutex_);
  if (assumed_.contains(key)) {
    return absl::OkStatus();  // bound; the cache has not shown it yet
  }
  std::set<std::string> bound;
  for (const ObjectPtr& other : pods_.List()) {
    const std::string node = StringAt(*other, ".spec.nodeName");
    if (!node.empty()) {
      bound.insert(KeyOf(*other));
      if (!Ended(*other)) {
        AddToLoad(*other, loads[node]);
      }
    }
  }
  // Pods bound here that the cache still shows unbound count where they
  // went; once it shows them bound (or gone) they are no longer assumed.
  for (auto it = assumed_.begin(); it != assumed_.end();) {
    const auto other_key = SplitKey(it->first);
    ObjectPtr other = pods_.Get(other_key.first, other_key.second);
    if (other == nullptr || bound.contains(it->first)) {
      it = assumed_.erase(it);
      continue;
    }
    AddToLoad(*other, loads[it->second]);
    ++it;
  }
  lock.unlock();
  const std::vector<ObjectPtr> nodes = nodes_.List();
  std::map<std::string, int> reasons;
  std::string best;
  double best_score = -1;
  for (const ObjectPtr& node : nodes) {
    const std::string node_name = MetaString(*node, "name");
    const NodeLoad& load = loads[node_name];
    std::vector<std::string> why = UnfitReasons(*pod, *node, load);
    if (!why.empty()) {
      for (const std::string& reason : why) {
        ++reasons[reason];
      }
      continue;
    }
    const double score = Score(*pod, *node, load);
    if (score > best_score || (score == best_score && node_name < best)) {
      best_score = score;
      best = node_name;
    }
  }
  if (best.empty()) {
    return MarkUnschedulable(*pod, UnschedulableMessage(nodes.size(), reasons));
  }
  const std::string uid = MetaString(*pod, "uid");
  {
    // Assumed before the write, so that no pass after it can miss it.
    std::lock_guard assume(mutex_);
    assumed_[key] = best;
  }
  auto target = client_.Target(In(kPodsRef, ns, name));
  auto written = target.ok() ? BindPod(client_.objects(), *target, uid, best)
                             : StatusOr<KeyValue>(target.status());
  if (!written.ok()) {
    std::lock_guard forget(mutex_);
    assumed_.erase(key);
    // Bound, deleted or replaced meanwhile: nothing left to do.
    return Settles(written.status()) ? absl::OkStatus() : written.status();
  }
  events_.Record(*pod, "Normal", "Scheduled",
                 fmt::format("Successfully assigned {}/{} to {}", ns, name, best));
  return absl::OkStatus();
}

}  // namespace bulkhead::controlplane::controllers
