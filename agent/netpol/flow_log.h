// Flow records from the kernel's ring buffer into a bounded in-memory ring
// of recent records, with names resolved. The kernel's per-(source tenant,
// destination tenant, verdict) counters and loss counters are read from the
// Datapath directly; FlowLog adds what userspace itself dropped.
#ifndef BULKHEAD_AGENT_NETPOL_FLOW_LOG_H_
#define BULKHEAD_AGENT_NETPOL_FLOW_LOG_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/netpol/datapath.h"
#include "agent/netpol/model.h"
#include "common/status.h"

struct ring_buffer;

namespace bulkhead::agent::netpol {

struct FlowFilter {
  std::string tenant;  // matches either side
  std::string pod;     // matches either side
  std::optional<Verdict> verdict;
  std::optional<std::uint16_t> port;  // matches either port
  std::optional<Protocol> protocol;
  std::optional<std::chrono::system_clock::time_point> since;

  [[nodiscard]] bool Matches(const FlowRecord& record) const;
};

class FlowLog {
 public:
  static constexpr size_t kDefaultCapacity = 10000;

  static StatusOr<std::unique_ptr<FlowLog>> Create(const Datapath& datapath,
                                                   size_t capacity = kDefaultCapacity);
  FlowLog(const FlowLog&) = delete;
  FlowLog& operator=(const FlowLog&) = delete;
  ~FlowLog();

  // Reads what the kernel has written, waiting up to `timeout` for the
  // first record. Returns how many records were taken.
  StatusOr<int> Poll(std::chrono::milliseconds timeout);
  // Called for every record as it arrives (on the polling thread); set
  // before Start().
  void SetListener(std::function<void(const FlowRecord&)> listener) {
    listener_ = std::move(listener);
  }
  // Polls on a background thread until Stop() or destruction.
  void Start();
  void Stop();

  // Oldest first; at most `limit` of the newest matches (0: all kept).
  [[nodiscard]] std::vector<FlowRecord> Recent(const FlowFilter& filter, size_t limit = 0) const;
  // Records received since creation, and those pushed out of the ring.
  [[nodiscard]] std::uint64_t received() const { return received_; }
  [[nodiscard]] std::uint64_t evicted() const { return evicted_; }

 private:
  FlowLog(const Datapath& datapath, size_t capacity);
  static int OnRecord(void* ctx, void* data, size_t size);
  void Add(FlowRecord record);

  const Datapath& datapath_;
  size_t capacity_;
  ring_buffer* ring_ = nullptr;
  std::chrono::nanoseconds monotonic_to_realtime_{};
  mutable std::mutex mutex_;
  std::deque<FlowRecord> records_;
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> evicted_{0};
  std::function<void(const FlowRecord&)> listener_;
  std::atomic<bool> running_{false};
  std::thread poller_;
};

}  // namespace bulkhead::agent::netpol

#endif  // BULKHEAD_AGENT_NETPOL_FLOW_LOG_H_
