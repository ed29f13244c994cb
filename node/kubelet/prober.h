// A container's probes as a kubelet runs them: one probe of a pod's Probe
// object (exec through the runtime, httpGet over HTTP or HTTPS, tcpSocket)
// bounded by its timeoutSeconds, and the state one probe keeps across runs
// (initial delay, period, success and failure thresholds).
#ifndef BULKHEAD_NODE_KUBELET_PROBER_H_
#define BULKHEAD_NODE_KUBELET_PROBER_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "nlohmann/json.hpp"

namespace bulkhead::node {

enum class ProbeResult { kSuccess, kFailure };

struct ProbeOutcome {
  ProbeResult result = ProbeResult::kFailure;
  // Why it failed, in a kubelet's words without the probe's kind: "HTTP
  // probe failed with statuscode: 500", "dial tcp 10.1.2.3:81: connect:
  // connection refused", "command \"cat /tmp/ok\" exited with 1: <output>".
  // Empty on success. ProbeEventMessage adds the "<Kind> probe failed: ".
  std::string message;
};

// "Readiness probe failed: <message>" for `kind` "Readiness", "Liveness"
// or "Startup", as the kubelet's Unhealthy event says it.
std::string ProbeEventMessage(const std::string& kind, const ProbeOutcome& outcome);

// Runs `command` in the container and returns its exit code and combined
// output (the pod worker passes CRI ExecSync with `timeout`). A
// DEADLINE_EXCEEDED status is reported as the command timing out.
using ProbeExec = std::function<StatusOr<std::pair<int, std::string>>(
    const std::vector<std::string>& command, std::chrono::seconds timeout)>;

// One run of `probe` (the Kubernetes Probe JSON) for `container` (its
// spec, whose ports[].name resolve named ports) of a pod at `pod_ip`:
//   exec.command        through `exec`; exit code 0 is success
//   httpGet             GET path on host (default pod_ip):port, scheme HTTP
//                       or HTTPS (TLS without verifying the certificate),
//                       httpHeaders sent; 200 <= status < 400 is success and
//                       redirects are not followed
//   tcpSocket           a connection to host:port is success
//   grpc                failure: gRPC probes are not supported
// Network probes never take longer than timeoutSeconds (default 1) plus a
// few milliseconds; an exec probe is bounded by `exec` honouring its
// timeout. Never throws: a malformed probe is a failure saying why.
ProbeOutcome RunProbe(const nlohmann::json& probe, const nlohmann::json& container,
                      const std::string& pod_ip, const ProbeExec& exec);

// The probe's timeoutSeconds (at least 1, default 1).
std::chrono::seconds ProbeTimeout(const nlohmann::json& probe);

// The state of one probe of one container instance, as a kubelet keeps it:
// no probe before initialDelaySeconds from the container's start, then one
// every periodSeconds (default 10) after the previous one; the overall
// result turns to success after successThreshold (default 1) consecutive
// successes and to failure after failureThreshold (default 3) consecutive
// failures. A restarted container gets a new tracker.
class ProbeTracker {
 public:
  // `initially_succeeded` is the result before any threshold is reached:
  // false for readiness and startup probes, true for liveness probes.
  ProbeTracker(nlohmann::json probe, bool initially_succeeded);

  // Whether a probe is due at `now` for a container started at `started`.
  bool Due(std::chrono::steady_clock::time_point now,
           std::chrono::steady_clock::time_point started) const;
  // Records an outcome of a probe run at `now` (best the time it began, so
  // that periods do not drift by the probe's duration); true when the
  // overall result changed.
  bool Record(const ProbeOutcome& outcome, std::chrono::steady_clock::time_point now);
  // The overall result after thresholds.
  bool succeeded() const { return succeeded_; }
  // When the next probe is due for a container started at `started`.
  std::chrono::steady_clock::time_point next_due(
      std::chrono::steady_clock::time_point started) const;
  // The message of the last outcome recorded ("" before any, or after a
  // success).
  const std::string& last_message() const { return last_message_; }
  // The probe object, to pass to RunProbe.
  const nlohmann::json& probe() const { return probe_; }

 private:
  nlohmann::json probe_;
  std::chrono::seconds initial_delay_;
  std::chrono::seconds period_;
  int success_threshold_;
  int failure_threshold_;
  bool succeeded_;
  std::optional<ProbeResult> last_result_;
  int run_ = 0;  // consecutive outcomes equal to last_result_
  std::optional<std::chrono::steady_clock::time_point> last_probe_;
  std::string last_message_;
};

}  // namespace bulkhead::node

#endif  // BULKHEAD_NODE_KUBELET_PROBER_H_
