#include "controlplane/apiserver/registry/kinds/kind_strategy.h"

#include <boost/json.hpp>
#include <map>
#include <string>
#include <string_view>

#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/registry/kinds/api_service.h"
#include "controlplane/apiserver/registry/kinds/horizontal_pod_autoscaler.h"
#include "controlplane/apiserver/registry/kinds/job.h"
#include "controlplane/apiserver/registry/kinds/pod_deletion.h"
#include "controlplane/apiserver/registry/kinds/pod_disruption_budget.h"
#include "controlplane/apiserver/registry/kinds/pod_spec.h"
#include "controlplane/apiserver/registry/kinds/priority_class.h"
#include "controlplane/apiserver/registry/kinds/replication_controller.h"
#include "controlplane/apiserver/registry/kinds/secret.h"
#include "controlplane/apiserver/registry/kinds/service.h"
#include "controlplane/apiserver/registry/kinds/storage.h"
#include "controlplane/apiserver/workload_validation.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

void Append(std::vector<StatusCause>& causes, std::vector<StatusCause> more) {
  causes.insert(causes.end(), std::make_move_iterator(more.begin()),
                std::make_move_iterator(more.end()));
}

using Validation =
    std::function<void(const json::object&, bool creating, std::vector<StatusCause>&)>;

KindStrategy Validating(Validation validate) {
  KindStrategy strategy;
  strategy.validate = std::move(validate);
  return strategy;
}

// An apps/v1 workload: counts, selector against template, strategies, and
// the pod spec of its template.
KindStrategy Workload(const std::string& kind) {
  KindStrategy strategy = Validating(
      [kind](const json::object& object, bool /*creating*/, std::vector<StatusCause>& causes) {
        ResourceType type;
        type.group = "apps";
        type.kind = kind;
        Append(causes, ValidateWorkload(type, object));
        Append(causes, ValidatePodSpecOf("apps", kind, object));
      });
  // The selector is fixed once made: a changed one would release every pod
  // (or ReplicaSet) the workload has.
  strategy.validate_update = [](const json::object& current, const json::object& next,
                                std::vector<StatusCause>& causes) {
    static const json::value kNone;
    const json::value* before = PathValue(current, ".spec.selector");
    const json::value* after = PathValue(next, ".spec.selector");
    if ((before != nullptr ? *before : kNone) != (after != nullptr ? *after : kNone)) {
      causes.push_back({"FieldValueInvalid",
                        fmt::format("Invalid value: {}: field is immutable",
                                    json::serialize(after != nullptr ? *after : kNone)),
                        "spec.selector"});
    }
  };
  return strategy;
}

// A kind judged by one function of the object alone.
KindStrategy Judged(std::vector<StatusCause> (*validate)(const json::object&),
                    void (*defaults)(json::object&) = nullptr) {
  KindStrategy strategy;
  if (defaults != nullptr) {
    strategy.defaults = defaults;
  }
  strategy.validate = [validate](const json::object& object, bool /*creating*/,
                                 std::vector<StatusCause>& causes) {
    Append(causes, validate(object));
  };
  return strategy;
}

KindStrategy Storage(const std::string& kind) {
  KindStrategy strategy = Validating(
      [kind](const json::object& object, bool /*creating*/, std::vector<StatusCause>& causes) {
        Append(causes, ValidateStorage(kind, object));
      });
  strategy.defaults = [kind](json::object& object) { DefaultStorage(kind, object); };
  strategy.validate_update = [kind](const json::object& current, const json::object& next,
                                    std::vector<StatusCause>& causes) {
    Append(causes, ValidateStorageUpdate(kind, current, next));
  };
  return strategy;
}

std::map<std::string, KindStrategy> MakeStrategies() {
  std::map<std::string, KindStrategy> strategies;
  strategies["/Pod"] = Validating(
      [](const json::object& object, bool /*creating*/, std::vector<StatusCause>& causes) {
        Append(causes, ValidatePodSpecOf("", "Pod", object));
      });
  strategies["/Pod"].grace_period = PodDeletionGracePeriod;
  for (const char* kind : {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"}) {
    KindStrategy& workload = strategies[std::string("apps/") + kind] = Workload(kind);
    if (std::string_view(kind) != "DaemonSet") {
      workload.prepare_for_create = [](json::object& object, const std::string& /*uid*/) {
        if (json::value* replicas = PathValue(object, ".spec.replicas", true);
            replicas->is_null()) {
          *replicas = 1;
        }
      };
    }
  }
  KindStrategy controller = Validating(
      [](const json::object& object, bool /*creating*/, std::vector<StatusCause>& causes) {
        Append(causes, ValidateReplicationController(object));
        Append(causes, ValidatePodSpecOf("", "ReplicationController", object));
      });
  controller.defaults = DefaultReplicationController;
  strategies["/ReplicationController"] = std::move(controller);
  // Batch kinds are judged when created: a stored Job from before these
  // checks must still take its controller's status writes.
  strategies["batch/Job"] =
      Validating([](const json::object& object, bool creating, std::vector<StatusCause>& causes) {
        if (creating) {
          Append(causes, ValidateJob(object, creating));
        }
        Append(causes, ValidatePodSpecOf("batch", "Job", object));
      });
  strategies["batch/Job"].prepare_for_create = GenerateJobSelector;
  strategies["batch/CronJob"] =
      Validating([](const json::object& object, bool creating, std::vector<StatusCause>& causes) {
        if (creating) {
          Append(causes, ValidateCronJob(object));
        }
        Append(causes, ValidatePodSpecOf("batch", "CronJob", object));
      });
  strategies["/Service"] = Judged(ValidateService);
  strategies["/Secret"] = Judged(ValidateSecret, DefaultSecret);
  strategies["/Secret"].validate_update = [](const json::object& current, const json::object& next,
                                             std::vector<StatusCause>& causes) {
    Append(causes, ValidateSecretUpdate(current, next));
  };
  strategies["autoscaling/HorizontalPodAutoscaler"] =
      Judged(ValidateHorizontalPodAutoscaler, DefaultHorizontalPodAutoscaler);
  strategies["policy/PodDisruptionBudget"] = Judged(ValidatePodDisruptionBudget);
  strategies["apiregistration.k8s.io/APIService"] = Judged(ValidateApiService);
  strategies["scheduling.k8s.io/PriorityClass"] =
      Judged(ValidatePriorityClass, DefaultPriorityClass);
  strategies["/PersistentVolume"] = Storage("PersistentVolume");
  strategies["/PersistentVolumeClaim"] = Storage("PersistentVolumeClaim");
  strategies["storage.k8s.io/StorageClass"] = Storage("StorageClass");
  return strategies;
}

}  // namespace

const KindStrategy& StrategyFor(const ResourceType& type) {
  static const KindStrategy kNone;
  static const std::map<std::string, KindStrategy> kStrategies = MakeStrategies();
  if (type.custom) {
    return kNone;
  }
  auto found = kStrategies.find(type.group + "/" + type.kind);
  return found != kStrategies.end() ? found->second : kNone;
}

}  // namespace bulkhead::controlplane
