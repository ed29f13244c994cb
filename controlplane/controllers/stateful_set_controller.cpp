#include "controlplane/controllers/stateful_set_controller.h"

#include <algorithm>
#include <boost/json.hpp>
#include <limits>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "common/strings.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/registry/propagation.h"
#include "controlplane/controllers/object_helpers.h"
#include "controlplane/controllers/pod_availability.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;

constexpr char kPodNameLabel[] = "statefulset.kubernetes.io/pod-name";
constexpr char kPodIndexLabel[] = "apps.kubernetes.io/pod-index";
constexpr char kRevisionLabel[] = "controller-revision-hash";
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
// Pods created in one pass (Parallel); the rest in the next.
constexpr int64_t kBurst = 500;

// The ordinal of a pod named "<set>-<ordinal>".
std::optional<int64_t> OrdinalOf(const std::string& set, const std::string& pod) {
  if (pod.size() <= set.size() + 1 || pod.compare(0, set.size(), set) != 0 ||
      pod[set.size()] != '-') {
    return std::nullopt;
  }
  const std::string digits = pod.substr(set.size() + 1);
  if (digits.empty() ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      (digits.size() > 1 && digits[0] == '0')) {
    return std::nullopt;
  }
  return ParseInteger<int64_t>(digits);
}

bool RunningAndReady(const json::object& pod) {
  return StringAt(pod, ".status.phase") == "Running" && IsPodReady(pod);
}

std::string RevisionOf(const json::object& pod) {
  const json::value* revision = LabelsOf(pod).if_contains(kRevisionLabel);
  return revision != nullptr && revision->is_string() ? std::string(revision->as_string()) : "";
}

json::object ObjectOrEmpty(const json::value* value) {
  return value != nullptr && value->is_object() ? value->as_object() : json::object();
}

}  // namespace

StatefulSetController::StatefulSetController(Client& client, Informer& sets, Informer& pods)
    : Controller("statefulset", 2), client_(client), sets_(sets), pods_(pods) {
  sets_.AddHandler([this](const InformerEvent& event) { Enqueue(KeyOf(*event.object)); });
  pods_.AddHandler([this](const InformerEvent& event) {
    auto owner = ControllerOf(*event.object);
    if (owner && owner->kind == "StatefulSet") {
      Enqueue(MetaString(*event.object, "namespace") + "/" + owner->name);
    }
  });
}

Status StatefulSetController::CreatePod(const json::object& set, int64_t ordinal,
                                        const std::string& revision) {
  const std::string ns = MetaString(set, "namespace");
  const std::string pod_name = MetaString(set, "name") + "-" + std::to_string(ordinal);
  const json::object pod_template = ObjectOrEmpty(PathValue(set, ".spec.template"));
  const json::object template_meta = ObjectOrEmpty(pod_template.if_contains("metadata"));
  json::object labels = ObjectOrEmpty(template_meta.if_contains("labels"));
  labels[kPodNameLabel] = pod_name;
  labels[kPodIndexLabel] = std::to_string(ordinal);
  labels[kRevisionLabel] = revision;
  json::object meta{{"name", pod_name},
                    {"labels", std::move(labels)},
                    {"ownerReferences", json::array{ControllerReference(set)}}};
  if (const json::value* annotations = template_meta.if_contains("annotations")) {
    meta["annotations"] = *annotations;
  }
  json::object spec = ObjectOrEmpty(pod_template.if_contains("spec"));
  spec["hostname"] = pod_name;
  if (std::string service = StringAt(set, ".spec.serviceName"); !service.empty()) {
    spec["subdomain"] = service;
  }

  // Its claims first, each mounted in place of a volume of its name.
  const json::value* claim_templates = PathValue(set, ".spec.volumeClaimTemplates");
  if (claim_templates != nullptr && claim_templates->is_array()) {
    const bool owned =
        StringAt(set, ".spec.persistentVolumeClaimRetentionPolicy.whenDeleted") == "Delete";
    json::object claim_labels = ObjectOrEmpty(PathValue(set, ".spec.selector.matchLabels"));
    json::array volumes;
    if (const json::value* existing = spec.if_contains("volumes");
        existing != nullptr && existing->is_array()) {
      volumes = existing->as_array();
    }
    for (const auto& claim_template : claim_templates->as_array()) {
      if (!claim_template.is_object()) {
        continue;
      }
      const std::string template_name = MetaString(claim_template.as_object(), "name");
      if (template_name.empty()) {
        continue;
      }
      std::string claim_name = template_name;
      claim_name.append("-").append(pod_name);
      json::object claim_meta{{"name", claim_name}};
      json::object these_labels =
          ObjectOrEmpty(PathValue(claim_template.as_object(), ".metadata.labels"));
      for (const auto& [key, value] : claim_labels) {
        these_labels[key] = value;
      }
      if (!these_labels.empty()) {
        claim_meta["labels"] = std::move(these_labels);
      }
      if (owned) {
        claim_meta["ownerReferences"] = json::array{ControllerReference(set)};
      }
      json::object claim{{"apiVersion", "v1"},
                         {"kind", "PersistentVolumeClaim"},
                         {"metadata", std::move(claim_meta)}};
      if (const json::value* claim_spec = claim_template.as_object().if_contains("spec")) {
        claim["spec"] = *claim_spec;
      }
      auto made = client_.Create(In(kPersistentVolumeClaimsRef, ns), std::move(claim));
      if (!made.ok() && ToHttpError(made.status()).code != 409) {
        return made.status();
      }
      volumes.erase(std::remove_if(volumes.begin(), volumes.end(),
                                   [&](const json::value& volume) {
                                     return volume.is_object() &&
                                            StringField(volume.as_object(), "name") ==
                                                template_name;
                                   }),
                    volumes.end());
      volumes.push_back(
          json::object{{"name", template_name},
                       {"persistentVolumeClaim", json::object{{"claimName", claim_name}}}});
    }
    spec["volumes"] = std::move(volumes);
  }
  json::object pod{{"apiVersion", "v1"},
                   {"kind", "Pod"},
                   {"metadata", std::move(meta)},
                   {"spec", std::move(spec)}};
  auto created = client_.Create(In(kPodsRef, ns), std::move(pod));
  if (created.ok() || ToHttpError(created.status()).code != 409) {
    return created.status();
  }
  // A pod of that name already: ours when the cache had not shown it yet;
  // anyone else's is in the way (no pod is adopted), said and retried.
  auto existing = client_.Get(In(kPodsRef, ns, pod_name));
  if (!existing.ok()) {
    return existing.status();
  }
  auto owner = ControllerOf(*existing);
  if (!owner || owner->uid != MetaString(set, "uid")) {
    return absl::AlreadyExistsError(
        "pod \"" + pod_name + "\" is in the way of statefulset \"" + MetaString(set, "name") +
        "\": it is not the set's; delete it to let the set make its own");
  }
  return absl::OkStatus();
}

Status StatefulSetController::Reconcile(const std::string& key) {
  // Plain strings, not a structured binding: the lambdas below capture them.
  const auto split = SplitKey(key);
  const std::string& ns = split.first;
  const std::string& name = split.second;
  ObjectPtr set = sets_.Get(ns, name);
  if (set == nullptr || IsTerminating(*set)) {
    // Its pods are the garbage collector's to take.
    return absl::OkStatus();
  }
  const json::value* pod_template = PathValue(*set, ".spec.template");
  if (pod_template == nullptr || !pod_template->is_object()) {
    return absl::OkStatus();  // stored before admission checked it
  }
  const std::string revision = name + "-" + SafeHash(json::serialize(*pod_template));
  const int64_t replicas = std::clamp<int64_t>(IntAt(*set, ".spec.replicas", 1), 0, kInt32Max);
  const int64_t start = std::clamp<int64_t>(IntAt(*set, ".spec.ordinals.start", 0), 0, kInt32Max);
  const bool parallel = StringAt(*set, ".spec.podManagementPolicy") == "Parallel";
  const std::string strategy = StringAt(*set, ".spec.updateStrategy.type");
  const bool rolling = strategy.empty() || strategy == "RollingUpdate";
  const int64_t partition = std::clamp<int64_t>(
      IntAt(*set, ".spec.updateStrategy.rollingUpdate.partition", 0), 0, kInt32Max);
  const std::string uid = MetaString(*set, "uid");

  std::map<int64_t, ObjectPtr> wanted;
  std::vector<std::pair<int64_t, ObjectPtr>> surplus;
  std::vector<ObjectPtr> owned;
  for (const ObjectPtr& pod : pods_.List(ns)) {
    auto owner = ControllerOf(*pod);
    if (!owner || owner->uid != uid) {
      continue;
    }
    auto ordinal = OrdinalOf(name, MetaString(*pod, "name"));
    if (!ordinal) {
      continue;
    }
    owned.push_back(pod);
    if (*ordinal >= start && *ordinal - start < replicas) {
      wanted[*ordinal] = pod;
    } else {
      surplus.emplace_back(*ordinal, pod);
    }
  }

  const auto remove = [&](const json::object& pod) {
    Status gone = client_.Delete(In(kPodsRef, ns, MetaString(pod, "name")),
                                 {MetaString(pod, "uid"), "", Propagation::kBackground});
    return Settles(gone) ? absl::OkStatus() : gone;
  };
  // OrderedReady: each step waits for the one before to be Running and Ready.
  // A failed step stops the pass, but its status is still written.
  Status first_error = absl::OkStatus();
  const auto failed = [&first_error](Status status) {
    if (!status.ok() && first_error.ok()) {
      first_error = std::move(status);
    }
    return !first_error.ok();
  };
  bool waiting = false;
  int64_t created = 0;
  for (int64_t index = 0; index < replicas && !waiting; ++index) {
    const int64_t ordinal = start + index;
    auto found = wanted.find(ordinal);
    if (found == wanted.end()) {
      if (created == kBurst) {
        EnqueueAfter(key, std::chrono::milliseconds(100));
        waiting = true;
        break;
      }
      if (failed(CreatePod(*set, ordinal, revision))) {
        waiting = true;
        break;
      }
      ++created;
      waiting = !parallel;
      continue;
    }
    const json::object& pod = *found->second;
    if (!IsTerminating(pod) && !IsPodActive(pod)) {
      waiting = failed(remove(pod));  // ended: made again once it is gone
    }
    if (IsTerminating(pod) || !IsPodActive(pod) || !RunningAndReady(pod)) {
      waiting = waiting || !parallel;
    }
  }
  // Surplus pods, from the highest ordinal.
  std::sort(surplus.begin(), surplus.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = 0; i < surplus.size() && !waiting; ++i) {
    const json::object& pod = *surplus[i].second;
    if (!IsTerminating(pod) && failed(remove(pod))) {
      waiting = true;
      break;
    }
    waiting = !parallel;
  }
  // A rolling update, from the highest ordinal down to the partition.
  if (!waiting && surplus.empty() && rolling) {
    for (int64_t index = replicas - 1; index >= partition; --index) {
      auto found = wanted.find(start + index);
      if (found == wanted.end()) {
        break;
      }
      const json::object& pod = *found->second;
      if (RevisionOf(pod) != revision) {
        if (!IsTerminating(pod)) {
          failed(remove(pod));
        }
        break;
      }
      if (!RunningAndReady(pod)) {
        break;
      }
    }
  }

  // Status, from the pods seen now.
  std::string current_revision = StringAt(*set, ".status.currentRevision");
  if (current_revision.empty()) {
    current_revision = revision;
  }
  int64_t count = 0;
  int64_t ready = 0;
  int64_t current = 0;
  int64_t updated = 0;
  AvailabilityCount available(IntAt(*set, ".spec.minReadySeconds", 0));
  for (const ObjectPtr& pod : owned) {
    const bool made = !StringAt(*pod, ".status.phase").empty();
    count += made ? 1 : 0;
    if (RunningAndReady(*pod)) {
      ++ready;
      available.Add(*pod);
    }
    if (made && !IsTerminating(*pod)) {
      current += RevisionOf(*pod) == current_revision ? 1 : 0;
      updated += RevisionOf(*pod) == revision ? 1 : 0;
    }
  }
  if (rolling && updated == count && ready == count) {
    current_revision = revision;
    current = updated;
  }
  json::object status{{"replicas", count},
                      {"readyReplicas", ready},
                      {"currentReplicas", current},
                      {"updatedReplicas", updated},
                      {"availableReplicas", available.available()},
                      {"currentRevision", current_revision},
                      {"updateRevision", revision},
                      {"collisionCount", 0},
                      {"observedGeneration", IntAt(*set, ".metadata.generation", 1)}};
  if (auto next = available.next_change()) {
    EnqueueAfter(key, *next);  // no event says when a pod has been ready long enough
  }
  // Kubernetes leaves zero counts out, but for these.
  for (auto it = status.begin(); it != status.end();) {
    const bool kept = it->key() == "replicas" || it->key() == "availableReplicas" ||
                      it->key() == "collisionCount";
    it = (it->value() == 0 && !kept) ? status.erase(it) : it + 1;
  }
  if (ObjectOrEmpty(set->if_contains("status")) != status) {
    auto written =
        client_.Mutate(In(kStatefulSetsRef, ns, name, "status"), [&](json::object& next) {
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
