#include "controlplane/controllers/controller_manager.h"

#include <chrono>

#include "controlplane/controllers/cluster_role_aggregation_controller.h"
#include "controlplane/controllers/cron_job_controller.h"
#include "controlplane/controllers/daemon_set_controller.h"
#include "controlplane/controllers/deployment_controller.h"
#include "controlplane/controllers/endpoint_slice_controller.h"
#include "controlplane/controllers/garbage_collector.h"
#include "controlplane/controllers/job_controller.h"
#include "controlplane/controllers/namespace_controller.h"
#include "controlplane/controllers/node_lifecycle_controller.h"
#include "controlplane/controllers/object_helpers.h"
#include "controlplane/controllers/replica_set_controller.h"
#include "controlplane/controllers/resource_quota_controller.h"
#include "controlplane/controllers/root_ca_publisher.h"
#include "controlplane/controllers/scheduler.h"
#include "controlplane/controllers/service_account_controller.h"
#include "controlplane/controllers/service_account_token_controller.h"
#include "controlplane/controllers/stateful_set_controller.h"

namespace bulkhead::controlplane::controllers {

ControllerManager::ControllerManager(ObjectRegistry& objects, const ControllerOptions& options)
    : client_(objects) {
  // Handlers are added before the informers start.
  Informer& deployments = Shared(kDeploymentsRef);
  Informer& replica_sets = Shared(kReplicaSetsRef);
  Informer& pods = Shared(kPodsRef);
  controllers_.push_back(
      std::make_unique<DeploymentController>(client_, deployments, replica_sets));
  controllers_.push_back(std::make_unique<ReplicaSetController>(client_, replica_sets, pods));
  Informer& replication_controllers = Shared(kReplicationControllersRef);
  controllers_.push_back(std::make_unique<ReplicaSetController>(
      client_, replication_controllers, pods,
      ReplicatedKind{kReplicationControllersRef, "ReplicationController"}));
  controllers_.push_back(std::make_unique<EndpointSliceController>(
      client_, Shared(kServicesRef), pods, Shared(kEndpointSlicesRef), Shared(kEndpointsRef)));
  Informer& namespaces = Shared(kNamespacesRef);
  controllers_.push_back(std::make_unique<NamespaceController>(client_, namespaces));
  controllers_.push_back(
      std::make_unique<ServiceAccountController>(client_, namespaces, Shared(kServiceAccountsRef)));
  if (options.tokens != nullptr) {
    controllers_.push_back(std::make_unique<ServiceAccountTokenController>(
        client_, Shared(kSecretsRef), Shared(kServiceAccountsRef), *options.tokens,
        options.root_ca_pem));
  }
  controllers_.push_back(std::make_unique<RootCaPublisher>(
      client_, namespaces, Shared(kConfigMapsRef), options.root_ca_pem));
  if (options.host_mode) {
    Informer& nodes = Shared(kNodesRef);
    controllers_.push_back(std::make_unique<Scheduler>(client_, pods, nodes));
    controllers_.push_back(std::make_unique<NodeLifecycleController>(
        client_, nodes, Shared(kLeasesRef), pods, options.node_monitor_grace));
    controllers_.push_back(std::make_unique<PodGcController>(client_, pods, nodes, options.pod_gc));
  }
  controllers_.push_back(
      std::make_unique<ClusterRoleAggregationController>(client_, Shared(kClusterRolesRef)));
  controllers_.push_back(std::make_unique<ResourceQuotaController>(
      client_, Shared(kResourceQuotasRef),
      std::vector<Informer*>{&pods, &Shared(kConfigMapsRef), &Shared(kServicesRef),
                             &Shared(kPersistentVolumeClaimsRef), &Shared(kSecretsRef)}));
  Informer& stateful_sets = Shared(kStatefulSetsRef);
  controllers_.push_back(std::make_unique<StatefulSetController>(client_, stateful_sets, pods));
  Informer& claims = Shared(kPersistentVolumeClaimsRef);
  Informer& daemon_sets = Shared(kDaemonSetsRef);
  controllers_.push_back(
      std::make_unique<DaemonSetController>(client_, daemon_sets, pods, Shared(kNodesRef)));
  Informer& jobs = Shared(kJobsRef);
  controllers_.push_back(std::make_unique<JobController>(client_, jobs, pods));
  Informer& cron_jobs = Shared(kCronJobsRef);
  controllers_.push_back(std::make_unique<CronJobController>(client_, cron_jobs, jobs));
  // Every kind the registry gives the propagation finalizers to
  // (kCollectedOwnerKinds) is followed here as an owner.
  controllers_.push_back(std::make_unique<GarbageCollector>(
      client_,
      std::map<std::string, Followed>{
          {"apps/Deployment", {kDeploymentsRef, &deployments}},
          {"apps/ReplicaSet", {kReplicaSetsRef, &replica_sets}},
          {"batch/Job", {kJobsRef, &jobs}},
          {"batch/CronJob", {kCronJobsRef, &cron_jobs}},
          {"/ReplicationController", {kReplicationControllersRef, &replication_controllers}},
          {"apps/StatefulSet", {kStatefulSetsRef, &stateful_sets}},
          {"apps/DaemonSet", {kDaemonSetsRef, &daemon_sets}}},
      std::map<std::string, Followed>{
          {"ReplicaSet", {kReplicaSetsRef, &replica_sets}},
          {"Job", {kJobsRef, &jobs}},
          {"Pod", {kPodsRef, &pods}},
          {"PersistentVolumeClaim", {kPersistentVolumeClaimsRef, &claims}}}));
}

ControllerManager::~ControllerManager() { Stop(); }

Informer& ControllerManager::Shared(const ObjectRef& collection) {
  std::unique_ptr<Informer>& informer = informers_[collection.group + "/" + collection.resource];
  if (informer == nullptr) {
    informer = std::make_unique<Informer>(client_, collection);
  }
  return *informer;
}

Status ControllerManager::Start() {
  for (auto& [name, informer] : informers_) {
    informer->Start();
  }
  for (auto& [name, informer] : informers_) {
    if (!informer->WaitForSync(std::chrono::seconds(60))) {
      return absl::DeadlineExceededError("the controllers' informers did not sync in 60 s");
    }
  }
  for (auto& controller : controllers_) {
    controller->Start();
  }
  return absl::OkStatus();
}

void ControllerManager::Stop() {
  // Controllers first: their workers read the informers' caches.
  for (auto& controller : controllers_) {
    controller->Stop();
  }
  for (auto& [name, informer] : informers_) {
    informer->Stop();
  }
}

}  // namespace bulkhead::controlplane::controllers
