// Flow records on their way from the kernel to API clients: a bounded ring
// of recent records (for StreamFlows without --follow) and a fan-out to
// following streams. The agent's flow reader publishes every record here.
#ifndef BULKHEAD_AGENT_API_FLOW_HUB_H_
#define BULKHEAD_AGENT_API_FLOW_HUB_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "agent/netpol/flow_log.h"
#include "agent/netpol/model.h"

namespace bulkhead::agent::api {

class FlowHub {
 public:
  static constexpr size_t kDefaultCapacity = 10000;
  using Listener = std::function<void(const netpol::FlowRecord&)>;

  explicit FlowHub(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  // Keeps the record and hands it to every listener (on the caller's
  // thread, under the hub's lock: listeners must only queue).
  void Publish(const netpol::FlowRecord& record);

  // Oldest first; at most `limit` of the newest matches (0: all kept).
  [[nodiscard]] std::vector<netpol::FlowRecord> Recent(const netpol::FlowFilter& filter,
                                                       size_t limit) const;

  // Recent(filter, limit) and a listener for every later record, taken
  // together so no record is missed or repeated in between.
  std::uint64_t Subscribe(const netpol::FlowFilter& filter, size_t limit, Listener listener,
                          std::vector<netpol::FlowRecord>& history);
  // After it returns the listener is never called again.
  void Unsubscribe(std::uint64_t id);

  [[nodiscard]] std::uint64_t evicted() const;

 private:
  [[nodiscard]] std::vector<netpol::FlowRecord> RecentLocked(const netpol::FlowFilter& filter,
                                                             size_t limit) const;

  const size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<netpol::FlowRecord> records_;
  std::uint64_t evicted_ = 0;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::pair<netpol::FlowFilter, Listener>> listeners_;
};

}  // namespace bulkhead::agent::api

#endif  // BULKHEAD_AGENT_API_FLOW_HUB_H_
