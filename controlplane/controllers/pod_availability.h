// When a pod counts as available: ready without a break for the workload's
// minReadySeconds, as Kubernetes' IsPodAvailable. Nothing announces that
// moment, so a controller counting available pods also learns when to look
// again.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_POD_AVAILABILITY_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_POD_AVAILABILITY_H_

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>

namespace bulkhead::controlplane::controllers {

// How long until `pod` counts as available: its Ready condition True since
// (lastTransitionTime) `min_ready_seconds` before `now`. Zero when it is
// available, nullopt when it is not ready, or ready with no time to count
// from while min_ready_seconds is above zero (then it never becomes
// available, as in Kubernetes).
std::optional<std::chrono::system_clock::duration> UntilAvailable(
    const boost::json::object& pod, int64_t min_ready_seconds,
    std::chrono::system_clock::time_point now);

// Counts the available pods of one workload in one pass.
class AvailabilityCount {
 public:
  explicit AvailabilityCount(int64_t min_ready_seconds)
      : min_ready_seconds_(min_ready_seconds), now_(std::chrono::system_clock::now()) {}

  // Counts `pod`; true when it is available.
  bool Add(const boost::json::object& pod);
  [[nodiscard]] int64_t available() const { return available_; }
  // When the first pod that is ready but not yet available becomes so.
  [[nodiscard]] std::optional<std::chrono::steady_clock::duration> next_change() const;

 private:
  const int64_t min_ready_seconds_;
  const std::chrono::system_clock::time_point now_;
  int64_t available_ = 0;
  std::optional<std::chrono::system_clock::duration> soonest_;
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_POD_AVAILABILITY_H_
