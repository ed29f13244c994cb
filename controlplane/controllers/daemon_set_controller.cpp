#include "controlplane/controllers/daemon_set_controller.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>
#include <vector>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/registry/propagation.h"
#include "controlplane/controllers/deployment_controller.h"
#include "controlplane/controllers/node_fit.h"
#include "controlplane/controllers/object_helpers.h"
#include "controlplane/controllers/pod_availability.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;

constexpr char kRevisionLabel[] = "controller-revision-hash";
constexpr char kGenerationLabel[] = "pod-template-generation";
constexpr char kNodeAffinityPath[] =
    ".affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution";
// Pods created in one pass; the rest in the next.
constexpr size_t kBurst = 500;

json::object ObjectOrEmpty(const json::value* value) {
  return value != nullptr && value->is_object() ? value->as_object() : json::object();
}

std::string RevisionOf(const json::object& pod) {
  const json::value* revision = LabelsOf(pod).if_contains(kRevisionLabel);
  return revision != nullptr && revision->is_string() ? std::string(revision->as_string()) : "";
}

// The template's pod spec as a daemon pod has it (its tolerations added).
json::object DaemonPodSpec(const json::object& set) {
  json::object spec = ObjectOrEmpty(PathValue(set, ".spec.template.spec"));
  AddDaemonTolerations(spec);
  return spec;
}

// The pod for `node`: pinned to it by a required node affinity on its
// name, in place of the template's required terms (already judged).
json::object PodFor(const json::object& set, const std::string& node, const std::string& hash) {
  const json::object template_meta = ObjectOrEmpty(PathValue(set, ".spec.template.metadata"));
  json::object labels = ObjectOrEmpty(template_meta.if_contains("labels"));
  labels[kRevisionLabel] = hash;
  labels[kGenerationLabel] = std::to_string(IntAt(set, ".metadata.generation", 1));
  json::object meta{{"generateName", MetaString(set, "name") + "-"},
                    {"labels", std::move(labels)},
                    {"ownerReferences", json::array{ControllerReference(set)}}};
  if (const json::value* annotations = template_meta.if_contains("annotations")) {
    meta["annotations"] = *annotations;
  }
  json::object spec = DaemonPodSpec(set);
  json::value& affinity = spec["affinity"];
  if (!affinity.is_object()) {
    affinity = json::object();
  }
  json::value& node_affinity = affinity.as_object()["nodeAffinity"];
  if (!node_affinity.is_object()) {
    node_affinity = json::object();
  }
  node_affinity.as_object()["requiredDuringSchedulingIgnoredDuringExecution"] = json::object{
      {"nodeSelectorTerms",
       json::array{json::object{
           {"matchFields",
            json::array{json::object{
                {"key", "metadata.name"}, {"operator", "In"}, {"values", json::array{node}}}}}}}}};
  return json::object{{"apiVersion", "v1"},
                      {"kind", "Pod"},
                      {"metadata", std::move(meta)},
                      {"spec", std::move(spec)}};
}

}  // namespace

std::string DaemonPodNode(const json::object& pod) {
  if (std::string node = StringAt(pod, ".spec.nodeName"); !node.empty()) {
    return node;
  }
  const json::value* required = PathValue(pod, std::string(".spec") + kNodeAffinityPath);
  const json::value* terms = required != nullptr && required->is_object()
                                 ? required->as_object().if_contains("nodeSelectorTerms")
                                 : nullptr;
  if (terms == nullptr || !terms->is_array()) {
    return "";
  }
  for (const auto& term : terms->as_array()) {
    const json::value* fields =
        term.is_object() ? term.as_object().if_contains("matchFields") : nullptr;
    if (fields == nullptr || !fields->is_array()) {
      continue;
    }
    for (const auto& field : fields->as_array()) {
      if (!field.is_object() || StringField(field.as_object(), "key") != "metadata.name" ||
          StringField(field.as_object(), "operator") != "In") {
        continue;
      }
      const json::value* values = field.as_object().if_contains("values");
      if (values != nullptr && values->is_array() && values->as_array().size() == 1 &&
          values->as_array()[0].is_string()) {
        return std::string(values->as_array()[0].as_string());
      }
    }
  }
  return "";
}

std::chrono::milliseconds DaemonSetController::FailureWait(const std::string& node_key) {
  constexpr auto kFirst = std::chrono::milliseconds(1000);
  constexpr auto kMost = std::chrono::milliseconds(std::chrono::minutes(15));
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  Backoff& backoff = failed_[node_key];
  if (now < backoff.until) {
    return std::chrono::ceil<std::chrono::milliseconds>(backoff.until - now);
  }
  backoff.delay = std::clamp(backoff.delay * 2, kFirst, kMost);
  backoff.until = now + backoff.delay;
  return std::chrono::milliseconds(0);
}

DaemonSetController::DaemonSetController(Client& client, Informer& sets, Informer& pods,
                                         Informer& nodes)
    : Controller("daemonset", 2), client_(client), sets_(sets), pods_(pods), nodes_(nodes) {
  sets_.AddHandler([this](const InformerEvent& event) { Enqueue(KeyOf(*event.object)); });
  pods_.AddHandler([this](const InformerEvent& event) {
    auto owner = ControllerOf(*event.object);
    if (owner && owner->kind == "DaemonSet") {
      Enqueue(MetaString(*event.object, "namespace") + "/" + owner->name);
    }
  });
  // A node that comes, goes or changes may change where every set runs.
  nodes_.AddHandler([this](const InformerEvent&) {
    for (const ObjectPtr& set : sets_.List()) {
      Enqueue(KeyOf(*set));
    }
  });
}

Status DaemonSetController::Reconcile(const std::string& key) {
  const auto [ns, name] = SplitKey(key);
  ObjectPtr set = sets_.Get(ns, name);
  if (set == nullptr) {
    expectations_.Forget(key);
    std::lock_guard lock(mu_);
    std::erase_if(failed_, [&](const auto& entry) { return entry.first.starts_with(key + "|"); });
    return absl::OkStatus();
  }
  if (IsTerminating(*set)) {
    return absl::OkStatus();  // its pods are the garbage collector's
  }
  const json::value* pod_template = PathValue(*set, ".spec.template");
  if (pod_template == nullptr || !pod_template->is_object()) {
    return absl::OkStatus();  // stored before admission checked it
  }
  if (!expectations_.Settled(key, ns)) {
    EnqueueAfter(key, std::chrono::seconds(1));  // in case an event was folded
    return absl::OkStatus();
  }
  const std::string hash = SafeHash(json::serialize(*pod_template));
  const json::object pod_spec = DaemonPodSpec(*set);
  const json::array tolerations = pod_spec.at("tolerations").as_array();
  const std::string uid = MetaString(*set, "uid");

  std::map<std::string, std::vector<ObjectPtr>> by_node;
  for (const ObjectPtr& pod : pods_.List(ns)) {
    auto owner = ControllerOf(*pod);
    if (owner && owner->uid == uid) {
      by_node[DaemonPodNode(*pod)].push_back(pod);
    }
  }

  std::vector<ObjectPtr> doomed;
  std::vector<std::string> wanting;  // nodes to make a pod for
  std::vector<ObjectPtr> outdated_available;
  int64_t desired = 0;
  int64_t current = 0;
  int64_t misscheduled = 0;
  int64_t ready = 0;
  int64_t updated = 0;
  int64_t unavailable = 0;
  AvailabilityCount available(IntAt(*set, ".spec.minReadySeconds", 0));
  std::set<std::string> nodes_seen;
  for (const ObjectPtr& node : nodes_.List()) {
    const std::string node_name = MetaString(*node, "name");
    nodes_seen.insert(node_name);
    const bool fits = NodeSelectionMatches(pod_spec, *node);
    const bool should_run = fits && ToleratesTaints(tolerations, *node);
    const bool may_stay = fits && ToleratesTaints(tolerations, *node, "NoExecute");
    std::vector<ObjectPtr> active;
    // A pod going (or failed, deleted now): its replacement comes once it is gone.
    bool going = false;
    for (const ObjectPtr& pod : by_node[node_name]) {
      if (IsTerminating(*pod)) {
        going = true;
      } else if (!IsPodActive(*pod) && (should_run || may_stay)) {
        // Failed: replaced once this node's wait is over.
        going = true;
        if (auto wait = FailureWait(std::string(key).append("|").append(node_name));
            wait.count() > 0) {
          EnqueueAfter(key, wait);
        } else {
          doomed.push_back(pod);
        }
      } else if (!(should_run || may_stay) || !IsPodActive(*pod)) {
        doomed.push_back(pod);
        going = true;
      } else {
        active.push_back(pod);
      }
    }
    desired += should_run ? 1 : 0;
    if (!(should_run || may_stay)) {
      misscheduled += by_node[node_name].empty() ? 0 : 1;
      continue;
    }
    std::sort(active.begin(), active.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
      return MetaString(*a, "creationTimestamp") < MetaString(*b, "creationTimestamp");
    });
    for (size_t i = 1; i < active.size(); ++i) {
      doomed.push_back(active[i]);  // one pod per node: the oldest stays
    }
    if (active.empty()) {
      if (should_run) {
        ++unavailable;
        if (!going) {
          wanting.push_back(node_name);
        }
      }
      continue;
    }
    const json::object& pod = *active.front();
    if (!should_run) {
      continue;  // stays (a NoSchedule taint came later), but is not counted
    }
    ++current;
    ready += IsPodReady(pod) ? 1 : 0;
    const bool pod_available = available.Add(pod);
    unavailable += pod_available ? 0 : 1;
    if (RevisionOf(pod) == hash) {
      ++updated;
    } else if (pod_available) {
      outdated_available.push_back(active.front());
    } else {
      doomed.push_back(active.front());  // old and unavailable: replaced at no cost
    }
  }
  for (const auto& [node_name, pods] : by_node) {
    if (!nodes_seen.contains(node_name)) {
      for (const ObjectPtr& pod : pods) {
        if (!IsTerminating(*pod) && StringAt(*pod, ".spec.nodeName").empty()) {
          doomed.push_back(pod);  // its node is gone and it is bound nowhere
        }
      }
    }
  }
  const std::string strategy = StringAt(*set, ".spec.updateStrategy.type");
  if (strategy.empty() || strategy == "RollingUpdate") {
    int64_t budget =
        std::max<int64_t>(
            1, ScaledValue(PathValue(*set, ".spec.updateStrategy.rollingUpdate.maxUnavailable"),
                           desired, true, 1)) -
        unavailable;
    for (const ObjectPtr& pod : outdated_available) {
      if (budget-- <= 0) {
        break;
      }
      doomed.push_back(pod);
    }
  }

  PodExpectations::Pass pass;
  Status first_error = absl::OkStatus();
  for (const ObjectPtr& pod : doomed) {
    const std::string pod_name = MetaString(*pod, "name");
    Status gone = client_.Delete(In(kPodsRef, ns, pod_name),
                                 {MetaString(*pod, "uid"), "", Propagation::kBackground});
    if (!Settles(gone)) {
      first_error = gone;
      break;
    }
    if (gone.ok()) {
      pass.deleted.insert(pod_name);
    }
  }
  for (size_t i = 0; i < wanting.size() && first_error.ok(); ++i) {
    if (i == kBurst) {
      EnqueueAfter(key, std::chrono::milliseconds(100));
      break;
    }
    auto created = client_.Create(In(kPodsRef, ns), PodFor(*set, wanting[i], hash));
    if (!created.ok()) {
      first_error = created.status();
      break;
    }
    pass.created.insert(MetaString(*created, "name"));
  }
  expectations_.Expect(key, std::move(pass));

  json::object status{{"desiredNumberScheduled", desired},
                      {"currentNumberScheduled", current},
                      {"numberMisscheduled", misscheduled},
                      {"numberReady", ready},
                      {"observedGeneration", IntAt(*set, ".metadata.generation", 1)}};
  // Kubernetes leaves these out when zero.
  if (updated > 0) {
    status["updatedNumberScheduled"] = updated;
  }
  if (available.available() > 0) {
    status["numberAvailable"] = available.available();
  }
  if (desired > available.available()) {
    status["numberUnavailable"] = desired - available.available();
  }
  if (auto next = available.next_change()) {
    EnqueueAfter(key, *next);  // no event says when a pod has been ready long enough
  }
  if (ObjectOrEmpty(set->if_contains("status")) != status) {
    auto written = client_.Mutate(In(kDaemonSetsRef, ns, name, "status"), [&](json::object& next) {
      next["status"] = status;
      return absl::OkStatus();
    });
    if (!written.ok() && ToHttpError(written.status()).code != 404) {
      return written.status();
    }
  }
  return first_error;
}

}  // namespace bulkhead::controlplane::controllers
