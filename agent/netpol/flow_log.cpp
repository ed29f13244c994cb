#include "agent/netpol/flow_log.h"

#include <bpf/libbpf.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include "common/logging.h"
#include "fmt/format.h"
#include "netpol/netpol_structs.h"

namespace bulkhead::agent::netpol {
namespace {

std::chrono::nanoseconds ClockNow(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

bool FlowFilter::Matches(const FlowRecord& r) const {
  if (!tenant.empty() && r.src_tenant != tenant && r.dst_tenant != tenant) {
    return false;
  }
  if (!pod.empty() && r.src_pod != pod && r.dst_pod != pod) {
    return false;
  }
  if (verdict && r.verdict != *verdict) {
    return false;
  }
  if (port && r.src_port != *port && r.dst_port != *port) {
    return false;
  }
  if (protocol && r.protocol != *protocol) {
    return false;
  }
  return !since || r.time >= *since;
}

FlowLog::FlowLog(const Datapath& datapath, size_t capacity)
    : datapath_(datapath),
      capacity_(capacity),
      monotonic_to_realtime_(ClockNow(CLOCK_REALTIME) - ClockNow(CLOCK_MONOTONIC)) {}

StatusOr<std::unique_ptr<FlowLog>> FlowLog::Create(const Datapath& datapath, size_t capacity) {
  if (capacity == 0) {
    return absl::InvalidArgumentError("flow log capacity must be at least 1");
  }
  std::unique_ptr<FlowLog> log(new FlowLog(datapath, capacity));
  errno = 0;
  log->ring_ = ring_buffer__new(datapath.flow_events_fd(), &FlowLog::OnRecord, log.get(), nullptr);
  if (log->ring_ == nullptr) {
    return ErrnoError(errno != 0 ? errno : EINVAL, "open the flow record ring buffer");
  }
  return log;
}

FlowLog::~FlowLog() {
  Stop();
  ring_buffer__free(ring_);
}

int FlowLog::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<FlowLog*>(ctx);
  if (size < sizeof(netpol_flow_record)) {
    return 0;
  }
  netpol_flow_record raw{};
  std::memcpy(&raw, data, sizeof(raw));
  FlowRecord record;
  record.time = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(raw.timestamp_ns) + self->monotonic_to_realtime_));
  record.node = self->datapath_.options().node_name;
  record.src_tenant = self->datapath_.TenantName(raw.src_tenant);
  record.dst_tenant = self->datapath_.TenantName(raw.dst_tenant);
  record.src_pod = self->datapath_.PodName(raw.src_pod);
  record.dst_pod = self->datapath_.PodName(raw.dst_pod);
  IpAddress::Bytes bytes{};
  std::memcpy(bytes.data(), raw.saddr, bytes.size());
  record.src_address = IpAddress(bytes);
  std::memcpy(bytes.data(), raw.daddr, bytes.size());
  record.dst_address = IpAddress(bytes);
  record.src_port = raw.sport;
  record.dst_port = raw.dport;
  record.protocol = static_cast<Protocol>(raw.proto);
  record.verdict = static_cast<Verdict>(raw.verdict);
  record.reason = static_cast<Reason>(raw.reason);
  record.hook = static_cast<Hook>(raw.hook);
  self->Add(std::move(record));
  return 0;
}

void FlowLog::Add(FlowRecord record) {
  if (listener_) {
    listener_(record);
  }
  std::lock_guard lock(mutex_);
  records_.push_back(std::move(record));
  ++received_;
  if (records_.size() > capacity_) {
    records_.pop_front();
    ++evicted_;
  }
}

StatusOr<int> FlowLog::Poll(std::chrono::milliseconds timeout) {
  int n = ring_buffer__poll(ring_, static_cast<int>(timeout.count()));
  if (n < 0 && n != -EINTR) {
    return ErrnoError(-n, "poll the flow record ring buffer");
  }
  return n < 0 ? 0 : n;
}

void FlowLog::Start() {
  if (running_.exchange(true)) {
    return;
  }
  poller_ = std::thread([this] {
    while (running_) {
      auto polled = Poll(std::chrono::milliseconds(100));
      if (!polled.ok()) {
        Logger(Component::kFlows).error("flow poll failed error=\"{}\"", polled.status());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
}

void FlowLog::Stop() {
  if (running_.exchange(false) && poller_.joinable()) {
    poller_.join();
  }
}

std::vector<FlowRecord> FlowLog::Recent(const FlowFilter& filter, size_t limit) const {
  std::lock_guard lock(mutex_);
  std::vector<FlowRecord> out;
  for (const FlowRecord& record : records_) {
    if (filter.Matches(record)) {
      out.push_back(record);
    }
  }
  if (limit > 0 && out.size() > limit) {
    out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(limit));
  }
  return out;
}

}  // namespace bulkhead::agent::netpol
