#include "node/server/stream_relay.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string_view>

#include "fmt/format.h"

namespace bulkhead::node {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Past this much unsent in one direction, that side is not read.
constexpr size_t kMaxPending = size_t{256} << 10;
constexpr int kPollMs = 500;

struct Url {
  std::string host;
  std::string port;
  std::string host_port;
  std::string target;
};

StatusOr<Url> ParseUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError(
        fmt::format("the runtime's streaming URL \"{}\" is not http://", url));
  }
  url.remove_prefix(kScheme.size());
  const size_t slash = url.find('/');
  Url out;
  out.host_port = std::string(url.substr(0, slash));
  out.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  std::string_view authority = out.host_port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos || close + 1 >= authority.size() ||
        authority[close + 1] != ':') {
      return absl::InvalidArgumentError(fmt::format("bad streaming URL \"{}\"", url));
    }
    out.host = std::string(authority.substr(1, close - 1));
    out.port = std::string(authority.substr(close + 2));
  } else {
    const size_t colon = authority.rfind(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(fmt::format("bad streaming URL \"{}\"", url));
    }
    out.host = std::string(authority.substr(0, colon));
    out.port = std::string(authority.substr(colon + 1));
  }
  if (out.host.empty() || out.port.empty()) {
    return absl::InvalidArgumentError(fmt::format("bad streaming URL \"{}\"", url));
  }
  return out;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

// A non-blocking connection to a numeric address, within `timeout`.
StatusOr<int> Connect(const Url& url, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(
        fmt::format("the runtime's streaming address {}: {}", url.host_port, gai_strerror(rc)));
  }
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    ::freeaddrinfo(found);
    return absl::InternalError(fmt::format("socket: {}", std::strerror(errno)));
  }
  int rc = ::connect(fd, found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd entry{fd, POLLOUT, 0};
    rc = ::poll(&entry, 1, static_cast<int>(std::max<int64_t>(timeout.count(), 1)));
    int error = 0;
    socklen_t size = sizeof(error);
    if (rc == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) == 0 && error == 0) {
      rc = 0;
    } else {
      errno = rc == 0 ? ETIMEDOUT : (error != 0 ? error : errno);
      rc = -1;
    }
  }
  if (rc != 0) {
    const int error = errno;
    ::close(fd);
    return absl::UnavailableError(fmt::format("connecting to the runtime's streaming server {}: {}",
                                              url.host_port, std::strerror(error)));
  }
  return fd;
}

// Moves bytes both ways until one side ends and what it sent is delivered.
// The client's own bytes go on only once the runtime has switched
// protocols (101): what a client sends early never reaches a runtime that
// refused it. A write that makes no progress for the write timeout ends
// the relay, as does an error or hang-up on either socket.
class Splice {
 public:
  Splice(SSL* tls, int client_fd, int upstream_fd, std::string head, std::string client_bytes,
         std::chrono::milliseconds write_timeout)
      : tls_(tls),
        client_fd_(client_fd),
        upstream_fd_(upstream_fd),
        to_upstream_(std::move(head)),
        held_(std::move(client_bytes)),
        write_timeout_(write_timeout) {}

  void Run(const std::atomic<bool>& stopping) {
    SteadyClock::time_point drain_deadline = SteadyClock::time_point::max();
    const SteadyClock::time_point started = SteadyClock::now();
    SteadyClock::time_point progress = started;
    while (!stopping.load()) {
      client_events_ = POLLRDHUP;
      upstream_events_ = 0;
      bool moved = ReadClient();
      moved = WriteUpstream() || moved;
      moved = ReadUpstream() || moved;
      moved = WriteClient() || moved;
      if (failed_ || (client_done_ && to_upstream_.empty()) ||
          (upstream_done_ && to_client_.empty())) {
        return;
      }
      const SteadyClock::time_point now = SteadyClock::now();
      if (client_done_ || upstream_done_) {
        // One side is over: the other gets what is left, for a while.
        if (drain_deadline == SteadyClock::time_point::max()) {
          drain_deadline = now + write_timeout_;
        } else if (now > drain_deadline) {
          return;
        }
      }
      if (moved || (to_upstream_.empty() && to_client_.empty())) {
        progress = now;
      } else if (now - progress > write_timeout_) {
        stalled_ = true;  // a side takes nothing any more
        return;
      }
      if (!decided_ && now - started > write_timeout_) {
        stalled_ = true;  // the runtime never answered
        return;
      }
      if (moved) {
        continue;
      }
      std::array<pollfd, 2> fds{pollfd{client_fd_, client_events_, 0},
                                pollfd{upstream_fd_, upstream_events_, 0}};
      if (::poll(fds.data(), fds.size(), kPollMs) > 0) {
        // Errors and hang-ups end a side even when it is not being read
        // (its peer gone while the other side is stalled).
        if ((fds[0].revents & (POLLERR | POLLNVAL)) != 0 ||
            (fds[1].revents & (POLLERR | POLLNVAL)) != 0) {
          return;
        }
        if ((fds[0].revents & (POLLHUP | POLLRDHUP)) != 0 && (fds[0].revents & POLLIN) == 0) {
          client_done_ = true;
        }
        if ((fds[1].revents & POLLHUP) != 0 && (fds[1].revents & POLLIN) == 0) {
          upstream_done_ = true;
        }
      }
    }
  }

 private:
  void Want(int error, bool client) {
    short& events = client ? client_events_ : upstream_events_;
    if (error == SSL_ERROR_WANT_READ) {
      events |= POLLIN;
    } else if (error == SSL_ERROR_WANT_WRITE) {
      events |= POLLOUT;
    }
  }

  bool ReadClient() {
    if (client_done_ || !switched_ || to_upstream_.size() >= kMaxPending) {
      return false;
    }
    const int got = SSL_read(tls_, buffer_.data(), static_cast<int>(buffer_.size()));
    if (got > 0) {
      to_upstream_.append(buffer_.data(), static_cast<size_t>(got));
      return true;
    }
    const int error = SSL_get_error(tls_, got);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      Want(error, true);
    } else {
      client_done_ = true;
    }
    return false;
  }

  bool WriteUpstream() {
    if (to_upstream_.empty()) {
      return false;
    }
    const ssize_t sent =
        ::send(upstream_fd_, to_upstream_.data(), to_upstream_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent > 0) {
      to_upstream_.erase(0, static_cast<size_t>(sent));
      return true;
    }
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      upstream_events_ |= POLLOUT;
    } else {
      failed_ = true;
    }
    return false;
  }

  bool ReadUpstream() {
    if (upstream_done_ || to_client_.size() >= kMaxPending) {
      return false;
    }
    const ssize_t got = ::recv(upstream_fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (got > 0) {
      to_client_.append(buffer_.data(), static_cast<size_t>(got));
      if (!decided_) {
        answer_.append(buffer_.data(),
                       std::min(static_cast<size_t>(got), kStatusLine.size() - answer_.size()));
        if (answer_.size() == kStatusLine.size()) {
          decided_ = true;
          // "HTTP/1.x 101": the protocols switched; anything else is an
          // answer the client reads, and then the runtime closes.
          switched_ = answer_.substr(8) == kStatusLine.substr(8);
          if (switched_) {
            to_upstream_ += held_;
            held_.clear();
          }
        }
      }
      return true;
    }
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      upstream_events_ |= POLLIN;
    } else {
      upstream_done_ = true;
    }
    return false;
  }

  bool WriteClient() {
    if (to_client_.empty()) {
      return false;
    }
    // A write that wanted to wait is repeated with the same length.
    if (writing_ == 0) {
      writing_ = std::min<size_t>(to_client_.size(), INT_MAX);
    }
    const int wrote = SSL_write(tls_, to_client_.data(), static_cast<int>(writing_));
    if (wrote > 0) {
      to_client_.erase(0, static_cast<size_t>(wrote));
      writing_ = 0;
      return true;
    }
    const int error = SSL_get_error(tls_, wrote);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      Want(error, true);
    } else {
      failed_ = true;
    }
    return false;
  }

  static constexpr std::string_view kStatusLine = "HTTP/1.1 101";

 public:
  // Ended because a side stopped taking bytes (or never answered).
  [[nodiscard]] bool stalled() const { return stalled_; }

 private:
  bool stalled_ = false;

  SSL* tls_;
  int client_fd_;
  int upstream_fd_;
  std::string to_upstream_;
  std::string held_;    // the client's bytes until the runtime switched
  std::string answer_;  // the first bytes of the runtime's answer
  bool decided_ = false;
  bool switched_ = false;
  std::string to_client_;
  std::chrono::milliseconds write_timeout_;
  std::array<char, size_t{16} << 10> buffer_{};
  size_t writing_ = 0;
  short client_events_ = 0;
  short upstream_events_ = 0;
  bool client_done_ = false;
  bool upstream_done_ = false;
  bool failed_ = false;
};

}  // namespace

bool IsRelayedHeader(const std::string& lower_name) {
  return lower_name == "connection" || lower_name == "upgrade" ||
         lower_name.rfind("sec-websocket-", 0) == 0 || lower_name == "x-stream-protocol-version" ||
         lower_name == "origin" || lower_name == "user-agent";
}

Status RelayUpgrade(SSL* tls, int client_fd, const RelayRequest& request,
                    const std::atomic<bool>& stopping) {
  BH_ASSIGN_OR_RETURN(Url url, ParseUrl(request.url));
  BH_ASSIGN_OR_RETURN(int raw_fd, Connect(url, request.connect_timeout));
  Fd upstream(raw_fd);
  std::string head =
      fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\n", request.method, url.target, url.host_port);
  for (const auto& [name, value] : request.headers) {
    head += fmt::format("{}: {}\r\n", name, value);
  }
  head += "\r\n";
  // The client's socket goes non-blocking for the relay; SSL then answers
  // "want read/write" instead of waiting.
  const int flags = ::fcntl(client_fd, F_GETFL);
  ::fcntl(client_fd, F_SETFL, flags | O_NONBLOCK);
  SSL_set_mode(tls, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  Splice splice(tls, client_fd, upstream.get(), std::move(head), request.client_bytes,
                request.write_timeout);
  splice.Run(stopping);
  if (splice.stalled()) {
    // Given up: reset rather than leave the unsent bytes, and the socket,
    // queued in the kernel behind a runtime that does not read.
    linger abort{1, 0};
    ::setsockopt(upstream.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
  }
  ::fcntl(client_fd, F_SETFL, flags);
  return absl::OkStatus();
}

}  // namespace bulkhead::node
