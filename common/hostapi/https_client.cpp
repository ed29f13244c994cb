#include "common/hostapi/https_client.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "common/file.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "fmt/format.h"

namespace bulkhead::hostapi {
namespace {

using Clock = std::chrono::steady_clock;

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::string OpensslError() {
  unsigned long code = ERR_get_error();
  if (code == 0) {
    return "no detail";
  }
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  ERR_clear_error();
  return text;
}

std::unique_ptr<BIO, BioFree> MemoryBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

StatusOr<std::unique_ptr<SSL_CTX, SslCtxFree>> MakeContext(const HostApiConfig& config) {
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    return absl::InternalError(fmt::format("TLS context: {}", OpensslError()));
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
  auto bio = MemoryBio(config.ca_pem);
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    std::unique_ptr<X509, X509Free> owned(cert);
    if (X509_STORE_add_cert(store, cert) == 1) {
      ++added;
    }
  }
  ERR_clear_error();  // the end of the PEM list
  if (added == 0) {
    return absl::InvalidArgumentError("the host API's CA holds no PEM certificate");
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (!config.client_cert_pem.empty()) {
    auto cert_bio = MemoryBio(config.client_cert_pem);
    std::unique_ptr<X509, X509Free> cert(
        PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    auto key_bio = MemoryBio(config.client_key_pem);
    std::unique_ptr<EVP_PKEY, KeyFree> key(
        PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    if (!cert || !key || SSL_CTX_use_certificate(ctx.get(), cert.get()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1) {
      return absl::InvalidArgumentError(
          fmt::format("the host API client certificate or key: {}", OpensslError()));
    }
  }
  return ctx;
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

Status Timeout(const HostApiConfig& config) {
  return absl::UnavailableError(
      fmt::format("host API {}:{}: no answer before the deadline", config.host, config.port));
}

// Waits until `fd` is ready for `events` or the deadline passes.
Status Wait(int fd, short events, Clock::time_point deadline, const HostApiConfig& config) {
  pollfd p{fd, events, 0};
  int ready = ::poll(&p, 1, RemainingMs(deadline));
  if (ready < 0) {
    return ErrnoError(errno, "poll");
  }
  if (ready == 0) {
    return Timeout(config);
  }
  return absl::OkStatus();
}

StatusOr<UniqueFd> Connect(const HostApiConfig& config, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port = std::to_string(config.port);
  int rc = ::getaddrinfo(config.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    return absl::UnavailableError(
        fmt::format("host API {}: cannot resolve: {}", config.host, gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  Status last = absl::UnavailableError(fmt::format("host API {}: no address", config.host));
  for (addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd) {
      last = ErrnoError(errno, "socket");
      continue;
    }
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = absl::UnavailableError(fmt::format("host API {}:{}: connect: {}", config.host,
                                                config.port, std::strerror(errno)));
      continue;
    }
    if (Status waited = Wait(fd.get(), POLLOUT, deadline, config); !waited.ok()) {
      last = waited;
      continue;
    }
    int error = 0;
    socklen_t length = sizeof(error);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      last = absl::UnavailableError(fmt::format("host API {}:{}: connect: {}", config.host,
                                                config.port, std::strerror(error)));
      continue;
    }
    return fd;
  }
  return last;
}

// Runs an SSL call on the non-blocking socket until it completes, fails
// or the deadline passes. Returns the call's positive result.
template <typename Call>
StatusOr<int> Drive(SSL* ssl, int fd, Clock::time_point deadline, const HostApiConfig& config,
                    std::string_view what, Call call) {
  while (true) {
    int rc = call();
    if (rc > 0) {
      return rc;
    }
    int error = SSL_get_error(ssl, rc);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      BH_RETURN_IF_ERROR(
          Wait(fd, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, config));
      continue;
    }
    if (error == SSL_ERROR_ZERO_RETURN) {
      return 0;
    }
    if (what == "handshake" && SSL_get_verify_result(ssl) != X509_V_OK) {
      return absl::UnauthenticatedError(fmt::format(
          "host API {}:{}: the server's certificate does not verify against the configured CA "
          "({})",
          config.host, config.port, X509_verify_cert_error_string(SSL_get_verify_result(ssl))));
    }
    if (what == "read" && error == SSL_ERROR_SYSCALL) {
      return 0;  // the server closed without close_notify: the end of the response
    }
    return absl::UnavailableError(
        fmt::format("host API {}:{}: TLS {}: {}", config.host, config.port, what, OpensslError()));
  }
}

// Decodes a chunked body; INVALID_ARGUMENT when malformed.
StatusOr<std::string> Unchunk(std::string_view body) {
  std::string out;
  while (true) {
    size_t end = body.find("\r\n");
    if (end == std::string_view::npos) {
      return absl::InvalidArgumentError("malformed chunked response");
    }
    std::string_view size_text = body.substr(0, end);
    size_text = size_text.substr(0, size_text.find(';'));
    auto size = ParseInteger<size_t>(TrimSpace(size_text), 16);
    if (!size || body.size() < end + 2 + *size) {
      return absl::InvalidArgumentError("malformed chunked response");
    }
    if (*size == 0) {
      return out;
    }
    out.append(body.substr(end + 2, *size));
    body.remove_prefix(std::min(body.size(), end + 2 + *size + 2));
  }
}

// True when `raw` holds the head and a Content-Length body in full.
bool ResponseComplete(const std::string& raw) {
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    return false;
  }
  for (std::string_view line : SplitNonEmpty(std::string_view(raw.data(), head_end), "\r\n")) {
    std::string_view value = line;
    if (ConsumePrefix(value, "Content-Length:") || ConsumePrefix(value, "content-length:")) {
      auto length = ParseInteger<size_t>(TrimSpace(value));
      return length && raw.size() >= head_end + 4 + *length;
    }
  }
  return false;
}

StatusOr<HttpsResponse> ParseResponse(const std::string& raw) {
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos || !raw.starts_with("HTTP/1.")) {
    return absl::UnavailableError("the host API's answer is not HTTP");
  }
  std::string_view head(raw.data(), head_end);
  HttpsResponse response;
  std::vector<std::string_view> status_line = SplitNonEmpty(head.substr(0, head.find("\r\n")), " ");
  auto code = status_line.size() >= 2 ? ParseInteger<int>(status_line[1]) : std::nullopt;
  if (!code) {
    return absl::UnavailableError("the host API's answer has no status");
  }
  response.status = *code;
  bool chunked = false;
  for (std::string_view line : SplitNonEmpty(head, "\r\n")) {
    std::string lower;
    for (char c : line) {
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    if (lower.starts_with("transfer-encoding:") && lower.find("chunked") != std::string::npos) {
      chunked = true;
    }
  }
  std::string_view body(raw.data() + head_end + 4, raw.size() - head_end - 4);
  if (chunked) {
    BH_ASSIGN_OR_RETURN(response.body, Unchunk(body));
  } else {
    response.body = std::string(body);
  }
  return response;
}

// One TLS connection to the server with the request sent.
struct Session {
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx;
  UniqueFd fd;
  std::unique_ptr<SSL, SslFree> ssl;
};

StatusOr<Session> SendRequest(const HostApiConfig& config, std::string_view method,
                              std::string_view path, std::string_view content_type,
                              std::string_view body, Clock::time_point deadline) {
  std::string token = config.token;
  if (token.empty() && !config.token_file.empty()) {
    BH_ASSIGN_OR_RETURN(std::string text, ReadFile(config.token_file));
    token = std::string(TrimSpace(text));
  }
  Session session;
  BH_ASSIGN_OR_RETURN(session.ctx, MakeContext(config));
  BH_ASSIGN_OR_RETURN(session.fd, Connect(config, deadline));
  session.ssl.reset(SSL_new(session.ctx.get()));
  SSL* ssl = session.ssl.get();
  const int fd = session.fd.get();
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    return absl::InternalError(fmt::format("TLS session: {}", OpensslError()));
  }
  // The server's certificate must name the host we asked for.
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (X509_VERIFY_PARAM_set1_ip_asc(param, config.host.c_str()) != 1) {
    ERR_clear_error();
    // SNI (SSL_set_tlsext_host_name without its C cast).
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(config.host.c_str()));
    if (SSL_set1_host(ssl, config.host.c_str()) != 1) {
      return absl::InternalError(fmt::format("TLS host check: {}", OpensslError()));
    }
  }
  BH_RETURN_IF_ERROR(
      Drive(ssl, fd, deadline, config, "handshake", [&] { return SSL_connect(ssl); }).status());

  std::string host = config.host.find(':') != std::string::npos
                         ? fmt::format("[{}]:{}", config.host, config.port)
                         : fmt::format("{}:{}", config.host, config.port);
  std::string request = fmt::format(
      "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\nAccept: application/json\r\n"
      "Connection: close\r\nContent-Length: {}\r\n",
      method, path, host, config.user_agent, body.size());
  if (!token.empty()) {
    request += fmt::format("Authorization: Bearer {}\r\n", token);
  }
  if (!content_type.empty()) {
    request += fmt::format("Content-Type: {}\r\n", content_type);
  }
  request += "\r\n";
  request.append(body);
  for (size_t sent = 0; sent < request.size();) {
    BH_ASSIGN_OR_RETURN(int n, Drive(ssl, fd, deadline, config, "write", [&] {
                          return SSL_write(ssl, request.data() + sent,
                                           static_cast<int>(request.size() - sent));
                        }));
    if (n == 0) {
      return absl::UnavailableError("the host API closed the connection during the request");
    }
    sent += static_cast<size_t>(n);
  }
  return session;
}

// Decodes a chunked body as it arrives.
class ChunkedDecoder {
 public:
  // Appends what `data` completes to `out`; false when malformed.
  bool Feed(std::string_view data, std::string& out) {
    pending_.append(data);
    while (!done_) {
      if (left_ == 0) {
        size_t end = pending_.find("\r\n");
        if (end == std::string::npos) {
          return pending_.size() < 64;
        }
        std::string_view line(pending_.data(), end);
        if (skip_crlf_) {
          if (end != 0) {
            return false;
          }
          pending_.erase(0, 2);
          skip_crlf_ = false;
          continue;
        }
        line = line.substr(0, line.find(';'));
        auto size = ParseInteger<size_t>(TrimSpace(line), 16);
        if (!size) {
          return false;
        }
        pending_.erase(0, end + 2);
        if (*size == 0) {
          done_ = true;
          return true;
        }
        left_ = *size;
      }
      size_t take = std::min(left_, pending_.size());
      if (take == 0) {
        return true;
      }
      out.append(pending_, 0, take);
      pending_.erase(0, take);
      left_ -= take;
      skip_crlf_ = left_ == 0;
    }
    return true;
  }
  bool done() const { return done_; }

 private:
  std::string pending_;
  size_t left_ = 0;
  bool skip_crlf_ = false;
  bool done_ = false;
};

}  // namespace

StatusOr<HttpsResponse> HttpsRequest(const HostApiConfig& config, std::string_view method,
                                     std::string_view path, std::string_view content_type,
                                     std::string_view body, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  BH_ASSIGN_OR_RETURN(Session session,
                      SendRequest(config, method, path, content_type, body, deadline));
  SSL* ssl = session.ssl.get();
  std::string raw;
  char buffer[16384];
  while (true) {
    BH_ASSIGN_OR_RETURN(int n, Drive(ssl, session.fd.get(), deadline, config, "read",
                                     [&] { return SSL_read(ssl, buffer, sizeof(buffer)); }));
    if (n == 0) {
      break;
    }
    raw.append(buffer, static_cast<size_t>(n));
    if (ResponseComplete(raw)) {
      break;  // a server that keeps the connection open despite "close"
    }
    if (raw.size() > kMaxResponseBytes) {
      return absl::ResourceExhaustedError(
          fmt::format("the host API's answer is larger than {} bytes", kMaxResponseBytes));
    }
  }
  return ParseResponse(raw);
}

StatusOr<int> HttpsStreamLines(const HostApiConfig& config, std::string_view path,
                               const std::function<bool(std::string_view line)>& on_line,
                               const std::atomic<bool>& stop,
                               std::chrono::milliseconds idle_timeout) {
  BH_ASSIGN_OR_RETURN(Session session,
                      SendRequest(config, "GET", path, "", "", Clock::now() + idle_timeout));
  SSL* ssl = session.ssl.get();
  const int fd = session.fd.get();
  std::string head;
  std::string body;
  std::optional<ChunkedDecoder> chunked;
  bool have_head = false;
  int status = 0;
  char buffer[16384];
  auto idle_deadline = Clock::now() + idle_timeout;
  while (!stop.load()) {
    // Wake at least every 200 ms to look at `stop`.
    auto slice = std::min(idle_deadline, Clock::now() + std::chrono::milliseconds(200));
    int n = 0;
    if (SSL_pending(ssl) == 0) {
      pollfd p{fd, POLLIN, 0};
      int ready = ::poll(&p, 1, RemainingMs(slice));
      if (ready < 0 && errno != EINTR) {
        return ErrnoError(errno, "poll");
      }
      if (ready <= 0) {
        if (Clock::now() >= idle_deadline) {
          return Timeout(config);
        }
        continue;
      }
    }
    BH_ASSIGN_OR_RETURN(n, Drive(ssl, fd, idle_deadline, config, "read",
                                 [&] { return SSL_read(ssl, buffer, sizeof(buffer)); }));
    if (n == 0) {
      break;
    }
    idle_deadline = Clock::now() + idle_timeout;
    std::string_view data(buffer, static_cast<size_t>(n));
    if (!have_head) {
      head.append(data);
      size_t end = head.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (head.size() > 65536) {
          return absl::UnavailableError("the host API's answer has no end of headers");
        }
        continue;
      }
      std::vector<std::string_view> status_line =
          SplitNonEmpty(std::string_view(head).substr(0, head.find("\r\n")), " ");
      auto code = status_line.size() >= 2 && head.starts_with("HTTP/1.")
                      ? ParseInteger<int>(status_line[1])
                      : std::nullopt;
      if (!code) {
        return absl::UnavailableError("the host API's answer is not HTTP");
      }
      status = *code;
      std::string lower;
      for (char c : std::string_view(head.data(), end)) {
        lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      }
      if (lower.find("transfer-encoding: chunked") != std::string::npos) {
        chunked.emplace();
      }
      data = std::string_view(head).substr(end + 4);
      have_head = true;
    }
    if (chunked) {
      if (!chunked->Feed(data, body)) {
        return absl::UnavailableError("malformed chunked response");
      }
    } else {
      body.append(data);
    }
    if (status != 200) {
      if (body.size() > kMaxResponseBytes) {
        break;
      }
      continue;  // an error answer: read it whole, hand it over as one line
    }
    size_t from = 0;
    for (size_t nl = body.find('\n'); nl != std::string::npos; nl = body.find('\n', from)) {
      std::string_view line(body.data() + from, nl - from);
      from = nl + 1;
      if (!line.empty() && !on_line(line)) {
        return status;
      }
    }
    body.erase(0, from);
    if (body.size() > kMaxResponseBytes) {
      return absl::ResourceExhaustedError(fmt::format(
          "a line of the host API's stream is larger than {} bytes", kMaxResponseBytes));
    }
    if (chunked && chunked->done()) {
      break;
    }
    head.clear();
  }
  if (!body.empty()) {
    on_line(body);
  }
  return status;
}

}  // namespace bulkhead::hostapi
