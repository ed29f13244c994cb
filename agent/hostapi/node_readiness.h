// The node taint that keeps pods off a node until its agent enforces:
// `bulkhead.io/agent-not-ready:NoSchedule`, put on the node when it
// registers (kubelet --register-with-taints). Pods started on a node before
// its agent attached its programs would run without isolation (after a
// reboot, say); with the taint the scheduler places none there until the
// agent, its programs attached, removes it.
//
// The agent removes it from its own Node object with a JSON patch that
// tests the taint's key at the index it was read from, so a concurrent
// change of the taints makes the patch fail instead of removing another
// taint; failures are retried with back-off on a thread of its own, so
// the host API never holds up enforcement.
#ifndef BULKHEAD_AGENT_HOSTAPI_NODE_READINESS_H_
#define BULKHEAD_AGENT_HOSTAPI_NODE_READINESS_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/hostapi/host_config.h"
#include "common/status.h"

namespace bulkhead::agent::hostapi {

using ::bulkhead::hostapi::HostApiConfig;

inline constexpr std::string_view kAgentNotReadyTaint = "bulkhead.io/agent-not-ready";

// One attempt: reads Node `node` and removes the taint if it is there. OK
// when the taint is gone (or was never there); NOT_FOUND when the Node is
// not known (yet); UNAVAILABLE, ABORTED (the taints changed meanwhile) or
// PERMISSION_DENIED otherwise.
Status RemoveAgentNotReadyTaint(const HostApiConfig& config, const std::string& node);

struct Backoff {
  std::chrono::milliseconds first{500};
  std::chrono::milliseconds max{30'000};
};

// Calls RemoveAgentNotReadyTaint on its own thread until it succeeds,
// waiting first, 2*first, ... up to max between attempts; stops when
// destroyed.
class NodeReadiness {
 public:
  NodeReadiness(HostApiConfig config, std::string node, Backoff backoff = {});
  ~NodeReadiness();
  NodeReadiness(const NodeReadiness&) = delete;
  NodeReadiness& operator=(const NodeReadiness&) = delete;

 private:
  void Run();

  const HostApiConfig config_;
  const std::string node_;
  const Backoff backoff_;
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace bulkhead::agent::hostapi

#endif  // BULKHEAD_AGENT_HOSTAPI_NODE_READINESS_H_
