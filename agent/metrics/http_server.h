// A minimal HTTP/1.0 server for GET /metrics, on its own thread.
//
// Plain HTTP, meant for loopback (the default --metrics-listen is
// 127.0.0.1:9444): metrics carry tenant names, and a scraper on another
// machine should reach them through a TLS-terminating proxy or the node's
// own Prometheus agent. One request per connection, served one at a time;
// a request must arrive within 2 s and fit in 8 KiB.
#ifndef BULKHEAD_AGENT_METRICS_HTTP_SERVER_H_
#define BULKHEAD_AGENT_METRICS_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"
#include "common/unique_fd.h"

namespace bulkhead::agent::metrics {

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  // `listen` is IPv4 "address:port"; port 0 picks a free port.
  static StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen, Render render);
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  ~MetricsServer();

  [[nodiscard]] int port() const { return port_; }

 private:
  MetricsServer(UniqueFd listener, UniqueFd stop, int port, Render render);
  void Loop();
  void Serve(int fd);

  UniqueFd listener_;
  UniqueFd stop_;  // eventfd: written to stop the loop
  int port_;
  Render render_;
  std::thread thread_;
};

}  // namespace bulkhead::agent::metrics

#endif  // BULKHEAD_AGENT_METRICS_HTTP_SERVER_H_
