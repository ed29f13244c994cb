// Benchmark of bulkhead-controlplane (not a test): start-up to /readyz on a
// fresh store, idle RSS, creates/gets/lists per second with concurrent
// clients, and watch fan-out latency (write acknowledged -> event delivered).
// Each figure is the median of several runs; throughput is also given as a
// ratio to the /healthz rate measured in the same run (the server without
// store work), because the machines are shared and noisy.
//
// Then the controllers: Deployments of 3 replicas created at once, the time
// until every ReplicaSet and pod object exists, the RSS then and the idle
// CPU with those objects. Last, authorization's cost: a service account's
// creates and gets under RBAC (100 roles, 1,000 bindings) against the admin's.
//
//   bulkhead-controlplane-bench [--binary PATH] [--runs N] [--clients N]
//                               [--seconds S] [--watchers N] [--writes N]
//                               [--deployments N] [--rbac-roles N]
//                               [--rbac-bindings N]
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "fmt/format.h"

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> values) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  auto index = static_cast<size_t>(p * static_cast<double>(values.size() - 1));
  return values[index];
}

// One blocking TLS connection speaking HTTP/1.1 with keep-alive.
class Connection {
 public:
  // `source`: the client address (any 127/8 address), so a flood and the
  // measured client are different clients to the server's per-client cap.
  Connection(SSL_CTX* ctx, uint16_t port, std::string token, const char* source = nullptr)
      : token_(std::move(token)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (source != nullptr) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &local.sin_addr);
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
        return;
      }
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ssl_ = SSL_new(ctx);
    SSL_set_fd(ssl_, fd_);
    ok_ = SSL_connect(ssl_) == 1;
  }
  ~Connection() {
    if (ssl_ != nullptr) {
      SSL_free(ssl_);
    }
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  [[nodiscard]] bool ok() const { return ok_; }

  bool WriteRaw(const std::string& data) {
    return SSL_write(ssl_, data.data(), static_cast<int>(data.size())) > 0;
  }

  bool Send(const std::string& method, const std::string& path, const std::string& body = "") {
    std::string request = fmt::format(
        "{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n"
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        method, path, token_, body.size(), body);
    return SSL_write(ssl_, request.data(), static_cast<int>(request.size())) > 0;
  }

  // Reads one response with a Content-Length; returns the status code (0 on error).
  int Receive(std::string* body = nullptr) {
    while (true) {
      size_t end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        int status = std::atoi(buffer_.c_str() + 9);
        size_t length_at = buffer_.find("Content-Length: ");
        if (length_at == std::string::npos || length_at > end) {
          length_at = buffer_.find("content-length: ");
        }
        size_t length = length_at == std::string::npos || length_at > end
                            ? 0
                            : std::strtoul(buffer_.c_str() + length_at + 16, nullptr, 10);
        while (buffer_.size() < end + 4 + length) {
          if (!ReadMore()) {
            return 0;
          }
        }
        if (body != nullptr) {
          *body = buffer_.substr(end + 4, length);
        }
        buffer_.erase(0, end + 4 + length);
        return status;
      }
      if (!ReadMore()) {
        return 0;
      }
    }
  }

  int Request(const std::string& method, const std::string& path, const std::string& body = "") {
    return Send(method, path, body) ? Receive() : 0;
  }

  // Raw bytes of a stream (watch); empty on end or error.
  std::string ReadChunk() {
    std::string out;
    std::swap(out, buffer_);
    if (!out.empty()) {
      return out;
    }
    if (!ReadMore()) {
      return {};
    }
    std::swap(out, buffer_);
    return out;
  }

 private:
  bool ReadMore() {
    char data[16384];
    int n = SSL_read(ssl_, data, sizeof(data));
    if (n <= 0) {
      return false;
    }
    buffer_.append(data, static_cast<size_t>(n));
    return true;
  }

  std::string token_;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
  std::string buffer_;
};

struct Server {
  pid_t pid = -1;
  uint16_t port = 0;
  std::string token;
  std::string dir;
  double start_ms = 0;
};

long RssKib(pid_t pid) {  // NOLINT(google-runtime-int)
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtol(line.c_str() + 6, nullptr, 10);
    }
  }
  return -1;
}

// Starts the control plane on a fresh directory and a fixed free port, and
// measures exec -> first 200 from /readyz.
Server StartServer(const std::string& binary, SSL_CTX* ctx, int index,
                   const std::vector<std::string>& extra = {}) {
  Server server;
  server.dir = fmt::format("{}/bh-bench-{}-{}", std::filesystem::temp_directory_path().string(),
                           ::getpid(), index);
  std::filesystem::remove_all(server.dir);
  int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(addr);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  if (::bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::perror("bind");
  }
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &size);
  server.port = ntohs(addr.sin_port);
  ::close(probe);
  std::string listen = fmt::format("127.0.0.1:{}", server.port);
  auto begin = Clock::now();
  server.pid = ::fork();
  if (server.pid == 0) {
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, STDOUT_FILENO);
    ::dup2(devnull, STDERR_FILENO);
    std::vector<std::string> args = {binary, "--data-dir",  server.dir, "--listen",
                                     listen, "--log-level", "warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  while (Clock::now() - begin < std::chrono::seconds(30)) {
    Connection probe_connection(ctx, server.port, "");
    if (probe_connection.ok() && probe_connection.Request("GET", "/readyz") == 200) {
      server.start_ms = std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  std::ifstream token(server.dir + "/pki/admin.token");
  token >> server.token;
  return server;
}

void StopServer(Server& server) {
  if (server.pid > 0) {
    ::kill(server.pid, SIGKILL);
    ::waitpid(server.pid, nullptr, 0);
  }
  std::filesystem::remove_all(server.dir);
}

// Requests per second with `clients` connections for `seconds`, each request
// made by `make(client, i)` -> {method, path, body}.
template <typename Make>
double Rate(SSL_CTX* ctx, const Server& server, int clients, double seconds, Make make) {
  std::atomic<int64_t> done{0};
  std::atomic<int64_t> failed{0};
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(clients));
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  auto begin = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      Connection connection(ctx, server.port, server.token);
      for (int64_t i = 0; Clock::now() < end; ++i) {
        auto [method, path, body] = make(c, i);
        int status = connection.Request(method, path, body);
        if (status >= 200 && status < 300) {
          ++done;
        } else {
          ++failed;
          return;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
  if (failed > 0) {
    std::fprintf(stderr, "warning: %lld requests failed\n", static_cast<long long>(failed.load()));
  }
  return static_cast<double>(done.load()) / elapsed;
}

std::string ConfigMap(const std::string& name) {
  return fmt::format(
      R"({{"metadata":{{"name":"{}","labels":{{"bench":"yes"}}}},"data":{{"key":"value-{}"}}}})",
      name, name);
}

// p99 and median of write-ack -> delivery over `watchers` watchers.
std::pair<double, double> FanOut(SSL_CTX* ctx, const Server& server, int watchers, int writes) {
  const std::string path = "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=";
  Connection writer(ctx, server.port, server.token);
  std::string list;
  writer.Send("GET", "/api/v1/namespaces/default/configmaps?limit=1");
  writer.Receive(&list);
  size_t at = list.find("\"resourceVersion\":\"");
  std::string rv =
      at == std::string::npos ? "0" : list.substr(at + 19, list.find('"', at + 19) - at - 19);
  std::vector<std::vector<Clock::time_point>> seen(
      static_cast<size_t>(watchers), std::vector<Clock::time_point>(static_cast<size_t>(writes)));
  std::atomic<int> ready{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(watchers));
  for (int w = 0; w < watchers; ++w) {
    threads.emplace_back([&, w] {
      Connection connection(ctx, server.port, server.token);
      if (!connection.ok() || !connection.Send("GET", path + rv + "&timeoutSeconds=120")) {
        ++ready;
        return;
      }
      ++ready;
      int got = 0;
      std::string carry;
      while (got < writes && !stop) {
        std::string chunk = connection.ReadChunk();
        auto now = Clock::now();
        if (chunk.empty()) {
          return;
        }
        carry += chunk;
        size_t pos = 0;
        while ((pos = carry.find("\"name\":\"fan-", pos)) != std::string::npos) {
          if (pos + 18 > carry.size()) {
            break;
          }
          int index = std::atoi(carry.c_str() + pos + 12);
          if (index >= 0 && index < writes) {
            seen[static_cast<size_t>(w)][static_cast<size_t>(index)] = now;
            ++got;
          }
          pos += 18;
        }
        carry.erase(0,
                    pos == std::string::npos ? (carry.size() > 32 ? carry.size() - 32 : 0) : pos);
      }
    });
  }
  while (ready < watchers) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // watches registered
  std::vector<Clock::time_point> acked(static_cast<size_t>(writes));
  for (int i = 0; i < writes; ++i) {
    writer.Request("POST", "/api/v1/namespaces/default/configmaps",
                   ConfigMap(fmt::format("fan-{:06d}", i)));
    acked[static_cast<size_t>(i)] = Clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop = true;
  ::kill(server.pid, SIGSTOP);  // unblock readers by tearing connections down below
  ::kill(server.pid, SIGKILL);
  for (auto& thread : threads) {
    thread.join();
  }
  std::vector<double> latencies;
  int missing = 0;
  for (const auto& watcher : seen) {
    for (int i = 0; i < writes; ++i) {
      if (watcher[static_cast<size_t>(i)] == Clock::time_point{}) {
        ++missing;
        continue;
      }
      double ms = std::chrono::duration<double, std::milli>(watcher[static_cast<size_t>(i)] -
                                                            acked[static_cast<size_t>(i)])
                      .count();
      latencies.push_back(std::max(0.0, ms));
    }
  }
  if (missing > 0) {
    std::fprintf(stderr, "warning: %d events not delivered\n", missing);
  }
  return {Percentile(latencies, 0.99), Percentile(latencies, 0.5)};
}

}  // namespace

// CPU seconds (user + system) the process has used so far.
double CpuSeconds(pid_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t end = text.rfind(')');
  if (end == std::string::npos) {
    return 0;
  }
  // Fields after the command: state is field 3; utime and stime are 14 and 15.
  std::vector<std::string> fields;
  size_t pos = end + 2;
  while (pos < text.size()) {
    size_t next = text.find(' ', pos);
    fields.push_back(text.substr(pos, next - pos));
    if (next == std::string::npos) {
      break;
    }
    pos = next + 1;
  }
  if (fields.size() < 13) {
    return 0;
  }
  double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return (std::strtod(fields[11].c_str(), nullptr) + std::strtod(fields[12].c_str(), nullptr)) /
         ticks;
}

// Objects in a collection: each item's metadata has one resourceVersion,
// and so has the list's (uids and names also appear in owner references).
size_t CountItems(Connection& connection, const std::string& path) {
  std::string body;
  if (!connection.Send("GET", path) || connection.Receive(&body) != 200) {
    return 0;
  }
  size_t versions = 0;
  for (size_t pos = 0; (pos = body.find("\"resourceVersion\":\"", pos)) != std::string::npos;
       ++pos) {
    ++versions;
  }
  return versions == 0 ? 0 : versions - 1;
}

struct DeploymentFigures {
  double seconds = 0;  // first create to the last pod object
  double rss_mib = 0;
  double idle_cpu_percent = 0;
  size_t pods = 0;
  size_t replica_sets = 0;
};

// `count` Deployments of 3 replicas created at once by `clients` clients:
// how long until every ReplicaSet and pod object exists (no node runs
// them), the RSS then, and the CPU the control plane uses idle afterwards.
DeploymentFigures Deployments(SSL_CTX* ctx, const Server& server, int count, int clients) {
  DeploymentFigures figures;
  auto start = Clock::now();
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(clients));
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      Connection connection(ctx, server.port, server.token);
      for (int i = c; i < count; i += clients) {
        std::string name = fmt::format("d{}", i);
        connection.Request(
            "POST", "/apis/apps/v1/namespaces/default/deployments",
            fmt::format(
                R"({{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"{}"}},)"
                R"("spec":{{"replicas":3,"selector":{{"matchLabels":{{"app":"{}"}}}},)"
                R"("template":{{"metadata":{{"labels":{{"app":"{}"}}}},)"
                R"("spec":{{"containers":[{{"name":"c","image":"nginx"}}]}}}}}}}})",
                name, name, name));
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  Connection poll(ctx, server.port, server.token);
  auto deadline = start + std::chrono::seconds(120);
  while (Clock::now() < deadline) {
    figures.pods = CountItems(poll, "/api/v1/pods");
    if (figures.pods >= static_cast<size_t>(count) * 3) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  figures.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  figures.replica_sets = CountItems(poll, "/apis/apps/v1/replicasets");
  // Settled: the last status writes done, then 10 s of nothing to do.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  figures.rss_mib = static_cast<double>(RssKib(server.pid)) / 1024.0;
  double cpu_before = CpuSeconds(server.pid);
  std::this_thread::sleep_for(std::chrono::seconds(10));
  figures.idle_cpu_percent = (CpuSeconds(server.pid) - cpu_before) / 10.0 * 100.0;
  return figures;
}

// Authorization's cost: creates and gets per second of a service account
// whose rights come from RBAC (one of `roles` Roles, among `bindings`
// RoleBindings of other subjects) against the admin (system:masters, no
// lookup) on the same server, alternating who goes first each round.
struct AuthorizationFigures {
  std::vector<double> admin_creates, account_creates, admin_gets, account_gets;
  std::vector<double> create_ratios, get_ratios;
  bool ready = false;
};

AuthorizationFigures Authorization(SSL_CTX* ctx, const Server& server, int roles, int bindings,
                                   int clients, double seconds, int rounds) {
  AuthorizationFigures figures;
  Connection admin(ctx, server.port, server.token);
  const std::string rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/";
  int written = 0;
  // Role 0 is the service account's; the others name one secret each.
  for (int i = 0; i < roles; ++i) {
    const std::string rule =
        i == 0
            ? R"({"apiGroups":[""],"resources":["configmaps"],"verbs":["get","create"]})"
            : fmt::format(
                  R"({{"apiGroups":[""],"resources":["secrets"],"resourceNames":["s{}"],"verbs":["get"]}})",
                  i);
    written += admin.Request("POST", rbac + "roles",
                             fmt::format(R"({{"metadata":{{"name":"role-{}"}},"rules":[{}]}})", i,
                                         rule)) == 201;
  }
  // Bindings of other accounts and groups, and one of the measured account.
  for (int j = 0; j < bindings; ++j) {
    const std::string subject =
        j == 0 ? R"({"kind":"ServiceAccount","name":"bench","namespace":"default"})"
        : j % 10 == 0
            ? fmt::format(
                  R"({{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"group-{}"}})",
                  j)
            : fmt::format(R"({{"kind":"ServiceAccount","name":"other-{}","namespace":"default"}})",
                          j);
    const int role = j == 0 ? 0 : 1 + (j % std::max(1, roles - 1));
    written +=
        admin.Request(
            "POST", rbac + "rolebindings",
            fmt::format(
                R"({{"metadata":{{"name":"binding-{}"}},"roleRef":{{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"role-{}"}},"subjects":[{}]}})",
                j, role, subject)) == 201;
  }
  if (written != roles + bindings) {
    std::fprintf(stderr, "warning: %d of %d roles and bindings written\n", written,
                 roles + bindings);
  }
  admin.Request("POST", "/api/v1/namespaces/default/serviceaccounts",
                R"({"metadata":{"name":"bench"}})");
  std::string answer;
  admin.Send(
      "POST", "/api/v1/namespaces/default/serviceaccounts/bench/token",
      R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":7200}})");
  admin.Receive(&answer);
  const size_t at = answer.find("\"token\":\"");
  if (at == std::string::npos) {
    std::fprintf(stderr, "warning: no service account token: %s\n", answer.c_str());
    return figures;
  }
  Server account = server;
  account.token = answer.substr(at + 9, answer.find('"', at + 9) - at - 9);
  Connection probe(ctx, server.port, account.token);
  if (probe.Request("GET", "/api/v1/namespaces/default/configmaps/kube-root-ca.crt") != 200 ||
      probe.Request("GET", "/api/v1/namespaces/default/pods") != 403) {
    std::fprintf(stderr, "warning: the service account's rights are not as set up\n");
    return figures;
  }
  figures.ready = true;
  for (int round = 0; round < rounds; ++round) {
    double admin_creates = 0;
    double account_creates = 0;
    double admin_gets = 0;
    double account_gets = 0;
    auto creates_by = [&](const Server& who, const char* tag) {
      return Rate(ctx, who, clients, seconds, [round, tag](int c, int64_t i) {
        return std::make_tuple(std::string("POST"),
                               std::string("/api/v1/namespaces/default/configmaps"),
                               ConfigMap(fmt::format("{}{}-{}-{}", tag, round, c, i)));
      });
    };
    auto gets_by = [&](const Server& who) {
      return Rate(ctx, who, clients, seconds, [round](int c, int64_t) {
        return std::make_tuple(
            std::string("GET"),
            fmt::format("/api/v1/namespaces/default/configmaps/a{}-{}-0", round, c), std::string());
      });
    };
    if (round % 2 == 0) {
      admin_creates = creates_by(server, "a");
      account_creates = creates_by(account, "s");
      admin_gets = gets_by(server);
      account_gets = gets_by(account);
    } else {
      account_creates = creates_by(account, "s");
      admin_creates = creates_by(server, "a");
      account_gets = gets_by(account);
      admin_gets = gets_by(server);
    }
    figures.admin_creates.push_back(admin_creates);
    figures.account_creates.push_back(account_creates);
    figures.admin_gets.push_back(admin_gets);
    figures.account_gets.push_back(account_gets);
    figures.create_ratios.push_back(account_creates / admin_creates);
    figures.get_ratios.push_back(account_gets / admin_gets);
  }
  return figures;
}

int main(int argc, char** argv) {
  CLI::App app{
      "bulkhead-controlplane-bench: start-up, memory, throughput and watch fan-out of "
      "bulkhead-controlplane"};
  std::string binary = BULKHEAD_CONTROLPLANE_PATH;
  int runs = 5;
  int clients = 8;
  double seconds = 3;
  int watchers = 1000;
  int writes = 50;
  int idle_connections = 10000;
  int slowloris = 2000;
  app.add_option("--binary", binary, "bulkhead-controlplane to measure")->capture_default_str();
  app.add_option("--runs", runs, "Runs per figure (the median is reported)")->capture_default_str();
  app.add_option("--clients", clients, "Concurrent clients for throughput")->capture_default_str();
  app.add_option("--seconds", seconds, "Seconds per throughput run")->capture_default_str();
  app.add_option("--watchers", watchers, "Watchers for the fan-out")->capture_default_str();
  app.add_option("--writes", writes, "Writes observed by every watcher")->capture_default_str();
  app.add_option("--idle-connections", idle_connections,
                 "Idle keep-alive connections for the idle RSS figure")
      ->capture_default_str();
  app.add_option("--slowloris", slowloris, "Slowloris connections held during the rate figure")
      ->capture_default_str();
  int deployments = 1000;
  app.add_option("--deployments", deployments,
                 "Deployments of 3 replicas created at once for the controllers' figure (0: skip)")
      ->capture_default_str();
  int rbac_roles = 100;
  int rbac_bindings = 1000;
  app.add_option("--rbac-roles", rbac_roles, "Roles for the authorization figure")
      ->capture_default_str();
  app.add_option("--rbac-bindings", rbac_bindings,
                 "RoleBindings for the authorization figure (0: skip it)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::signal(SIGPIPE, SIG_IGN);

  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);

  std::vector<double> starts;
  std::vector<double> rss;
  std::vector<double> healthz;
  std::vector<double> creates;
  std::vector<double> gets;
  std::vector<double> lists;
  for (int run = 0; run < runs; ++run) {
    Server server = StartServer(binary, ctx, run);
    starts.push_back(server.start_ms);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    rss.push_back(static_cast<double>(RssKib(server.pid)) / 1024.0);
    healthz.push_back(Rate(ctx, server, clients, seconds, [](int, int64_t) {
      return std::make_tuple(std::string("GET"), std::string("/healthz"), std::string());
    }));
    creates.push_back(Rate(ctx, server, clients, seconds, [run](int c, int64_t i) {
      return std::make_tuple(std::string("POST"),
                             std::string("/api/v1/namespaces/default/configmaps"),
                             ConfigMap(fmt::format("c{}-{}-{}", run, c, i)));
    }));
    gets.push_back(Rate(ctx, server, clients, seconds, [run](int c, int64_t) {
      return std::make_tuple(std::string("GET"),
                             fmt::format("/api/v1/namespaces/default/configmaps/c{}-{}-0", run, c),
                             std::string());
    }));
    // Lists of a namespace holding 100 objects.
    {
      Connection setup(ctx, server.port, server.token);
      setup.Request("POST", "/api/v1/namespaces", R"({"metadata":{"name":"listed"}})");
      for (int i = 0; i < 100; ++i) {
        setup.Request("POST", "/api/v1/namespaces/listed/configmaps",
                      ConfigMap(fmt::format("l{}", i)));
      }
      std::string body;
      setup.Send("GET", "/api/v1/namespaces/listed/configmaps");
      setup.Receive(&body);
      size_t items = 0;
      for (size_t pos = 0; (pos = body.find("\"uid\":", pos)) != std::string::npos; ++pos) {
        ++items;
      }
      if (items != 100) {
        std::fprintf(stderr, "warning: the listed namespace holds %zu objects, not 100\n", items);
      }
    }
    lists.push_back(Rate(ctx, server, clients, seconds, [](int, int64_t) {
      return std::make_tuple(std::string("GET"),
                             std::string("/api/v1/namespaces/listed/configmaps"), std::string());
    }));
    StopServer(server);
  }
  std::vector<double> p99s;
  std::vector<double> p50s;
  std::vector<double> single;
  int fan_runs = std::max(1, runs / 2);
  for (int run = 0; run < fan_runs; ++run) {
    Server one = StartServer(binary, ctx, 100 + run);
    single.push_back(FanOut(ctx, one, 1, writes).first);
    StopServer(one);
    // The watchers and the writer all come from 127.0.0.1: past the default
    // per-client cap of 1,000 connections.
    Server server = StartServer(binary, ctx, 200 + run,
                                {"--max-connections-per-client", std::to_string(watchers + 100)});
    auto [p99, p50] = FanOut(ctx, server, watchers, writes);
    p99s.push_back(p99);
    p50s.push_back(p50);
    StopServer(server);
  }
  // Resilience figures, one run each. 10,000 connections need descriptors on
  // both sides: the server inherits this process's raised limit.
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);
  const std::vector<std::string> many = {"--max-connections", "30000",
                                         "--max-connections-per-client", "30000"};
  double idle_rss_10k = 0;
  size_t idle_open = 0;
  {
    Server server = StartServer(binary, ctx, 300, many);
    std::vector<std::unique_ptr<Connection>> idle;
    for (int i = 0; i < idle_connections; ++i) {
      auto connection = std::make_unique<Connection>(ctx, server.port, server.token);
      if (!connection->ok() || connection->Request("GET", "/healthz") != 200) {
        break;
      }
      idle.push_back(std::move(connection));
    }
    idle_open = idle.size();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    idle_rss_10k = static_cast<double>(RssKib(server.pid)) / 1024.0;
    StopServer(server);
  }
  double watch_rss = 0;
  size_t watching = 0;
  {
    Server server = StartServer(binary, ctx, 301, many);
    std::vector<std::unique_ptr<Connection>> open;
    for (int i = 0; i < watchers; ++i) {
      auto connection = std::make_unique<Connection>(ctx, server.port, server.token);
      if (!connection->ok() ||
          !connection->Send("GET", "/api/v1/namespaces/default/configmaps?watch=1") ||
          connection->ReadChunk().find(" 200 ") == std::string::npos) {
        break;
      }
      open.push_back(std::move(connection));
    }
    watching = open.size();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    watch_rss = static_cast<double>(RssKib(server.pid)) / 1024.0;
    StopServer(server);
  }
  double quiet_rate = 0;
  double flood_rate = 0;
  size_t flooding = 0;
  {
    // The flood comes from 127.0.0.2 and trickles one header byte per second
    // per connection; the header deadline is raised so that it holds all
    // its connections for the whole measurement.
    std::vector<std::string> args = {"--request-header-timeout", "600",
                                     "--max-connections-per-client", "30000"};
    Server server = StartServer(binary, ctx, 302, args);
    auto gets_of = [](int, int64_t) {
      return std::make_tuple(std::string("GET"), std::string("/api/v1/namespaces/default"),
                             std::string());
    };
    quiet_rate = Rate(ctx, server, clients, seconds, gets_of);
    std::vector<std::unique_ptr<Connection>> flood;
    for (int i = 0; i < slowloris; ++i) {
      auto connection = std::make_unique<Connection>(ctx, server.port, "", "127.0.0.2");
      if (!connection->ok() || !connection->WriteRaw("GET /api HTTP/1.1\r\nHost: x\r\n")) {
        break;
      }
      flood.push_back(std::move(connection));
    }
    flooding = flood.size();
    std::atomic<bool> stop{false};
    std::thread trickle([&] {
      while (!stop) {
        for (auto& connection : flood) {
          connection->WriteRaw("X");
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    });
    flood_rate = Rate(ctx, server, clients, seconds, gets_of);
    stop = true;
    trickle.join();
    // The quiet rate again once the flood is gone, so that one noisy run
    // before it does not decide the ratio: their mean is the reference.
    flood.clear();
    quiet_rate = (quiet_rate + Rate(ctx, server, clients, seconds, gets_of)) / 2;
    StopServer(server);
  }
  DeploymentFigures deployed;
  if (deployments > 0) {
    Server server = StartServer(binary, ctx, 303);
    deployed = Deployments(ctx, server, deployments, clients);
    StopServer(server);
  }
  AuthorizationFigures authorized;
  if (rbac_bindings > 0) {
    Server server = StartServer(binary, ctx, 304);
    authorized = Authorization(ctx, server, std::max(1, rbac_roles), rbac_bindings, clients,
                               seconds, std::max(3, runs));
    StopServer(server);
  }
  SSL_CTX_free(ctx);

  double h = Median(healthz);
  std::printf(
      "bulkhead-controlplane-bench (medians of %d runs; %d clients; %d watchers x %d writes)\n",
      runs, clients, watchers, writes);
  std::printf("start to /readyz (fresh store):   %8.1f ms   (target < 20 ms)\n", Median(starts));
  std::printf("idle RSS:                         %8.1f MiB  (target < 20 MiB)\n", Median(rss));
  std::printf("baseline GET /healthz:            %8.0f /s\n", h);
  std::printf(
      "creates:                          %8.0f /s   ratio to healthz %.2f (target >= 5000/s)\n",
      Median(creates), Median(creates) / h);
  std::printf(
      "gets:                             %8.0f /s   ratio to healthz %.2f (target >= 20000/s)\n",
      Median(gets), Median(gets) / h);
  std::printf("lists (100 objects each):         %8.0f /s   ratio to healthz %.2f\n", Median(lists),
              Median(lists) / h);
  std::printf(
      "watch fan-out p99 ack->delivery:  %8.1f ms   p50 %.1f ms; 1 watcher p99 %.1f ms (target p99 "
      "< 50 ms)\n",
      Median(p99s), Median(p50s), Median(single));
  std::printf("idle RSS, %zu keep-alive connections: %6.1f MiB\n", idle_open, idle_rss_10k);
  std::printf("idle RSS, %zu watchers:               %6.1f MiB\n", watching, watch_rss);
  std::printf(
      "gets during a %zu-connection slowloris: %6.0f /s, without %.0f /s (before and after): ratio "
      "%.2f (target >= 0.9)\n",
      flooding, flood_rate, quiet_rate, flood_rate / quiet_rate);
  if (deployments > 0) {
    std::printf(
        "%d deployments x 3 replicas: %zu pods, %zu replica sets in %.1f s (target 10 s); RSS "
        "%.1f MiB; idle CPU %.2f %% of a core (target < 1 %%)\n",
        deployments, deployed.pods, deployed.replica_sets, deployed.seconds, deployed.rss_mib,
        deployed.idle_cpu_percent);
  }
  if (rbac_bindings > 0 && authorized.ready) {
    std::printf(
        "service account under RBAC (%d roles, %d bindings) vs admin, medians of %zu rounds:\n"
        "  creates: %8.0f /s vs %.0f /s: ratio %.2f (target >= 0.9)\n"
        "  gets:    %8.0f /s vs %.0f /s: ratio %.2f (target >= 0.9)\n",
        std::max(1, rbac_roles), rbac_bindings, authorized.create_ratios.size(),
        Median(authorized.account_creates), Median(authorized.admin_creates),
        Median(authorized.create_ratios), Median(authorized.account_gets),
        Median(authorized.admin_gets), Median(authorized.get_ratios));
  } else if (rbac_bindings > 0) {
    std::printf("service account under RBAC: not measured (see the warnings above)\n");
  }
  return 0;
}
