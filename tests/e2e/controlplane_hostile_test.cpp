// bulkhead-controlplane against hostile and broken clients, all on loopback:
// half-open and slowloris floods, unauthenticated large bodies, the
// open-file limit, huge headers, watchers that never read, and a header
// injection through an unknown field name. Each flood is bounded in count
// and time; the server must stay up and answer a legitimate client, with
// its threads and memory bounded (read from /proc).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/controlplane_harness.h"

namespace bulkhead::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Sets an environment variable for what this scope starts, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name); old != nullptr) {
      old_ = old;
    }
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

constexpr const char* kConfigMaps = "/api/v1/namespaces/default/configmaps";

uint16_t PortOf(const std::string& url) {
  return static_cast<uint16_t>(std::atoi(url.substr(url.rfind(':') + 1).c_str()));
}

// A field of /proc/<pid>/status, in its own unit (kB for VmRSS).
long ProcStatus(pid_t pid, const std::string& field) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(file, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::atol(line.c_str() + field.size() + 1);
    }
  }
  return -1;
}

// utime + stime of a process, in clock ticks.
long CpuTicks(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::vector<std::string> fields;
  std::string field;
  while (rest >> field) {
    fields.push_back(field);
  }
  // Fields 14 and 15 of stat(5); the first two are before the ')'.
  return std::atol(fields.at(11).c_str()) + std::atol(fields.at(12).c_str());
}

size_t OpenFiles(pid_t pid) {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    ++count;
  }
  return count;
}

// A TCP connection to 127.0.0.1:port from `source` (any 127/8 address, so a
// flood and the legitimate client count as different client addresses).
int Connect(const std::string& source, uint16_t port, int receive_buffer = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  if (receive_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  }
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast)
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0) {
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when the peer closed the connection (EOF or reset) within `timeout`;
// whatever it sent first is read and dropped.
bool ClosedByPeer(int fd, std::chrono::milliseconds timeout) {
  auto deadline = SteadyClock::now() + timeout;
  std::vector<char> scratch(65536);
  while (SteadyClock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 1))) <= 0) {
      continue;
    }
    ssize_t n = ::recv(fd, scratch.data(), scratch.size(), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      return true;
    }
  }
  return false;
}

struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

// A TLS client connection (the server certificate is not checked: the
// tests are about the server's behaviour, not its identity).
class TlsClient {
 public:
  static std::unique_ptr<TlsClient> Open(const std::string& source, uint16_t port,
                                         int receive_buffer = 0) {
    static SSL_CTX* context = [] {
      SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      return ctx;
    }();
    int fd = Connect(source, port, receive_buffer);
    if (fd < 0) {
      return nullptr;
    }
    std::unique_ptr<TlsClient> client(new TlsClient());
    client->fd_ = fd;
    client->ssl_.reset(SSL_new(context));
    SSL_set_fd(client->ssl_.get(), fd);
    if (SSL_connect(client->ssl_.get()) != 1) {
      return nullptr;
    }
    return client;
  }
  ~TlsClient() {
    ssl_.reset();
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool Write(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      int n = SSL_write(ssl_.get(), data.data() + done,
                        static_cast<int>(std::min<size_t>(data.size() - done, 1 << 20)));
      if (n <= 0) {
        return false;
      }
      done += static_cast<size_t>(n);
    }
    return true;
  }
  // Reads until the peer closes, an error, or `timeout`.
  std::string ReadAll(std::chrono::milliseconds timeout) {
    std::string out;
    auto deadline = SteadyClock::now() + timeout;
    std::vector<char> buffer(16384);
    while (SteadyClock::now() < deadline) {
      int n = SSL_read(ssl_.get(), buffer.data(), static_cast<int>(buffer.size()));
      if (n <= 0) {
        int error = SSL_get_error(ssl_.get(), n);
        if (error == SSL_ERROR_WANT_READ && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          continue;  // the 5 s receive timeout
        }
        closed_ = true;
        break;
      }
      out.append(buffer.data(), static_cast<size_t>(n));
    }
    return out;
  }
  [[nodiscard]] bool closed() const { return closed_; }
  [[nodiscard]] int fd() const { return fd_; }

 private:
  TlsClient() = default;
  int fd_ = -1;
  std::unique_ptr<SSL, SslDeleter> ssl_;
  bool closed_ = false;
};

class HostileClientTest : public ::testing::Test {
 protected:
  // Writes to connections the server closed fail instead of killing the test.
  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }
  void Start(const std::vector<std::string>& args = {}) {
    plane_ = ControlPlane::Start("", args);
    ASSERT_NE(plane_, nullptr) << "control plane did not start";
    port_ = PortOf(plane_->url());
  }
  // A legitimate client: curl from 127.0.0.1 with the admin token.
  void ExpectAnswered() {
    auto health = plane_->Curl("GET", "/readyz", "", "", false);
    EXPECT_EQ(HttpStatus(health), 200) << health.out << health.err;
    auto list = plane_->Curl("GET", kConfigMaps);
    EXPECT_EQ(HttpStatus(list), 200) << list.out << list.err;
  }
  std::string ConfigMap(const std::string& name, size_t value_bytes) {
    return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
           R"("},"data":{"v":")" + std::string(value_bytes, 'x') + R"("}})";
  }
  // Creates `prefix`-0 .. `prefix`-(count-1), each with a value of `value_bytes`.
  void CreateConfigMaps(const std::string& prefix, int count, size_t value_bytes) {
    for (int i = 0; i < count; ++i) {
      auto created = plane_->Curl("POST", kConfigMaps,
                                  ConfigMap(prefix + "-" + std::to_string(i), value_bytes),
                                  "application/json");
      ASSERT_EQ(HttpStatus(created), 201) << created.out;
    }
  }
  std::string Request(const std::string& method, const std::string& target,
                      const std::string& extra_headers = "", bool token = true) {
    return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
           (token ? "Authorization: Bearer " + plane_->token() + "\r\n" : "") + extra_headers +
           "\r\n";
  }

  // Opens `count` watches of ConfigMaps (`query` after "?watch=1") from
  // clients that never read (a 4 KiB receive buffer), and lets them start.
  void OpenStalledWatchers(int count, const std::string& query,
                           std::vector<std::unique_ptr<TlsClient>>& out) {
    for (int i = 0; i < count; ++i) {
      auto client = TlsClient::Open("127.0.0.2", port_, 4096);
      ASSERT_NE(client, nullptr);
      ASSERT_TRUE(client->Write(Request("GET", std::string(kConfigMaps) + "?watch=1" + query)));
      out.push_back(std::move(client));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }

  std::unique_ptr<ControlPlane> plane_;
  uint16_t port_ = 0;
};

TEST_F(HostileClientTest, HalfOpenAndSlowlorisFloodsHoldNoThreadsAndMeetTheirDeadlines) {
  Start({"--tls-handshake-timeout", "2", "--request-header-timeout", "3"});
  pid_t pid = plane_->pid();
  // The server's own threads (IO loops, controllers, informers), before the flood.
  const long idle_threads = ProcStatus(pid, "Threads");
  ASSERT_GT(idle_threads, 0);
  // Half-open: TCP connections that never start TLS.
  std::vector<int> half_open;
  for (int i = 0; i < 300; ++i) {
    int fd = Connect("127.0.0.2", port_);
    ASSERT_GE(fd, 0) << "connection " << i;
    half_open.push_back(fd);
  }
  // Slowloris: TLS connections that send a request's headers a byte at a time.
  std::vector<std::unique_ptr<TlsClient>> slow;
  for (int i = 0; i < 100; ++i) {
    auto client = TlsClient::Open("127.0.0.3", port_);
    ASSERT_NE(client, nullptr) << "slow connection " << i;
    ASSERT_TRUE(client->Write("GET /api HTTP/1.1\r\nHost: x\r\n"));
    slow.push_back(std::move(client));
  }
  // During the flood: the server stays up, answers, and holds no thread per
  // connection (400 connections are open).
  ExpectAnswered();
  long threads = ProcStatus(pid, "Threads");
  EXPECT_GT(threads, 0);
  EXPECT_LT(threads - idle_threads, 10)
      << "threads during a flood of 400 connections: " << threads << ", idle " << idle_threads;
  auto trickle_until = SteadyClock::now() + std::chrono::milliseconds(3500);
  while (SteadyClock::now() < trickle_until) {
    for (auto& client : slow) {
      client->Write("X");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  // Past the handshake deadline and the header deadline (however slowly
  // bytes trickle in), every flood connection was closed by the server.
  size_t half_open_closed = 0;
  for (int fd : half_open) {
    half_open_closed += ClosedByPeer(fd, std::chrono::milliseconds(2000)) ? 1 : 0;
    ::close(fd);
  }
  EXPECT_EQ(half_open_closed, half_open.size());
  size_t slow_closed = 0;
  for (auto& client : slow) {
    client->ReadAll(std::chrono::milliseconds(2000));
    slow_closed += client->closed() ? 1 : 0;
  }
  EXPECT_EQ(slow_closed, slow.size());
  ExpectAnswered();
}

TEST_F(HostileClientTest, ConnectionsPastTheCapsAreRefusedOthersServed) {
  Start({"--max-connections-per-client", "20", "--max-connections", "50"});
  std::vector<int> flood;
  flood.reserve(40);
  for (int i = 0; i < 40; ++i) {
    flood.push_back(Connect("127.0.0.2", port_));
  }
  // 20 kept, the rest closed at once.
  size_t refused = 0;
  for (int fd : flood) {
    refused += ClosedByPeer(fd, std::chrono::milliseconds(300)) ? 1 : 0;
  }
  EXPECT_EQ(refused, 20U);
  // Another client address is served.
  ExpectAnswered();
  for (int fd : flood) {
    ::close(fd);
  }
}

// Connections that never authenticate, from however many addresses, cannot
// fill the total cap and keep clients out: at the cap a newcomer closes the
// oldest of them. Authenticated connections are never closed for it.
TEST_F(HostileClientTest, AtTheTotalCapUnauthenticatedConnectionsMakeWay) {
  Start({"--max-connections", "30", "--max-connections-per-client", "20", "--tls-handshake-timeout",
         "60"});
  // Ten authenticated keep-alive connections (their answers left unread).
  std::vector<std::unique_ptr<TlsClient>> proven;
  for (int i = 0; i < 10; ++i) {
    auto client = TlsClient::Open("127.0.0.4", port_);
    ASSERT_NE(client, nullptr) << "authenticated connection " << i;
    ASSERT_TRUE(client->Write(Request("GET", "/readyz")));
    proven.push_back(std::move(client));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // their headers are read
  // Twenty that never start TLS fill the cap.
  std::vector<int> flood;
  flood.reserve(20);
  for (int i = 0; i < 20; ++i) {
    flood.push_back(Connect("127.0.0.2", port_));
    ASSERT_GE(flood.back(), 0);
  }
  for (int fd : flood) {
    ASSERT_FALSE(ClosedByPeer(fd, std::chrono::milliseconds(50))) << "admitted under the cap";
  }
  // Each newcomer at the cap is served, and closes one of them.
  auto evicted = [&flood] {
    size_t closed = 0;
    for (int fd : flood) {
      closed += ClosedByPeer(fd, std::chrono::milliseconds(20)) ? 1 : 0;
    }
    return closed;
  };
  std::vector<std::unique_ptr<TlsClient>> newcomers;
  for (size_t i = 1; i <= 2; ++i) {
    auto client = TlsClient::Open("127.0.0.5", port_);
    ASSERT_NE(client, nullptr) << "newcomer " << i << " refused at the cap";
    ASSERT_TRUE(client->Write(Request("GET", kConfigMaps)));
    timeval wait{0, 200000};  // the answer, not the keep-alive connection's end
    ::setsockopt(client->fd(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
    std::string answer = client->ReadAll(std::chrono::milliseconds(500));
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
    EXPECT_EQ(evicted(), i);
    newcomers.push_back(std::move(client));
  }
  for (int fd : flood) {
    ::close(fd);
  }
  for (auto& client : proven) {
    EXPECT_FALSE(ClosedByPeer(client->fd(), std::chrono::milliseconds(50)));
  }
}

TEST_F(HostileClientTest, HeadersOverTheLimitGet431) {
  Start();
  auto client = TlsClient::Open("127.0.0.1", port_);
  ASSERT_NE(client, nullptr);
  client->Write(
      Request("GET", "/api", "X-Padding: " + std::string(size_t{100} * 1024, 'a') + "\r\n"));
  std::string response = client->ReadAll(std::chrono::milliseconds(5000));
  EXPECT_EQ(response.rfind("HTTP/1.1 431", 0), 0U) << response.substr(0, 200);
  ExpectAnswered();
}

TEST_F(HostileClientTest, UnauthenticatedBodiesAreRefusedBeforeTheyAreRead) {
  Start();
  pid_t pid = plane_->pid();
  long rss_before = ProcStatus(pid, "VmRSS");
  const std::string body(3'000'000, 'x');
  std::vector<std::thread> senders;
  std::vector<std::string> answers(100);
  for (size_t i = 0; i < answers.size(); ++i) {
    senders.emplace_back([&, i] {
      auto client = TlsClient::Open("127.0.0.2", port_);
      if (client == nullptr) {
        return;
      }
      client->Write(Request("POST", kConfigMaps,
                            "Content-Type: application/json\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n",
                            false));
      client->Write(body);  // fails once the server has answered and closed
      answers[i] = client->ReadAll(std::chrono::milliseconds(3000));
    });
  }
  for (auto& sender : senders) {
    sender.join();
  }
  long rss_after = ProcStatus(pid, "VmRSS");
  size_t refused = 0;
  for (const auto& answer : answers) {
    refused += answer.rfind("HTTP/1.1 401", 0) == 0 ? 1 : 0;
  }
  EXPECT_GE(refused, answers.size() * 9 / 10);
  // 100 bodies of 3 MB would be 300 MB; none of it is buffered.
  EXPECT_LT(rss_after - rss_before, 64 * 1024)
      << "kB before " << rss_before << " after " << rss_after;
  ExpectAnswered();
}

TEST_F(HostileClientTest, BodiesInFlightAreBoundedAcrossConnections) {
  // A 1 MiB budget for bodies being read: one 600 kB upload in progress
  // leaves no room for a second, which gets 429 at once, before its body.
  Start({"--max-bodies-in-flight-bytes", "1048576"});
  std::string body = ConfigMap("upload", 590'000);
  std::string headers = Request(
      "POST", kConfigMaps,
      "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n");
  auto first = TlsClient::Open("127.0.0.2", port_);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->Write(headers));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto second = TlsClient::Open("127.0.0.3", port_);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(second->Write(headers));
  std::string refused = second->ReadAll(std::chrono::milliseconds(5000));
  EXPECT_EQ(refused.rfind("HTTP/1.1 429", 0), 0U) << refused.substr(0, 300);
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos) << refused.substr(0, 300);
  // The first upload finishes and is stored; its bytes go back to the budget.
  ASSERT_TRUE(first->Write(body));
  first->Write("GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string stored = first->ReadAll(std::chrono::milliseconds(10000));
  EXPECT_EQ(stored.rfind("HTTP/1.1 201", 0), 0U) << stored.substr(0, 300);
  auto again = plane_->Curl("POST", kConfigMaps, ConfigMap("after", 590'000), "application/json");
  EXPECT_EQ(HttpStatus(again), 201) << again.out.substr(0, 300);
}

TEST_F(HostileClientTest, AtTheOpenFileLimitAcceptBacksOffInsteadOfSpinning) {
  Start();
  pid_t pid = plane_->pid();
  auto limit = static_cast<rlim_t>(OpenFiles(pid) + 8);
  rlimit low{limit, limit};
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &low, nullptr), 0) << std::strerror(errno);
  std::vector<int> flood;
  for (int i = 0; i < 40; ++i) {
    int fd = Connect("127.0.0.2", port_);
    ASSERT_GE(fd, 0);
    flood.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  long ticks_before = CpuTicks(pid);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  long used = CpuTicks(pid) - ticks_before;
  // A spinning accept loop uses all of the 2 s; backing off uses almost none.
  EXPECT_LT(used, sysconf(_SC_CLK_TCK) / 2) << "ticks in 2 s at the file limit";
  for (int fd : flood) {
    ::close(fd);
  }
  // Once the connections are gone the server answers again (under the same limit).
  int status = 0;
  for (int attempt = 0; attempt < 10 && status != 200; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    status = HttpStatus(plane_->Curl("GET", "/readyz", "", "", false));
  }
  EXPECT_EQ(status, 200);
}

TEST_F(HostileClientTest, AWatcherThatNeverReadsIsEndedAndItsMemoryBounded) {
  {
    // Under AddressSanitizer (CI) freed memory waits in a 256 MiB quarantine
    // and counts in the RSS; the server gets a small one, so the figure
    // below is what it holds, not what it freed.
    const char* inherited = std::getenv("ASAN_OPTIONS");
    std::string options = inherited != nullptr ? inherited : "";
    ScopedEnv asan("ASAN_OPTIONS", options + (options.empty() ? "" : ":") + "quarantine_size_mb=4");
    Start({"--watch-queue-bytes", "262144"});
  }
  pid_t pid = plane_->pid();
  long rss_before = ProcStatus(pid, "VmRSS");
  std::vector<std::unique_ptr<TlsClient>> stalled;
  OpenStalledWatchers(5, "", stalled);
  ASSERT_FALSE(HasFatalFailure());
  // 4 MB of events per watcher, far past its 256 KiB queue.
  CreateConfigMaps("big", 40, 100'000);
  ASSERT_FALSE(HasFatalFailure());
  long rss_after = ProcStatus(pid, "VmRSS");
  EXPECT_LT(rss_after - rss_before, 64 * 1024)
      << "kB before " << rss_before << " after " << rss_after;
  // Each stalled watcher was ended: reading now reaches the end of the
  // connection well before the 4 MB of events it was sent.
  for (auto& client : stalled) {
    std::string got = client->ReadAll(std::chrono::milliseconds(10000));
    EXPECT_TRUE(client->closed()) << "watch still open after " << got.size() << " bytes";
    EXPECT_LT(got.size(), size_t{4'000'000});
  }
  ExpectAnswered();
}

TEST_F(HostileClientTest, AWatchWhoseInitialEventsPassItsQueueStillGetsThemAll) {
  // 1.2 MB of ConfigMaps, a 256 KiB watch queue: the initial events are
  // written a part at a time as the client takes them, never all at once
  // (which would pass the bound and end a watcher that keeps up).
  Start({"--watch-queue-bytes", "262144"});
  CreateConfigMaps("init", 12, 100'000);
  ASSERT_FALSE(HasFatalFailure());
  auto client = TlsClient::Open("127.0.0.2", port_);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(
      client->Write(Request("GET", std::string(kConfigMaps) + "?watch=1&timeoutSeconds=3")));
  std::string got = client->ReadAll(std::chrono::milliseconds(15000));
  EXPECT_TRUE(client->closed());
  for (int i = 0; i < 12; ++i) {
    EXPECT_NE(got.find("\"name\":\"init-" + std::to_string(i) + "\""), std::string::npos)
        << "init-" << i << " missing from " << got.size() << " bytes";
  }
}

TEST_F(HostileClientTest, AnUnauthenticatedClientHoldsNoConnectionPastItsAnswer) {
  Start();
  auto client = TlsClient::Open("127.0.0.2", port_);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Write(Request("GET", "/api", "", false)));
  std::string answer = client->ReadAll(std::chrono::milliseconds(5000));
  EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0U) << answer.substr(0, 200);
  EXPECT_TRUE(client->closed()) << "the connection stayed open after a 401";
  ExpectAnswered();
}

TEST_F(HostileClientTest, TimeoutSecondsEndsAWatchWhoseClientDoesNotRead) {
  Start();
  std::vector<std::unique_ptr<TlsClient>> stalled;
  OpenStalledWatchers(3, "&timeoutSeconds=2", stalled);
  ASSERT_FALSE(HasFatalFailure());
  // 2 MB of events: the socket buffers fill, the queue (4 MiB) does not.
  CreateConfigMaps("t", 20, 100'000);
  ASSERT_FALSE(HasFatalFailure());
  auto since = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::seconds(5));
  for (auto& client : stalled) {
    // The server closed the connection at its timeout (and end grace)
    // although the client read nothing; what was sent can still be drained.
    client->ReadAll(std::chrono::milliseconds(8000));
    EXPECT_TRUE(client->closed());
  }
  EXPECT_LT(SteadyClock::now() - since, std::chrono::seconds(40));
  ExpectAnswered();
}

TEST_F(HostileClientTest, AWatchWriteThatDoesNotFinishInTheWriteTimeoutEndsTheWatch) {
  // No timeoutSeconds (the default is 30 minutes) and a 32 MiB queue that
  // is never full: only the write deadline can end these watches.
  Start({"--write-timeout", "2", "--watch-queue-bytes", "33554432"});
  std::vector<std::unique_ptr<TlsClient>> stalled;
  OpenStalledWatchers(2, "", stalled);
  ASSERT_FALSE(HasFatalFailure());
  // 10.8 MB of events: more than the kernel buffers (a 4 MiB send buffer
  // at most), so a write waits on the client.
  CreateConfigMaps("w", 12, 900'000);
  ASSERT_FALSE(HasFatalFailure());
  std::this_thread::sleep_for(std::chrono::seconds(4));
  for (auto& client : stalled) {
    // Closed by the server: what the kernel still held is read, then the
    // end, well before the 10.8 MB that were queued.
    std::string got = client->ReadAll(std::chrono::milliseconds(8000));
    EXPECT_TRUE(client->closed()) << "watch still open after " << got.size() << " bytes";
    EXPECT_LT(got.size(), size_t{10'000'000});
  }
  ExpectAnswered();
}

TEST_F(HostileClientTest, ACrLfInAnUnknownFieldNameInjectsNoHeader) {
  Start();
  std::string body = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"inject"},)"
                     R"("x\r\nX-Injected: yes":"1"})";
  auto client = TlsClient::Open("127.0.0.1", port_);
  ASSERT_NE(client, nullptr);
  client->Write(Request("POST", std::string(kConfigMaps) + "?fieldValidation=Warn",
                        "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n") +
                body);
  std::string response = client->ReadAll(std::chrono::milliseconds(5000));
  std::string head = response.substr(0, response.find("\r\n\r\n"));
  EXPECT_EQ(head.rfind("HTTP/1.1 201", 0), 0U) << head;
  EXPECT_NE(head.find("Warning: 299"), std::string::npos) << head;
  EXPECT_EQ(head.find("\r\nX-Injected"), std::string::npos) << head;
}

}  // namespace
}  // namespace bulkhead::testing
