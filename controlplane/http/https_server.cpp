#include "controlplane/http/https_server.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <cstdlib>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include "common/logging.h"
#include "common/pki/identity.h"
#include "controlplane/http/client_key.h"
#include "controlplane/http/deadline_sweep.h"
#include "controlplane/http/handler_pool.h"
#include "controlplane/http/header_value.h"
#include "controlplane/http/request_target.h"
#include "controlplane/http/response_bytes.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using TlsStream = beast::ssl_stream<Socket>;
using SteadyClock = std::chrono::steady_clock;

// How long a closing connection drains what the client still sends, so the
// last response is not lost to a reset.
constexpr std::chrono::milliseconds kLingerTime{1000};
// How often a loop looks at its connections' deadlines: each is met at most
// this late.
constexpr std::chrono::milliseconds kDeadlineSweepInterval{250};
// Between two accept error messages.
constexpr std::chrono::seconds kLogInterval{5};
constexpr std::chrono::milliseconds kMaxAcceptBackoff{1000};
// The read buffer holds at most the header limit plus this.
constexpr size_t kReadBufferSlack = size_t{64} << 10;

void ReadPeerIdentity(SSL* tls, HttpRequest& request) {
  X509* peer = SSL_get1_peer_certificate(tls);
  if (peer == nullptr) {
    return;
  }
  if (SSL_get_verify_result(tls) == X509_V_OK) {
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

std::string StatusBody(int code, std::string_view reason, std::string_view message) {
  return fmt::format(R"({{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure",)"
                     R"("message":"{}","reason":"{}","code":{}}})",
                     message, reason, code);
}

// A warning that may repeat many times a second (accept errors under a
// flood) is logged at most once per interval, with the count left out.
class RateLimitedWarning {
 public:
  void Warn(const std::string& message) {
    std::lock_guard lock(mu_);
    auto now = SteadyClock::now();
    if (logged_once_ && now - last_ < kLogInterval) {
      ++suppressed_;
      return;
    }
    Logger(Component::kApiserver).warn("{} suppressed={}", message, suppressed_);
    logged_once_ = true;
    last_ = now;
    suppressed_ = 0;
  }

 private:
  std::mutex mu_;
  bool logged_once_ = false;
  SteadyClock::time_point last_;
  uint64_t suppressed_ = 0;
};

class BeastHttpsServer;

// One client connection. Every operation on the socket runs on the
// connection's IO thread; handler threads reach it only through posts.
class Connection : public std::enable_shared_from_this<Connection>, public DeadlineSweep::Subject {
 public:
  Connection(BeastHttpsServer& server, Socket socket, std::string client);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // From the accept loop: the connection goes on on its own loop.
  void Start();
  // Closes it from another thread (the accept loop evicting it).
  void Evict();

  // Its place among the connections not yet authenticated; the server's
  // lock guards it.
  std::optional<std::list<std::weak_ptr<Connection>>::iterator> unproven_at;
  bool proven = false;

  // From a handler thread.
  // `response`: a whole response's bytes (ResponseBytes).
  void PostResponse(std::shared_ptr<const WireResponse> response, bool keep_alive);
  void PostStreamHeader(std::shared_ptr<http::response<http::empty_body>> header);
  bool StreamWrite(const std::string& chunk);
  void StreamEnd();
  void StreamOnClosed(std::function<void()> done);
  bool StreamClosed();
  // The connection handed over (an upgrade): raw reads and writes.
  void TunnelRead(std::function<void(std::string)> done);
  void TunnelWrite(std::string bytes, std::function<void(bool)> done);
  void TunnelClose();
  size_t StreamQueuedBytes();
  size_t StreamQueueLimit() const;
  uint64_t LoopId() const { return loop_id_; }
  asio::io_context::executor_type executor() { return stream_.get_executor(); }

  // DeadlineSweep::Subject, on the connection's loop.
  [[nodiscard]] SteadyClock::time_point deadline() const override { return deadline_; }
  void DeadlinePassed() override;

 private:
  Socket& socket() { return stream_.next_layer(); }
  // The current phase (handshake, idle, header, body, write, linger) must
  // end within `limit`; the loop's sweep closes the connection if it does not.
  void Expect(std::chrono::milliseconds limit, const char* phase) {
    // A limit too far off to add (a huge flag value) is no deadline, never
    // an overflow into the past.
    const SteadyClock::time_point now = SteadyClock::now();
    deadline_ = limit >= std::chrono::duration_cast<std::chrono::milliseconds>(
                             SteadyClock::time_point::max() - now)
                    ? SteadyClock::time_point::max()
                    : now + limit;
    phase_ = phase;
  }
  void ExpectNothing() { deadline_ = SteadyClock::time_point::max(); }
  void Handshake();
  void OnHandshake(beast::error_code ec);
  void ReadRequest();
  void ReadHeader();
  void OnHeader(beast::error_code ec);
  void OnBody(beast::error_code ec);
  void Dispatch(bool keep_alive);
  void RunHandler(HttpRequest& request, unsigned version, bool keep_alive);
  // Answers from the IO thread (431, 413, 400) and closes.
  void Refuse(int status, std::string_view content_type, std::string_view body,
              std::string_view retry_after = {});
  // Gives back this connection's share of the bodies-in-flight budget.
  void ReleaseBody();
  void WriteResponse(const std::shared_ptr<const WireResponse>& response, bool keep_alive);
  void ResponseWritten(bool keep_alive);
  // Stops sending, drains what the client still sends for a moment, closes.
  void CloseGracefully();
  void Linger();
  void Close();
  void DetectPeerClose();
  void Flush();
  void CloseStream();

  BeastHttpsServer& server_;
  TlsStream stream_;
  std::string client_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest identity_;
  HttpRequest request_;
  bool first_request_ = true;
  bool first_authenticated_ = true;  // not yet Proven to the server
  size_t body_reserved_ = 0;         // of the server's bodies-in-flight budget
  bool closing_ = false;
  std::array<char, 1024> scratch_{};
  std::unique_ptr<std::array<char, size_t{16} << 10>> tunnel_buffer_;  // IO thread only
  asio::steady_timer end_timer_;
  SteadyClock::time_point deadline_ = SteadyClock::time_point::max();  // IO thread only
  const char* phase_ = "";                                             // of the deadline
  bool streaming_ = false;  // the header of a streamed response is out (IO thread only)
  uint64_t loop_id_;        // of the loop that runs it

  // The streamed response (a watch): shared with handler threads.
  std::mutex stream_mu_;
  std::unique_ptr<http::response<http::empty_body>> stream_header_;
  std::unique_ptr<http::response_serializer<http::empty_body>> stream_serializer_;
  std::string stream_pending_;   // unwritten data
  std::string stream_current_;   // being written (IO thread only)
  size_t stream_in_flight_ = 0;  // bytes of stream_current_
  bool stream_writing_ = false;  // a write or the header is in flight
  bool stream_ended_ = false;
  bool stream_last_sent_ = false;
  bool stream_closed_ = false;
  std::function<void()> stream_on_closed_;
};

// What StartStream gives once the response was sent: over from the start.
class ClosedStream : public ResponseStream {
 public:
  bool Write(std::string /*chunk*/) override { return false; }
  void End() override {}
  void OnClosed(std::function<void()> done) override { done(); }
  [[nodiscard]] bool closed() const override { return true; }
  [[nodiscard]] size_t queued_bytes() const override { return 0; }
  [[nodiscard]] size_t queue_limit() const override { return 0; }
};

class ChunkStream : public ResponseStream {
 public:
  explicit ChunkStream(std::shared_ptr<Connection> connection)
      : connection_(std::move(connection)) {}
  ~ChunkStream() override { connection_->StreamEnd(); }
  ChunkStream(const ChunkStream&) = delete;
  ChunkStream& operator=(const ChunkStream&) = delete;

  bool Write(std::string chunk) override { return connection_->StreamWrite(chunk); }
  void End() override { connection_->StreamEnd(); }
  void OnClosed(std::function<void()> done) override {
    connection_->StreamOnClosed(std::move(done));
  }
  [[nodiscard]] bool closed() const override { return connection_->StreamClosed(); }
  [[nodiscard]] size_t queued_bytes() const override { return connection_->StreamQueuedBytes(); }
  [[nodiscard]] size_t queue_limit() const override { return connection_->StreamQueueLimit(); }
  [[nodiscard]] uint64_t loop_id() const override { return connection_->LoopId(); }
  [[nodiscard]] std::function<void(std::function<void()>)> loop() const override {
    return [executor = connection_->executor()](std::function<void()> work) {
      asio::post(executor, std::move(work));
    };
  }

 private:
  std::shared_ptr<Connection> connection_;
};

// The client's side of an upgraded connection.
class Tunnel : public RawConnection {
 public:
  explicit Tunnel(std::shared_ptr<Connection> connection) : connection_(std::move(connection)) {}
  void Read(std::function<void(std::string)> done) override {
    connection_->TunnelRead(std::move(done));
  }
  void Write(std::string bytes, std::function<void(bool)> done) override {
    connection_->TunnelWrite(std::move(bytes), std::move(done));
  }
  void Close() override { connection_->TunnelClose(); }

 private:
  std::shared_ptr<Connection> connection_;
};

// Lives on the handler thread for one request.
class Writer : public ResponseWriter {
 public:
  Writer(std::shared_ptr<Connection> connection, unsigned version, bool keep_alive)
      : connection_(std::move(connection)), version_(version), keep_alive_(keep_alive) {}
  ~Writer() override {
    if (!responded_) {
      // Also while unwinding from a handler's exception: it must not throw.
      try {
        Send(500, "application/json",
             StatusBody(500, "InternalError", "the handler did not answer"));
      } catch (...) {
        Logger(Component::kApiserver).error("could not answer 500 for a failed handler");
      }
    }
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void AddHeader(std::string name, std::string value) override {
    // A handler's mistake, never a client's: the handler fails and its
    // request is answered 500 (the destructor).
    if (!IsFieldName(name) || IsServerOwnedField(name)) {
      throw std::invalid_argument(
          fmt::format("a handler may not set the header field \"{}\"", SafeHeaderValue(name)));
    }
    headers_.emplace_back(std::move(name), SafeHeaderValue(value));
  }

  void Send(int status, std::string_view content_type, std::string body) override {
    if (responded_) {
      return;
    }
    if (status < 200 || status > 599) {
      // An interim (1xx) answer would leave the client waiting for the final
      // one that never comes.
      Logger(Component::kApiserver).error("a handler answered status {}; sent 500", status);
      headers_.clear();
      Send(500, "application/json",
           StatusBody(500, "InternalError", "the handler answered an interim status"));
      return;
    }
    responded_ = true;
    ResponseHead head{status, version_, keep_alive_, {}};
    head.fields.reserve(headers_.size() + 2);
    head.fields.emplace_back("Content-Type", SafeHeaderValue(content_type));
    head.fields.emplace_back("Cache-Control", "no-cache, private");
    for (auto& field : headers_) {
      head.fields.push_back(std::move(field));
    }
    connection_->PostResponse(
        std::make_shared<const WireResponse>(ResponseBytes(head, std::move(body))), keep_alive_);
  }

  std::shared_ptr<ResponseStream> StartStream(int status, std::string_view content_type) override {
    if (responded_) {
      return std::make_shared<ClosedStream>();
    }
    auto stream = std::make_shared<ChunkStream>(connection_);
    responded_ = true;
    auto header = std::make_shared<http::response<http::empty_body>>(
        static_cast<http::status>(status), version_);
    SetHeaders(*header, content_type);
    // The connection closes after a stream.
    header->keep_alive(false);
    header->chunked(true);
    connection_->PostStreamHeader(std::move(header));
    return stream;
  }

  std::shared_ptr<RawConnection> TakeOver() override {
    if (responded_) {
      return nullptr;
    }
    responded_ = true;
    return std::make_shared<Tunnel>(connection_);
  }

 private:
  template <typename Message>
  void SetHeaders(Message& message, std::string_view content_type) {
    message.set(http::field::content_type, SafeHeaderValue(content_type));
    message.set(http::field::cache_control, "no-cache, private");
    for (const auto& [name, value] : headers_) {
      message.insert(name, value);
    }
  }

  std::shared_ptr<Connection> connection_;
  unsigned version_;
  bool keep_alive_;
  bool responded_ = false;
  std::vector<std::pair<std::string, std::string>> headers_;
};

class BeastHttpsServer : public HttpsServer {
 public:
  BeastHttpsServer(HttpsServerOptions options, RequestAuthenticator authenticate,
                   RequestHandler handler)
      : options_(std::move(options)),
        authenticate_(std::move(authenticate)),
        handler_(std::move(handler)),
        tls_(ssl::context::tls_server),
        // The first loop only accepts: a long request on a connection's loop
        // never delays new connections.
        loops_(MakeLoops(options_.limits.io_threads + 1)),
        // Accepting, its back-off timer and Stop run on the first loop.
        acceptor_(loops_.front()->get_executor()),
        accept_timer_(loops_.front()->get_executor()),
        pool_(std::make_unique<HandlerPool>(std::max(1U, options_.limits.handler_threads))) {
    static std::atomic<uint64_t> next_loop_id{1};
    for (auto& loop : loops_) {
      work_.emplace_back(loop->get_executor());
      loop_ids_.push_back(next_loop_id++);
      sweeps_.push_back(std::make_unique<DeadlineSweep>(*loop, kDeadlineSweepInterval));
    }
  }

  ~BeastHttpsServer() override {
    Stop();
    work_.clear();
    for (auto& loop : loops_) {
      loop->stop();
    }
    for (auto& thread : io_threads_) {
      thread.join();
    }
    pool_.reset();
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
    Accept();
    for (auto& loop : loops_) {
      io_threads_.emplace_back([context = loop.get()] { context->run(); });
    }
    return absl::OkStatus();
  }

  uint16_t port() const override { return port_; }

  void Stop() override {
    if (stopped_.exchange(true)) {
      return;
    }
    asio::post(loops_.front()->get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      accept_timer_.cancel();
    });
  }

  const HttpsServerLimits& limits() const { return options_.limits; }
  ssl::context& tls() { return tls_; }
  // A number naming one of this server's loops in the process.
  uint64_t LoopId(const asio::io_context& loop) const {
    for (size_t i = 0; i < loops_.size(); ++i) {
      if (loops_[i].get() == &loop) {
        return loop_ids_[i];
      }
    }
    return 0;
  }
  // The deadlines of `loop`'s connections; used on that loop only.
  DeadlineSweep& SweepOf(const asio::io_context& loop) {
    for (size_t i = 0; i < loops_.size(); ++i) {
      if (loops_[i].get() == &loop) {
        return *sweeps_[i];
      }
    }
    std::abort();  // a connection runs on one of this server's loops
  }
  bool Authenticate(HttpRequest& request) const { return authenticate_(request); }
  const RequestHandler& handler() const { return handler_; }
  bool IsProven(const Connection& connection) {
    std::lock_guard lock(mu_);
    return connection.proven;
  }
  bool Quick(const HttpRequest& request) const { return options_.quick && options_.quick(request); }
  HandlerPool& pool() { return *pool_; }

  // Reserves `bytes` of the bodies-in-flight budget; false when it would pass it.
  bool ReserveBody(size_t bytes) {
    size_t used = body_bytes_.load();
    do {
      if (used + bytes > options_.limits.max_bodies_in_flight_bytes) {
        return false;
      }
    } while (!body_bytes_.compare_exchange_weak(used, used + bytes));
    return true;
  }
  void ReleaseBody(size_t bytes) { body_bytes_ -= bytes; }

  void Release(Connection& connection, const std::string& client) {
    std::lock_guard lock(mu_);
    if (connection.unproven_at.has_value()) {
      unproven_.erase(*connection.unproven_at);
      connection.unproven_at.reset();
    }
    --open_;
    auto it = per_client_.find(client);
    if (it != per_client_.end() && --it->second == 0) {
      per_client_.erase(it);
    }
  }

 private:
  static std::vector<std::unique_ptr<asio::io_context>> MakeLoops(unsigned count) {
    std::vector<std::unique_ptr<asio::io_context>> loops;
    for (unsigned i = 0; i < std::max(2U, count); ++i) {
      // Each loop is run by one thread.
      loops.push_back(std::make_unique<asio::io_context>(1));
    }
    return loops;
  }

  void Accept() {
    // New connections go to the loops in turn.
    asio::io_context& loop = *loops_[1 + next_loop_++ % (loops_.size() - 1)];
    acceptor_.async_accept(loop.get_executor(), [this](beast::error_code ec, Socket socket) {
      OnAccept(ec, std::move(socket));
    });
  }

  void OnAccept(beast::error_code ec, Socket socket) {
    if (stopped_ || ec == asio::error::operation_aborted) {
      return;
    }
    if (ec) {
      // Out of descriptors or memory: the pending connection stays in the
      // backlog, so accepting again at once would spin. Back off.
      bool exhausted = ec.value() == EMFILE || ec.value() == ENFILE || ec.value() == ENOBUFS ||
                       ec.value() == ENOMEM;
      if (!exhausted) {
        accept_warning_.Warn(fmt::format("accept: {}", ec.message()));
        Accept();
        return;
      }
      backoff_ = std::min(kMaxAcceptBackoff, std::max(backoff_ * 2, std::chrono::milliseconds(10)));
      accept_warning_.Warn(
          fmt::format("accept: {}; retrying in {} ms", ec.message(), backoff_.count()));
      accept_timer_.expires_after(backoff_);
      accept_timer_.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && !stopped_) {
          Accept();
        }
      });
      return;
    }
    backoff_ = std::chrono::milliseconds(0);
    beast::error_code peer_ec;
    auto peer = socket.remote_endpoint(peer_ec);
    if (!peer_ec) {
      std::string client = ClientKey(peer.address());
      std::shared_ptr<Connection> evicted;
      if (Admit(client, evicted)) {
        socket.set_option(tcp::no_delay(true), peer_ec);
        auto connection = std::make_shared<Connection>(*this, std::move(socket), client);
        Track(connection);
        connection->Start();
        if (evicted != nullptr) {
          evicted_warning_.Warn(fmt::format(
              "at the connection limit: closed the oldest unauthenticated connection for one "
              "from client={}",
              client));
          evicted->Evict();
        }
      } else {
        refusal_warning_.Warn(fmt::format("connection refused client={}: over the limit", client));
        socket.close(peer_ec);
      }
    }
    Accept();
  }

  // Whether a new connection from `client` may open; at the total cap it
  // may when a connection not yet authenticated can make way (`evicted`,
  // to be closed by the caller).
  bool Admit(const std::string& client, std::shared_ptr<Connection>& evicted) {
    std::lock_guard lock(mu_);
    size_t& mine = per_client_[client];
    bool room = mine < options_.limits.max_connections_per_client;
    if (room && open_ >= options_.limits.max_connections) {
      room = false;
      // An entry that cannot be locked belongs to a connection being
      // destroyed: its destructor removes it.
      for (auto it = unproven_.begin(); it != unproven_.end(); ++it) {
        evicted = it->lock();
        if (evicted != nullptr) {
          evicted->unproven_at.reset();
          unproven_.erase(it);
          room = true;
          break;
        }
      }
    }
    if (!room) {
      if (mine == 0) {
        per_client_.erase(client);
      }
      return false;
    }
    ++open_;
    ++mine;
    return true;
  }

 public:
  // A new connection counts as not yet authenticated until Proven.
  void Track(const std::shared_ptr<Connection>& connection) {
    std::lock_guard lock(mu_);
    connection->unproven_at = unproven_.insert(unproven_.end(), connection);
  }
  // Its first request authenticated: it is never evicted for a newcomer
  // (nor closed by an eviction chosen while it was authenticating).
  void Proven(Connection& connection) {
    std::lock_guard lock(mu_);
    connection.proven = true;
    if (connection.unproven_at.has_value()) {
      unproven_.erase(*connection.unproven_at);
      connection.unproven_at.reset();
    }
  }

 private:
  HttpsServerOptions options_;
  RequestAuthenticator authenticate_;
  RequestHandler handler_;
  ssl::context tls_;
  std::mutex mu_;
  size_t open_ = 0;
  std::map<std::string, size_t> per_client_;
  RateLimitedWarning accept_warning_;
  RateLimitedWarning refusal_warning_;
  RateLimitedWarning evicted_warning_;
  // Connections not yet authenticated, oldest first: at the total cap a new
  // connection closes the oldest of them, so connections that never
  // authenticate (from however many addresses) cannot keep clients out.
  std::list<std::weak_ptr<Connection>> unproven_;
  std::chrono::milliseconds backoff_{0};
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<size_t> body_bytes_{0};
  // Connections (in pending handlers) use what is above: declared after it.
  std::vector<std::unique_ptr<asio::io_context>> loops_;
  std::vector<uint64_t> loop_ids_;
  std::vector<std::unique_ptr<DeadlineSweep>> sweeps_;  // one per loop, used on it
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  size_t next_loop_ = 0;  // on the first loop
  tcp::acceptor acceptor_;
  asio::steady_timer accept_timer_;
  std::unique_ptr<HandlerPool> pool_;
  std::vector<std::thread> io_threads_;
};

Connection::Connection(BeastHttpsServer& server, Socket socket, std::string client)
    : server_(server),
      stream_(std::move(socket), server.tls()),
      client_(std::move(client)),
      // Bounded: what the header limit does not cover (chunk extensions and
      // trailers of a chunked body) cannot grow it past this.
      buffer_(server.limits().max_header_bytes + kReadBufferSlack),
      end_timer_(stream_.get_executor()),
      loop_id_(server.LoopId(stream_.get_executor().context())) {}

Connection::~Connection() {
  ReleaseBody();
  server_.Release(*this, client_);
}

void Connection::Evict() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    // Chosen while its first request was authenticating: it stays.
    if (!self->server_.IsProven(*self)) {
      self->Close();
    }
  });
}

void Connection::ReleaseBody() {
  if (body_reserved_ > 0) {
    server_.ReleaseBody(std::exchange(body_reserved_, 0));
  }
}

void Connection::Start() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] { self->Handshake(); });
}

void Connection::Handshake() {
  server_.SweepOf(stream_.get_executor().context()).Add(weak_from_this());
  Expect(server_.limits().handshake_timeout, "tls handshake");
  stream_.async_handshake(ssl::stream_base::server,
                          beast::bind_front_handler(&Connection::OnHandshake, shared_from_this()));
}

void Connection::OnHandshake(beast::error_code ec) {
  if (ec) {
    Logger(Component::kApiserver).debug("tls handshake client={}: {}", client_, ec.message());
    Close();
    return;
  }
  ReadPeerIdentity(stream_.native_handle(), identity_);
  ReadRequest();
}

void Connection::ReadRequest() {
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(server_.limits().max_header_bytes));
  parser_->body_limit(server_.limits().max_body_bytes);
  if (first_request_ || buffer_.size() > 0) {
    first_request_ = false;
    ReadHeader();
    return;
  }
  // Idle between keep-alive requests: wait for the first byte.
  Expect(server_.limits().idle_timeout, "idle");
  stream_.async_read_some(buffer_.prepare(scratch_.size()),
                          [self = shared_from_this()](beast::error_code ec, size_t bytes) {
                            if (ec) {
                              self->Close();
                              return;
                            }
                            self->buffer_.commit(bytes);
                            self->ReadHeader();
                          });
}

void Connection::ReadHeader() {
  Expect(server_.limits().header_timeout, "request header");
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
}

void Connection::OnHeader(beast::error_code ec) {
  const HttpsServerLimits& limits = server_.limits();
  if (ec == http::error::header_limit) {
    Refuse(431, "text/plain; charset=utf-8", "431 Request Header Fields Too Large");
    return;
  }
  // Beast checks a Content-Length against the body limit with the header.
  if (ec == http::error::body_limit ||
      (!ec && parser_->content_length().value_or(0) > limits.max_body_bytes)) {
    Refuse(
        413, "application/json",
        StatusBody(413, "RequestEntityTooLarge",
                   fmt::format("the request body is larger than {} bytes", limits.max_body_bytes)));
    return;
  }
  if (ec) {
    if (ec.category() == beast::error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      Refuse(400, "text/plain; charset=utf-8", "400 Bad Request");
    } else {
      Close();
    }
    return;
  }
  auto& message = parser_->get();
  request_ = HttpRequest();
  request_.method = std::string(message.method_string());
  RequestTarget target =
      ParseRequestTarget(std::string_view(message.target().data(), message.target().size()));
  request_.path = std::move(target.path);
  request_.query = std::move(target.query);
  auto header = [&message](http::field field) {
    auto it = message.find(field);
    return it == message.end() ? std::string() : std::string(it->value());
  };
  request_.accept = header(http::field::accept);
  request_.content_type = header(http::field::content_type);
  request_.authorization = header(http::field::authorization);
  request_.user_agent = header(http::field::user_agent);
  request_.certificate_user = identity_.certificate_user;
  request_.certificate_groups = identity_.certificate_groups;
  request_.certificate_error = identity_.certificate_error;
  request_.peer = client_;
  const bool upgrade = message.find(http::field::upgrade) != message.end();
  for (const auto& field : message) {
    const std::string_view name(field.name_string().data(), field.name_string().size());
    if (name.size() > 12 && beast::iequals(name.substr(0, 12), "impersonate-")) {
      request_.impersonation.emplace_back(std::string(name), std::string(field.value()));
    } else if (upgrade &&
               (beast::iequals(name, "connection") || beast::iequals(name, "upgrade") ||
                beast::iequals(name, "x-stream-protocol-version") ||
                (name.size() > 14 && beast::iequals(name.substr(0, 14), "sec-websocket-")))) {
      request_.upgrade_headers.emplace_back(std::string(name), std::string(field.value()));
    }
  }
  request_.authenticated = server_.Authenticate(request_);
  if (request_.authenticated && first_authenticated_) {
    first_authenticated_ = false;
    server_.Proven(*this);
  }
  if (!request_.authenticated) {
    // Answered without reading any body, and closed: an anonymous client
    // holds no connection past its answer.
    Dispatch(false);
    return;
  }
  if (parser_->is_done()) {
    Dispatch(message.keep_alive());
    return;
  }
  // The body's bytes come out of the budget before any is read.
  size_t body = parser_->content_length().value_or(limits.max_body_bytes);
  if (!server_.ReserveBody(body)) {
    Refuse(429, "application/json",
           StatusBody(429, "TooManyRequests",
                      "the server is reading too many request bodies at once; retry later"),
           "1");
    return;
  }
  body_reserved_ = body;
  Expect(limits.body_timeout, "request body");
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code read_ec, size_t) { self->OnBody(read_ec); });
}

void Connection::OnBody(beast::error_code ec) {
  if (ec) {
    ReleaseBody();
  }
  if (ec == http::error::body_limit) {
    Refuse(413, "application/json",
           StatusBody(413, "RequestEntityTooLarge",
                      fmt::format("the request body is larger than {} bytes",
                                  server_.limits().max_body_bytes)));
    return;
  }
  if (ec) {
    Close();
    return;
  }
  request_.body = std::move(parser_->get().body());
  Dispatch(parser_->get().keep_alive());
}

void Connection::Dispatch(bool keep_alive) {
  ExpectNothing();  // the handler's time is its own
  unsigned version = parser_->get().version();
  parser_.reset();  // its header fields are in request_
  if (buffer_.size() == 0) {
    buffer_.shrink_to_fit();  // a large header grew it
  }
  size_t reserved = std::exchange(body_reserved_, 0);
  if (server_.Quick(request_)) {
    // Never waits: answered here, on this connection's IO thread.
    HttpRequest request = std::move(request_);
    request_ = HttpRequest();
    RunHandler(request, version, keep_alive);
    server_.ReleaseBody(reserved);
    return;
  }
  server_.pool().Post([self = shared_from_this(), request = std::move(request_), version,
                       keep_alive, reserved]() mutable {
    self->RunHandler(request, version, keep_alive);
    request = HttpRequest();  // the body is gone: its bytes go back to the budget
    self->server_.ReleaseBody(reserved);
  });
}

void Connection::RunHandler(HttpRequest& request, unsigned version, bool keep_alive) {
  // A handler that throws (out of memory, a bug) loses its own request: its
  // writer answers 500 as it unwinds; the server goes on.
  try {
    Writer writer(shared_from_this(), version, keep_alive);
    server_.handler()(request, writer);
  } catch (const std::exception& e) {
    Logger(Component::kApiserver).error("request handler failed: {}", e.what());
  } catch (...) {
    // Nothing may leave an IO thread's loop: it would end the process.
    Logger(Component::kApiserver).error("request handler failed: unknown exception");
  }
}

void Connection::Refuse(int status, std::string_view content_type, std::string_view body,
                        std::string_view retry_after) {
  unsigned version =
      parser_.has_value() && parser_->get().version() != 0 ? parser_->get().version() : 11;
  parser_.reset();
  ResponseHead head{status, version, false, {{"Content-Type", std::string(content_type)}}};
  if (!retry_after.empty()) {
    head.fields.emplace_back("Retry-After", std::string(retry_after));
  }
  WriteResponse(std::make_shared<const WireResponse>(ResponseBytes(head, std::string(body))),
                false);
}

void Connection::PostResponse(std::shared_ptr<const WireResponse> response, bool keep_alive) {
  // At once when called on the connection's own IO thread (a quick request).
  asio::dispatch(stream_.get_executor(),
                 [self = shared_from_this(), response = std::move(response), keep_alive]() mutable {
                   self->WriteResponse(response, keep_alive);
                 });
}

void Connection::WriteResponse(const std::shared_ptr<const WireResponse>& response,
                               bool keep_alive) {
  Expect(server_.limits().write_timeout, "response write");
  // Head and body as two writes, not one two-buffer write: Beast's
  // ssl_stream (flat_stream) writes nothing for a sequence whose first
  // buffer is used up and whose second is over 16 KiB, so Asio's two-buffer
  // write would spin on the body.
  asio::async_write(
      stream_, asio::buffer(response->head),
      [self = shared_from_this(), response, keep_alive](beast::error_code ec, size_t) {
        if (ec) {
          self->Close();
        } else if (response->body.empty()) {
          self->ResponseWritten(keep_alive);
        } else {
          asio::async_write(self->stream_, asio::buffer(response->body),
                            [self, response, keep_alive](beast::error_code body_ec, size_t) {
                              if (body_ec) {
                                self->Close();
                              } else {
                                self->ResponseWritten(keep_alive);
                              }
                            });
        }
      });
}

void Connection::ResponseWritten(bool keep_alive) {
  if (keep_alive) {
    ReadRequest();
  } else {
    CloseGracefully();
  }
}

void Connection::CloseGracefully() {
  if (closing_) {
    return;
  }
  closing_ = true;
  beast::error_code ec;
  socket().shutdown(tcp::socket::shutdown_send, ec);
  Expect(kLingerTime, "linger");
  Linger();
}

void Connection::Linger() {
  // Raw reads: what the client still sends is dropped, never decrypted.
  socket().async_read_some(asio::buffer(scratch_),
                           [self = shared_from_this()](beast::error_code ec, size_t) {
                             if (ec) {
                               self->Close();
                             } else {
                               self->Linger();
                             }
                           });
}

void Connection::Close() {
  closing_ = true;
  end_timer_.cancel();
  ExpectNothing();
  beast::error_code ec;
  socket().close(ec);  // what is pending ends with operation_aborted
}

void Connection::DeadlinePassed() {
  ExpectNothing();
  if (streaming_) {
    Logger(Component::kApiserver)
        .info("stream closed client={}: a write did not finish in {} ms", client_,
              server_.limits().write_timeout.count());
    CloseStream();
    return;
  }
  Logger(Component::kApiserver)
      .debug("connection closed client={}: {} deadline passed", client_, phase_);
  Close();
}

// --- streamed responses ---

void Connection::PostStreamHeader(std::shared_ptr<http::response<http::empty_body>> header) {
  {
    std::lock_guard lock(stream_mu_);
    stream_writing_ = true;  // nothing is written before the header
  }
  asio::post(stream_.get_executor(), [self = shared_from_this(), header = std::move(header)] {
    self->stream_header_ = std::make_unique<http::response<http::empty_body>>(std::move(*header));
    self->stream_serializer_ =
        std::make_unique<http::response_serializer<http::empty_body>>(*self->stream_header_);
    self->streaming_ = true;
    self->Expect(self->server_.limits().write_timeout, "stream header write");
    http::async_write_header(self->stream_, *self->stream_serializer_,
                             [self](beast::error_code ec, size_t) {
                               if (ec) {
                                 self->CloseStream();
                                 return;
                               }
                               self->ExpectNothing();
                               self->DetectPeerClose();
                               self->Flush();
                             });
  });
}

void Connection::DetectPeerClose() {
  // A watch client sends nothing: a read completes only when it goes away.
  stream_.async_read_some(asio::buffer(scratch_),
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                            if (ec) {
                              self->CloseStream();
                            } else {
                              self->DetectPeerClose();
                            }
                          });
}

bool Connection::StreamWrite(const std::string& chunk) {
  {
    std::lock_guard lock(stream_mu_);
    if (stream_closed_ || stream_ended_) {
      return false;
    }
    if (stream_pending_.size() + stream_in_flight_ + chunk.size() <=
        server_.limits().max_stream_queue_bytes) {
      stream_pending_ += chunk;
      if (!stream_writing_) {
        stream_writing_ = true;
        asio::post(stream_.get_executor(), [self = shared_from_this()] { self->Flush(); });
      }
      return true;
    }
  }
  Logger(Component::kApiserver)
      .info("stream closed client={}: the client does not read fast enough", client_);
  asio::post(stream_.get_executor(), [self = shared_from_this()] { self->CloseStream(); });
  return false;
}

void Connection::StreamEnd() {
  bool flush = false;
  {
    std::lock_guard lock(stream_mu_);
    if (stream_closed_ || stream_ended_) {
      return;
    }
    stream_ended_ = true;
    if (!stream_writing_) {
      stream_writing_ = true;
      flush = true;
    }
  }
  asio::post(stream_.get_executor(), [self = shared_from_this(), flush] {
    // A client that does not take the rest in time is disconnected.
    self->end_timer_.expires_after(self->server_.limits().stream_end_grace);
    self->end_timer_.async_wait([self](beast::error_code ec) {
      if (!ec) {
        self->CloseStream();
      }
    });
    if (flush) {
      self->Flush();
    }
  });
}

void Connection::StreamOnClosed(std::function<void()> done) {
  {
    std::lock_guard lock(stream_mu_);
    if (!stream_closed_) {
      stream_on_closed_ = std::move(done);
      return;
    }
  }
  done();
}

size_t Connection::StreamQueuedBytes() {
  std::lock_guard lock(stream_mu_);
  return stream_pending_.size() + stream_in_flight_;
}

size_t Connection::StreamQueueLimit() const { return server_.limits().max_stream_queue_bytes; }

bool Connection::StreamClosed() {
  std::lock_guard lock(stream_mu_);
  return stream_closed_;
}

void Connection::Flush() {
  bool last = false;
  {
    std::lock_guard lock(stream_mu_);
    if (stream_closed_) {
      return;
    }
    stream_in_flight_ = 0;
    if (stream_pending_.empty()) {
      if (!stream_ended_) {
        stream_writing_ = false;
        return;
      }
      if (stream_last_sent_) {
        return;
      }
      stream_last_sent_ = true;
      last = true;
    } else {
      stream_current_ = std::move(stream_pending_);
      stream_pending_.clear();
      stream_in_flight_ = stream_current_.size();
    }
  }
  // Each write to a client that does not read ends the stream when the
  // write timeout passes.
  Expect(server_.limits().write_timeout, "stream write");
  if (last) {
    asio::async_write(
        stream_, http::make_chunk_last(),
        [self = shared_from_this()](beast::error_code, size_t) { self->CloseStream(); });
    return;
  }
  asio::async_write(stream_, http::make_chunk(asio::buffer(stream_current_)),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->ExpectNothing();
                      if (ec) {
                        self->CloseStream();
                        return;
                      }
                      self->Flush();
                    });
}

// --- upgraded connections ---

void Connection::TunnelRead(std::function<void(std::string)> done) {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this(), done = std::move(done)] {
    if (self->closing_) {
      done("");
      return;
    }
    if (self->buffer_.size() > 0) {
      // Read with the request's head and not yet given out.
      std::string bytes = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      done(std::move(bytes));
      return;
    }
    if (self->tunnel_buffer_ == nullptr) {
      self->tunnel_buffer_ = std::make_unique<std::array<char, size_t{16} << 10>>();
    }
    self->stream_.async_read_some(asio::buffer(*self->tunnel_buffer_),
                                  [self, done](beast::error_code ec, size_t bytes) {
                                    if (ec || bytes == 0) {
                                      done("");
                                      return;
                                    }
                                    done(std::string(self->tunnel_buffer_->data(), bytes));
                                  });
  });
}

void Connection::TunnelWrite(std::string bytes, std::function<void(bool)> done) {
  asio::dispatch(stream_.get_executor(),
                 [self = shared_from_this(),
                  bytes = std::make_shared<std::string>(std::move(bytes)), done = std::move(done)] {
                   if (self->closing_) {
                     done(false);
                     return;
                   }
                   self->Expect(self->server_.limits().write_timeout, "tunnel write");
                   asio::async_write(self->stream_, asio::buffer(*bytes),
                                     [self, bytes, done](beast::error_code ec, size_t) {
                                       self->ExpectNothing();
                                       done(!ec);
                                     });
                 });
}

void Connection::TunnelClose() {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Close(); });
}

void Connection::CloseStream() {
  std::function<void()> done;
  {
    std::lock_guard lock(stream_mu_);
    if (stream_closed_) {
      return;
    }
    stream_closed_ = true;
    stream_pending_.clear();
    stream_pending_.shrink_to_fit();
    done = std::move(stream_on_closed_);
  }
  Close();
  if (done) {
    done();
  }
}

}  // namespace

StatusOr<std::unique_ptr<HttpsServer>> HttpsServer::Start(const HttpsServerOptions& options,
                                                          RequestAuthenticator authenticate,
                                                          RequestHandler handler) {
  auto server =
      std::make_unique<BeastHttpsServer>(options, std::move(authenticate), std::move(handler));
  BH_RETURN_IF_ERROR(server->Init());
  return std::unique_ptr<HttpsServer>(std::move(server));
}

}  // namespace bulkhead::controlplane
