#include "controlplane/controllers/replica_set_controller.h"

#include <algorithm>
#include <boost/json.hpp>
#include <limits>
#include <vector>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/controllers/controller_ref_manager.h"
#include "controlplane/controllers/object_helpers.h"
#include "controlplane/controllers/pod_availability.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;

// Pods created or deleted in one pass; the rest in the next.
constexpr int64_t kBurst = 500;

json::object PodFor(const json::object& rs) {
  const json::value* template_value = PathValue(rs, ".spec.template");
  json::object pod_template = template_value != nullptr && template_value->is_object()
                                  ? template_value->as_object()
                                  : json::object();
  json::object meta;
  if (const json::value* m = pod_template.if_contains("metadata"); m != nullptr && m->is_object()) {
    for (const char* field : {"labels", "annotations"}) {
      if (const json::value* v = m->as_object().if_contains(field)) {
        meta[field] = *v;
      }
    }
  }
  meta["generateName"] = MetaString(rs, "name") + "-";
  meta["ownerReferences"] = json::array{ControllerReference(rs)};
  json::object pod{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", std::move(meta)}};
  if (const json::value* spec = pod_template.if_contains("spec")) {
    pod["spec"] = *spec;
  }
  return pod;
}

}  // namespace

ReplicaSetController::ReplicaSetController(Client& client, Informer& replica_sets, Informer& pods,
                                           ReplicatedKind kind)
    : Controller(kind.kind == "ReplicaSet" ? "replicaset" : "replicationcontroller", 2),
      client_(client),
      kind_(std::move(kind)),
      replica_sets_(replica_sets),
      pods_(pods) {
  replica_sets_.AddHandler([this](const InformerEvent& event) { Enqueue(KeyOf(*event.object)); });
  pods_.AddHandler([this](const InformerEvent& event) {
    const std::string ns = MetaString(*event.object, "namespace");
    auto owner = ControllerOf(*event.object);
    if (owner && owner->kind == kind_.kind) {
      Enqueue(ns + "/" + owner->name);
    } else if (!owner && IsPodActive(*event.object)) {
      // An orphan: every one of ours that selects it may adopt it.
      for (const ObjectPtr& rs : replica_sets_.List(ns)) {
        json::value storage;
        if (MayAdopt(SelectorOf(*rs, storage), *event.object)) {
          Enqueue(KeyOf(*rs));
        }
      }
    }
  });
}

const json::value* ReplicaSetController::SelectorOf(const json::object& rs,
                                                    json::value& storage) const {
  // A ReplicationController's selector is a label map: as a LabelSelector,
  // its matchLabels.
  const json::value* selector = PathValue(rs, ".spec.selector");
  if (kind_.kind == "ReplicationController" && selector != nullptr) {
    storage = json::object{{"matchLabels", *selector}};
    return &storage;
  }
  return selector;
}

Status ReplicaSetController::Reconcile(const std::string& key) {
  // Plain strings, not a structured binding: the lambdas below capture them.
  const auto split = SplitKey(key);
  const std::string& ns = split.first;
  const std::string& name = split.second;
  ObjectPtr rs = replica_sets_.Get(ns, name);
  if (rs == nullptr) {
    expectations_.Forget(key);
    return absl::OkStatus();
  }
  if (!expectations_.Settled(key, ns)) {
    EnqueueAfter(key, std::chrono::seconds(1));  // in case an event was folded
    return absl::OkStatus();
  }
  json::value storage;
  const json::value* selector = SelectorOf(*rs, storage);
  // Its own pods and the orphans (the rest are skipped cheaply: a
  // namespace may hold thousands of other pods).
  const std::string uid = MetaString(*rs, "uid");
  std::vector<ObjectPtr> candidates;
  for (const ObjectPtr& pod : pods_.List(ns)) {
    const std::string_view controller = ControllerUid(*pod);
    if ((controller.empty() || controller == uid) && IsPodActive(*pod)) {
      candidates.push_back(pod);
    }
  }
  // The pods it controls, once it has adopted the orphans it selects and
  // released the pods it no longer does.
  Status first_error = absl::OkStatus();
  std::vector<ObjectPtr> active = ClaimControlled(
      client_, {kind_.collection, *rs, selector, kPodsRef}, candidates, first_error);
  if (!first_error.ok()) {
    return first_error;  // counted wrong, it would make or delete pods it should not
  }
  const auto have = static_cast<int64_t>(active.size());
  // Within int32 as admission checks; objects stored before it was checked
  // are cut. One being deleted neither makes nor deletes pods: what becomes
  // of them is its propagation policy's (the garbage collector's) to say.
  const int64_t want = IsTerminating(*rs)
                           ? have
                           : std::clamp<int64_t>(IntAt(*rs, ".spec.replicas", 1), 0,
                                                 std::numeric_limits<int32_t>::max());
  if (have < want) {
    PodExpectations::Pass pass;
    for (int64_t i = 0; i < std::min(want - have, kBurst); ++i) {
      auto created = client_.Create(In(kPodsRef, ns), PodFor(*rs));
      if (!created.ok()) {
        first_error = created.status();
        break;
      }
      pass.created.insert(MetaString(*created, "name"));
    }
    expectations_.Expect(key, std::move(pass));
  } else if (have > want) {
    // Pods that are not ready go first, then the newest.
    std::sort(active.begin(), active.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
      if (IsPodReady(*a) != IsPodReady(*b)) {
        return !IsPodReady(*a);
      }
      return MetaString(*a, "creationTimestamp") > MetaString(*b, "creationTimestamp");
    });
    PodExpectations::Pass pass;
    for (int64_t i = 0; i < std::min(have - want, kBurst); ++i) {
      std::string pod_name = MetaString(*active[i], "name");
      // Only the pod seen: another one by its name is not ours to delete.
      Status deleted =
          client_.Delete(In(kPodsRef, ns, pod_name), {MetaString(*active[i], "uid"), ""});
      if (!Settles(deleted)) {
        first_error = deleted;
        break;
      }
      pass.deleted.insert(pod_name);
    }
    expectations_.Expect(key, std::move(pass));
  }
  // Status from the pods seen now; the next pass counts the new ones.
  int64_t labeled = 0;
  int64_t ready = 0;
  AvailabilityCount available(IntAt(*rs, ".spec.minReadySeconds", 0));
  for (const ObjectPtr& pod : active) {
    labeled += SelectorMatches(selector, LabelsOf(*pod)) ? 1 : 0;
    ready += IsPodReady(*pod) ? 1 : 0;
    available.Add(*pod);
  }
  if (auto next = available.next_change()) {
    EnqueueAfter(key, *next);  // no event says when a pod has been ready long enough
  }
  json::object status{{"replicas", have},
                      {"fullyLabeledReplicas", labeled},
                      {"readyReplicas", ready},
                      {"availableReplicas", available.available()},
                      {"observedGeneration", IntAt(*rs, ".metadata.generation", 1)}};
  const json::value* current = rs->if_contains("status");
  json::object current_status =
      current != nullptr && current->is_object() ? current->as_object() : json::object();
  // Kubernetes leaves zero counts out of a status.
  for (auto it = status.begin(); it != status.end();) {
    it = (it->value() == 0 && it->key() != "replicas") ? status.erase(it) : it + 1;
  }
  if (current_status != status) {
    auto written =
        client_.Mutate(In(kind_.collection, ns, name, "status"), [&](json::object& next) {
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
