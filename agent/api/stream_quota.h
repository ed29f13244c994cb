// How many streams (StreamFlows and StreamEvents together) one caller may
// hold open at once. A caller is its certificate's role ("tenant:team-a",
// "admin"), so one tenant's idle streams cannot use up the agent's memory
// and fan-out for the others. A refused stream gets RESOURCE_EXHAUSTED.
#ifndef BULKHEAD_AGENT_API_STREAM_QUOTA_H_
#define BULKHEAD_AGENT_API_STREAM_QUOTA_H_

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"

namespace bulkhead::agent::api {

class StreamQuota {
 public:
  // Held while the stream is open; destroying it frees the slot.
  class Slot {
   public:
    Slot(StreamQuota& quota, std::string caller) : quota_(quota), caller_(std::move(caller)) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { quota_.Release(caller_); }

   private:
    StreamQuota& quota_;
    std::string caller_;
  };

  explicit StreamQuota(size_t per_caller) : per_caller_(per_caller) {}

  // RESOURCE_EXHAUSTED when `caller` already holds per_caller streams.
  StatusOr<std::unique_ptr<Slot>> Acquire(const std::string& caller);
  [[nodiscard]] size_t open(const std::string& caller) const;

 private:
  void Release(const std::string& caller);

  const size_t per_caller_;
  mutable std::mutex mutex_;
  std::map<std::string, size_t> open_;
};

}  // namespace bulkhead::agent::api

#endif  // BULKHEAD_AGENT_API_STREAM_QUOTA_H_
