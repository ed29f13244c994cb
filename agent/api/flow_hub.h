// Flow records on their way from the kernel to API clients: a bounded ring
// of recent records (for StreamFlows without --follow) and a fan-out to
// following streams. The agent's flow reader publishes every record here.
//
// Fair between tenants: a record is charged to its source tenant (the
// destination tenant when the source is none), and each tenant keeps at
// most `per_tenant` records; when the whole ring is full the tenant holding
// the most records loses its oldest. So one tenant's flood pushes out only
// its own records.
//
// Publishing never runs a stream's code: it appends the record to each
// matching subscription's bounded queue (a full queue drops the record and
// counts it for that subscription) and, when that queue was empty, calls
// the subscription's wake function with no hub lock held. The stream drains
// its queue on its own thread.
#ifndef BULKHEAD_AGENT_API_FLOW_HUB_H_
#define BULKHEAD_AGENT_API_FLOW_HUB_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/netpol/flow_log.h"
#include "agent/netpol/model.h"

namespace bulkhead::agent::api {

// One following stream's queue of records.
class FlowSubscription {
 public:
  static constexpr size_t kMaxQueued = 1024;
  using Wake = std::function<void(const std::shared_ptr<FlowSubscription>&)>;

  FlowSubscription(netpol::FlowFilter filter, Wake wake)
      : filter_(std::move(filter)), wake_(std::move(wake)) {}

  // Every queued record, oldest first; the queue is empty afterwards.
  std::vector<netpol::FlowRecord> Take();
  // Records that did not fit in the queue.
  [[nodiscard]] std::uint64_t dropped() const;
  [[nodiscard]] const netpol::FlowFilter& filter() const { return filter_; }

 private:
  friend class FlowHub;
  // Queues the record; true when the queue was empty (the stream must be woken).
  bool Offer(const netpol::FlowRecord& record);

  const netpol::FlowFilter filter_;
  const Wake wake_;
  mutable std::mutex mutex_;
  std::deque<netpol::FlowRecord> queue_;
  std::uint64_t dropped_ = 0;
};

class FlowHub {
 public:
  static constexpr size_t kDefaultCapacity = 10000;
  static constexpr size_t kDefaultPerTenant = 2000;

  explicit FlowHub(size_t capacity = kDefaultCapacity, size_t per_tenant = kDefaultPerTenant)
      : capacity_(capacity), per_tenant_(std::min(per_tenant, capacity)) {}

  // Keeps the record and queues it for every matching subscription.
  void Publish(const netpol::FlowRecord& record);

  // Oldest first; at most `limit` of the newest matches (0: all kept).
  [[nodiscard]] std::vector<netpol::FlowRecord> Recent(const netpol::FlowFilter& filter,
                                                       size_t limit) const;

  // Recent(filter, limit) and a subscription for every later matching
  // record, taken together so no record is missed or repeated in between.
  std::shared_ptr<FlowSubscription> Subscribe(const netpol::FlowFilter& filter, size_t limit,
                                              FlowSubscription::Wake wake,
                                              std::vector<netpol::FlowRecord>& history);
  // After it returns no record is queued for the subscription again.
  void Unsubscribe(const std::shared_ptr<FlowSubscription>& subscription);

  // Records pushed out of the ring, in all and per charged tenant.
  [[nodiscard]] std::uint64_t evicted() const;
  [[nodiscard]] std::map<std::string, std::uint64_t> EvictedByTenant() const;
  [[nodiscard]] size_t subscriptions() const;

  // The tenant a record counts against.
  static const std::string& ChargedTenant(const netpol::FlowRecord& record);

 private:
  struct Kept {
    std::uint64_t seq;
    netpol::FlowRecord record;
  };
  [[nodiscard]] std::vector<netpol::FlowRecord> RecentLocked(const netpol::FlowFilter& filter,
                                                             size_t limit) const;
  void EvictOldestOf(const std::string& tenant);

  const size_t capacity_;
  const size_t per_tenant_;
  mutable std::mutex mutex_;
  std::map<std::string, std::deque<Kept>> by_tenant_;
  std::set<std::pair<size_t, std::string>> sizes_;  // (records kept, tenant)
  size_t kept_ = 0;
  std::uint64_t next_seq_ = 0;
  std::uint64_t evicted_ = 0;
  std::map<std::string, std::uint64_t> evicted_by_tenant_;
  std::set<std::shared_ptr<FlowSubscription>> subscriptions_;
};

}  // namespace bulkhead::agent::api

#endif  // BULKHEAD_AGENT_API_FLOW_HUB_H_
