#include "controlplane/controllers/deployment_controller.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <string_view>
#include <vector>

#include "common/strings.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/controllers/controller_ref_manager.h"
#include "controlplane/controllers/object_helpers.h"
#include "fmt/format.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;

constexpr char kRevision[] = "deployment.kubernetes.io/revision";
constexpr char kDesiredReplicas[] = "deployment.kubernetes.io/desired-replicas";
constexpr char kHashLabel[] = "pod-template-hash";

// The pod counts a rollout's progress is judged by.
struct RolloutCounts {
  int64_t updated;
  int64_t ready;
  int64_t available;
  int64_t old;  // pods of the old ReplicaSets
};

// An annotation's value ("" when absent). Not by PathValue: annotation
// names hold dots.
std::string AnnotationOf(const json::object& object, const char* name) {
  const json::value* annotations = PathValue(object, ".metadata.annotations");
  if (annotations == nullptr || !annotations->is_object()) {
    return "";
  }
  const json::value* value = annotations->as_object().if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

// A revision past 2^53 (a hostile annotation) counts as none: one more
// than it would overflow.
int64_t RevisionOf(const json::object& rs) {
  int64_t revision = ParseInteger<int64_t>(AnnotationOf(rs, kRevision)).value_or(0);
  return revision < 0 || revision > (int64_t{1} << 53) ? 0 : revision;
}

std::string HashOf(const json::object& rs) {
  const json::value* value = LabelsOf(rs).if_contains(kHashLabel);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

json::object WithLabel(const json::value* labels, const std::string& hash) {
  json::object out =
      labels != nullptr && labels->is_object() ? labels->as_object() : json::object();
  out[kHashLabel] = hash;
  return out;
}

json::object NewReplicaSet(const json::object& deployment, const std::string& hash,
                           int64_t revision, int64_t replicas) {
  json::object pod_template = json::object();
  if (const json::value* t = PathValue(deployment, ".spec.template");
      t != nullptr && t->is_object()) {
    pod_template = t->as_object();
  }
  json::object& template_meta = Metadata(pod_template);
  template_meta["labels"] = WithLabel(template_meta.if_contains("labels"), hash);
  json::object selector;
  if (const json::value* s = PathValue(deployment, ".spec.selector");
      s != nullptr && s->is_object()) {
    selector = s->as_object();
  }
  selector["matchLabels"] = WithLabel(selector.if_contains("matchLabels"), hash);
  json::object spec{{"replicas", replicas},
                    {"selector", std::move(selector)},
                    {"template", std::move(pod_template)}};
  if (const json::value* ready = PathValue(deployment, ".spec.minReadySeconds")) {
    spec["minReadySeconds"] = *ready;
  }
  return json::object{
      {"apiVersion", "apps/v1"},
      {"kind", "ReplicaSet"},
      {"metadata",
       json::object{
           {"name", MetaString(deployment, "name") + "-" + hash},
           {"labels", WithLabel(PathValue(deployment, ".spec.template.metadata.labels"), hash)},
           {"annotations", json::object{{kRevision, std::to_string(revision)},
                                        {kDesiredReplicas,
                                         std::to_string(IntAt(deployment, ".spec.replicas", 1))}}},
           {"ownerReferences", json::array{ControllerReference(deployment)}}}},
      {"spec", std::move(spec)}};
}

// A condition as Kubernetes writes it; the times of `previous` are kept
// while its status and reason stay.
json::object Condition(const json::value* previous_conditions, const std::string& type,
                       const std::string& status, const std::string& reason,
                       const std::string& message) {
  std::string now = NowRfc3339();
  std::string updated = now;
  std::string transition = now;
  if (previous_conditions != nullptr && previous_conditions->is_array()) {
    for (const auto& c : previous_conditions->as_array()) {
      if (!c.is_object() || StringField(c.as_object(), "type") != type) {
        continue;
      }
      const json::object& old = c.as_object();
      if (StringField(old, "status") == status) {
        transition = StringField(old, "lastTransitionTime");
        if (StringField(old, "reason") == reason && StringField(old, "message") == message) {
          updated = StringField(old, "lastUpdateTime");
        }
      }
    }
  }
  return json::object{{"type", type},
                      {"status", status},
                      {"lastUpdateTime", updated},
                      {"lastTransitionTime", transition},
                      {"reason", reason},
                      {"message", message}};
}

// The Progressing condition of a rollout under way (not paused, not
// complete), as Kubernetes' syncRolloutStatus: updated, ready or available
// pods gained, old pods lost or a new ReplicaSet count as progress and
// restart the clock (lastUpdateTime); a rollout that makes none within
// progressDeadlineSeconds has timed out (False, ProgressDeadlineExceeded,
// what `kubectl rollout status` reports) and stays so until it progresses.
// `look_again` is told when the deadline would pass.
json::object RolloutProgress(const json::object& d, const json::value* previous,
                             const RolloutCounts& now_counts, const std::string& rs_name,
                             const std::function<void(std::chrono::seconds)>& look_again) {
  const json::object* last = FindCondition(previous, "Progressing");
  const RolloutCounts before{
      IntAt(d, ".status.updatedReplicas", 0), IntAt(d, ".status.readyReplicas", 0),
      IntAt(d, ".status.availableReplicas", 0),
      IntAt(d, ".status.replicas", 0) - IntAt(d, ".status.updatedReplicas", 0)};
  const std::string last_reason = last != nullptr ? StringField(*last, "reason") : "";
  const std::string quoted_name = fmt::format("\"{}\"", rs_name);
  // Another new ReplicaSet than the condition names: a new template, whose
  // rollout starts the clock again (a scale alone does not).
  const bool new_set =
      last != nullptr &&
      (rs_name.empty() || StringField(*last, "message").find(quoted_name) == std::string::npos);
  const bool progressed = last == nullptr || last_reason == "DeploymentPaused" || new_set ||
                          now_counts.updated > before.updated || now_counts.ready > before.ready ||
                          now_counts.available > before.available || now_counts.old < before.old;
  if (progressed) {
    json::object c = Condition(previous, "Progressing", "True", "ReplicaSetUpdated",
                               fmt::format("ReplicaSet {} is progressing.", quoted_name));
    c["lastUpdateTime"] = NowRfc3339();
    return c;
  }
  // A rollout that completed does not time out when a pod fails later; one
  // that timed out stays so until it moves.
  if (last_reason == "NewReplicaSetAvailable" || last_reason == "ProgressDeadlineExceeded") {
    return *last;
  }
  const json::value* deadline_value = PathValue(d, ".spec.progressDeadlineSeconds");
  auto since = ParseRfc3339(StringField(*last, "lastUpdateTime"));
  if (deadline_value == nullptr || !deadline_value->is_int64() || !since) {
    return *last;  // no deadline (or no time to count from)
  }
  const auto deadline =
      *since + std::chrono::seconds(std::clamp<int64_t>(deadline_value->as_int64(), 0,
                                                        std::numeric_limits<int32_t>::max()));
  const auto now = std::chrono::system_clock::now();
  if (now < deadline) {
    look_again(std::chrono::ceil<std::chrono::seconds>(deadline - now));
    return *last;
  }
  return Condition(previous, "Progressing", "False", "ProgressDeadlineExceeded",
                   fmt::format("ReplicaSet \"{}\" has timed out progressing.", rs_name));
}
}  // namespace

std::string PodTemplateHash(const json::object& pod_template, int64_t collision_count) {
  std::string text = json::serialize(pod_template);
  if (collision_count > 0) {
    text += std::to_string(collision_count);
  }
  return SafeHash(text);
}

int64_t ScaledValue(const json::value* value, int64_t replicas, bool round_up, int64_t missing) {
  if (value == nullptr || value->is_null()) {
    return missing;
  }
  if (value->is_int64() || value->is_uint64()) {
    return std::max<int64_t>(0, IntOf(value, 0));
  }
  if (value->is_string()) {
    std::string text(value->as_string());
    if (!text.empty() && text.back() == '%') {
      auto percent = ParseInteger<int64_t>(text.substr(0, text.size() - 1));
      if (percent.has_value() && *percent >= 0) {
        // Past 100 % is 100 % (admission refuses it where Kubernetes does),
        // so nothing here overflows.
        const int64_t whole = std::min<int64_t>(*percent, 100);
        const int64_t of = std::clamp<int64_t>(replicas, 0, std::numeric_limits<int32_t>::max());
        return round_up ? (whole * of + 99) / 100 : whole * of / 100;
      }
    }
  }
  return missing;
}

DeploymentController::DeploymentController(Client& client, Informer& deployments,
                                           Informer& replica_sets)
    : Controller("deployment", 2),
      client_(client),
      deployments_(deployments),
      replica_sets_(replica_sets) {
  deployments_.AddHandler([this](const InformerEvent& event) { Enqueue(KeyOf(*event.object)); });
  replica_sets_.AddHandler([this](const InformerEvent& event) {
    const std::string ns = MetaString(*event.object, "namespace");
    auto owner = ControllerOf(*event.object);
    if (owner && owner->kind == "Deployment") {
      Enqueue(ns + "/" + owner->name);
    } else if (!owner) {
      // An orphan: every Deployment that selects it may adopt it.
      for (const ObjectPtr& d : deployments_.List(ns)) {
        if (MayAdopt(PathValue(*d, ".spec.selector"), *event.object)) {
          Enqueue(KeyOf(*d));
        }
      }
    }
  });
}

Status DeploymentController::Reconcile(const std::string& key) {
  // Plain strings, not a structured binding: the lambdas below capture them.
  const auto split = SplitKey(key);
  const std::string& ns = split.first;
  const std::string& name = split.second;
  ObjectPtr found = deployments_.Get(ns, name);
  if (found == nullptr || IsTerminating(*found)) {
    return absl::OkStatus();
  }
  const json::object& d = *found;
  const std::string uid = MetaString(d, "uid");
  // Within int32 as admission checks; objects stored before it was checked are cut.
  const int64_t replicas =
      std::clamp<int64_t>(IntAt(d, ".spec.replicas", 1), 0, std::numeric_limits<int32_t>::max());
  const bool paused = [&] {
    const json::value* p = PathValue(d, ".spec.paused");
    return p != nullptr && p->is_bool() && p->as_bool();
  }();
  const bool recreate = [&] {
    const json::value* t = PathValue(d, ".spec.strategy.type");
    return t != nullptr && t->is_string() && t->as_string() == "Recreate";
  }();
  const json::value* template_value = PathValue(d, ".spec.template");
  const json::object pod_template = template_value != nullptr && template_value->is_object()
                                        ? template_value->as_object()
                                        : json::object();
  const std::string hash = PodTemplateHash(pod_template, IntAt(d, ".status.collisionCount", 0));

  // The ReplicaSets it controls: the one of the current template, the old ones.
  json::object new_rs;
  bool has_new = false;
  std::vector<json::object> old_sets;
  int64_t max_revision = 0;
  // Those it controls once it has adopted the orphans it selects (left by
  // an orphaning delete of an earlier Deployment) and released the rest.
  Status claim_error = absl::OkStatus();
  const std::vector<ObjectPtr> claimed = ClaimControlled(
      client_, {kDeploymentsRef, d, PathValue(d, ".spec.selector"), kReplicaSetsRef},
      replica_sets_.List(ns), claim_error);
  if (!claim_error.ok()) {
    return claim_error;
  }
  for (const ObjectPtr& rs : claimed) {
    max_revision = std::max(max_revision, RevisionOf(*rs));
    if (!has_new && HashOf(*rs) == hash) {
      new_rs = *rs;
      has_new = true;
    } else {
      old_sets.push_back(*rs);
    }
  }
  auto set_replicas = [&](json::object& rs, int64_t count) -> Status {
    if (IntAt(rs, ".spec.replicas", 1) == count) {
      return absl::OkStatus();
    }
    auto written =
        client_.Mutate(In(kReplicaSetsRef, ns, MetaString(rs, "name")), [&](json::object& next) {
          *PathValue(next, ".spec.replicas", true) = count;
          SetAnnotation(next, kDesiredReplicas, std::to_string(replicas));
          return absl::OkStatus();
        });
    if (!written.ok()) {
      return written.status();
    }
    rs = std::move(*written);
    return absl::OkStatus();
  };

  if (!paused) {
    if (!has_new) {
      auto created =
          client_.Create(In(kReplicaSetsRef, ns), NewReplicaSet(d, hash, max_revision + 1, 0));
      if (!created.ok() && ToHttpError(created.status()).code == 409) {
        // Ours, made by a pass the cache has not caught up with: use it.
        // Another template's (a hash collision): a new hash, as Kubernetes does.
        auto existing = client_.Get(In(kReplicaSetsRef, ns, name + "-" + hash));
        auto owner = existing.ok() ? ControllerOf(*existing) : std::nullopt;
        if (existing.ok() && owner && owner->uid == uid && HashOf(*existing) == hash) {
          created = std::move(existing);
        } else if (existing.ok()) {
          auto bumped =
              client_.Mutate(In(kDeploymentsRef, ns, name, "status"), [&](json::object& next) {
                *PathValue(next, ".status.collisionCount", true) =
                    IntAt(next, ".status.collisionCount", 0) + 1;
                return absl::OkStatus();
              });
          return bumped.ok() ? absl::AbortedError("pod template hash collision; retrying")
                             : bumped.status();
        }
      }
      if (!created.ok()) {
        return created.status();
      }
      new_rs = std::move(*created);
      has_new = true;
    } else if (RevisionOf(new_rs) < max_revision) {
      // Back to an older template (rollout undo): it becomes the newest revision.
      auto moved = client_.Mutate(
          In(kReplicaSetsRef, ns, MetaString(new_rs, "name")), [&](json::object& next) {
            SetAnnotation(next, kRevision, std::to_string(max_revision + 1));
            return absl::OkStatus();
          });
      if (!moved.ok()) {
        return moved.status();
      }
      new_rs = std::move(*moved);
    }
    // minReadySeconds is not part of the template: a change reaches the new
    // ReplicaSet here.
    const int64_t min_ready = IntAt(d, ".spec.minReadySeconds", 0);
    if (IntAt(new_rs, ".spec.minReadySeconds", 0) != min_ready) {
      auto synced = client_.Mutate(In(kReplicaSetsRef, ns, MetaString(new_rs, "name")),
                                   [&](json::object& next) {
                                     *PathValue(next, ".spec.minReadySeconds", true) = min_ready;
                                     return absl::OkStatus();
                                   });
      if (!synced.ok()) {
        return synced.status();
      }
      new_rs = std::move(*synced);
    }
    // Oldest first, for scaling down.
    std::sort(old_sets.begin(), old_sets.end(), [](const json::object& a, const json::object& b) {
      return RevisionOf(a) < RevisionOf(b);
    });
    if (recreate) {
      int64_t old_pods = 0;
      for (json::object& rs : old_sets) {
        BH_RETURN_IF_ERROR(set_replicas(rs, 0));
        old_pods += IntAt(rs, ".status.replicas", 0);
      }
      if (old_pods == 0) {
        BH_RETURN_IF_ERROR(set_replicas(new_rs, replicas));
      }
    } else {
      int64_t surge = ScaledValue(PathValue(d, ".spec.strategy.rollingUpdate.maxSurge"), replicas,
                                  true, (replicas * 25 + 99) / 100);
      int64_t unavailable = ScaledValue(PathValue(d, ".spec.strategy.rollingUpdate.maxUnavailable"),
                                        replicas, false, replicas * 25 / 100);
      if (surge == 0 && unavailable == 0) {
        unavailable = 1;
      }
      auto spec_total = [&] {
        int64_t total = IntAt(new_rs, ".spec.replicas", 0);
        for (const json::object& rs : old_sets) {
          total += IntAt(rs, ".spec.replicas", 0);
        }
        return total;
      };
      // Up: the new one, within replicas + maxSurge in all.
      int64_t new_spec = IntAt(new_rs, ".spec.replicas", 0);
      if (new_spec > replicas) {
        BH_RETURN_IF_ERROR(set_replicas(new_rs, replicas));
      } else if (new_spec < replicas) {
        int64_t room = replicas + surge - spec_total();
        if (room > 0) {
          BH_RETURN_IF_ERROR(set_replicas(new_rs, std::min(replicas, new_spec + room)));
        }
      }
      // Down: the old ones, keeping replicas - maxUnavailable available;
      // replicas that are not available go first.
      const int64_t min_available = replicas - unavailable;
      const int64_t new_unavailable = std::max<int64_t>(
          0, IntAt(new_rs, ".spec.replicas", 0) - IntAt(new_rs, ".status.availableReplicas", 0));
      int64_t cleanup = spec_total() - min_available - new_unavailable;
      for (json::object& rs : old_sets) {
        int64_t spec = IntAt(rs, ".spec.replicas", 0);
        int64_t available = IntAt(rs, ".status.availableReplicas", 0);
        if (cleanup <= 0) {
          break;
        }
        if (spec > available) {
          int64_t down = std::min(cleanup, spec - available);
          BH_RETURN_IF_ERROR(set_replicas(rs, spec - down));
          cleanup -= down;
        }
      }
      int64_t available_total = IntAt(new_rs, ".status.availableReplicas", 0);
      for (const json::object& rs : old_sets) {
        available_total +=
            std::min(IntAt(rs, ".status.availableReplicas", 0), IntAt(rs, ".spec.replicas", 0));
      }
      int64_t scale_down = available_total - min_available;
      for (json::object& rs : old_sets) {
        int64_t spec = IntAt(rs, ".spec.replicas", 0);
        if (scale_down <= 0) {
          break;
        }
        if (spec > 0) {
          int64_t down = std::min(scale_down, spec);
          BH_RETURN_IF_ERROR(set_replicas(rs, spec - down));
          scale_down -= down;
        }
      }
    }
    // History: old ReplicaSets with nothing left, beyond revisionHistoryLimit.
    const auto limit = static_cast<size_t>(std::clamp<int64_t>(
        IntAt(d, ".spec.revisionHistoryLimit", 10), 0, std::numeric_limits<int32_t>::max()));
    std::vector<const json::object*> empty_sets;
    for (const json::object& rs : old_sets) {
      // Settled (its controller has seen its last spec) and with no pods.
      if (IntAt(rs, ".spec.replicas", 0) == 0 && IntAt(rs, ".status.replicas", 0) == 0 &&
          IntAt(rs, ".status.observedGeneration", 0) >= IntAt(rs, ".metadata.generation", 1)) {
        empty_sets.push_back(&rs);
      }
    }
    for (size_t i = 0; i + limit < empty_sets.size(); ++i) {
      Status deleted = client_.Delete(In(kReplicaSetsRef, ns, MetaString(*empty_sets[i], "name")));
      if (!deleted.ok() && ToHttpError(deleted).code != 404) {
        return deleted;
      }
    }
  }

  // Status from the ReplicaSets as last seen.
  int64_t total = 0;
  int64_t spec_total = 0;
  int64_t ready = 0;
  int64_t available = 0;
  auto count = [&](const json::object& rs) {
    total += IntAt(rs, ".status.replicas", 0);
    spec_total += IntAt(rs, ".spec.replicas", 0);
    ready += IntAt(rs, ".status.readyReplicas", 0);
    available += IntAt(rs, ".status.availableReplicas", 0);
  };
  for (const json::object& rs : old_sets) {
    count(rs);
  }
  int64_t updated = 0;
  if (has_new) {
    count(new_rs);
    updated = IntAt(new_rs, ".status.replicas", 0);
  }
  const json::value* previous = PathValue(d, ".status.conditions");
  int64_t max_unavailable =
      recreate ? 0
               : ScaledValue(PathValue(d, ".spec.strategy.rollingUpdate.maxUnavailable"), replicas,
                             false, replicas * 25 / 100);
  json::array conditions;
  conditions.push_back(available >= replicas - max_unavailable
                           ? Condition(previous, "Available", "True", "MinimumReplicasAvailable",
                                       "Deployment has minimum availability.")
                           : Condition(previous, "Available", "False", "MinimumReplicasUnavailable",
                                       "Deployment does not have minimum availability."));
  std::string rs_name = has_new ? MetaString(new_rs, "name") : "";
  const bool complete =
      has_new && updated == replicas && available == replicas && total == replicas;
  if (paused) {
    conditions.push_back(
        Condition(previous, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused"));
  } else if (complete) {
    conditions.push_back(
        Condition(previous, "Progressing", "True", "NewReplicaSetAvailable",
                  fmt::format("ReplicaSet \"{}\" has successfully progressed.", rs_name)));
  } else {
    conditions.push_back(RolloutProgress(d, previous, {updated, ready, available, total - updated},
                                         rs_name, [&](std::chrono::seconds left) {
                                           EnqueueAfter(key, left + std::chrono::milliseconds(100));
                                         }));
  }
  json::object status{{"observedGeneration", IntAt(d, ".metadata.generation", 1)},
                      {"replicas", total},
                      {"updatedReplicas", updated},
                      {"readyReplicas", ready},
                      {"availableReplicas", available},
                      {"unavailableReplicas", std::max<int64_t>(0, spec_total - available)},
                      {"conditions", std::move(conditions)}};
  for (auto it = status.begin(); it != status.end();) {
    it = (it->value() == 0 && it->key() != "observedGeneration") ? status.erase(it) : it + 1;
  }
  if (const json::value* collisions = PathValue(d, ".status.collisionCount")) {
    status["collisionCount"] = *collisions;
  }
  const json::value* current = d.if_contains("status");
  if (current == nullptr || !current->is_object() || current->as_object() != status) {
    auto written = client_.Mutate(In(kDeploymentsRef, ns, name, "status"), [&](json::object& next) {
      next["status"] = status;
      return absl::OkStatus();
    });
    if (!written.ok() && ToHttpError(written.status()).code != 404) {
      return written.status();
    }
  }
  std::string revision = has_new ? std::to_string(RevisionOf(new_rs)) : "";
  if (has_new && AnnotationOf(d, kRevision) != revision) {
    auto written = client_.Mutate(In(kDeploymentsRef, ns, name), [&](json::object& next) {
      SetAnnotation(next, kRevision, revision);
      return absl::OkStatus();
    });
    if (!written.ok() && ToHttpError(written.status()).code != 404) {
      return written.status();
    }
  }
  return absl::OkStatus();
}

}  // namespace bulkhead::controlplane::controllers
