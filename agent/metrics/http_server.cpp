#include "agent/metrics/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "common/logging.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::agent::metrics {
namespace {

constexpr size_t kMaxRequest = 8192;
constexpr int kRequestTimeoutMs = 2000;

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string Response(int code, std::string_view reason, std::string_view type,
                     std::string_view body) {
  return fmt::format(
      "HTTP/1.0 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      code, reason, type, body.size(), body);
}

}  // namespace

StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen,
                                                              Render render) {
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
  addr.sin_port = htons(*port);
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener) {
    return ErrnoError(errno, "create the metrics socket");
  }
  int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return ErrnoError(errno, fmt::format("bind the metrics endpoint to {}", listen));
  }
  if (::listen(listener.get(), 16) != 0) {
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
  Logger(Component::kAgent).info("metrics listening address={} port={}", listen, bound);
  return std::unique_ptr<MetricsServer>(
      new MetricsServer(std::move(listener), std::move(stop), bound, std::move(render)));
}

MetricsServer::MetricsServer(UniqueFd listener, UniqueFd stop, int port, Render render)
    : listener_(std::move(listener)),
      stop_(std::move(stop)),
      port_(port),
      render_(std::move(render)),
      thread_([this] { Loop(); }) {}

MetricsServer::~MetricsServer() {
  std::uint64_t one = 1;
  (void)!::write(stop_.get(), &one, sizeof(one));
  thread_.join();
}

void MetricsServer::Loop() {
  while (true) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      return;
    }
    UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (client) {
      Serve(client.get());
    }
  }
}

void MetricsServer::Serve(int fd) {
  std::string request;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kRequestTimeoutMs);
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequest) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    pollfd pfd{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&pfd, 1, static_cast<int>(left)) != 1) {
      return;
    }
    char buf[1024];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      return;
    }
    request.append(buf, static_cast<size_t>(n));
  }
  std::string_view line = std::string_view(request).substr(0, request.find("\r\n"));
  auto parts = SplitNonEmpty(line, " ");
  if (parts.size() < 2 || parts[0] != "GET") {
    WriteAll(fd, Response(405, "Method Not Allowed", "text/plain", "only GET /metrics\n"));
    return;
  }
  std::string_view path = parts[1].substr(0, parts[1].find('?'));
  if (path != "/metrics") {
    WriteAll(fd, Response(404, "Not Found", "text/plain", "metrics are at /metrics\n"));
    return;
  }
  WriteAll(fd, Response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", render_()));
}

}  // namespace bulkhead::agent::metrics
