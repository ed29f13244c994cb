// Relays a GET to an HTTPS upstream (a node's kubelet endpoint) and its
// answer back to a client, as the API server proxies pods/log; and tunnels
// an upgraded connection (pods/exec, attach, portforward) to it.
//
// One IO thread runs every relay asynchronously: a relay holds no thread
// while it waits for the node or the client. The caller (a handler
// thread) waits only for the answer's head, at most `head_timeout`; a 2xx
// answer's body then flows on into the client's ResponseStream chunk by
// chunk, held back while the stream's queue is high (the stream is bounded,
// so nothing is buffered past it), and ends when either side closes.
// Known gap: the upstream's certificate is not verified (nodes serve
// self-signed ones).
#ifndef BULKHEAD_CONTROLPLANE_HTTP_UPSTREAM_PROXY_H_
#define BULKHEAD_CONTROLPLANE_HTTP_UPSTREAM_PROXY_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "controlplane/http/http_message.h"

namespace bulkhead::controlplane {

struct UpstreamRequest {
  std::string host;  // an address or name
  uint16_t port = 0;
  std::string method = "GET";  // Relay: always GET
  std::string target;          // path and query, already percent-encoded
  // Tunnel: the client's protocol headers to pass on.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string bearer_token;
  // Without it a quiet body ends after `idle_timeout`.
  bool follow = false;
  std::chrono::milliseconds head_timeout{15000};
  std::chrono::milliseconds idle_timeout{60000};
  // Tunnel: each write to the upstream must end within it.
  std::chrono::milliseconds write_timeout{60000};
  // Tunnel: whose it is (the user), for the per-owner bound.
  std::string owner;
};

struct UpstreamLimits {
  size_t max_relays = 256;   // Relay: open at once
  size_t max_tunnels = 256;  // Tunnel: open at once, apart from the relays
  size_t max_tunnels_per_owner = 32;
  // Callers waiting for an answer at once (each holds a handler thread),
  // in all and for one upstream (host:port): a node that never answers
  // holds only its own share.
  size_t max_waiting = 6;
  size_t max_waiting_per_upstream = 2;
};

struct UpstreamHead {
  // 0: no answer (could not connect, timed out: `error` says).
  int status = 0;
  std::string content_type;
  std::string body;  // of an answer other than 2xx, its first 64 KiB
  std::string error;
  // Refused at once: too many relays open, or too many callers waiting for
  // heads (each holds a handler thread).
  bool overloaded = false;
};

class UpstreamProxy {
 public:
  // Past a limit, Relay and Tunnel answer `overloaded`.
  explicit UpstreamProxy(UpstreamLimits limits = {});
  ~UpstreamProxy();
  UpstreamProxy(const UpstreamProxy&) = delete;
  UpstreamProxy& operator=(const UpstreamProxy&) = delete;

  // Sends the request and waits for the head. For a 2xx answer `start` is
  // called (on this thread) and returns the stream the body goes to; the
  // relay goes on after Relay returns.
  UpstreamHead Relay(
      const UpstreamRequest& request,
      const std::function<std::shared_ptr<ResponseStream>(const UpstreamHead&)>& start);

  // For a request that switches protocols (exec, attach, port-forward):
  // connects to the upstream and sends the request head (the caller's
  // `headers`, the bearer token), waiting at most `head_timeout`; then
  // takes the client's connection over (`take_over`, on this thread) and
  // from there relays the upstream's answer to the client, and once it is
  // 101 (switched) raw bytes both ways, until either side closes; the
  // client's bytes never reach an upstream that did not switch. The
  // upstream must answer within `head_timeout`, and take each write within
  // `write_timeout`. The tunnel goes on after Tunnel returns. Returns
  // status 101 once handed over; else status 0 with `error` (or
  // `overloaded`), the client untouched so the caller answers.
  UpstreamHead Tunnel(const UpstreamRequest& request,
                      const std::function<std::shared_ptr<RawConnection>()>& take_over);

  size_t open_relays() const { return open_->load(); }
  size_t open_tunnels() const;

  // Internal to the proxy's files (upstream_loop.h): its IO thread, the
  // counts of waiting callers and open tunnels, and a caller's place among
  // those waiting.
  struct Loop;
  struct Counts;
  class Waiting;

 private:
  std::unique_ptr<Loop> loop_;
  UpstreamLimits limits_;
  std::shared_ptr<std::atomic<size_t>> open_;
  std::shared_ptr<Counts> counts_;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_HTTP_UPSTREAM_PROXY_H_
