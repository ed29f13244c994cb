// The start every relay and tunnel to a node shares (upstream_proxy.cpp,
// upstream_tunnel.cpp; internal to them): resolve, connect, TLS handshake
// (with SNI for a name), within the request's head timeout.
#ifndef BULKHEAD_CONTROLPLANE_HTTP_UPSTREAM_DIAL_H_
#define BULKHEAD_CONTROLPLANE_HTTP_UPSTREAM_DIAL_H_

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <functional>
#include <string>

#include "controlplane/http/upstream_proxy.h"

namespace bulkhead::controlplane {

using UpstreamStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// host:port, an IPv6 address in brackets, as in a URL's authority.
std::string UpstreamHostPort(const std::string& host, uint16_t port);

// `done("")` once `stream` is connected and its handshake done, else
// `done(why)` in Go's words ("dial tcp ...: connect: ..."). The stream's
// deadline is set to the head timeout and left running. Callers keep
// `resolver`, `stream` and `request` alive until `done` (hold the session
// in it).
void DialUpstream(boost::asio::ip::tcp::resolver& resolver, UpstreamStream& stream,
                  const UpstreamRequest& request, std::function<void(std::string)> done);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_HTTP_UPSTREAM_DIAL_H_
