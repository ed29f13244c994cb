// node/kubelet/prober: probes run against real servers the test starts on
// 127.0.0.1 (HTTP answering given status codes, HTTPS with a self-signed
// certificate made here, a listener that never answers, a port that
// refuses), exec probes through an injected exec, and the tracker's
// initial delay, period and thresholds on synthetic time points.
#include "node/kubelet/prober.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace bulkhead::node {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

const char kLocal[] = "127.0.0.1";

// A TCP socket bound to 127.0.0.1 on a port of the kernel's choosing,
// listening when `listen` (else a port that refuses connections).
UniqueFd LocalSocket(bool listen, int* port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(fd.valid());
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  auto* raw = reinterpret_cast<sockaddr*>(&address);
  EXPECT_EQ(::bind(fd.get(), raw, sizeof(address)), 0);
  socklen_t length = sizeof(address);
  EXPECT_EQ(::getsockname(fd.get(), raw, &length), 0);
  *port = ntohs(address.sin_port);
  if (listen) {
    EXPECT_EQ(::listen(fd.get(), 16), 0);
  }
  return fd;
}

void SetReceiveTimeout(int fd) {
  timeval five{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof(five));
}

// The request's head as a plain server reads it.
std::string ReadHead(int fd) {
  std::string head;
  char buffer[1024];
  while (head.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      break;
    }
    head.append(buffer, static_cast<size_t>(n));
  }
  return head;
}

// Accepts connections on 127.0.0.1 on a thread and hands each to `handler`.
class Server {
 public:
  using Handler = std::function<void(int fd)>;
  explicit Server(Handler handler) : handler_(std::move(handler)) {
    listen_ = LocalSocket(true, &port_);
    thread_ = std::thread([this] { Loop(); });
  }
  ~Server() {
    stop_ = true;
    thread_.join();
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] int connections() const { return connections_.load(); }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{listen_.get(), POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) {
        continue;
      }
      UniqueFd client(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (client) {
        ++connections_;
        SetReceiveTimeout(client.get());
        handler_(client.get());
      }
    }
  }

  Handler handler_;
  UniqueFd listen_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

std::string Response(int code, const std::string& extra = "") {
  return fmt::format("HTTP/1.1 {} Whatever\r\n{}Content-Length: 0\r\nConnection: close\r\n\r\n",
                     code, extra);
}

// Answers every request with `code`; keeps the last request's head.
class HttpServer {
 public:
  explicit HttpServer(int code, const std::string& extra = "")
      : response_(Response(code, extra)), server_([this](int fd) { Serve(fd); }) {}
  [[nodiscard]] int port() const { return server_.port(); }
  [[nodiscard]] int connections() const { return server_.connections(); }
  std::string request() {
    std::lock_guard<std::mutex> lock(mutex_);
    return request_;
  }

 private:
  void Serve(int fd) {
    std::string head = ReadHead(fd);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      request_ = head;
    }
    ::send(fd, response_.data(), response_.size(), MSG_NOSIGNAL);
  }

  std::mutex mutex_;
  std::string request_;
  std::string response_;
  Server server_;
};

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

// A TLS server context with a self-signed P-256 certificate made here.
std::unique_ptr<SSL_CTX, SslCtxFree> SelfSignedContext() {
  std::unique_ptr<EVP_PKEY, KeyFree> key(EVP_EC_gen("P-256"));
  std::unique_ptr<X509, X509Free> cert(X509_new());
  if (!key || !cert) {
    return nullptr;
  }
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  static const unsigned char kName[] = "bulkhead-probe-test";
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, kName, -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return nullptr;
  }
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx || SSL_CTX_use_certificate(ctx.get(), cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1) {
    return nullptr;
  }
  return ctx;
}

// Answers every request over TLS with `code`; keeps the last request.
class HttpsServer {
 public:
  explicit HttpsServer(int code)
      : ctx_(SelfSignedContext()),
        response_(Response(code)),
        server_([this](int fd) { Serve(fd); }) {}
  [[nodiscard]] bool ready() const { return ctx_ != nullptr; }
  [[nodiscard]] int port() const { return server_.port(); }
  std::string request() {
    std::lock_guard<std::mutex> lock(mutex_);
    return request_;
  }

 private:
  void Serve(int fd) {
    if (!ctx_) {
      return;
    }
    std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx_.get()));
    SSL_set_fd(ssl.get(), fd);
    if (SSL_accept(ssl.get()) != 1) {
      return;
    }
    std::string head;
    char buffer[1024];
    while (head.find("\r\n\r\n") == std::string::npos) {
      int n = SSL_read(ssl.get(), buffer, sizeof(buffer));
      if (n <= 0) {
        break;
      }
      head.append(buffer, static_cast<size_t>(n));
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      request_ = head;
    }
    SSL_write(ssl.get(), response_.data(), static_cast<int>(response_.size()));
    SSL_shutdown(ssl.get());
  }

  std::unique_ptr<SSL_CTX, SslCtxFree> ctx_;
  std::mutex mutex_;
  std::string request_;
  std::string response_;
  Server server_;
};

json HttpProbe(int port, const std::string& path = "/healthz") {
  return {{"httpGet", {{"path", path}, {"port", port}}}};
}

ProbeOutcome Probe(const json& probe, const json& container = json::object()) {
  return RunProbe(probe, container, kLocal, nullptr);
}

TEST(HttpProbeTest, Status200SucceedsAndSendsAKubeletsRequest) {
  HttpServer server(200);
  ProbeOutcome outcome = Probe(HttpProbe(server.port()));
  EXPECT_EQ(outcome.result, ProbeResult::kSuccess) << outcome.message;
  EXPECT_EQ(outcome.message, "");
  std::string request = server.request();
  EXPECT_TRUE(request.starts_with("GET /healthz HTTP/1.1\r\n")) << request;
  EXPECT_NE(request.find(fmt::format("\r\nHost: 127.0.0.1:{}\r\n", server.port())),
            std::string::npos)
      << request;
  EXPECT_NE(request.find("\r\nUser-Agent: kube-probe/1.32\r\n"), std::string::npos) << request;
  EXPECT_NE(request.find("\r\nAccept: */*\r\n"), std::string::npos) << request;
  EXPECT_NE(request.find("\r\nConnection: close\r\n"), std::string::npos) << request;
}

TEST(HttpProbeTest, EmptyPathAsksForTheRoot) {
  HttpServer server(204);
  ProbeOutcome outcome = Probe({{"httpGet", {{"port", server.port()}}}});
  EXPECT_EQ(outcome.result, ProbeResult::kSuccess) << outcome.message;
  EXPECT_TRUE(server.request().starts_with("GET / HTTP/1.1\r\n")) << server.request();
}

TEST(HttpProbeTest, RedirectSucceedsWithoutBeingFollowed) {
  // Were it followed, port 1 on 127.0.0.1 would refuse it.
  HttpServer server(302, "Location: http://127.0.0.1:1/elsewhere\r\n");
  ProbeOutcome outcome = Probe(HttpProbe(server.port()));
  EXPECT_EQ(outcome.result, ProbeResult::kSuccess) << outcome.message;
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpProbeTest, ErrorStatusesFailWithTheCode) {
  for (int code : {500, 404}) {
    HttpServer server(code);
    ProbeOutcome outcome = Probe(HttpProbe(server.port()));
    EXPECT_EQ(outcome.result, ProbeResult::kFailure);
    EXPECT_EQ(outcome.message, fmt::format("HTTP probe failed with statuscode: {}", code));
    EXPECT_EQ(ProbeEventMessage("Readiness", outcome),
              fmt::format("Readiness probe failed: HTTP probe failed with statuscode: {}", code));
  }
}

TEST(HttpProbeTest, RefusedConnectionFails) {
  int port = 0;
  UniqueFd closed = LocalSocket(false, &port);
  ProbeOutcome outcome = Probe(HttpProbe(port));
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(outcome.message,
            fmt::format("Get \"http://127.0.0.1:{0}/healthz\": dial tcp 127.0.0.1:{0}: connect: "
                        "connection refused",
                        port));
}

TEST(HttpProbeTest, ServerThatNeverAnswersFailsWithinTheTimeout) {
  int port = 0;
  UniqueFd silent = LocalSocket(true, &port);  // the kernel accepts; nobody answers
  json probe = HttpProbe(port);
  probe["timeoutSeconds"] = 1;
  auto begin = Clock::now();
  ProbeOutcome outcome = Probe(probe);
  auto took = Clock::now() - begin;
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_NE(outcome.message.find("deadline exceeded"), std::string::npos) << outcome.message;
  EXPECT_LT(took, std::chrono::milliseconds(1500));
}

TEST(HttpProbeTest, ServerThatClosesOrSpeaksNoHttpFails) {
  Server closes([](int fd) { ReadHead(fd); });  // reads the request, closes without a word
  ProbeOutcome outcome = Probe(HttpProbe(closes.port()));
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_NE(outcome.message.find(": EOF"), std::string::npos) << outcome.message;

  Server garbage([](int fd) {
    ReadHead(fd);
    ::send(fd, "SSH-2.0-x\r\n", 11, MSG_NOSIGNAL);
  });
  outcome = Probe(HttpProbe(garbage.port()));
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_NE(outcome.message.find("malformed HTTP response \"SSH-2.0-x\""), std::string::npos)
      << outcome.message;
}

TEST(HttpProbeTest, NamedPortResolvesFromTheContainer) {
  HttpServer server(200);
  json container = {{"name", "app"},
                    {"ports",
                     {{{"name", "metrics"}, {"containerPort", 1}},
                      {{"name", "http"}, {"containerPort", server.port()}}}}};
  json probe = {{"httpGet", {{"path", "/ready"}, {"port", "http"}}}};
  ProbeOutcome outcome = Probe(probe, container);
  EXPECT_EQ(outcome.result, ProbeResult::kSuccess) << outcome.message;
  EXPECT_TRUE(server.request().starts_with("GET /ready HTTP/1.1\r\n"));

  // A number written as a string is a port too.
  probe["httpGet"]["port"] = std::to_string(server.port());
  EXPECT_EQ(Probe(probe, container).result, ProbeResult::kSuccess);
}

TEST(HttpProbeTest, UnknownNamedPortFails) {
  json container = {{"name", "app"}, {"ports", {{{"name", "http"}, {"containerPort", 8080}}}}};
  ProbeOutcome outcome = Probe({{"httpGet", {{"port", "admin"}}}}, container);
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(outcome.message, "port \"admin\" not found in container \"app\"");
}

TEST(HttpProbeTest, InvalidPortsFail) {
  for (const json& port : {json(0), json(70000), json(-1), json(true)}) {
    ProbeOutcome outcome = Probe({{"httpGet", {{"port", port}}}});
    EXPECT_EQ(outcome.result, ProbeResult::kFailure) << port;
    EXPECT_FALSE(outcome.message.empty());
  }
  EXPECT_EQ(Probe({{"httpGet", {{"port", 70000}}}}).message, "invalid port number: 70000");
}

TEST(HttpProbeTest, HeadersAreSent) {
  HttpServer server(200);
  json probe = HttpProbe(server.port());
  probe["httpGet"]["httpHeaders"] = {{{"name", "X-Probe"}, {"value", "yes"}},
                                     {{"name", "Host"}, {"value", "app.example"}},
                                     {{"name", "X-Empty"}, {"value", ""}}};
  ProbeOutcome outcome = Probe(probe);
  EXPECT_EQ(outcome.result, ProbeResult::kSuccess) << outcome.message;
  std::string request = server.request();
  EXPECT_NE(request.find("\r\nX-Probe: yes\r\n"), std::string::npos) << request;
  EXPECT_NE(request.find("\r\nX-Empty: \r\n"), std::string::npos) << request;
  EXPECT_NE(request.find("\r\nHost: app.example\r\n"), std::string::npos) << request;
  EXPECT_EQ(request.find("Host: 127.0.0.1"), std::string::npos) << request;
}

TEST(HttpProbeTest, HeaderThatWouldSplitTheRequestFails) {
  HttpServer server(200);
  json probe = HttpProbe(server.port());
  probe["httpGet"]["httpHeaders"] = {{{"name", "X-Evil"}, {"value", "a\r\nX-Injected: 1"}}};
  ProbeOutcome outcome = Probe(probe);
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(server.connections(), 0);
}

TEST(HttpProbeTest, HttpsWithoutVerifyingTheCertificate) {
  HttpsServer ok(200);
  ASSERT_TRUE(ok.ready());
  json probe = HttpProbe(ok.port());
  probe["httpGet"]["scheme"] = "HTTPS";
  probe["httpGet"]["httpHeaders"] = {{{"name", "X-Probe"}, {"value", "tls"}}};
  ProbeOutcome outcome = Probe(probe);
  EXPECT_EQ(outcome.result, ProbeResult::kSuccess) << outcome.message;
  EXPECT_TRUE(ok.request().starts_with("GET /healthz HTTP/1.1\r\n")) << ok.request();
  EXPECT_NE(ok.request().find("\r\nX-Probe: tls\r\n"), std::string::npos) << ok.request();

  HttpsServer failing(503);
  probe["httpGet"]["port"] = failing.port();
  outcome = Probe(probe);
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(outcome.message, "HTTP probe failed with statuscode: 503");
}

TEST(HttpProbeTest, HttpsToAServerThatNeverAnswersFailsWithinTheTimeout) {
  int port = 0;
  UniqueFd silent = LocalSocket(true, &port);
  json probe = HttpProbe(port);
  probe["httpGet"]["scheme"] = "HTTPS";
  auto begin = Clock::now();
  ProbeOutcome outcome = Probe(probe);  // timeoutSeconds defaults to 1
  EXPECT_LT(Clock::now() - begin, std::chrono::milliseconds(1500));
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_NE(outcome.message.find("deadline exceeded"), std::string::npos) << outcome.message;
}

TEST(HttpProbeTest, HttpsToAPlainServerFails) {
  HttpServer plain(200);
  json probe = HttpProbe(plain.port());
  probe["httpGet"]["scheme"] = "HTTPS";
  ProbeOutcome outcome = Probe(probe);
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_NE(outcome.message.find("https://127.0.0.1"), std::string::npos) << outcome.message;
}

TEST(HttpProbeTest, UnknownSchemeFails) {
  json probe = HttpProbe(80);
  probe["httpGet"]["scheme"] = "FTP";
  EXPECT_EQ(Probe(probe).message, "unsupported HTTP probe scheme \"ftp\"");
}

TEST(TcpProbeTest, ListeningPortSucceeds) {
  int port = 0;
  UniqueFd listening = LocalSocket(true, &port);
  ProbeOutcome outcome = Probe({{"tcpSocket", {{"port", port}}}});
  EXPECT_EQ(outcome.result, ProbeResult::kSuccess) << outcome.message;

  json container = {{"ports", {{{"name", "db"}, {"containerPort", port}}}}};
  EXPECT_EQ(Probe({{"tcpSocket", {{"port", "db"}, {"host", kLocal}}}}, container).result,
            ProbeResult::kSuccess);
}

TEST(TcpProbeTest, RefusedPortFails) {
  int port = 0;
  UniqueFd closed = LocalSocket(false, &port);
  ProbeOutcome outcome = Probe({{"tcpSocket", {{"port", port}}}});
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(outcome.message,
            fmt::format("dial tcp 127.0.0.1:{}: connect: connection refused", port));
  EXPECT_EQ(ProbeEventMessage("Liveness", outcome),
            fmt::format("Liveness probe failed: dial tcp 127.0.0.1:{}: connect: connection refused",
                        port));
}

TEST(TcpProbeTest, NoHostAndNoPodIpFails) {
  ProbeOutcome outcome = RunProbe({{"tcpSocket", {{"port", 80}}}}, json::object(), "", nullptr);
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(outcome.message, "dial tcp: no host to probe (the pod has no IP)");
}

TEST(TcpProbeTest, UnknownNamedPortFails) {
  ProbeOutcome outcome = Probe({{"tcpSocket", {{"port", "db"}}}}, {{"name", "app"}});
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(outcome.message, "port \"db\" not found in container \"app\"");
}

struct FakeExec {
  explicit FakeExec(StatusOr<std::pair<int, std::string>> given) : answer(std::move(given)) {}
  StatusOr<std::pair<int, std::string>> answer;
  std::vector<std::string> command;
  seconds timeout{0};
  int calls = 0;
  ProbeExec fn() {
    return [this](const std::vector<std::string>& cmd, seconds limit) {
      ++calls;
      command = cmd;
      timeout = limit;
      return answer;
    };
  }
};

TEST(ExecProbeTest, ExitZeroSucceedsThroughTheInjectedExec) {
  FakeExec exec{std::make_pair(0, std::string("fine\n"))};
  json probe = {{"exec", {{"command", {"cat", "/tmp/healthy"}}}}, {"timeoutSeconds", 5}};
  ProbeOutcome outcome = RunProbe(probe, json::object(), kLocal, exec.fn());
  EXPECT_EQ(outcome.result, ProbeResult::kSuccess);
  EXPECT_EQ(exec.calls, 1);
  EXPECT_EQ(exec.command, (std::vector<std::string>{"cat", "/tmp/healthy"}));
  EXPECT_EQ(exec.timeout, seconds(5));
}

TEST(ExecProbeTest, NonZeroExitFailsWithTheOutput) {
  FakeExec exec{std::make_pair(1, std::string("cat: /tmp/healthy: No such file or directory\n"))};
  json probe = {{"exec", {{"command", {"cat", "/tmp/healthy"}}}}};
  ProbeOutcome outcome = RunProbe(probe, json::object(), kLocal, exec.fn());
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(outcome.message,
            "command \"cat /tmp/healthy\" exited with 1: cat: /tmp/healthy: No such file or "
            "directory");
  EXPECT_EQ(exec.timeout, seconds(1));  // the default timeoutSeconds

  exec.answer = std::make_pair(2, std::string());
  EXPECT_EQ(RunProbe(probe, json::object(), kLocal, exec.fn()).message,
            "command \"cat /tmp/healthy\" exited with 2");
}

TEST(ExecProbeTest, ExecErrorFails) {
  FakeExec exec{absl::UnavailableError("container not running")};
  json probe = {{"exec", {{"command", {"true"}}}}};
  ProbeOutcome outcome = RunProbe(probe, json::object(), kLocal, exec.fn());
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(outcome.message, "command \"true\" failed: container not running");

  exec.answer = absl::DeadlineExceededError("exec timed out");
  outcome = RunProbe(probe, json::object(), kLocal, exec.fn());
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(outcome.message, "command \"true\" timed out");

  // No exec at all, or no command: failures, not crashes.
  EXPECT_EQ(RunProbe(probe, json::object(), kLocal, nullptr).result, ProbeResult::kFailure);
  EXPECT_EQ(RunProbe({{"exec", json::object()}}, json::object(), kLocal, exec.fn()).message,
            "the exec probe has no command");
}

TEST(ProbeTest, GrpcFailsClearly) {
  ProbeOutcome outcome = Probe({{"grpc", {{"port", 9000}}}});
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(outcome.message, "gRPC probes are not supported");
}

TEST(ProbeTest, ProbeWithoutHandlerOrNotAnObjectFails) {
  EXPECT_EQ(Probe({{"periodSeconds", 3}}).result, ProbeResult::kFailure);
  EXPECT_EQ(Probe(json::array()).result, ProbeResult::kFailure);
  EXPECT_EQ(Probe({{"httpGet", "nonsense"}}).result, ProbeResult::kFailure);
}

TEST(ProbeTest, Timeout) {
  EXPECT_EQ(ProbeTimeout(json::object()), seconds(1));
  EXPECT_EQ(ProbeTimeout({{"timeoutSeconds", 0}}), seconds(1));
  EXPECT_EQ(ProbeTimeout({{"timeoutSeconds", 7}}), seconds(7));
}

const ProbeOutcome kOk{ProbeResult::kSuccess, ""};
const ProbeOutcome kBad{ProbeResult::kFailure, "HTTP probe failed with statuscode: 500"};

TEST(ProbeTrackerTest, DefaultsPeriodTenAndFailureThresholdThree) {
  const Clock::time_point start = Clock::time_point() + seconds(1000);
  ProbeTracker liveness(json{{"tcpSocket", {{"port", 80}}}}, true);
  EXPECT_TRUE(liveness.succeeded());
  EXPECT_TRUE(liveness.Due(start, start));  // no initial delay
  EXPECT_EQ(liveness.next_due(start), start);

  EXPECT_FALSE(liveness.Record(kBad, start));
  EXPECT_EQ(liveness.last_message(), kBad.message);
  EXPECT_FALSE(liveness.Due(start + seconds(9), start));
  EXPECT_TRUE(liveness.Due(start + seconds(10), start));
  EXPECT_EQ(liveness.next_due(start), start + seconds(10));
  EXPECT_FALSE(liveness.Record(kBad, start + seconds(10)));
  EXPECT_TRUE(liveness.succeeded());
  EXPECT_TRUE(liveness.Record(kBad, start + seconds(20)));  // the third in a row
  EXPECT_FALSE(liveness.succeeded());
  EXPECT_FALSE(liveness.Record(kBad, start + seconds(30)));  // no change
  EXPECT_TRUE(liveness.Record(kOk, start + seconds(40)));    // successThreshold 1
  EXPECT_TRUE(liveness.succeeded());
  EXPECT_EQ(liveness.last_message(), "");
}

TEST(ProbeTrackerTest, ASuccessBreaksTheRunOfFailures) {
  const Clock::time_point start{};
  ProbeTracker liveness(json{{"failureThreshold", 2}}, true);
  EXPECT_FALSE(liveness.Record(kBad, start));
  EXPECT_FALSE(liveness.Record(kOk, start + seconds(10)));
  EXPECT_FALSE(liveness.Record(kBad, start + seconds(20)));
  EXPECT_TRUE(liveness.succeeded());
  EXPECT_TRUE(liveness.Record(kBad, start + seconds(30)));
  EXPECT_FALSE(liveness.succeeded());
}

TEST(ProbeTrackerTest, ReadinessStartsFailedAndNeedsItsSuccessThreshold) {
  const Clock::time_point start{};
  ProbeTracker readiness(json{{"successThreshold", 2}, {"failureThreshold", 1}}, false);
  EXPECT_FALSE(readiness.succeeded());
  EXPECT_FALSE(readiness.Record(kOk, start));
  EXPECT_FALSE(readiness.succeeded());
  EXPECT_TRUE(readiness.Record(kOk, start + seconds(10)));
  EXPECT_TRUE(readiness.succeeded());
  EXPECT_TRUE(readiness.Record(kBad, start + seconds(20)));  // failureThreshold 1
  EXPECT_FALSE(readiness.succeeded());
  EXPECT_FALSE(readiness.Record(kOk, start + seconds(30)));
  EXPECT_FALSE(readiness.Record(kBad, start + seconds(40)));
  EXPECT_FALSE(readiness.Record(kOk, start + seconds(50)));  // the run starts again
  EXPECT_FALSE(readiness.succeeded());
}

TEST(ProbeTrackerTest, FailuresBeforeAnySuccessKeepReadinessFailed) {
  ProbeTracker readiness(json::object(), false);
  EXPECT_FALSE(readiness.Record(kBad, Clock::time_point()));
  EXPECT_FALSE(readiness.Record(kBad, Clock::time_point() + seconds(10)));
  EXPECT_FALSE(readiness.Record(kBad, Clock::time_point() + seconds(20)));
  EXPECT_FALSE(readiness.succeeded());
}

TEST(ProbeTrackerTest, InitialDelayThenPeriodFromTheLastProbe) {
  const Clock::time_point start = Clock::time_point() + seconds(500);
  ProbeTracker startup(json{{"initialDelaySeconds", 15}, {"periodSeconds", 5}}, false);
  EXPECT_FALSE(startup.Due(start, start));
  EXPECT_FALSE(startup.Due(start + seconds(14), start));
  EXPECT_TRUE(startup.Due(start + seconds(15), start));
  EXPECT_EQ(startup.next_due(start), start + seconds(15));

  // Probed late, at 17 s: the next one is five seconds after that.
  EXPECT_TRUE(startup.Record(kOk, start + seconds(17)));
  EXPECT_TRUE(startup.succeeded());
  EXPECT_EQ(startup.next_due(start), start + seconds(22));
  EXPECT_FALSE(startup.Due(start + seconds(21), start));
  EXPECT_TRUE(startup.Due(start + seconds(22), start));
}

TEST(ProbeTrackerTest, NonsenseSettingsFallBackToDefaults) {
  const Clock::time_point start{};
  ProbeTracker tracker(json{{"initialDelaySeconds", -5},
                            {"periodSeconds", 0},
                            {"successThreshold", 0},
                            {"failureThreshold", "x"}},
                       true);
  EXPECT_EQ(tracker.next_due(start), start);
  tracker.Record(kBad, start);
  EXPECT_EQ(tracker.next_due(start), start + seconds(10));
  EXPECT_FALSE(tracker.Record(kBad, start + seconds(10)));
  EXPECT_TRUE(tracker.Record(kBad, start + seconds(20)));
  EXPECT_EQ(tracker.probe()["periodSeconds"], 0);
}

}  // namespace
}  // namespace bulkhead::node
