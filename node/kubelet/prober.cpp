#include "node/kubelet/prober.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "common/strings.h"
#include "common/unique_fd.h"
#include "fmt/format.h"

namespace bulkhead::node {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr char kUserAgent[] = "kube-probe/1.32";
constexpr char kAwaitingHeaders[] =
    "context deadline exceeded (Client.Timeout exceeded while awaiting headers)";
constexpr size_t kMaxHeadBytes = 16384;
constexpr size_t kMaxExecOutput = 10240;  // what a kubelet keeps of an exec probe's output

ProbeOutcome Success() { return {ProbeResult::kSuccess, ""}; }
ProbeOutcome Failure(std::string message) { return {ProbeResult::kFailure, std::move(message)}; }

const json* Field(const json& object, const char* key) {
  if (!object.is_object()) {
    return nullptr;
  }
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::optional<int64_t> IntField(const json& object, const char* key) {
  const json* value = Field(object, key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (value->is_number_integer()) {
    return value->get<int64_t>();
  }
  if (value->is_number_float()) {
    return static_cast<int64_t>(value->get<double>());
  }
  return std::nullopt;
}

std::string StringField(const json& object, const char* key) {
  const json* value = Field(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

// Go's %q, near enough.
std::string Quote(const std::string& text) {
  return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

// strerror as Go spells it ("connection refused").
std::string ErrnoText(int err) {
  std::string text = std::strerror(err);
  if (!text.empty()) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

std::string JoinHostPort(const std::string& host, int port) {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                             : fmt::format("{}:{}", host, port);
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

// True when `fd` is ready for `events` before the deadline.
bool WaitReady(int fd, short events, Clock::time_point deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    int ready = ::poll(&p, 1, RemainingMs(deadline));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    return ready > 0;
  }
}

// The port of an httpGet or tcpSocket action: a number, or the name of one
// of the container's ports (or a number written as a string).
StatusOr<int> ResolvePort(const json& action, const json& container) {
  const json* port = Field(action, "port");
  int64_t number = 0;
  if (port == nullptr) {
    return absl::InvalidArgumentError("the probe names no port");
  }
  if (port->is_number_integer()) {
    number = port->get<int64_t>();
  } else if (port->is_string()) {
    const std::string name = port->get<std::string>();
    bool found = false;
    const json* ports = Field(container, "ports");
    if (ports != nullptr && ports->is_array()) {
      for (const json& entry : *ports) {
        if (StringField(entry, "name") == name) {
          number = IntField(entry, "containerPort").value_or(0);
          found = true;
          break;
        }
      }
    }
    if (!found) {
      auto parsed = ParseInteger<int64_t>(name);
      if (!parsed) {
        return absl::NotFoundError(fmt::format("port {} not found in container {}", Quote(name),
                                               Quote(StringField(container, "name"))));
      }
      number = *parsed;
    }
  } else {
    return absl::InvalidArgumentError("the probe's port is neither a number nor a name");
  }
  if (number <= 0 || number >= 65536) {
    return absl::InvalidArgumentError(fmt::format("invalid port number: {}", number));
  }
  return static_cast<int>(number);
}

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  std::string text;  // "ip:port"
};

std::vector<Address> AddressesOf(const addrinfo* list) {
  std::vector<Address> out;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) {
      continue;
    }
    Address address;
    std::memcpy(&address.storage, ai->ai_addr, ai->ai_addrlen);
    address.length = ai->ai_addrlen;
    char ip[INET6_ADDRSTRLEN] = {};
    int port = 0;
    if (ai->ai_family == AF_INET) {
      sockaddr_in in4{};
      std::memcpy(&in4, ai->ai_addr, sizeof(in4));
      ::inet_ntop(AF_INET, &in4.sin_addr, ip, sizeof(ip));
      port = ntohs(in4.sin_port);
    } else if (ai->ai_family == AF_INET6) {
      sockaddr_in6 in6{};
      std::memcpy(&in6, ai->ai_addr, sizeof(in6));
      ::inet_ntop(AF_INET6, &in6.sin6_addr, ip, sizeof(ip));
      port = ntohs(in6.sin6_port);
    } else {
      continue;
    }
    address.text = JoinHostPort(ip, port);
    out.push_back(std::move(address));
  }
  return out;
}

// The addresses of host:port. An IP literal resolves at once; a name is
// looked up on a thread of its own so that a slow resolver cannot hold the
// probe past its deadline (the lookup then finishes unobserved).
StatusOr<std::vector<Address>> Resolve(const std::string& host, int port,
                                       Clock::time_point deadline) {
  const std::string service = std::to_string(port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc == 0) {
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
    return AddressesOf(list.get());
  }
  struct Lookup {
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    int rc = 0;
    std::vector<Address> addresses;
  };
  auto lookup = std::make_shared<Lookup>();
  try {
    std::thread([lookup, host, service] {
      addrinfo name_hints{};
      name_hints.ai_socktype = SOCK_STREAM;
      name_hints.ai_flags = AI_NUMERICSERV;
      addrinfo* results = nullptr;
      int result = ::getaddrinfo(host.c_str(), service.c_str(), &name_hints, &results);
      std::vector<Address> addresses;
      if (result == 0) {
        addresses = AddressesOf(results);
        ::freeaddrinfo(results);
      }
      std::lock_guard<std::mutex> lock(lookup->mutex);
      lookup->rc = result;
      lookup->addresses = std::move(addresses);
      lookup->done = true;
      lookup->done_cv.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(fmt::format("dial tcp: lookup {}: {}", host, e.what()));
  }
  std::unique_lock<std::mutex> lock(lookup->mutex);
  if (!lookup->done_cv.wait_until(lock, deadline, [&] { return lookup->done; })) {
    return absl::DeadlineExceededError(fmt::format("dial tcp: lookup {}: i/o timeout", host));
  }
  if (lookup->rc != 0) {
    return absl::UnavailableError(
        fmt::format("dial tcp: lookup {}: {}", host, ::gai_strerror(lookup->rc)));
  }
  return std::move(lookup->addresses);
}

// A TCP connection to host:port before the deadline, with errors as Go's
// net.Dial words them ("dial tcp 10.1.2.3:81: connect: connection refused").
StatusOr<UniqueFd> Dial(const std::string& host, int port, Clock::time_point deadline) {
  if (host.empty()) {
    return absl::FailedPreconditionError("dial tcp: no host to probe (the pod has no IP)");
  }
  BH_ASSIGN_OR_RETURN(std::vector<Address> addresses, Resolve(host, port, deadline));
  Status last = absl::UnavailableError(
      fmt::format("dial tcp: lookup {}: no such host", JoinHostPort(host, port)));
  for (const Address& address : addresses) {
    UniqueFd fd(::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
      last = absl::UnavailableError(
          fmt::format("dial tcp {}: socket: {}", address.text, ErrnoText(errno)));
      continue;
    }
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    const auto* raw = reinterpret_cast<const sockaddr*>(&address.storage);
    if (::connect(fd.get(), raw, address.length) != 0 && errno != EINPROGRESS) {
      last = absl::UnavailableError(
          fmt::format("dial tcp {}: connect: {}", address.text, ErrnoText(errno)));
      continue;
    }
    if (!WaitReady(fd.get(), POLLOUT, deadline)) {
      return absl::DeadlineExceededError(fmt::format("dial tcp {}: i/o timeout", address.text));
    }
    int error = 0;
    socklen_t length = sizeof(error);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
      error = errno;
    }
    if (error != 0) {
      last = absl::UnavailableError(
          fmt::format("dial tcp {}: connect: {}", address.text, ErrnoText(error)));
      continue;
    }
    return fd;
  }
  return last;
}

// The response's head so far holds its status line.
bool HasStatusLine(const std::string& head) {
  return head.find("\r\n") != std::string::npos || head.size() >= kMaxHeadBytes;
}

// The status code of a response that begins with `head`.
StatusOr<int> ParseStatusLine(const std::string& head) {
  if (head.empty()) {
    return absl::UnavailableError("EOF");
  }
  std::string line = head.substr(0, head.find("\r\n"));
  std::vector<std::string_view> parts = SplitNonEmpty(line, " ");
  std::optional<int> code;
  if (parts.size() >= 2 && parts[0].starts_with("HTTP/") && parts[1].size() == 3) {
    code = ParseInteger<int>(parts[1]);
  }
  if (!code) {
    return absl::UnavailableError(
        fmt::format("malformed HTTP response {}", Quote(line.substr(0, 64))));
  }
  return *code;
}

// Reads from a plain socket until the status line is in.
StatusOr<int> ExchangePlain(int fd, const std::string& request, Clock::time_point deadline) {
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitReady(fd, POLLOUT, deadline)) {
        return absl::DeadlineExceededError(kAwaitingHeaders);
      }
      continue;
    }
    if (n < 0) {
      return absl::UnavailableError(fmt::format("write: {}", ErrnoText(errno)));
    }
    sent += static_cast<size_t>(n);
  }
  std::string head;
  char buffer[4096];
  while (!HasStatusLine(head)) {
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitReady(fd, POLLIN, deadline)) {
        return absl::DeadlineExceededError(kAwaitingHeaders);
      }
      continue;
    }
    if (n < 0) {
      return absl::UnavailableError(fmt::format("read: {}", ErrnoText(errno)));
    }
    if (n == 0) {
      break;
    }
    head.append(buffer, static_cast<size_t>(n));
  }
  return ParseStatusLine(head);
}

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

std::string OpensslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) {
    return "connection reset";
  }
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

// OpenSSL writes to the socket with write(2): a peer that has gone would
// raise SIGPIPE. The signal is blocked on this thread while the session
// runs and a SIGPIPE it raised is taken back before unblocking.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    blocked_ = ::pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0;
  }
  ~SigpipeBlock() {
    if (!blocked_) {
      return;
    }
    if (!was_pending_) {
      timespec zero{};
      while (::sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
  bool was_pending_ = false;
  bool blocked_ = false;
};

// Runs an SSL call on the non-blocking socket until it completes, fails or
// the deadline passes; its positive result, or 0 at the end of the stream.
template <typename Call>
StatusOr<int> Drive(SSL* ssl, int fd, Clock::time_point deadline, std::string_view what,
                    Call call) {
  while (true) {
    int rc = call();
    if (rc > 0) {
      return rc;
    }
    int error = SSL_get_error(ssl, rc);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      if (!WaitReady(fd, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        return absl::DeadlineExceededError(kAwaitingHeaders);
      }
      continue;
    }
    if (error == SSL_ERROR_ZERO_RETURN || (what == "read" && error == SSL_ERROR_SYSCALL)) {
      ERR_clear_error();
      return 0;
    }
    return absl::UnavailableError(fmt::format("TLS {}: {}", what, OpensslError()));
  }
}

// A TLS session over `fd` that does not check the server's certificate
// (as a kubelet's probes do not), then the request and the status line.
StatusOr<int> ExchangeTls(int fd, const std::string& host, const std::string& request,
                          Clock::time_point deadline) {
  SigpipeBlock no_sigpipe;
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    return absl::InternalError(fmt::format("TLS context: {}", OpensslError()));
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  std::unique_ptr<SSL, SslFree> session(SSL_new(ctx.get()));
  SSL* ssl = session.get();
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    return absl::InternalError(fmt::format("TLS session: {}", OpensslError()));
  }
  in6_addr ip{};
  if (::inet_pton(AF_INET, host.c_str(), &ip) != 1 &&
      ::inet_pton(AF_INET6, host.c_str(), &ip) != 1) {
    // SNI for a name (SSL_set_tlsext_host_name without its C cast).
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(host.c_str()));
  }
  BH_RETURN_IF_ERROR(
      Drive(ssl, fd, deadline, "handshake", [&] { return SSL_connect(ssl); }).status());
  for (size_t sent = 0; sent < request.size();) {
    BH_ASSIGN_OR_RETURN(int n, Drive(ssl, fd, deadline, "write", [&] {
                          return SSL_write(ssl, request.data() + sent,
                                           static_cast<int>(request.size() - sent));
                        }));
    if (n == 0) {
      return absl::UnavailableError("EOF");
    }
    sent += static_cast<size_t>(n);
  }
  std::string head;
  char buffer[4096];
  while (!HasStatusLine(head)) {
    BH_ASSIGN_OR_RETURN(int n, Drive(ssl, fd, deadline, "read",
                                     [&] { return SSL_read(ssl, buffer, sizeof(buffer)); }));
    if (n == 0) {
      break;
    }
    head.append(buffer, static_cast<size_t>(n));
  }
  return ParseStatusLine(head);
}

// The request target of httpGet.path: "/" when empty, bytes that cannot
// stand in a request line percent-encoded.
std::string RequestTarget(const std::string& path) {
  std::string out = path.empty() || path[0] != '/' ? "/" : "";
  for (char c : path) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      out += fmt::format("%{:02X}", byte);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool ValidHeaderName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return byte > 0x20 && byte < 0x7f && c != ':';
  });
}

bool ValidHeaderValue(const std::string& value) {
  return value.find_first_of("\r\n") == std::string::npos && value.find('\0') == std::string::npos;
}

bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

ProbeOutcome HttpProbe(const json& action, const json& container, const std::string& pod_ip,
                       Clock::time_point deadline) {
  std::string scheme = StringField(action, "scheme");
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (scheme.empty()) {
    scheme = "http";
  }
  if (scheme != "http" && scheme != "https") {
    return Failure(fmt::format("unsupported HTTP probe scheme {}", Quote(scheme)));
  }
  StatusOr<int> port = ResolvePort(action, container);
  if (!port.ok()) {
    return Failure(MessageOf(port.status()));
  }
  std::string host = StringField(action, "host");
  if (host.empty()) {
    host = pod_ip;
  }
  const std::string target = RequestTarget(StringField(action, "path"));
  const std::string url = fmt::format("{}://{}{}", scheme, JoinHostPort(host, *port), target);

  // Host, User-Agent and Accept unless httpHeaders set them.
  std::string host_header = JoinHostPort(host, *port);
  std::string user_agent = kUserAgent;
  std::string accept = "*/*";
  std::string extra;
  const json* headers = Field(action, "httpHeaders");
  if (headers != nullptr && headers->is_array()) {
    for (const json& header : *headers) {
      const std::string name = StringField(header, "name");
      const std::string value = StringField(header, "value");
      if (!ValidHeaderName(name) || !ValidHeaderValue(value)) {
        return Failure(fmt::format("invalid HTTP probe header {}", Quote(name)));
      }
      if (SameName(name, "Host")) {
        host_header = value;
      } else if (SameName(name, "User-Agent")) {
        user_agent = value;
      } else if (SameName(name, "Accept")) {
        accept = value;
      } else {
        extra += fmt::format("{}: {}\r\n", name, value);
      }
    }
  }
  std::string request = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\n", target, host_header);
  if (!user_agent.empty()) {
    request += fmt::format("User-Agent: {}\r\n", user_agent);
  }
  if (!accept.empty()) {
    request += fmt::format("Accept: {}\r\n", accept);
  }
  request += "Connection: close\r\n";
  request += extra;
  request += "\r\n";

  StatusOr<UniqueFd> fd = Dial(host, *port, deadline);
  if (!fd.ok()) {
    return Failure(fmt::format("Get {}: {}", Quote(url), MessageOf(fd.status())));
  }
  StatusOr<int> code = scheme == "https" ? ExchangeTls(fd->get(), host, request, deadline)
                                         : ExchangePlain(fd->get(), request, deadline);
  if (!code.ok()) {
    return Failure(fmt::format("Get {}: {}", Quote(url), MessageOf(code.status())));
  }
  if (*code >= 200 && *code < 400) {
    return Success();
  }
  return Failure(fmt::format("HTTP probe failed with statuscode: {}", *code));
}

ProbeOutcome TcpProbe(const json& action, const json& container, const std::string& pod_ip,
                      Clock::time_point deadline) {
  StatusOr<int> port = ResolvePort(action, container);
  if (!port.ok()) {
    return Failure(MessageOf(port.status()));
  }
  std::string host = StringField(action, "host");
  if (host.empty()) {
    host = pod_ip;
  }
  StatusOr<UniqueFd> fd = Dial(host, *port, deadline);
  if (!fd.ok()) {
    return Failure(MessageOf(fd.status()));
  }
  return Success();
}

ProbeOutcome ExecProbe(const json& action, std::chrono::seconds timeout, const ProbeExec& exec) {
  const json* command = Field(action, "command");
  std::vector<std::string> argv;
  if (command != nullptr && command->is_array()) {
    for (const json& arg : *command) {
      if (!arg.is_string()) {
        return Failure("the exec probe's command holds a non-string");
      }
      argv.push_back(arg.get<std::string>());
    }
  }
  if (argv.empty()) {
    return Failure("the exec probe has no command");
  }
  std::string joined;
  for (const std::string& arg : argv) {
    joined += (joined.empty() ? "" : " ") + arg;
  }
  if (!exec) {
    return Failure(fmt::format("command {} cannot run: no runtime to exec in", Quote(joined)));
  }
  StatusOr<std::pair<int, std::string>> ran = exec(argv, timeout);
  if (!ran.ok()) {
    if (absl::IsDeadlineExceeded(ran.status())) {
      return Failure(fmt::format("command {} timed out", Quote(joined)));
    }
    return Failure(fmt::format("command {} failed: {}", Quote(joined), MessageOf(ran.status())));
  }
  if (ran->first == 0) {
    return Success();
  }
  std::string output = ran->second.substr(0, kMaxExecOutput);
  std::string_view trimmed = TrimSpace(output);
  if (trimmed.empty()) {
    return Failure(fmt::format("command {} exited with {}", Quote(joined), ran->first));
  }
  return Failure(fmt::format("command {} exited with {}: {}", Quote(joined), ran->first, trimmed));
}

std::chrono::seconds SecondsField(const json& probe, const char* key, int64_t fallback,
                                  int64_t minimum) {
  int64_t value = IntField(probe, key).value_or(fallback);
  return std::chrono::seconds(value < minimum ? fallback : value);
}

int ThresholdField(const json& probe, const char* key, int fallback) {
  int64_t value = IntField(probe, key).value_or(fallback);
  return value < 1 ? fallback : static_cast<int>(std::min<int64_t>(value, 1 << 30));
}

}  // namespace

std::string ProbeEventMessage(const std::string& kind, const ProbeOutcome& outcome) {
  return fmt::format("{} probe failed: {}", kind, outcome.message);
}

std::chrono::seconds ProbeTimeout(const json& probe) {
  return SecondsField(probe, "timeoutSeconds", 1, 1);
}

ProbeOutcome RunProbe(const json& probe, const json& container, const std::string& pod_ip,
                      const ProbeExec& exec) {
  try {
    if (!probe.is_object()) {
      return Failure("the probe is not an object");
    }
    const std::chrono::seconds timeout = ProbeTimeout(probe);
    const Clock::time_point deadline = Clock::now() + timeout;
    if (const json* action = Field(probe, "exec"); action != nullptr) {
      return ExecProbe(*action, timeout, exec);
    }
    if (const json* action = Field(probe, "httpGet"); action != nullptr) {
      return HttpProbe(*action, container, pod_ip, deadline);
    }
    if (const json* action = Field(probe, "tcpSocket"); action != nullptr) {
      return TcpProbe(*action, container, pod_ip, deadline);
    }
    if (Field(probe, "grpc") != nullptr) {
      return Failure("gRPC probes are not supported");
    }
    return Failure("the probe has no handler (exec, httpGet, tcpSocket or grpc)");
  } catch (const std::exception& e) {
    return Failure(fmt::format("the probe could not run: {}", e.what()));
  }
}

ProbeTracker::ProbeTracker(json probe, bool initially_succeeded)
    : probe_(std::move(probe)),
      initial_delay_(SecondsField(probe_, "initialDelaySeconds", 0, 0)),
      period_(SecondsField(probe_, "periodSeconds", 10, 1)),
      success_threshold_(ThresholdField(probe_, "successThreshold", 1)),
      failure_threshold_(ThresholdField(probe_, "failureThreshold", 3)),
      succeeded_(initially_succeeded) {}

Clock::time_point ProbeTracker::next_due(Clock::time_point started) const {
  return last_probe_ ? *last_probe_ + period_ : started + initial_delay_;
}

bool ProbeTracker::Due(Clock::time_point now, Clock::time_point started) const {
  return now >= next_due(started);
}

bool ProbeTracker::Record(const ProbeOutcome& outcome, Clock::time_point now) {
  last_message_ = outcome.message;
  last_probe_ = now;
  if (last_result_ == outcome.result) {
    run_ = std::min(run_ + 1, 1 << 30);
  } else {
    last_result_ = outcome.result;
    run_ = 1;
  }
  const bool success = outcome.result == ProbeResult::kSuccess;
  if (run_ < (success ? success_threshold_ : failure_threshold_)) {
    return false;
  }
  const bool changed = succeeded_ != success;
  succeeded_ = success;
  return changed;
}

}  // namespace bulkhead::node
