// UpstreamProxy::Tunnel: an upgraded connection relayed to a node.
#include <openssl/ssl.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <future>
#include <utility>

#include "common/logging.h"
#include "controlplane/http/upstream_dial.h"
#include "controlplane/http/upstream_loop.h"
#include "controlplane/http/upstream_proxy.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// A header value as it may go on the wire: no line breaks.
bool SafeValue(const std::string& text) { return text.find_first_of("\r\n") == std::string::npos; }

class TunnelSession : public std::enable_shared_from_this<TunnelSession> {
 public:
  TunnelSession(asio::io_context& io, ssl::context& tls, UpstreamRequest request,
                std::shared_ptr<UpstreamProxy::Counts> counts)
      : io_(io),
        request_(std::move(request)),
        resolver_(io),
        stream_(io, tls),
        counts_(std::move(counts)) {}
  ~TunnelSession() {
    std::lock_guard lock(counts_->mu);
    --counts_->tunnels;
    UpstreamProxy::Counts::Drop(counts_->tunnels_by_owner, request_.owner);
  }
  TunnelSession(const TunnelSession&) = delete;
  TunnelSession& operator=(const TunnelSession&) = delete;

  // "" once the request's head is written, else why not.
  std::future<std::string> connected() { return connected_.get_future(); }

  void Start() {
    DialUpstream(resolver_, stream_, request_,
                 [self = shared_from_this()](const std::string& error) {
                   if (!error.empty()) {
                     self->Fail(error);
                     return;
                   }
                   self->WriteHead();
                 });
  }

  // The client's connection, once handed over: the upstream's answer goes
  // to it; the client's bytes go up only once that answer is a 101.
  void Attach(std::shared_ptr<RawConnection> client) {
    client_ = std::move(client);
    if (closed_ || client_ == nullptr) {
      Close();
      return;
    }
    // The answer must come within the head timeout.
    beast::get_lowest_layer(stream_).expires_after(request_.head_timeout);
    ToClient();
  }

  void Close() {
    if (closed_) {
      return;
    }
    closed_ = true;
    resolver_.cancel();
    beast::get_lowest_layer(stream_).close();
    if (client_ != nullptr) {
      client_->Close();
    }
  }

 private:
  static constexpr std::string_view kSwitched = "HTTP/1.1 101";

  std::string HostPort() const { return UpstreamHostPort(request_.host, request_.port); }

  void Fail(const std::string& error) {
    if (!answered_) {
      answered_ = true;
      connected_.set_value(error);
    }
    Close();
  }

  void WriteHead() {
    head_ = fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: bulkhead-controlplane\r\n",
                        request_.method, request_.target, HostPort());
    if (!request_.bearer_token.empty()) {
      head_ += fmt::format("Authorization: Bearer {}\r\n", request_.bearer_token);
    }
    for (const auto& [name, value] : request_.headers) {
      if (SafeValue(name) && SafeValue(value)) {
        head_ += fmt::format("{}: {}\r\n", name, value);
      }
    }
    head_ += "\r\n";
    asio::async_write(
        stream_, asio::buffer(head_),
        [self = shared_from_this()](beast::error_code write_ec, size_t) {
          if (write_ec) {
            self->Fail(fmt::format("writing to {}: {}", self->HostPort(), write_ec.message()));
            return;
          }
          self->answered_ = true;
          self->connected_.set_value("");
        });
  }

  // The first bytes of the node's answer decide: a 101 opens the way up.
  void Look(std::string_view bytes) {
    if (decided_) {
      return;
    }
    status_line_.append(bytes.substr(0, kSwitched.size() - status_line_.size()));
    if (status_line_.size() < kSwitched.size()) {
      return;
    }
    decided_ = true;
    if (!writing_) {
      beast::get_lowest_layer(stream_).expires_never();
    }
    // "HTTP/1.x 101"; any other answer reaches the client, then the node
    // closes and so does the tunnel.
    if (status_line_.substr(8) == kSwitched.substr(8)) {
      ToUpstream();
    }
  }

  // The node's bytes to the client, one read at a time: the next read waits
  // until the client took the last one.
  void ToClient() {
    stream_.async_read_some(
        asio::buffer(from_upstream_), [self = shared_from_this()](beast::error_code ec, size_t n) {
          if (ec || self->closed_) {
            self->Close();
            return;
          }
          self->Look(std::string_view(self->from_upstream_.data(), n));
          asio::io_context::executor_type io = self->io_.get_executor();
          self->client_->Write(std::string(self->from_upstream_.data(), n), [self, io](bool ok) {
            asio::post(io, [self, ok] {
              if (!ok || self->closed_) {
                self->Close();
              } else {
                self->ToClient();
              }
            });
          });
        });
  }

  // The client's bytes to the node, likewise; a write the node does not
  // take within the write timeout ends the tunnel (a stalled node would
  // otherwise keep it, and the client's gone connection, forever).
  void ToUpstream() {
    asio::io_context::executor_type io = io_.get_executor();
    client_->Read([self = shared_from_this(), io](std::string bytes) {
      asio::post(io, [self, bytes = std::make_shared<std::string>(std::move(bytes))] {
        if (bytes->empty() || self->closed_) {
          self->Close();
          return;
        }
        self->writing_ = true;
        beast::get_lowest_layer(self->stream_).expires_after(self->request_.write_timeout);
        asio::async_write(self->stream_, asio::buffer(*bytes),
                          [self, bytes](beast::error_code ec, size_t) {
                            self->writing_ = false;
                            if (ec || self->closed_) {
                              self->Close();
                              return;
                            }
                            beast::get_lowest_layer(self->stream_).expires_never();
                            self->ToUpstream();
                          });
      });
    });
  }

  asio::io_context& io_;
  UpstreamRequest request_;
  tcp::resolver resolver_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  std::string head_;
  std::promise<std::string> connected_;
  bool answered_ = false;
  std::shared_ptr<RawConnection> client_;
  std::array<char, size_t{16} << 10> from_upstream_{};
  std::string status_line_;  // the answer's first bytes
  bool decided_ = false;
  bool writing_ = false;
  bool closed_ = false;
  std::shared_ptr<UpstreamProxy::Counts> counts_;
};

}  // namespace

UpstreamHead UpstreamProxy::Tunnel(
    const UpstreamRequest& request,
    const std::function<std::shared_ptr<RawConnection>()>& take_over) {
  UpstreamHead refused;
  refused.overloaded = true;
  auto waiting = std::make_unique<Waiting>(*counts_, limits_,
                                           fmt::format("{}:{}", request.host, request.port));
  if (!waiting->taken()) {
    refused.error = fmt::format("too many requests to node {}:{} are waiting for an answer",
                                request.host, request.port);
    return refused;
  }
  {
    std::lock_guard lock(counts_->mu);
    size_t& mine = counts_->tunnels_by_owner[request.owner];
    if (counts_->tunnels >= limits_.max_tunnels || mine >= limits_.max_tunnels_per_owner) {
      refused.error = counts_->tunnels >= limits_.max_tunnels
                          ? "too many exec, attach and port-forward sessions are open"
                          : fmt::format("{} has {} exec, attach and port-forward sessions open",
                                        request.owner, mine);
      if (mine == 0) {
        counts_->tunnels_by_owner.erase(request.owner);
      }
      return refused;
    }
    ++counts_->tunnels;
    ++mine;
  }
  // The session gives its counts back when it is destroyed.
  auto session = std::make_shared<TunnelSession>(loop_->io, loop_->tls, request, counts_);
  std::future<std::string> connected = session->connected();
  asio::post(loop_->io, [session] { session->Start(); });
  const bool ready = connected.wait_for(request.head_timeout + std::chrono::seconds(1)) ==
                     std::future_status::ready;
  waiting.reset();
  UpstreamHead head;
  if (!ready) {
    asio::post(loop_->io, [session] { session->Close(); });
    head.error = fmt::format("dial tcp {}:{}: i/o timeout", request.host, request.port);
    return head;
  }
  head.error = connected.get();
  if (!head.error.empty()) {
    return head;
  }
  std::shared_ptr<RawConnection> client = take_over();
  head.status = 101;
  asio::post(loop_->io, [session, client = std::move(client)]() mutable {
    session->Attach(std::move(client));
  });
  return head;
}

size_t UpstreamProxy::open_tunnels() const {
  std::lock_guard lock(counts_->mu);
  return counts_->tunnels;
}

}  // namespace bulkhead::controlplane
