#include "controlplane/http/upstream_proxy.h"

#include <openssl/ssl.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "common/logging.h"
#include "controlplane/http/upstream_dial.h"
#include "controlplane/http/upstream_loop.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// The body of an error answer kept for the client.
constexpr size_t kMaxErrorBody = size_t{64} << 10;
// Past this many bytes queued for the client, reading the upstream waits.
constexpr size_t kHighWater = size_t{256} << 10;
constexpr std::chrono::milliseconds kBackOff{20};

class RelaySession : public std::enable_shared_from_this<RelaySession> {
 public:
  RelaySession(asio::io_context& io, ssl::context& tls, UpstreamRequest request,
               std::shared_ptr<std::atomic<size_t>> open)
      : io_(io),
        request_(std::move(request)),
        resolver_(io),
        stream_(io, tls),
        timer_(io),
        open_(std::move(open)) {
    parser_.body_limit(boost::none);
    parser_.header_limit(64 * 1024);
  }
  ~RelaySession() { --*open_; }
  RelaySession(const RelaySession&) = delete;
  RelaySession& operator=(const RelaySession&) = delete;

  std::future<UpstreamHead> head() { return head_.get_future(); }

  void Start() {
    DialUpstream(resolver_, stream_, request_,
                 [self = shared_from_this()](const std::string& error) {
                   if (!error.empty()) {
                     self->Fail(error);
                     return;
                   }
                   self->WriteRequest();
                 });
  }

  // The client's stream, once the head was 2xx.
  void Attach(std::shared_ptr<ResponseStream> out) {
    if (closed_ || out == nullptr || out->closed()) {
      Close();
      return;
    }
    out_ = std::move(out);
    std::weak_ptr<RelaySession> weak = weak_from_this();
    asio::io_context::executor_type io = io_.get_executor();
    out_->OnClosed([weak, io] {
      asio::post(io, [weak] {
        if (auto self = weak.lock()) {
          self->Close();
        }
      });
    });
    ReadBody();
  }

  void Close() {
    if (closed_) {
      return;
    }
    closed_ = true;
    timer_.cancel();
    resolver_.cancel();
    beast::get_lowest_layer(stream_).close();
    if (out_ != nullptr) {
      out_->End();
    }
  }

 private:
  std::string HostPort() const { return UpstreamHostPort(request_.host, request_.port); }

  void Fail(const std::string& error) {
    if (!head_sent_) {
      head_sent_ = true;
      UpstreamHead head;
      head.error = error;
      head_.set_value(std::move(head));
    }
    Close();
  }

  void WriteRequest() {
    upstream_request_.method(http::verb::get);
    upstream_request_.target(request_.target);
    upstream_request_.version(11);
    upstream_request_.set(http::field::host, HostPort());
    upstream_request_.set(http::field::user_agent, "bulkhead-controlplane");
    upstream_request_.set(http::field::accept, "*/*");
    if (!request_.bearer_token.empty()) {
      upstream_request_.set(http::field::authorization, "Bearer " + request_.bearer_token);
    }
    http::async_write(
        stream_, upstream_request_,
        [self = shared_from_this()](beast::error_code write_ec, size_t) {
          if (write_ec) {
            self->Fail(fmt::format("writing to {}: {}", self->HostPort(), write_ec.message()));
            return;
          }
          http::async_read_header(
              self->stream_, self->buffer_, self->parser_,
              [self](beast::error_code read_ec, size_t) { self->OnHeader(read_ec); });
        });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) {
      Fail(fmt::format("reading from {}: {}", HostPort(), ec.message()));
      return;
    }
    const auto& message = parser_.get();
    status_ = static_cast<int>(message.result_int());
    if (auto it = message.find(http::field::content_type); it != message.end()) {
      content_type_ = std::string(it->value());
    }
    if (status_ >= 200 && status_ < 300) {
      SendHead();
      return;
    }
    ReadErrorBody();
  }

  void SendHead() {
    if (head_sent_) {
      return;
    }
    head_sent_ = true;
    UpstreamHead head;
    head.status = status_;
    head.content_type = content_type_;
    head.body = std::move(error_body_);
    head_.set_value(std::move(head));
  }

  void ReadErrorBody() {
    if (parser_.is_done() || error_body_.size() >= kMaxErrorBody) {
      SendHead();
      Close();
      return;
    }
    parser_.get().body().data = chunk_.data();
    parser_.get().body().size = chunk_.size();
    http::async_read_some(
        stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec == http::error::need_buffer) {
            ec = {};
          }
          const size_t got = self->chunk_.size() - self->parser_.get().body().size;
          self->error_body_.append(self->chunk_.data(),
                                   std::min(got, kMaxErrorBody - self->error_body_.size()));
          if (ec) {
            self->SendHead();
            self->Close();
            return;
          }
          self->ReadErrorBody();
        });
  }

  void ReadBody() {
    if (closed_) {
      return;
    }
    if (out_->closed()) {
      Close();
      return;
    }
    if (parser_.is_done()) {
      Close();  // ends the client's stream
      return;
    }
    if (out_->queued_bytes() > std::min(kHighWater, out_->queue_limit() / 4)) {
      // The client reads slowly: read no more until its queue drains.
      timer_.expires_after(kBackOff);
      timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec) {
          self->ReadBody();
        }
      });
      return;
    }
    if (request_.follow) {
      beast::get_lowest_layer(stream_).expires_never();
    } else {
      beast::get_lowest_layer(stream_).expires_after(request_.idle_timeout);
    }
    parser_.get().body().data = chunk_.data();
    parser_.get().body().size = chunk_.size();
    http::async_read_some(
        stream_, buffer_, parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    if (closed_) {
      return;
    }
    const size_t got = chunk_.size() - parser_.get().body().size;
    if (got > 0 && !out_->Write(std::string(chunk_.data(), got))) {
      Close();
      return;
    }
    if (ec) {
      if (ec != http::error::end_of_stream && ec != asio::ssl::error::stream_truncated) {
        Logger(Component::kApiserver).debug("relay from {} ended: {}", HostPort(), ec.message());
      }
      Close();
      return;
    }
    ReadBody();
  }

  asio::io_context& io_;
  UpstreamRequest request_;
  tcp::resolver resolver_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> upstream_request_;
  http::response_parser<http::buffer_body> parser_;
  std::array<char, size_t{16} << 10> chunk_{};
  std::promise<UpstreamHead> head_;
  bool head_sent_ = false;
  int status_ = 0;
  std::string content_type_;
  std::string error_body_;
  std::shared_ptr<ResponseStream> out_;
  bool closed_ = false;
  std::shared_ptr<std::atomic<size_t>> open_;
};

}  // namespace

UpstreamProxy::UpstreamProxy(UpstreamLimits limits)
    : loop_(std::make_unique<Loop>()),
      limits_(limits),
      open_(std::make_shared<std::atomic<size_t>>(0)),
      counts_(std::make_shared<Counts>()) {
  // Nodes serve self-signed certificates: not verified (a known gap).
  loop_->tls.set_verify_mode(ssl::verify_none);
  loop_->tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1);
  loop_->thread = std::thread([loop = loop_.get()] {
    for (;;) {
      try {
        loop->io.run();
        return;
      } catch (const std::exception& e) {
        Logger(Component::kApiserver).error("upstream proxy loop: {}", e.what());
      }
    }
  });
}

UpstreamProxy::~UpstreamProxy() {
  loop_->work.reset();
  loop_->io.stop();
  loop_->thread.join();
}

UpstreamHead UpstreamProxy::Relay(
    const UpstreamRequest& request,
    const std::function<std::shared_ptr<ResponseStream>(const UpstreamHead&)>& start) {
  UpstreamHead refused;
  refused.overloaded = true;
  auto waiting = std::make_unique<Waiting>(*counts_, limits_,
                                           fmt::format("{}:{}", request.host, request.port));
  if (!waiting->taken()) {
    refused.error = fmt::format("too many requests to node {}:{} are waiting for an answer",
                                request.host, request.port);
    return refused;
  }
  if (open_->fetch_add(1) >= limits_.max_relays) {
    --*open_;
    refused.error = "too many requests to nodes are open";
    return refused;
  }
  // The relay gives its count back when it is destroyed.
  auto relay = std::make_shared<RelaySession>(loop_->io, loop_->tls, request, open_);
  std::future<UpstreamHead> future = relay->head();
  asio::post(loop_->io, [relay] { relay->Start(); });
  const bool answered =
      future.wait_for(request.head_timeout + std::chrono::seconds(1)) == std::future_status::ready;
  waiting.reset();
  if (!answered) {
    asio::post(loop_->io, [relay] { relay->Close(); });
    UpstreamHead late;
    late.error = fmt::format("dial tcp {}:{}: i/o timeout", request.host, request.port);
    return late;
  }
  UpstreamHead head = future.get();
  if (head.status < 200 || head.status >= 300) {
    asio::post(loop_->io, [relay] { relay->Close(); });
    return head;
  }
  std::shared_ptr<ResponseStream> out = start(head);
  asio::post(loop_->io, [relay, out = std::move(out)]() mutable { relay->Attach(std::move(out)); });
  return head;
}

}  // namespace bulkhead::controlplane
