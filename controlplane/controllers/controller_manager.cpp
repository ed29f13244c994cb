#include "controlplane/controllers/controller_manager.h"

#include <chrono>

#include "controlplane/controllers/object_helpers.h"

namespace bulkhead::controlplane::controllers {

ControllerManager::ControllerManager(ObjectRegistry& objects)
    : client_(objects),
      deployments_(client_, kDeploymentsRef),
      replica_sets_(client_, kReplicaSetsRef),
      pods_(client_, kPodsRef) {
  // Handlers are added before the informers start.
  deployment_controller_ =
      std::make_unique<DeploymentController>(client_, deployments_, replica_sets_);
  replica_set_controller_ = std::make_unique<ReplicaSetController>(client_, replica_sets_, pods_);
  garbage_collector_ = std::make_unique<GarbageCollector>(
      client_,
      std::map<std::string, Informer*>{{"Deployment", &deployments_},
                                       {"ReplicaSet", &replica_sets_}},
      std::map<std::string, std::pair<ObjectRef, Informer*>>{
          {"ReplicaSet", {kReplicaSetsRef, &replica_sets_}}, {"Pod", {kPodsRef, &pods_}}});
}

ControllerManager::~ControllerManager() { Stop(); }

Status ControllerManager::Start() {
  for (Informer* informer : {&deployments_, &replica_sets_, &pods_}) {
    informer->Start();
  }
  for (Informer* informer : {&deployments_, &replica_sets_, &pods_}) {
    if (!informer->WaitForSync(std::chrono::seconds(60))) {
      return absl::DeadlineExceededError("the controllers' informers did not sync in 60 s");
    }
  }
  deployment_controller_->Start();
  replica_set_controller_->Start();
  garbage_collector_->Start();
  started_ = true;
  return absl::OkStatus();
}

void ControllerManager::Stop() {
  // Controllers first: their workers read the informers' caches.
  deployment_controller_->Stop();
  replica_set_controller_->Stop();
  garbage_collector_->Stop();
  for (Informer* informer : {&deployments_, &replica_sets_, &pods_}) {
    informer->Stop();
  }
  started_ = false;
}

}  // namespace bulkhead::controlplane::controllers
