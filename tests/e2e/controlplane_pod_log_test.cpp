// kubectl logs through a host-mode control plane: the API server proxies
// pods/log to the node's HTTPS endpoint (node/server, run in this process
// over fixture CRI log files), which checks the control plane's token with
// a TokenReview and a SubjectAccessReview. Plain, --tail, --timestamps,
// -c, -f while lines are appended until the container exits; a user
// without pods/log gets kubectl's 403; an unscheduled pod the 400. Exec's
// refusals, and hostile exec clients against a misbehaving runtime.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/hostapi/host_config.h"
#include "node/kubelet/host_client.h"
#include "node/server/node_server.h"
#include "tests/e2e/controlplane_harness.h"

namespace bulkhead::testing {
namespace {

void Append(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << text;
}

// A runtime's streaming server that misbehaves on purpose: it switches
// protocols and then never reads (a process that ignores its stdin), or
// refuses. It keeps every byte it was sent.
class FakeStreamingServer {
 public:
  enum class Mode { kSwitchThenStall, kRefuse };
  explicit FakeStreamingServer(Mode mode) : mode_(mode) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), size) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      ADD_FAILURE() << "the fake streaming server cannot listen: " << std::strerror(errno);
    }
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeStreamingServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  FakeStreamingServer(const FakeStreamingServer&) = delete;
  FakeStreamingServer& operator=(const FakeStreamingServer&) = delete;

  [[nodiscard]] std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/exec/one-time-token";
  }
  std::string received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  [[nodiscard]] bool peer_closed() const { return peer_closed_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd entry{fd_, POLLIN, 0};
      if (::poll(&entry, 1, 200) <= 0) {
        continue;
      }
      const int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) {
        continue;
      }
      std::string head;
      std::array<char, 4096> buffer{};
      while (head.find("\r\n\r\n") == std::string::npos && !stop_) {
        const ssize_t got = ::recv(client, buffer.data(), buffer.size(), 0);
        if (got <= 0) {
          break;
        }
        head.append(buffer.data(), static_cast<size_t>(got));
      }
      {
        std::lock_guard lock(mu_);
        received_ += head;
      }
      if (mode_ == Mode::kRefuse) {
        const std::string answer = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nno token\n";
        ::send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
        // Whatever else arrives within a moment is kept, then closed.
        pollfd more{client, POLLIN, 0};
        while (::poll(&more, 1, 500) > 0) {
          const ssize_t got = ::recv(client, buffer.data(), buffer.size(), 0);
          if (got <= 0) {
            break;
          }
          std::lock_guard lock(mu_);
          received_.append(buffer.data(), static_cast<size_t>(got));
        }
      } else {
        const std::string answer =
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n";
        ::send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
        // Never reads again; notices only when the relay gives up on it.
        int small = 4096;
        ::setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
        while (!stop_) {
          pollfd gone{client, POLLRDHUP, 0};
          if (::poll(&gone, 1, 200) > 0 && (gone.revents & (POLLRDHUP | POLLHUP)) != 0) {
            peer_closed_ = true;
            break;
          }
        }
      }
      ::close(client);
    }
  }

  Mode mode_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> peer_closed_{false};
  std::mutex mu_;
  std::string received_;
  std::thread thread_;
};

// A hostile exec client (python3's ssl): the upgrade request, optionally
// bytes right behind it, then for "flood" as much stdin as the far side
// takes until a write blocks for 5 s, then it closes. Prints the answer's
// status line.
constexpr const char* kHostileExecClient = R"PY(
import socket, ssl, sys
host, port, path, token, mode = sys.argv[1:6]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection((host, int(port))), server_hostname=host)
head = ("POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: Upgrade\r\n"
        "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n") % (path, host, token)
if mode == "early":
    head += "EARLY-BYTES-FOR-THE-RUNTIME"
s.sendall(head.encode())
s.settimeout(10)
answer = s.recv(4096)
print(answer.split(b"\r\n")[0].decode())
if mode == "flood":
    s.settimeout(5)
    try:
        for i in range(4096):
            s.sendall(b"x" * 16384)
        print("all sent")
    except Exception:
        print("blocked")
s.close()
)PY";

class PodLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::signal(SIGPIPE, SIG_IGN);
    plane_ = ControlPlane::Start("", {"--host-mode"});
    ASSERT_NE(plane_, nullptr);
    auto config = hostapi::LoadKubeconfig(plane_->kubeconfig());
    ASSERT_TRUE(config.ok()) << config.status();
    host_ = std::make_unique<node::HostClient>(*config);

    logs_ = state_.path() + "/pods";
    web_log_ = Fixture("web-uid", "app",
                       "2026-12-04T10:00:00.000000001Z stdout F one\n"
                       "2026-12-04T10:00:01.5Z stderr F two\n"
                       "2026-12-04T10:00:02Z stdout P thr\n"
                       "2026-12-04T10:00:02.5Z stdout F ee\n");
    const std::string a_log = Fixture("duo-uid", "a", "2026-12-04T10:00:00Z stdout F from a\n");
    const std::string b_log = Fixture("duo-uid", "b", "2026-12-04T10:00:00Z stdout F from b\n");
    files_["default/web/app"] = {web_log_, "", true};
    files_["default/duo/a"] = {a_log, "", false};
    files_["default/duo/b"] = {b_log, "", false};

    node::NodeServerOptions options;
    options.address = "127.0.0.1";
    options.port = 0;
    options.state_dir = state_.path();
    options.node_name = "node-a";
    options.follow_poll = std::chrono::milliseconds(50);
    options.write_timeout = std::chrono::milliseconds(3000);
    auto server = node::NodeServer::Start(
        options, node::HostAccessCheck(*host_, "node-a"),
        [this](const std::string& ns, const std::string& pod,
               const std::string& container) -> std::optional<node::ContainerLogFiles> {
          std::lock_guard lock(mu_);
          auto it = files_.find(ns + "/" + pod + "/" + container);
          if (it == files_.end()) {
            return std::nullopt;
          }
          return it->second;
        },
        // Unless a test gives a runtime, the runtime has lost the
        // container: the node's answer must reach kubectl as it is.
        [this](const node::StreamRequest& request) {
          node::StreamTarget target;
          std::lock_guard lock(mu_);
          if (runtime_url_.empty()) {
            target.status = 404;
            target.message = "container not found (\"" + request.container + "\")";
          } else {
            target.url = runtime_url_;
          }
          return target;
        });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);

    Ok({"apply", "-f", files_dir_.Write("node.yaml", NodeYaml("node-a", server_->port()))});
    Ok({"apply", "-f", files_dir_.Write("pods.yaml", R"(apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  nodeName: node-a
  containers:
  - {name: app, image: busybox}
---
apiVersion: v1
kind: Pod
metadata: {name: duo}
spec:
  nodeName: node-a
  containers:
  - {name: a, image: busybox}
  - {name: b, image: busybox}
---
apiVersion: v1
kind: Pod
metadata: {name: pending}
spec:
  nodeSelector: {nowhere: "true"}
  containers:
  - {name: c, image: busybox}
)")});
  }

  std::string Fixture(const std::string& uid, const std::string& container,
                      const std::string& text) {
    const std::string dir = logs_ + "/" + uid + "/logs/" + container;
    std::filesystem::create_directories(dir);
    std::string path = dir + "/0.log";
    Append(path, text);
    return path;
  }

  static std::string NodeYaml(const std::string& name, uint16_t port) {
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::array<char, 32> stamp{};
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    std::strftime(stamp.data(), stamp.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return "apiVersion: v1\nkind: Node\nmetadata:\n  name: " + name +
           "\nstatus:\n  capacity: {cpu: \"2\", memory: 4Gi, pods: \"110\"}\n"
           "  allocatable: {cpu: \"2\", memory: 4Gi, pods: \"110\"}\n"
           "  addresses:\n  - {type: InternalIP, address: 127.0.0.1}\n"
           "  daemonEndpoints:\n    kubeletEndpoint: {Port: " +
           std::to_string(port) +
           "}\n"
           "  conditions:\n  - {type: Ready, status: \"True\", reason: KubeletReady, "
           "lastHeartbeatTime: \"" +
           std::string(stamp.data()) + "\"}\n";
  }

  CommandResult Ok(const std::vector<std::string>& args) {
    auto result = plane_->Kubectl(args);
    EXPECT_EQ(result.exit_code, 0) << ::testing::PrintToString(args) << "\n"
                                   << result.out << result.err;
    return result;
  }

  void SetRunning(const std::string& key, bool running) {
    std::lock_guard lock(mu_);
    files_[key].running = running;
  }

  std::unique_ptr<ControlPlane> plane_;
  TempDir state_;
  TempDir files_dir_;
  std::string logs_;
  std::string web_log_;
  std::unique_ptr<node::HostClient> host_;
  std::mutex mu_;
  std::map<std::string, node::ContainerLogFiles> files_;
  std::string runtime_url_;  // under mu_
  std::unique_ptr<node::NodeServer> server_;
};

TEST_F(PodLogTest, KubectlLogsPlainTailTimestampsAndContainer) {
  auto plain = Ok({"logs", "web"});
  EXPECT_EQ(plain.out, "one\ntwo\nthree\n");
  auto tail = Ok({"logs", "web", "--tail=1"});
  EXPECT_EQ(tail.out, "three\n");
  auto stamped = Ok({"logs", "web", "--timestamps"});
  EXPECT_EQ(stamped.out,
            "2026-12-04T10:00:00.000000001Z one\n"
            "2026-12-04T10:00:01.5Z two\n"
            "2026-12-04T10:00:02Z three\n");
  auto limited = Ok({"logs", "web", "--limit-bytes=6"});
  EXPECT_EQ(limited.out, "one\ntw");
  auto b = Ok({"logs", "duo", "-c", "b"});
  EXPECT_EQ(b.out, "from b\n");
  // kubectl picks the first container itself and says so.
  auto first = Ok({"logs", "duo"});
  EXPECT_EQ(first.out, "from a\n");
  // Without a container the API server asks for one, as Kubernetes words it.
  auto ask = plane_->Curl("GET", "/api/v1/namespaces/default/pods/duo/log");
  EXPECT_EQ(HttpStatus(ask), 400) << ask.out;
  EXPECT_NE(HttpBody(ask).find("a container name must be specified for pod duo, choose one of: "
                               "[a b]"),
            std::string::npos)
      << ask.out;
}

TEST_F(PodLogTest, FollowStreamsAppendedLinesUntilTheContainerExits) {
  auto follower = Process::Spawn(plane_->KubectlArgv({"logs", "-f", "web"}));
  ASSERT_NE(follower, nullptr);
  EXPECT_EQ(follower->WaitForLine([](const std::string& line) { return line == "three"; }, 30),
            "three");
  Append(web_log_, "2026-12-04T10:00:03Z stdout F four\n");
  EXPECT_EQ(follower->WaitForLine([](const std::string& line) { return line == "four"; }, 30),
            "four");
  Append(web_log_, "2026-12-04T10:00:04Z stderr F five\n");
  EXPECT_EQ(follower->WaitForLine([](const std::string& line) { return line == "five"; }, 30),
            "five");
  Append(web_log_, "2026-12-04T10:00:05Z stdout F last words\n");
  SetRunning("default/web/app", false);
  EXPECT_EQ(follower->Wait(30), 0);
  EXPECT_EQ(follower->output(), "one\ntwo\nthree\nfour\nfive\nlast words\n");
}

TEST_F(PodLogTest, AFollowerThatGoesAwayEndsTheNodesStream) {
  auto follower = Process::Spawn(plane_->KubectlArgv({"logs", "-f", "web"}));
  ASSERT_NE(follower, nullptr);
  EXPECT_EQ(follower->WaitForLine([](const std::string& line) { return line == "three"; }, 30),
            "three");
  EXPECT_EQ(server_->open_connections(), 1U);
  follower->Kill(SIGKILL);
  follower->Wait(10);
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    closed = server_->open_connections() == 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(closed) << "the node still serves the log of a client that went away";
  // The API server goes on serving.
  EXPECT_EQ(Ok({"logs", "web", "--tail=1"}).out, "three\n");
}

TEST_F(PodLogTest, RefusalsAsKubernetesWordsThem) {
  // jane may read pods, not their logs.
  Ok({"create", "role", "pod-reader", "--verb=get", "--resource=pods"});
  Ok({"create", "rolebinding", "jane-reads", "--role=pod-reader", "--user=jane"});
  auto forbidden = plane_->Kubectl({"logs", "web", "--as", "jane"});
  EXPECT_NE(forbidden.exit_code, 0);
  EXPECT_NE(forbidden.err.find("Error from server (Forbidden): pods \"web\" is forbidden: User "
                               "\"jane\" cannot get resource \"pods/log\" in API group \"\" in "
                               "the namespace \"default\""),
            std::string::npos)
      << forbidden.err;
  auto unscheduled = plane_->Kubectl({"logs", "pending"});
  EXPECT_NE(unscheduled.exit_code, 0);
  EXPECT_NE(unscheduled.err.find("Error from server (BadRequest): pod pending does not have a "
                                 "host assigned"),
            std::string::npos)
      << unscheduled.err;
  auto missing = plane_->Kubectl({"logs", "nosuch"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("pods \"nosuch\" not found"), std::string::npos) << missing.err;
  // A container the node does not know: its 404, as Kubernetes relays it.
  {
    std::lock_guard lock(mu_);
    files_.erase("default/duo/b");
  }
  auto gone = plane_->Kubectl({"logs", "duo", "-c", "b"});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_NE(gone.err.find("Error from server (NotFound): the server could not find the requested "
                          "resource"),
            std::string::npos)
      << gone.err;
}

TEST_F(PodLogTest, ExecIsRefusedAsKubernetesWordsItAndTheNodesAnswerReachesKubectl) {
  auto lost = plane_->Kubectl({"exec", "web", "--", "true"});
  EXPECT_NE(lost.exit_code, 0);
  EXPECT_NE(lost.err.find("container not found (\"app\")"), std::string::npos) << lost.err;
  auto unscheduled = plane_->Kubectl({"exec", "pending", "--", "true"});
  EXPECT_NE(unscheduled.exit_code, 0);
  EXPECT_NE(unscheduled.err.find("pod pending does not have a host assigned"), std::string::npos)
      << unscheduled.err;
  auto nobody = plane_->Kubectl({"exec", "duo", "-c", "nobody", "--", "true"});
  EXPECT_NE(nobody.exit_code, 0);
  EXPECT_NE(nobody.err.find("container nobody is not valid for pod duo"), std::string::npos)
      << nobody.err;
  Ok({"create", "role", "pod-reader", "--verb=get", "--resource=pods"});
  Ok({"create", "rolebinding", "jane-reads", "--role=pod-reader", "--user=jane"});
  auto forbidden = plane_->Kubectl({"exec", "web", "--as", "jane", "--", "true"});
  EXPECT_NE(forbidden.exit_code, 0);
  EXPECT_NE(forbidden.err.find("User \"jane\" cannot create resource \"pods/exec\""),
            std::string::npos)
      << forbidden.err;
  // A WebSocket's GET needs create too: get alone is not enough.
  Ok({"create", "role", "exec-getter", "--verb=get", "--resource=pods/exec"});
  Ok({"create", "rolebinding", "jane-gets-exec", "--role=exec-getter", "--user=jane"});
  // Without an upgrade there is nothing to relay.
  auto plain =
      plane_->Curl("POST", "/api/v1/namespaces/default/pods/web/exec?command=true&stdout=true");
  EXPECT_EQ(HttpStatus(plain), 400) << plain.out;
  EXPECT_NE(HttpBody(plain).find("Upgrade request required"), std::string::npos) << plain.out;
  auto as_jane = RunCommand(
      {"/usr/bin/curl",
       "-sS",
       "-k",
       "-w",
       "\n%{http_code}",
       "-H",
       "Authorization: Bearer " + plane_->token(),
       "-H",
       "Impersonate-User: jane",
       "-H",
       "Connection: Upgrade",
       "-H",
       "Upgrade: websocket",
       "-H",
       "Sec-WebSocket-Version: 13",
       "-H",
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
       "-H",
       "Sec-WebSocket-Protocol: v5.channel.k8s.io",
       plane_->url() + "/api/v1/namespaces/default/pods/web/exec?command=true&stdout=true"});
  EXPECT_EQ(HttpStatus(as_jane), 403) << as_jane.out;
  // (the Status is JSON: its quotes are escaped)
  EXPECT_NE(HttpBody(as_jane).find("cannot create resource \\\"pods/exec\\\""), std::string::npos)
      << as_jane.out;
}

// A runtime that switches and then takes nothing (a process that never
// reads its stdin) while the client floods and leaves: the node gives up
// on the stalled write within its write timeout and the API server's
// tunnel ends with it; nothing is held for the gone client.
TEST_F(PodLogTest, AStalledExecIsTornDownAfterTheClientFloodsAndLeaves) {
  FakeStreamingServer runtime(FakeStreamingServer::Mode::kSwitchThenStall);
  {
    std::lock_guard lock(mu_);
    runtime_url_ = runtime.url();
  }
  const std::string script = files_dir_.Write("client.py", kHostileExecClient);
  const std::string host_port = plane_->url().substr(std::string("https://").size());
  const std::string host = host_port.substr(0, host_port.rfind(':'));
  const std::string port = host_port.substr(host_port.rfind(':') + 1);
  CommandOptions patient;
  patient.timeout_seconds = 60;
  auto flood = RunCommand(
      {"/usr/bin/python3", script, host, port,
       "/api/v1/namespaces/default/pods/web/exec?command=cat&stdin=true", plane_->token(), "flood"},
      patient);
  ASSERT_EQ(flood.exit_code, 0) << flood.err;
  EXPECT_EQ(flood.out, "HTTP/1.1 101 Switching Protocols\nblocked\n");
  bool released = false;
  for (int i = 0; i < 200 && !released; ++i) {
    released = server_->open_connections() == 0 && runtime.peer_closed();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(released) << "node connections " << server_->open_connections()
                        << ", runtime connection closed " << runtime.peer_closed();
  // The API server goes on serving, logs and exec alike.
  EXPECT_EQ(Ok({"logs", "web", "--tail=1"}).out, "three\n");
}

// Bytes a client sends behind its upgrade request reach no runtime that
// refused to switch: neither the API server nor the node passes them on.
TEST_F(PodLogTest, BytesBeforeTheSwitchNeverReachARuntimeThatRefused) {
  FakeStreamingServer runtime(FakeStreamingServer::Mode::kRefuse);
  {
    std::lock_guard lock(mu_);
    runtime_url_ = runtime.url();
  }
  const std::string script = files_dir_.Write("client.py", kHostileExecClient);
  const std::string host_port = plane_->url().substr(std::string("https://").size());
  const std::string path = "/api/v1/namespaces/default/pods/web/exec?command=cat&stdin=true";
  auto via_api =
      RunCommand({"/usr/bin/python3", script, host_port.substr(0, host_port.rfind(':')),
                  host_port.substr(host_port.rfind(':') + 1), path, plane_->token(), "early"});
  EXPECT_EQ(via_api.out, "HTTP/1.1 404 Not Found\n") << via_api.err;
  auto direct =
      RunCommand({"/usr/bin/python3", script, "127.0.0.1", std::to_string(server_->port()),
                  "/exec/default/web/app?command=cat&input=1", plane_->token(), "early"});
  EXPECT_EQ(direct.out, "HTTP/1.1 404 Not Found\n") << direct.err;
  const std::string seen = runtime.received();
  EXPECT_NE(seen.find("POST /exec/one-time-token HTTP/1.1"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("EARLY-BYTES"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("Authorization"), std::string::npos) << seen;
}

TEST_F(PodLogTest, TheNodeEndpointChecksTokensWithTheHost) {
  const std::string url =
      "https://127.0.0.1:" + std::to_string(server_->port()) + "/containerLogs/default/web/app";
  auto curl = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "-k", "-w", "\n%{http_code}"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(url);
    return RunCommand(argv);
  };
  EXPECT_EQ(HttpStatus(curl({})), 401);
  EXPECT_EQ(HttpStatus(curl({"-H", "Authorization: Bearer not-a-token"})), 401);
  Ok({"create", "serviceaccount", "viewer"});
  auto token = Ok({"create", "token", "viewer"});
  std::string viewer = token.out;
  while (!viewer.empty() && viewer.back() == '\n') {
    viewer.pop_back();
  }
  auto refused = curl({"-H", "Authorization: Bearer " + viewer});
  EXPECT_EQ(HttpStatus(refused), 403) << refused.out;
  EXPECT_NE(HttpBody(refused).find("Forbidden (user=system:serviceaccount:default:viewer, "
                                   "verb=get, resource=nodes, subresource=proxy)"),
            std::string::npos)
      << refused.out;
  auto allowed = curl({"-H", "Authorization: Bearer " + plane_->token()});
  EXPECT_EQ(HttpStatus(allowed), 200) << allowed.out;
  EXPECT_EQ(HttpBody(allowed), "one\ntwo\nthree\n");
  // exec is a POST: the node asks for create on nodes/proxy, and wants an
  // upgrade.
  const std::string exec_url = "https://127.0.0.1:" + std::to_string(server_->port()) +
                               "/exec/default/web/app?command=true&output=1";
  auto exec_refused = RunCommand({"/usr/bin/curl", "-sS", "-k", "-X", "POST", "-w",
                                  "\n%{http_code}", "-H", "Authorization: Bearer " + viewer, "-H",
                                  "Connection: Upgrade", "-H", "Upgrade: SPDY/3.1", exec_url});
  EXPECT_EQ(HttpStatus(exec_refused), 403) << exec_refused.out;
  EXPECT_NE(HttpBody(exec_refused).find("verb=create, resource=nodes, subresource=proxy"),
            std::string::npos)
      << exec_refused.out;
  // A WebSocket exec is a GET: it runs commands all the same, so it needs
  // create too (a token allowed only get nodes/proxy, as monitoring has,
  // must not exec).
  Ok({"create", "clusterrole", "node-reader", "--verb=get", "--resource=nodes/proxy"});
  Ok({"create", "clusterrolebinding", "viewer-reads-nodes", "--clusterrole=node-reader",
      "--serviceaccount=default:viewer"});
  auto ws_refused = RunCommand({"/usr/bin/curl", "-sS", "-k", "-w", "\n%{http_code}", "-H",
                                "Authorization: Bearer " + viewer, "-H", "Connection: Upgrade",
                                "-H", "Upgrade: websocket", exec_url});
  EXPECT_EQ(HttpStatus(ws_refused), 403) << ws_refused.out;
  EXPECT_NE(HttpBody(ws_refused).find("verb=create"), std::string::npos) << ws_refused.out;
  auto logs_allowed = curl({"-H", "Authorization: Bearer " + viewer});
  EXPECT_EQ(HttpStatus(logs_allowed), 200) << logs_allowed.out;
  auto no_upgrade = RunCommand({"/usr/bin/curl", "-sS", "-k", "-X", "POST", "-w", "\n%{http_code}",
                                "-H", "Authorization: Bearer " + plane_->token(), exec_url});
  EXPECT_EQ(HttpStatus(no_upgrade), 400) << no_upgrade.out;
  EXPECT_EQ(HttpBody(no_upgrade), "Upgrade request required");
}

}  // namespace
}  // namespace bulkhead::testing
