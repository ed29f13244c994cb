#include "controlplane/http/upstream_dial.h"

#include <openssl/ssl.h>

#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

bool IsAddress(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

std::string UpstreamHostPort(const std::string& host, uint16_t port) {
  return host.find(':') == std::string::npos ? fmt::format("{}:{}", host, port)
                                             : fmt::format("[{}]:{}", host, port);
}

void DialUpstream(tcp::resolver& resolver, UpstreamStream& stream, const UpstreamRequest& request,
                  std::function<void(std::string)> done) {
  beast::get_lowest_layer(stream).expires_after(request.head_timeout);
  const std::string where = UpstreamHostPort(request.host, request.port);
  resolver.async_resolve(
      request.host, std::to_string(request.port),
      [&stream, &request, where, done = std::move(done)](
          beast::error_code ec, const tcp::resolver::results_type& found) mutable {
        if (ec) {
          done(fmt::format("dial tcp {}: lookup: {}", where, ec.message()));
          return;
        }
        beast::get_lowest_layer(stream).async_connect(
            found, [&stream, &request, where, done = std::move(done)](
                       beast::error_code connect_ec, const tcp::endpoint&) mutable {
              if (connect_ec) {
                done(fmt::format("dial tcp {}: connect: {}", where, connect_ec.message()));
                return;
              }
              beast::error_code ignored;
              beast::get_lowest_layer(stream).socket().set_option(
                  asio::socket_base::keep_alive(true), ignored);
              if (!IsAddress(request.host)) {
                // SSL_set_tlsext_host_name without its C cast.
                SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                         TLSEXT_NAMETYPE_host_name, const_cast<char*>(request.host.c_str()));
              }
              stream.async_handshake(
                  asio::ssl::stream_base::client,
                  [where, done = std::move(done)](beast::error_code handshake_ec) {
                    done(handshake_ec ? fmt::format("remote error: tls: {} ({})",
                                                    handshake_ec.message(), where)
                                      : std::string());
                  });
            });
      });
}

}  // namespace bulkhead::controlplane
