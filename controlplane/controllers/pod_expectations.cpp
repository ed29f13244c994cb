#include "controlplane/controllers/pod_expectations.h"

#include "controlplane/apiserver/object_meta.h"
#include "controlplane/controllers/object_helpers.h"

namespace bulkhead::controlplane::controllers {

PodExpectations::PodExpectations(Informer& pods, std::chrono::seconds timeout)
    : pods_(pods), timeout_(timeout) {
  pods_.AddHandler([this](const InformerEvent& event) { Observe(event); });
}

void PodExpectations::Observe(const InformerEvent& event) {
  const std::string ns = MetaString(*event.object, "namespace");
  const std::string name = MetaString(*event.object, "name");
  std::lock_guard lock(mu_);
  for (auto& [key, waiting] : waiting_) {
    if (SplitKey(key).first != ns) {
      continue;
    }
    waiting.pods.created.erase(name);  // seen (and perhaps gone already)
    if (event.type == InformerEvent::Type::kDeleted || IsTerminating(*event.object)) {
      waiting.pods.deleted.erase(name);
    }
  }
}

void PodExpectations::Expect(const std::string& key, Pass pass) {
  if (pass.created.empty() && pass.deleted.empty()) {
    return;
  }
  std::lock_guard lock(mu_);
  Waiting& waiting = waiting_[key];
  waiting.pods.created.merge(pass.created);
  waiting.pods.deleted.merge(pass.deleted);
  waiting.since = std::chrono::steady_clock::now();
}

bool PodExpectations::Settled(const std::string& key, const std::string& ns) {
  std::lock_guard lock(mu_);
  auto it = waiting_.find(key);
  if (it == waiting_.end()) {
    return true;
  }
  Pass& pods = it->second.pods;
  std::erase_if(pods.created,
                [&](const std::string& name) { return pods_.Get(ns, name) != nullptr; });
  std::erase_if(pods.deleted, [&](const std::string& name) {
    auto pod = pods_.Get(ns, name);
    return pod == nullptr || IsTerminating(*pod);
  });
  if ((pods.created.empty() && pods.deleted.empty()) ||
      std::chrono::steady_clock::now() - it->second.since > timeout_) {
    waiting_.erase(it);
    return true;
  }
  return false;
}

void PodExpectations::Forget(const std::string& key) {
  std::lock_guard lock(mu_);
  waiting_.erase(key);
}

}  // namespace bulkhead::controlplane::controllers
