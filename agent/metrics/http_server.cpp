#include "agent/metrics/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>

#include "common/file.h"
#include "common/logging.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::agent::metrics {
namespace {

constexpr size_t kMaxRequest = 8192;
using Clock = std::chrono::steady_clock;

std::string Response(int code, std::string_view reason, std::string_view type,
                     std::string_view body, std::string_view extra_headers = "") {
  return fmt::format(
      "HTTP/1.0 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n{}",
      code, reason, type, body.size(), extra_headers, body);
}

// The value of header `name` (case-insensitive), if the request has it.
std::optional<std::string_view> Header(std::string_view request, std::string_view name) {
  for (std::string_view line : SplitNonEmpty(request, "\r\n")) {
    size_t colon = line.find(':');
    if (colon != name.size()) {
      continue;
    }
    bool same = std::equal(line.begin(), line.begin() + static_cast<long>(colon), name.begin(),
                           [](char a, char b) { return std::tolower(a) == std::tolower(b); });
    if (same) {
      return TrimSpace(line.substr(colon + 1));
    }
  }
  return std::nullopt;
}

bool SameSecret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

struct MetricsServer::Connection {
  UniqueFd fd;
  Clock::time_point deadline;
  std::string request;
  std::string answer;  // being sent once the request is in
  size_t sent = 0;
  bool answering = false;
};

StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const MetricsServerOptions& options,
                                                              Render render) {
  const std::string& listen = options.listen;
  size_t colon = listen.rfind(':');
  std::optional<std::uint16_t> port;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (colon != std::string::npos) {
    port = ParseInteger<std::uint16_t>(std::string_view(listen).substr(colon + 1));
  }
  if (!port || ::inet_pton(AF_INET, listen.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(fmt::format(
        "--metrics-listen {}: expected an IPv4 address and port, e.g. 127.0.0.1:9444", listen));
  }
  if (options.max_connections == 0 || options.deadline.count() <= 0) {
    return absl::InvalidArgumentError("metrics server: at least one connection and a deadline");
  }
  addr.sin_port = htons(*port);
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listener) {
    return ErrnoError(errno, "create the metrics socket");
  }
  int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return ErrnoError(errno, fmt::format("bind the metrics endpoint to {}", listen));
  }
  if (::listen(listener.get(), 64) != 0) {
    return ErrnoError(errno, fmt::format("listen on {}", listen));
  }
  socklen_t len = sizeof(addr);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
  if (!stop) {
    return ErrnoError(errno, "create an eventfd");
  }
  int bound = ntohs(addr.sin_port);
  std::unique_ptr<MetricsServer> server(
      new MetricsServer(std::move(listener), std::move(stop), bound, options, std::move(render)));
  if (!options.token_file.empty()) {
    if (auto token = server->Token(); !token.ok()) {
      return absl::FailedPreconditionError(
          fmt::format("--metrics-token-file: {}", MessageOf(token.status())));
    }
  }
  server->thread_ = std::thread([raw = server.get()] { raw->Loop(); });
  Logger(Component::kAgent)
      .info("metrics listening address={} port={} token_file={}", listen, bound,
            options.token_file.empty() ? "none" : options.token_file);
  return server;
}

MetricsServer::MetricsServer(UniqueFd listener, UniqueFd stop, int port,
                             MetricsServerOptions options, Render render)
    : listener_(std::move(listener)),
      stop_(std::move(stop)),
      port_(port),
      options_(std::move(options)),
      render_(std::move(render)) {}

MetricsServer::~MetricsServer() {
  std::uint64_t one = 1;
  (void)!::write(stop_.get(), &one, sizeof(one));
  if (thread_.joinable()) {
    thread_.join();
  }
}

StatusOr<std::string> MetricsServer::Token() const {
  BH_ASSIGN_OR_RETURN(std::string text, ReadFile(options_.token_file));
  std::string_view token = TrimSpace(text);
  if (token.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "{} is empty: write the bearer token Prometheus sends into it", options_.token_file));
  }
  return std::string(token);
}

void MetricsServer::Loop() {
  std::vector<Connection> connections;
  std::vector<pollfd> fds;
  while (true) {
    auto now = Clock::now();
    // Cut off what ran out of time.
    std::erase_if(connections, [now](const Connection& c) { return c.deadline <= now; });
    fds.clear();
    fds.push_back({stop_.get(), POLLIN, 0});
    fds.push_back({listener_.get(), POLLIN, 0});
    auto next = now + options_.deadline;
    for (const Connection& c : connections) {
      fds.push_back({c.fd.get(), static_cast<short>(c.answering ? POLLOUT : POLLIN), 0});
      next = std::min(next, c.deadline);
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
    if (::poll(fds.data(), fds.size(), static_cast<int>(wait)) < 0) {
      if (errno == EINTR) {
        continue;
      }
      Logger(Component::kAgent).error("metrics endpoint stopped: poll: {}", std::strerror(errno));
      return;
    }
    if ((fds[0].revents & POLLIN) != 0) {
      return;
    }
    // Serve the connections polled (new ones join the next round).
    std::vector<bool> over(connections.size(), false);
    for (size_t i = 0; i < connections.size(); ++i) {
      short events = fds[i + 2].revents;
      if (events == 0) {
        continue;
      }
      Connection& c = connections[i];
      over[i] = c.answering ? !Send(c) : !Receive(c);
    }
    size_t index = 0;
    std::erase_if(connections, [&](const Connection&) { return over[index++]; });
    if ((fds[1].revents & POLLIN) != 0) {
      while (true) {
        UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!client) {
          break;
        }
        if (connections.size() >= options_.max_connections) {
          // The oldest makes room: no set of idle clients keeps others out.
          auto oldest = std::min_element(
              connections.begin(), connections.end(),
              [](const Connection& a, const Connection& b) { return a.deadline < b.deadline; });
          connections.erase(oldest);
        }
        connections.push_back(
            {std::move(client), Clock::now() + options_.deadline, {}, {}, 0, false});
      }
    }
  }
}

bool MetricsServer::Receive(Connection& c) {
  char buf[2048];
  while (true) {
    ssize_t n = ::recv(c.fd.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;  // more later
    }
    if (n <= 0) {
      return false;  // gone, or failed
    }
    c.request.append(buf, static_cast<size_t>(n));
    size_t end = c.request.find("\r\n\r\n");
    if (end != std::string::npos || c.request.size() > kMaxRequest) {
      c.answer = end == std::string::npos ? Response(431, "Request Header Fields Too Large",
                                                     "text/plain", "a request fits in 8 KiB\n")
                                          : Answer(std::string_view(c.request).substr(0, end));
      c.answering = true;
      c.request.clear();
      return Send(c);
    }
  }
}

bool MetricsServer::Send(Connection& c) {
  while (c.sent < c.answer.size()) {
    ssize_t n = ::send(c.fd.get(), c.answer.data() + c.sent, c.answer.size() - c.sent,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;  // the client has not read yet: wait, until the deadline
    }
    if (n <= 0) {
      return false;
    }
    c.sent += static_cast<size_t>(n);
  }
  return false;  // all sent: close
}

std::string MetricsServer::Answer(std::string_view request) const {
  std::string_view line = request.substr(0, request.find("\r\n"));
  auto parts = SplitNonEmpty(line, " ");
  if (parts.size() < 2 || parts[0] != "GET") {
    return Response(405, "Method Not Allowed", "text/plain", "only GET /metrics\n");
  }
  std::string_view path = parts[1].substr(0, parts[1].find('?'));
  if (path != "/metrics") {
    return Response(404, "Not Found", "text/plain", "metrics are at /metrics\n");
  }
  MetricsScope scope = MetricsScope::kNode;
  if (auto authorization = Header(request, "Authorization")) {
    std::string_view credentials = *authorization;
    bool bearer = credentials.size() > 7 &&
                  (credentials.starts_with("Bearer ") || credentials.starts_with("bearer "));
    auto token = options_.token_file.empty()
                     ? StatusOr<std::string>(absl::FailedPreconditionError("no token file"))
                     : Token();
    if (!token.ok() && !options_.token_file.empty()) {
      Logger(Component::kAgent)
          .error("metrics token file unreadable path={} error=\"{}\"", options_.token_file,
                 MessageOf(token.status()));
    }
    if (!bearer || !token.ok() || !SameSecret(TrimSpace(credentials.substr(7)), *token)) {
      return Response(401, "Unauthorized", "text/plain",
                      "the bearer token does not match the agent's --metrics-token-file; "
                      "without Authorization only node-level series are served\n",
                      "WWW-Authenticate: Bearer realm=\"bulkhead-agent\"\r\n");
    }
    scope = MetricsScope::kTenants;
  }
  return Response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", render_(scope));
}

}  // namespace bulkhead::agent::metrics
