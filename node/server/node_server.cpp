#include "node/server/node_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "fmt/format.h"
#include "node/server/container_logs.h"
#include "node/server/stream_relay.h"

namespace bulkhead::node {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  if (code == 0) {
    return "unknown OpenSSL error";
  }
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  ERR_clear_error();
  return text.data();
}

std::string ReadFileOr(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return "";
  }
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

Status WritePrivateFile(const std::string& path, const std::string& content) {
  const std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(fmt::format("writing {}: {}", temp, std::strerror(errno)));
  }
  size_t done = 0;
  while (done < content.size()) {
    ssize_t wrote = ::write(fd, content.data() + done, content.size() - done);
    if (wrote <= 0) {
      ::close(fd);
      return absl::InternalError(fmt::format("writing {}: {}", temp, std::strerror(errno)));
    }
    done += static_cast<size_t>(wrote);
  }
  ::close(fd);
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(fmt::format("renaming {}: {}", temp, std::strerror(errno)));
  }
  return absl::OkStatus();
}

// Whether the PEMs are a matching pair that stays valid past a month.
bool StillGood(const std::string& certificate_pem, const std::string& key_pem) {
  if (certificate_pem.empty() || key_pem.empty()) {
    return false;
  }
  BIO* cert_bio = BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size()));
  X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  BIO_free(cert_bio);
  BIO* key_bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  bool good = false;
  if (cert != nullptr && key != nullptr && X509_check_private_key(cert, key) == 1) {
    time_t month = std::time(nullptr) + (int64_t{30} * 86400);
    good = X509_cmp_time(X509_get0_notAfter(cert), &month) > 0;
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  ERR_clear_error();
  return good;
}

bool AddExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) {
    return false;
  }
  const bool added = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return added;
}

bool IsIpAddress(const std::string& host) {
  std::array<unsigned char, sizeof(in6_addr)> buffer{};
  return inet_pton(AF_INET, host.c_str(), buffer.data()) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer.data()) == 1;
}

StatusOr<CertificatePair> MakeSelfSigned(const std::vector<std::string>& hosts) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) {
    return absl::InternalError("generating a key: " + OpenSslError());
  }
  X509* cert = X509_new();
  auto cleanup = [&] {
    X509_free(cert);
    EVP_PKEY_free(key);
  };
  std::array<unsigned char, 16> serial{};
  RAND_bytes(serial.data(), static_cast<int>(serial.size()));
  serial[0] &= 0x7f;
  BIGNUM* number = BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr);
  BN_to_ASN1_INTEGER(number, X509_get_serialNumber(cert));
  BN_free(number);
  X509_set_version(cert, 2);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), int64_t{365} * 86400);
  X509_set_pubkey(cert, key);
  const std::string common_name = hosts.empty() ? "bulkhead-node" : hosts.front();
  X509_NAME* name = X509_get_subject_name(cert);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL's byte strings
  const auto* common_name_bytes = reinterpret_cast<const unsigned char*>(common_name.c_str());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, common_name_bytes, -1, -1, 0);
  X509_set_issuer_name(cert, name);
  std::string alt_names;
  for (const std::string& host : hosts) {
    if (host.empty()) {
      continue;
    }
    alt_names += fmt::format("{}{}:{}", alt_names.empty() ? "" : ",",
                             IsIpAddress(host) ? "IP" : "DNS", host);
  }
  bool ok = AddExtension(cert, NID_basic_constraints, "critical,CA:FALSE") &&
            AddExtension(cert, NID_key_usage, "critical,digitalSignature") &&
            AddExtension(cert, NID_ext_key_usage, "serverAuth") &&
            (alt_names.empty() || AddExtension(cert, NID_subject_alt_name, alt_names)) &&
            X509_sign(cert, key, EVP_sha256()) > 0;
  if (!ok) {
    std::string error = OpenSslError();
    cleanup();
    return absl::InternalError("making the certificate: " + error);
  }
  CertificatePair out;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  BUF_MEM* memory = nullptr;
  BIO_get_mem_ptr(bio, &memory);
  out.certificate_pem.assign(memory->data, memory->length);
  BIO_free(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  BIO_get_mem_ptr(bio, &memory);
  out.key_pem.assign(memory->data, memory->length);
  BIO_free(bio);
  cleanup();
  return out;
}

std::string Hex(const unsigned char* data, size_t size) {
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += fmt::format("{:02x}", data[i]);
  }
  return out;
}

std::string TokenKey(const std::string& token) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL's byte strings
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
  return Hex(digest.data(), digest.size());
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::string PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size() + 0 && i + 2 <= text.size() - 1 + 0 &&
        HexValue(text[i + 1]) >= 0 && HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>((HexValue(text[i + 1]) * 16) + HexValue(text[i + 2])));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::string> Split(std::string_view text, char by) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(by, start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

void SetTimeout(int fd, int option, std::chrono::milliseconds timeout) {
  timeval value{};
  const auto ms = std::max<int64_t>(timeout.count(), 1);
  value.tv_sec = static_cast<time_t>(ms / 1000);
  value.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, option, &value, sizeof(value));
}

struct Request {
  std::string method;
  std::vector<std::string> segments;  // of the path, decoded
  std::vector<std::pair<std::string, std::string>> query;
  std::string authorization;
  // The protocol headers an upgrade passes on (IsRelayedHeader), as sent.
  std::vector<std::pair<std::string, std::string>> relayed_headers;
  std::string leftover;  // bytes read past the head
};

class Server : public NodeServer {
 public:
  Server(NodeServerOptions options, AccessCheck access, LogLookup lookup, StreamLookup streams)
      : options_(std::move(options)),
        access_(std::move(access)),
        lookup_(std::move(lookup)),
        streams_(std::move(streams)) {}

  ~Server() override {
    stopping_ = true;
    if (wake_fd_ >= 0) {
      uint64_t one = 1;
      [[maybe_unused]] ssize_t wrote = ::write(wake_fd_, &one, sizeof(one));
    }
    if (accept_thread_.joinable()) {
      accept_thread_.join();
    }
    std::unique_lock lock(mu_);
    for (int fd : open_fds_) {
      ::shutdown(fd, SHUT_RDWR);
    }
    idle_.wait(lock, [this] { return active_ == 0; });
    lock.unlock();
    if (listen_fd_ >= 0) {
      ::close(listen_fd_);
    }
    if (wake_fd_ >= 0) {
      ::close(wake_fd_);
    }
    SSL_CTX_free(tls_);
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Status Init() {
    std::error_code error;
    const std::string dir = options_.state_dir + "/pki";
    std::filesystem::create_directories(dir, error);
    if (error) {
      return absl::InternalError(fmt::format("creating {}: {}", dir, error.message()));
    }
    std::vector<std::string> hosts;
    if (!options_.node_name.empty()) {
      hosts.push_back(options_.node_name);
    }
    if (options_.address != "0.0.0.0" && options_.address != "::") {
      hosts.push_back(options_.address);
    }
    hosts.emplace_back("localhost");
    BH_ASSIGN_OR_RETURN(CertificatePair pair, EnsureSelfSignedCertificate(dir, hosts));
    certificate_pem_ = pair.certificate_pem;
    tls_ = SSL_CTX_new(TLS_server_method());
    if (tls_ == nullptr) {
      return absl::InternalError("TLS: " + OpenSslError());
    }
    SSL_CTX_set_min_proto_version(tls_, TLS1_2_VERSION);
    BIO* cert_bio =
        BIO_new_mem_buf(pair.certificate_pem.data(), static_cast<int>(pair.certificate_pem.size()));
    X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
    BIO_free(cert_bio);
    BIO* key_bio = BIO_new_mem_buf(pair.key_pem.data(), static_cast<int>(pair.key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
    BIO_free(key_bio);
    const bool loaded = cert != nullptr && key != nullptr &&
                        SSL_CTX_use_certificate(tls_, cert) == 1 &&
                        SSL_CTX_use_PrivateKey(tls_, key) == 1;
    X509_free(cert);
    EVP_PKEY_free(key);
    if (!loaded) {
      return absl::InternalError("TLS certificate: " + OpenSslError());
    }
    BH_RETURN_IF_ERROR(Listen());
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
      return absl::InternalError(fmt::format("eventfd: {}", std::strerror(errno)));
    }
    accept_thread_ = std::thread([this] { AcceptLoop(); });
    Logger(Component::kNode)
        .info("node server listening on https://{}:{}", options_.address, port_);
    return absl::OkStatus();
  }

  [[nodiscard]] uint16_t port() const override { return port_; }
  [[nodiscard]] const std::string& certificate_pem() const override { return certificate_pem_; }
  [[nodiscard]] size_t open_connections() override {
    std::lock_guard lock(mu_);
    return active_;
  }

 private:
  Status Listen() {
    addrinfo hints{};
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(options_.port);
    if (int rc = ::getaddrinfo(options_.address.c_str(), port.c_str(), &hints, &found); rc != 0) {
      return absl::InvalidArgumentError(
          fmt::format("--serve-address {}: {}", options_.address, gai_strerror(rc)));
    }
    listen_fd_ = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    const bool bound = listen_fd_ >= 0 &&
                       ::bind(listen_fd_, found->ai_addr, found->ai_addrlen) == 0 &&
                       ::listen(listen_fd_, 64) == 0;
    ::freeaddrinfo(found);
    if (!bound) {
      return absl::UnavailableError(fmt::format("listening on {}:{}: {}", options_.address,
                                                options_.port, std::strerror(errno)));
    }
    sockaddr_storage local{};
    socklen_t size = sizeof(local);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&local), &size);
    if (local.ss_family == AF_INET6) {
      sockaddr_in6 address{};
      std::memcpy(&address, &local, sizeof(address));
      port_ = ntohs(address.sin6_port);
    } else {
      sockaddr_in address{};
      std::memcpy(&address, &local, sizeof(address));
      port_ = ntohs(address.sin_port);
    }
    return absl::OkStatus();
  }

  void AcceptLoop() {
    while (!stopping_) {
      std::array<pollfd, 2> fds{pollfd{listen_fd_, POLLIN, 0}, pollfd{wake_fd_, POLLIN, 0}};
      if (::poll(fds.data(), fds.size(), 1000) <= 0 || (fds[0].revents & POLLIN) == 0) {
        continue;
      }
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        // EMFILE and friends: wait a moment rather than spin.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      std::lock_guard lock(mu_);
      if (active_ >= options_.max_connections || stopping_) {
        ::close(fd);
        continue;
      }
      ++active_;
      open_fds_.insert(fd);
      std::thread([this, fd] { Serve(fd); }).detach();
    }
  }

  void Serve(int fd) {
    SSL* tls = SSL_new(tls_);
    if (tls != nullptr) {
      SSL_set_fd(tls, fd);
      SetTimeout(fd, SO_RCVTIMEO, options_.handshake_timeout);
      SetTimeout(fd, SO_SNDTIMEO, options_.write_timeout);
      if (SSL_accept(tls) == 1) {
        Handle(tls, fd);
        SSL_shutdown(tls);
      }
      SSL_free(tls);
    }
    ERR_clear_error();
    std::lock_guard lock(mu_);
    open_fds_.erase(fd);
    ::close(fd);
    --active_;
    idle_.notify_all();
  }

  static bool WriteAll(SSL* tls, std::string_view data) {
    while (!data.empty()) {
      const int chunk = static_cast<int>(std::min<size_t>(data.size(), size_t{1} << 20));
      const int wrote = SSL_write(tls, data.data(), chunk);
      if (wrote <= 0) {
        return false;
      }
      data.remove_prefix(static_cast<size_t>(wrote));
    }
    return true;
  }

  static void Answer(SSL* tls, int status, std::string_view body,
                     std::string_view content_type = "text/plain; charset=utf-8") {
    WriteAll(tls, fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
                              "Cache-Control: no-cache, private\r\nConnection: close\r\n\r\n{}",
                              status, Reason(status), content_type, body.size(), body));
  }

  // Reads the request's headers within the header deadline; nullopt after
  // answering (or when the client went away).
  std::optional<Request> ReadRequest(SSL* tls, int fd) {
    std::string head;
    const auto deadline = SteadyClock::now() + options_.header_timeout;
    std::array<char, 4096> buffer{};
    size_t end = std::string::npos;
    while ((end = head.find("\r\n\r\n")) == std::string::npos) {
      if (head.size() > options_.max_header_bytes) {
        Answer(tls, 431, "431 Request Header Fields Too Large");
        return std::nullopt;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
      if (left.count() <= 0) {
        return std::nullopt;
      }
      SetTimeout(fd, SO_RCVTIMEO, left);
      const int got = SSL_read(tls, buffer.data(), static_cast<int>(buffer.size()));
      if (got <= 0) {
        return std::nullopt;
      }
      head.append(buffer.data(), static_cast<size_t>(got));
    }
    if (end > options_.max_header_bytes) {
      Answer(tls, 431, "431 Request Header Fields Too Large");
      return std::nullopt;
    }
    std::string leftover = head.substr(end + 4);
    head.resize(end);
    std::vector<std::string> lines = Split(head, '\n');
    std::vector<std::string> first = Split(Trim(lines[0]), ' ');
    if (first.size() != 3 || first[2].substr(0, 5) != "HTTP/" || first[1].empty() ||
        first[1][0] != '/') {
      Answer(tls, 400, "400 Bad Request");
      return std::nullopt;
    }
    Request request;
    request.method = first[0];
    request.leftover = std::move(leftover);
    const std::string& target = first[1];
    const size_t question = target.find('?');
    for (const std::string& segment : Split(target.substr(0, question), '/')) {
      if (!segment.empty()) {
        request.segments.push_back(PercentDecode(segment, false));
      }
    }
    if (question != std::string::npos) {
      for (const std::string& pair : Split(std::string_view(target).substr(question + 1), '&')) {
        if (pair.empty()) {
          continue;
        }
        const size_t equals = pair.find('=');
        request.query.emplace_back(
            PercentDecode(std::string_view(pair).substr(0, equals), true),
            equals == std::string::npos
                ? std::string()
                : PercentDecode(std::string_view(pair).substr(equals + 1), true));
      }
    }
    for (size_t i = 1; i < lines.size(); ++i) {
      std::string_view line = lines[i];
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) {
        continue;
      }
      const std::string name = Lower(Trim(line.substr(0, colon)));
      std::string_view value = Trim(line.substr(colon + 1));
      if (name == "authorization") {
        request.authorization = std::string(value);
      } else if (IsRelayedHeader(name)) {
        request.relayed_headers.emplace_back(std::string(Trim(line.substr(0, colon))),
                                             std::string(value));
      } else if ((name == "content-length" && value != "0") || name == "transfer-encoding") {
        // Nothing here takes a body.
        Answer(tls, 400, "400 Bad Request: no request here has a body");
        return std::nullopt;
      }
    }
    return request;
  }

  void Handle(SSL* tls, int fd) {
    std::optional<Request> request = ReadRequest(tls, fd);
    if (!request.has_value()) {
      return;
    }
    std::string token;
    if (request->authorization.size() > 7 &&
        Lower(std::string_view(request->authorization).substr(0, 7)) == "bearer ") {
      token = std::string(Trim(std::string_view(request->authorization).substr(7)));
    }
    if (token.empty()) {
      Answer(tls, 401, "Unauthorized");
      return;
    }
    // A kubelet's verb for its endpoints: create for a POST, else get; and
    // create for anything that runs commands or opens ports, whatever the
    // method (a WebSocket exec is a GET).
    const bool streams = !request->segments.empty() &&
                         (request->segments[0] == "exec" || request->segments[0] == "attach" ||
                          request->segments[0] == "portForward");
    AccessDecision decision =
        access_(token, request->method == "POST" || streams ? "create" : "get");
    switch (decision.access) {
      case Access::kAllowed:
        break;
      case Access::kUnauthenticated:
        Logger(Component::kNode).info("node server: token refused: {}", decision.message);
        Answer(tls, 401, "Unauthorized");
        return;
      case Access::kForbidden:
        Logger(Component::kNode).info("node server: {}", decision.message);
        Answer(tls, 403, decision.message);
        return;
      case Access::kUnavailable:
        Logger(Component::kNode).warn("node server: cannot check a token: {}", decision.message);
        Answer(tls, 503, "the node cannot check credentials now: " + decision.message);
        return;
    }
    const auto& segments = request->segments;
    if (!segments.empty() &&
        ((segments.size() == 4 && (segments[0] == "exec" || segments[0] == "attach")) ||
         (segments.size() == 3 && segments[0] == "portForward"))) {
      Stream(tls, fd, *request);
      return;
    }
    if (request->method != "GET") {
      Answer(tls, 405, "405 method not allowed");
      return;
    }
    if (segments.size() == 1 && segments[0] == "healthz") {
      Answer(tls, 200, "ok");
      return;
    }
    if (segments.size() == 4 && segments[0] == "containerLogs") {
      ContainerLogs(tls, fd, segments[1], segments[2], segments[3], request->query);
      return;
    }
    Answer(tls, 404, "404 page not found");
  }

  // Whether the client went away (or sends what it should not while it
  // reads a response: treated as gone).
  static bool PeerGone(int fd) {
    pollfd entry{fd, POLLIN | POLLRDHUP, 0};
    return ::poll(&entry, 1, 0) > 0 && entry.revents != 0;
  }

  void ContainerLogs(SSL* tls, int fd, const std::string& ns, const std::string& pod,
                     const std::string& container,
                     const std::vector<std::pair<std::string, std::string>>& query) {
    auto options = ParseLogOptions(query);
    if (!options.ok()) {
      Answer(tls, 400, MessageOf(options.status()));
      return;
    }
    std::optional<ContainerLogFiles> files = lookup_(ns, pod, container);
    if (!files.has_value()) {
      Answer(tls, 404,
             fmt::format("container \"{}\" not found in pod \"{}/{}\"", container, ns, pod));
      return;
    }
    std::string path = files->current;
    if (options->previous) {
      if (files->previous.empty()) {
        Answer(tls, 400,
               fmt::format("previous terminated container \"{}\" in pod \"{}\" not found",
                           container, pod));
        return;
      }
      path = files->previous;
    }
    if (path.empty() || !std::filesystem::exists(path)) {
      Answer(tls, 400,
             fmt::format("container \"{}\" in pod \"{}\" is waiting to start: "
                         "ContainerCreating",
                         container, pod));
      return;
    }
    if (!WriteAll(tls,
                  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                  "Cache-Control: no-cache, private\r\nTransfer-Encoding: chunked\r\n"
                  "Connection: close\r\n\r\n")) {
      return;
    }
    bool client_gone = false;
    LogStreamHooks hooks;
    hooks.poll = options_.follow_poll;
    hooks.sink = [&](std::string_view chunk) {
      client_gone = !WriteAll(tls, fmt::format("{:x}\r\n{}\r\n", chunk.size(), chunk));
      return !client_gone;
    };
    const bool previous = options->previous;
    hooks.running = [&] {
      if (previous) {
        return false;
      }
      auto now = lookup_(ns, pod, container);
      return now.has_value() && now->running && now->current == path;
    };
    hooks.cancelled = [&] { return stopping_.load() || PeerGone(fd); };
    Status streamed = StreamContainerLog(path, *options, hooks);
    if (!streamed.ok()) {
      Logger(Component::kNode)
          .warn("node server: log of {}/{}/{}: {}", ns, pod, container, MessageOf(streamed));
    }
    if (!client_gone && !stopping_) {
      WriteAll(tls, "0\r\n\r\n");
    }
  }

  // exec, attach, portForward: the runtime's URL, then the relay.
  void Stream(SSL* tls, int fd, const Request& request) {
    if (request.method != "GET" && request.method != "POST") {
      Answer(tls, 405, "405 method not allowed");
      return;
    }
    // Streams may be held for hours: they never take the slots kept for
    // logs and health checks.
    StreamSlot slot(*this);
    if (!slot.taken()) {
      Answer(tls, 429,
             fmt::format("the node serves {} streams already; retry later",
                         options_.max_connections - kKeptConnections));
      return;
    }
    bool upgrade = false;
    for (const auto& [name, value] : request.relayed_headers) {
      upgrade = upgrade || Lower(name) == "upgrade";
    }
    if (!upgrade) {
      Answer(tls, 400, "Upgrade request required");
      return;
    }
    if (!streams_) {
      Answer(tls, 404, "404 page not found");
      return;
    }
    const auto& segments = request.segments;
    StreamRequest wanted;
    wanted.kind = segments[0] == "exec"     ? StreamRequest::Kind::kExec
                  : segments[0] == "attach" ? StreamRequest::Kind::kAttach
                                            : StreamRequest::Kind::kPortForward;
    wanted.ns = segments[1];
    wanted.pod = segments[2];
    if (segments.size() == 4) {
      wanted.container = segments[3];
    }
    auto flag = [](const std::string& value) {
      return value == "1" || value == "true" || value == "True";
    };
    for (const auto& [key, value] : request.query) {
      if (key == "command") {
        wanted.command.push_back(value);
      } else if (key == "input" || key == "stdin") {
        wanted.input = flag(value);
      } else if (key == "output" || key == "stdout") {
        wanted.output = flag(value);
      } else if (key == "error" || key == "stderr") {
        wanted.error = flag(value);
      } else if (key == "tty") {
        wanted.tty = flag(value);
      } else if (key == "port" || key == "ports") {
        for (const std::string& port : Split(value, ',')) {
          char* end = nullptr;
          const long number = std::strtol(port.c_str(), &end, 10);
          if (port.empty() || *end != '\0' || number < 1 || number > 65535) {
            Answer(tls, 400, fmt::format("invalid port \"{}\"", port));
            return;
          }
          wanted.ports.push_back(static_cast<int32_t>(number));
        }
      }
    }
    if (wanted.kind == StreamRequest::Kind::kExec && wanted.command.empty()) {
      Answer(tls, 400, "you must specify at least 1 command");
      return;
    }
    if (wanted.tty) {
      wanted.error = false;  // a terminal has one output stream
    }
    StreamTarget target = streams_(wanted);
    if (target.status != 200) {
      Answer(tls, target.status, target.message);
      return;
    }
    RelayRequest relay;
    relay.method = request.method;
    relay.url = target.url;
    relay.headers = request.relayed_headers;
    relay.client_bytes = request.leftover;
    relay.write_timeout = options_.write_timeout;
    Status relayed = RelayUpgrade(tls, fd, relay, stopping_);
    if (!relayed.ok()) {
      Logger(Component::kNode)
          .warn("node server: {}/{}: {}", wanted.ns, wanted.pod, MessageOf(relayed));
      Answer(tls, 500, MessageOf(relayed));
    }
  }

  // Connections never given to streams.
  static constexpr size_t kKeptConnections = 8;
  class StreamSlot {
   public:
    explicit StreamSlot(Server& server) : server_(server) {
      std::lock_guard lock(server_.mu_);
      const size_t limit = server_.options_.max_connections > kKeptConnections
                               ? server_.options_.max_connections - kKeptConnections
                               : 1;
      taken_ = server_.streams_open_ < limit;
      server_.streams_open_ += taken_ ? 1 : 0;
    }
    ~StreamSlot() {
      if (taken_) {
        std::lock_guard lock(server_.mu_);
        --server_.streams_open_;
      }
    }
    StreamSlot(const StreamSlot&) = delete;
    StreamSlot& operator=(const StreamSlot&) = delete;
    [[nodiscard]] bool taken() const { return taken_; }

   private:
    Server& server_;
    bool taken_ = false;
  };

  NodeServerOptions options_;
  AccessCheck access_;
  LogLookup lookup_;
  StreamLookup streams_;
  size_t streams_open_ = 0;  // under mu_
  SSL_CTX* tls_ = nullptr;
  std::string certificate_pem_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::condition_variable idle_;
  size_t active_ = 0;
  std::set<int> open_fds_;
};

class CachedHostAccess {
 public:
  CachedHostAccess(const HostClient& host, std::string node_name, std::chrono::seconds ttl)
      : host_(host), node_name_(std::move(node_name)), ttl_(ttl) {}

  AccessDecision Check(const std::string& token, const std::string& verb) {
    const std::string key = verb + " " + TokenKey(token);
    const auto now = SteadyClock::now();
    {
      std::lock_guard lock(mu_);
      if (auto it = allowed_.find(key); it != allowed_.end()) {
        if (it->second.first > now) {
          return {Access::kAllowed, it->second.second, ""};
        }
        allowed_.erase(it);
      }
    }
    AccessDecision decision = Ask(token, verb);
    if (decision.access == Access::kAllowed) {
      std::lock_guard lock(mu_);
      if (allowed_.size() >= kMaxEntries) {
        for (auto it = allowed_.begin(); it != allowed_.end();) {
          it = it->second.first <= now ? allowed_.erase(it) : std::next(it);
        }
        if (allowed_.size() >= kMaxEntries) {
          allowed_.clear();
        }
      }
      allowed_[key] = {now + ttl_, decision.user};
    }
    return decision;
  }

 private:
  static constexpr size_t kMaxEntries = 1024;

  AccessDecision Ask(const std::string& token, const std::string& verb) {
    auto reviewed = host_.Create("/apis/authentication.k8s.io/v1/tokenreviews",
                                 json{{"apiVersion", "authentication.k8s.io/v1"},
                                      {"kind", "TokenReview"},
                                      {"spec", {{"token", token}}}});
    if (!reviewed.ok()) {
      return {Access::kUnavailable, "", MessageOf(reviewed.status())};
    }
    const json status = reviewed->value("status", json::object());
    if (!status.value("authenticated", false)) {
      return {Access::kUnauthenticated, "",
              status.value("error", std::string("not authenticated"))};
    }
    const json user = status.value("user", json::object());
    const std::string name = user.value("username", std::string());
    json spec{
        {"user", name},
        {"groups", user.value("groups", json::array())},
        {"resourceAttributes",
         {{"verb", verb}, {"resource", "nodes"}, {"subresource", "proxy"}, {"name", node_name_}}}};
    if (user.contains("uid") && user["uid"].is_string()) {
      spec["uid"] = user["uid"];
    }
    if (user.contains("extra") && user["extra"].is_object()) {
      spec["extra"] = user["extra"];
    }
    auto access = host_.Create("/apis/authorization.k8s.io/v1/subjectaccessreviews",
                               json{{"apiVersion", "authorization.k8s.io/v1"},
                                    {"kind", "SubjectAccessReview"},
                                    {"spec", spec}});
    if (!access.ok()) {
      return {Access::kUnavailable, name, MessageOf(access.status())};
    }
    if (!access->value("status", json::object()).value("allowed", false)) {
      return {Access::kForbidden, name,
              fmt::format("Forbidden (user={}, verb={}, resource=nodes, subresource=proxy)", name,
                          verb)};
    }
    return {Access::kAllowed, name, ""};
  }

  const HostClient& host_;
  const std::string node_name_;
  const std::chrono::seconds ttl_;
  std::mutex mu_;
  std::map<std::string, std::pair<SteadyClock::time_point, std::string>> allowed_;
};

}  // namespace

AccessCheck HostAccessCheck(const HostClient& host, std::string node_name,
                            std::chrono::seconds ttl) {
  auto cache = std::make_shared<CachedHostAccess>(host, std::move(node_name), ttl);
  return [cache](const std::string& token, const std::string& verb) {
    return cache->Check(token, verb);
  };
}

StatusOr<CertificatePair> EnsureSelfSignedCertificate(const std::string& dir,
                                                      const std::vector<std::string>& hosts) {
  const std::string cert_path = dir + "/kubelet.crt";
  const std::string key_path = dir + "/kubelet.key";
  CertificatePair existing{ReadFileOr(cert_path), ReadFileOr(key_path)};
  if (StillGood(existing.certificate_pem, existing.key_pem)) {
    return existing;
  }
  BH_ASSIGN_OR_RETURN(CertificatePair made, MakeSelfSigned(hosts));
  BH_RETURN_IF_ERROR(WritePrivateFile(key_path, made.key_pem));
  BH_RETURN_IF_ERROR(WritePrivateFile(cert_path, made.certificate_pem));
  return made;
}

StatusOr<std::unique_ptr<NodeServer>> NodeServer::Start(NodeServerOptions options,
                                                        AccessCheck access, LogLookup lookup,
                                                        StreamLookup streams) {
  auto server = std::make_unique<Server>(std::move(options), std::move(access), std::move(lookup),
                                         std::move(streams));
  BH_RETURN_IF_ERROR(server->Init());
  return std::unique_ptr<NodeServer>(std::move(server));
}

}  // namespace bulkhead::node
