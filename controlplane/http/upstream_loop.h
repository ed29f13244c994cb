// The one IO thread of an UpstreamProxy, shared by its relays and tunnels
// (upstream_proxy.cpp, upstream_tunnel.cpp); internal to them.
#ifndef BULKHEAD_CONTROLPLANE_HTTP_UPSTREAM_LOOP_H_
#define BULKHEAD_CONTROLPLANE_HTTP_UPSTREAM_LOOP_H_

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "controlplane/http/upstream_proxy.h"

namespace bulkhead::controlplane {

struct UpstreamProxy::Loop {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  boost::asio::ssl::context tls{boost::asio::ssl::context::tls_client};
  std::thread thread;
};

// Callers waiting and tunnels open, in all and by upstream or owner.
struct UpstreamProxy::Counts {
  std::mutex mu;
  size_t waiting = 0;
  std::map<std::string, size_t> waiting_by_upstream;
  size_t tunnels = 0;
  std::map<std::string, size_t> tunnels_by_owner;

  static void Drop(std::map<std::string, size_t>& by, const std::string& key) {
    if (auto it = by.find(key); it != by.end() && --it->second == 0) {
      by.erase(it);
    }
  }
};

class UpstreamProxy::Waiting {
 public:
  Waiting(Counts& counts, const UpstreamLimits& limits, std::string upstream)
      : counts_(counts), upstream_(std::move(upstream)) {
    std::lock_guard lock(counts_.mu);
    size_t& mine = counts_.waiting_by_upstream[upstream_];
    taken_ = counts_.waiting < limits.max_waiting && mine < limits.max_waiting_per_upstream;
    if (taken_) {
      ++counts_.waiting;
      ++mine;
    } else if (mine == 0) {
      counts_.waiting_by_upstream.erase(upstream_);
    }
  }
  ~Waiting() {
    if (taken_) {
      std::lock_guard lock(counts_.mu);
      --counts_.waiting;
      Counts::Drop(counts_.waiting_by_upstream, upstream_);
    }
  }
  Waiting(const Waiting&) = delete;
  Waiting& operator=(const Waiting&) = delete;
  [[nodiscard]] bool taken() const { return taken_; }

 private:
  Counts& counts_;
  std::string upstream_;
  bool taken_ = false;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_HTTP_UPSTREAM_LOOP_H_
