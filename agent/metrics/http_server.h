// A small HTTP/1.0 server for GET /metrics, on its own thread.
//
// Plain HTTP, meant for loopback or the node's own network (the default
// --metrics-listen is 127.0.0.1:9444). Every connection is non-blocking and
// has one deadline for its whole life (request in, answer out): a client
// that sends nothing, or asks and never reads, is cut off at it, and the
// others are served meanwhile. At most `max_connections` are open; a new
// one beyond that replaces the oldest. A request must fit in 8 KiB.
//
// Who sees what (docs/agent-api.md): a request with
// `Authorization: Bearer <token>` matching the token file gets every
// series, tenant-labelled ones included; a request without Authorization
// gets the node-level series only (no tenant names); a wrong token, or a
// token when no token file is set, gets 401.
#ifndef BULKHEAD_AGENT_METRICS_HTTP_SERVER_H_
#define BULKHEAD_AGENT_METRICS_HTTP_SERVER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/metrics/prometheus_text.h"
#include "common/status.h"
#include "common/unique_fd.h"

namespace bulkhead::agent::metrics {

struct MetricsServerOptions {
  // IPv4 "address:port"; port 0 picks a free port.
  std::string listen;
  // A file holding the bearer token that unlocks the tenant series (read
  // at start and again when it changes); empty: none does.
  std::string token_file;
  std::chrono::milliseconds deadline{10'000};
  size_t max_connections = 64;
};

class MetricsServer {
 public:
  using Render = std::function<std::string(MetricsScope)>;

  static StatusOr<std::unique_ptr<MetricsServer>> Start(const MetricsServerOptions& options,
                                                        Render render);
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  ~MetricsServer();

  [[nodiscard]] int port() const { return port_; }

 private:
  struct Connection;
  MetricsServer(UniqueFd listener, UniqueFd stop, int port, MetricsServerOptions options,
                Render render);
  void Loop();
  // Reads what arrived; false when the connection is over.
  bool Receive(Connection& connection);
  // Sends what the socket takes; false when the connection is over.
  static bool Send(Connection& connection);
  [[nodiscard]] std::string Answer(std::string_view request) const;
  // INVALID_ARGUMENT or NOT_FOUND for a bad or unreadable token file.
  [[nodiscard]] StatusOr<std::string> Token() const;

  UniqueFd listener_;
  UniqueFd stop_;  // eventfd: written to stop the loop
  int port_;
  MetricsServerOptions options_;
  Render render_;
  std::thread thread_;
};

}  // namespace bulkhead::agent::metrics

#endif  // BULKHEAD_AGENT_METRICS_HTTP_SERVER_H_
