#include "controlplane/http/https_server.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "common/logging.h"
#include "common/pki/identity.h"
#include "controlplane/http/header_value.h"
#include "controlplane/http/request_target.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using TlsStream = ssl::stream<tcp::socket>;

// Who the verified client certificate names, by the rule every Bulkhead
// server applies (exactly one CN); a certificate naming no one, or two,
// leaves the reason for the API server to refuse the request with.
void ReadPeerIdentity(TlsStream& stream, HttpRequest& request) {
  X509* peer = SSL_get1_peer_certificate(stream.native_handle());
  if (peer == nullptr) {
    return;
  }
  if (SSL_get_verify_result(stream.native_handle()) == X509_V_OK) {
    auto identity = pki::IdentityOf(peer);
    if (identity.ok()) {
      request.certificate_user = std::move(identity->common_name);
      request.certificate_groups = std::move(identity->organizations);
    } else {
      request.certificate_error = MessageOf(identity.status());
    }
  }
  X509_free(peer);
}

class BeastResponseWriter : public ResponseWriter {
 public:
  BeastResponseWriter(TlsStream& stream, unsigned version, bool keep_alive)
      : stream_(stream), version_(version), keep_alive_(keep_alive) {}

  void AddHeader(std::string name, std::string value) override {
    headers_.emplace_back(std::move(name), SafeHeaderValue(value));
  }

  void Send(int status, std::string_view content_type, std::string body) override {
    http::response<http::string_body> response{static_cast<http::status>(status), version_};
    response.set(http::field::content_type, content_type);
    response.set(http::field::cache_control, "no-cache, private");
    for (const auto& [name, value] : headers_) {
      response.insert(name, value);
    }
    response.keep_alive(keep_alive_);
    response.body() = std::move(body);
    response.prepare_payload();
    beast::error_code ec;
    http::write(stream_, response, ec);
    failed_ = failed_ || static_cast<bool>(ec);
  }

  bool StartStream(int status, std::string_view content_type) override {
    http::response<http::empty_body> response{static_cast<http::status>(status), version_};
    response.set(http::field::content_type, content_type);
    response.set(http::field::cache_control, "no-cache, private");
    for (const auto& [name, value] : headers_) {
      response.insert(name, value);
    }
    response.keep_alive(keep_alive_);
    response.chunked(true);
    http::response_serializer<http::empty_body> serializer{response};
    beast::error_code ec;
    http::write_header(stream_, serializer, ec);
    failed_ = failed_ || static_cast<bool>(ec);
    return !failed_;
  }

  bool WriteChunk(std::string_view data) override {
    if (failed_) {
      return false;
    }
    beast::error_code ec;
    asio::write(stream_, http::make_chunk(asio::const_buffer(data.data(), data.size())), ec);
    failed_ = static_cast<bool>(ec);
    return !failed_;
  }

  void EndStream() override {
    if (failed_) {
      return;
    }
    beast::error_code ec;
    asio::write(stream_, http::make_chunk_last(), ec);
    failed_ = static_cast<bool>(ec);
  }

  bool PeerClosed() override {
    if (failed_) {
      return true;
    }
    pollfd fd{stream_.next_layer().native_handle(), POLLRDHUP, 0};
    return ::poll(&fd, 1, 0) > 0 && (fd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  [[nodiscard]] bool failed() const { return failed_; }

 private:
  TlsStream& stream_;
  unsigned version_;
  bool keep_alive_;
  bool failed_ = false;
  std::vector<std::pair<std::string, std::string>> headers_;
};

std::string TooLargeStatus(size_t limit) {
  return fmt::format(
      R"({{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure",)"
      R"("message":"the request body is larger than {} bytes","reason":"RequestEntityTooLarge",)"
      R"("code":413}})",
      limit);
}

class BeastHttpsServer : public HttpsServer {
 public:
  BeastHttpsServer(HttpsServerOptions options, RequestHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        tls_(ssl::context::tls_server),
        acceptor_(io_) {}

  ~BeastHttpsServer() override {
    Stop();
    if (accept_thread_.joinable()) {
      accept_thread_.join();
    }
  }
  BeastHttpsServer(const BeastHttpsServer&) = delete;
  BeastHttpsServer& operator=(const BeastHttpsServer&) = delete;

  Status Init() {
    beast::error_code ec;
    tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    tls_.use_certificate_chain(asio::buffer(options_.certificate_pem), ec);
    if (!ec) {
      tls_.use_private_key(asio::buffer(options_.key_pem), ssl::context::pem, ec);
    }
    if (!ec) {
      tls_.add_certificate_authority(asio::buffer(options_.client_authority_pem), ec);
    }
    if (ec) {
      return absl::InvalidArgumentError(fmt::format("TLS material: {}", ec.message()));
    }
    // Ask for a client certificate; requests without one fall to the token.
    tls_.set_verify_mode(ssl::verify_peer);
    tls_.set_verify_callback([](bool, ssl::verify_context&) { return true; });
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          fmt::format("listen address {}: {}", options_.host, ec.message()));
    }
    tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) {
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
      acceptor_.bind(endpoint, ec);
    }
    if (!ec) {
      acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      return absl::UnavailableError(
          fmt::format("listen on {}:{}: {}", options_.host, options_.port, ec.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
    return absl::OkStatus();
  }

  uint16_t port() const override { return port_; }

  void Stop() override {
    if (stopped_.exchange(true)) {
      return;
    }
    beast::error_code ec;
    acceptor_.cancel(ec);
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
  }

 private:
  void AcceptLoop() {
    while (!stopped_) {
      tcp::socket socket(io_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec) {
        if (stopped_) {
          return;
        }
        Logger(Component::kApiserver).warn("accept: {}", ec.message());
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      std::thread([this, s = std::move(socket)]() mutable { Serve(std::move(s)); }).detach();
    }
  }

  void Serve(tcp::socket socket) {
    TlsStream stream(std::move(socket), tls_);
    beast::error_code ec;
    stream.handshake(ssl::stream_base::server, ec);
    if (ec) {
      Logger(Component::kApiserver).debug("tls handshake: {}", ec.message());
      return;
    }
    HttpRequest identity;
    ReadPeerIdentity(stream, identity);
    beast::flat_buffer buffer;
    while (true) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(64 * 1024);
      parser.body_limit(options_.max_body_bytes);
      http::read_header(stream, buffer, parser, ec);
      // Beast checks a Content-Length against the body limit with the header
      // (and the header is then not complete: no content_length() to ask).
      bool too_large = ec == http::error::body_limit;
      if (ec && !too_large) {
        break;
      }
      if (!too_large) {
        auto length = parser.content_length();
        too_large = length.has_value() && *length > options_.max_body_bytes;
      }
      if (too_large) {
        BeastResponseWriter writer(stream, 11, false);
        writer.Send(413, "application/json", TooLargeStatus(options_.max_body_bytes));
        break;
      }
      http::read(stream, buffer, parser, ec);
      if (ec == http::error::body_limit) {
        BeastResponseWriter writer(stream, parser.get().version(), false);
        writer.Send(413, "application/json", TooLargeStatus(options_.max_body_bytes));
        break;
      }
      if (ec) {
        break;
      }
      auto& message = parser.get();
      HttpRequest request;
      request.method = std::string(message.method_string());
      RequestTarget target =
          ParseRequestTarget(std::string_view(message.target().data(), message.target().size()));
      request.path = std::move(target.path);
      request.query = std::move(target.query);
      auto header = [&message](http::field field) {
        auto it = message.find(field);
        return it == message.end() ? std::string() : std::string(it->value());
      };
      request.accept = header(http::field::accept);
      request.content_type = header(http::field::content_type);
      request.authorization = header(http::field::authorization);
      request.user_agent = header(http::field::user_agent);
      request.body = std::move(message.body());
      request.certificate_user = identity.certificate_user;
      request.certificate_groups = identity.certificate_groups;
      request.certificate_error = identity.certificate_error;
      bool keep_alive = message.keep_alive();
      BeastResponseWriter writer(stream, message.version(), keep_alive);
      handler_(request, writer);
      if (writer.failed() || !keep_alive) {
        break;
      }
    }
    stream.shutdown(ec);
  }

  HttpsServerOptions options_;
  RequestHandler handler_;
  asio::io_context io_;
  ssl::context tls_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::thread accept_thread_;
};

}  // namespace

StatusOr<std::unique_ptr<HttpsServer>> HttpsServer::Start(const HttpsServerOptions& options,
                                                          RequestHandler handler) {
  auto server = std::make_unique<BeastHttpsServer>(options, std::move(handler));
  BH_RETURN_IF_ERROR(server->Init());
  return std::unique_ptr<HttpsServer>(std::move(server));
}

}  // namespace bulkhead::controlplane
