#include "controlplane/controllers/controller.h"

#include "common/logging.h"

namespace bulkhead::controlplane::controllers {

void Controller::Start() {
  for (int i = 0; i < workers_; ++i) {
    threads_.emplace_back([this] { Work(); });
  }
}

void Controller::Stop() {
  queue_.ShutDown();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) {
      thread.join();
    }
  }
  threads_.clear();
}

void Controller::Work() {
  while (std::optional<std::string> key = queue_.Get()) {
    Status status = absl::OkStatus();
    try {
      status = Reconcile(*key);
    } catch (const std::exception& e) {
      status = absl::InternalError(e.what());
    }
    if (status.ok()) {
      queue_.Forget(*key);
    } else {
      Logger(Component::kApiserver)
          .info("reconcile failed controller={} key={} retries={} error=\"{}\"", name_, *key,
                queue_.Failures(*key), MessageOf(status));
      queue_.AddRateLimited(*key);
    }
    queue_.Done(*key);
  }
}

}  // namespace bulkhead::controlplane::controllers
