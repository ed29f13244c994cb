// The one IO thread of an UpstreamProxy, shared by its relays and tunnels
// (upstream_proxy.cpp, upstream_tunnel.cpp); internal to them.
#ifndef BULKHEAD_CONTROLPLANE_HTTP_UPSTREAM_LOOP_H_
#define BULKHEAD_CONTROLPLANE_HTTP_UPSTREAM_LOOP_H_

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <thread>

#include "controlplane/http/upstream_proxy.h"

namespace bulkhead::controlplane {

struct UpstreamProxy::Loop {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  boost::asio::ssl::context tls{boost::asio::ssl::context::tls_client};
  std::thread thread;
};

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_HTTP_UPSTREAM_LOOP_H_
