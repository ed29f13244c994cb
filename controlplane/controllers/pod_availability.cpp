#include "controlplane/controllers/pod_availability.h"

#include <algorithm>
#include <boost/json.hpp>
#include <limits>

#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/controllers/object_helpers.h"

namespace bulkhead::controlplane::controllers {

namespace json = boost::json;

std::optional<std::chrono::system_clock::duration> UntilAvailable(
    const json::object& pod, int64_t min_ready_seconds, std::chrono::system_clock::time_point now) {
  const json::object* ready = FindCondition(PathValue(pod, ".status.conditions"), "Ready");
  if (ready == nullptr || StringField(*ready, "status") != "True") {
    return std::nullopt;
  }
  if (min_ready_seconds <= 0) {
    return std::chrono::system_clock::duration::zero();
  }
  auto since = ParseRfc3339(StringField(*ready, "lastTransitionTime"));
  if (!since) {
    return std::nullopt;
  }
  // An int32 in the API (admission bounds it; older objects are cut).
  auto available_at = *since + std::chrono::seconds(std::min<int64_t>(
                                   min_ready_seconds, std::numeric_limits<int32_t>::max()));
  return available_at <= now ? std::chrono::system_clock::duration::zero() : available_at - now;
}

bool AvailabilityCount::Add(const json::object& pod) {
  auto wait = UntilAvailable(pod, min_ready_seconds_, now_);
  if (!wait) {
    return false;
  }
  if (*wait == std::chrono::system_clock::duration::zero()) {
    ++available_;
    return true;
  }
  if (!soonest_ || *wait < *soonest_) {
    soonest_ = *wait;
  }
  return false;
}

std::optional<std::chrono::steady_clock::duration> AvailabilityCount::next_change() const {
  if (!soonest_) {
    return std::nullopt;
  }
  // A little after, so the pass that looks finds the pod available.
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(*soonest_) +
         std::chrono::milliseconds(100);
}

}  // namespace bulkhead::controlplane::controllers
