#include "agent/api/stream_quota.h"

#include "fmt/format.h"

namespace bulkhead::agent::api {

StatusOr<std::unique_ptr<StreamQuota::Slot>> StreamQuota::Acquire(const std::string& caller) {
  std::scoped_lock lock(mutex_);
  size_t& open = open_[caller];
  if (open >= per_caller_) {
    return absl::ResourceExhaustedError(
        fmt::format("{} already has {} open streams (StreamFlows and StreamEvents together, at "
                    "most {} per caller); close one before opening another",
                    caller, open, per_caller_));
  }
  ++open;
  return std::make_unique<Slot>(*this, caller);
}

size_t StreamQuota::open(const std::string& caller) const {
  std::scoped_lock lock(mutex_);
  auto it = open_.find(caller);
  return it == open_.end() ? 0 : it->second;
}

void StreamQuota::Release(const std::string& caller) {
  std::scoped_lock lock(mutex_);
  auto it = open_.find(caller);
  if (it != open_.end() && --it->second == 0) {
    open_.erase(it);
  }
}

}  // namespace bulkhead::agent::api
