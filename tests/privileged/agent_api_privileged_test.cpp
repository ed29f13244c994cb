// The agent binary on a real netns test node with its gRPC API and metrics
// on: a real cross-tenant connect shows up in `bulkhead flows` with the
// right fields and in the metrics as a real Prometheus server scraped
// them; a grant applied with `bulkhead tenant apply` opens the wall in the
// kernel. Certificates come from `bulkhead certs`.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/strings.h"
#include "common/unique_fd.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "tests/privileged/netpol_fixture.h"

namespace bulkhead::testing {
namespace {

constexpr auto kReady = std::chrono::seconds(20);

// A port on 127.0.0.1 that was free a moment ago (for Prometheus, which
// cannot report the port it picked).
int FreePort() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 0;
  }
  // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
  return ntohs(addr.sin_port);
}

// GET http://127.0.0.1:<port><path>; the body, or "" on any failure.
std::string HttpGet(int port, const std::string& path) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  timeval timeout{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return "";
  }
  std::string request = fmt::format("GET {} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n", path, port);
  if (::write(fd.get(), request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    return "";
  }
  std::string response;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0) {
    response.append(buf, static_cast<size_t>(n));
  }
  size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

std::string UrlEncode(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

// The number after "<key>=" in the agent's ready line.
int ReadyPort(const std::string& output, const std::string& key) {
  size_t at = output.find(key + "=");
  if (at == std::string::npos) {
    return 0;
  }
  std::string_view rest = std::string_view(output).substr(at + key.size() + 1);
  return ParseInteger<int>(rest.substr(0, rest.find_first_not_of("0123456789"))).value_or(0);
}

// Waits up to 20 s for `process` to exit; marks it reaped.
bool Reaped(PodProcess& process, int& status) {
  for (int i = 0; i < 400; ++i) {
    if (::waitpid(process.pid(), &status, WNOHANG) == process.pid()) {
      process.MarkReaped();
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class AgentApiPrivilegedTest : public NetpolTest {
 protected:
  [[nodiscard]] bool InProcessDatapath() const override { return false; }

  void SetUp() override {
    NetpolTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    std::string pattern = "/tmp/bulkhead-api-priv-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Certs({"init", "--dir", dir_});
    for (const char* role : {"agent", "admin", "tenant:team-a", "tenant:team-b", "tenant:team-c"}) {
      Certs({"issue", "--role", role, "--dir", dir_});
    }
    std::string text =
        fmt::format("node_address: {}\nnode_addresses: [{}]\npod_networks: [{}, {}]\nendpoints:\n",
                    kNodeV4, kNodeV6, kPodNetworkV4, kPodNetworkV6);
    for (const TestPod* pod : {a1_, a2_, b1_, b2_, c1_}) {
      text += fmt::format("- {{tenant: {}, pod: {}, addresses: [{}, \"{}\"], cgroup: {}}}\n",
                          pod->tenant, pod->name, pod->ipv4, pod->ipv6, pod->cgroup);
    }
    std::ofstream(dir_ + "/endpoints.yaml") << text;
    agent_ = StartProcess({BULKHEAD_AGENT_PATH,
                           "--log-level",
                           "info",
                           "run",
                           "--endpoints-file",
                           dir_ + "/endpoints.yaml",
                           "--pods-cgroup",
                           node_->pods_cgroup(),
                           "--bpf-root",
                           bpf_root_,
                           "--node-name",
                           "test-node",
                           "--listen",
                           "127.0.0.1:0",
                           "--certs-dir",
                           dir_,
                           "--metrics-listen",
                           "127.0.0.1:0",
                           "--state-file",
                           dir_ + "/agent-state.json"});
    ASSERT_TRUE(agent_ != nullptr);
    ASSERT_TRUE(agent_->WaitForText("agent ready", kReady)) << agent_->Output();
    std::string output = agent_->Output();
    api_port_ = ReadyPort(output, "api_port");
    metrics_port_ = ReadyPort(output, "metrics_port");
    ASSERT_GT(api_port_, 0) << output;
    ASSERT_GT(metrics_port_, 0) << output;
  }

  void TearDown() override {
    prometheus_.reset();  // SIGKILL and reap
    agent_.reset();
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
    NetpolTest::TearDown();
  }

  void Certs(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BULKHEAD_CLI_PATH, "certs"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto result = RunCommand(argv);
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }

  CommandResult Cli(const std::string& stem, std::vector<std::string> args) {
    args.insert(args.begin(), BULKHEAD_CLI_PATH);
    for (const std::string& flag :
         {fmt::format("--agent=127.0.0.1:{}", api_port_),
          fmt::format("--cert={}/{}.crt", dir_, stem), fmt::format("--key={}/{}.key", dir_, stem),
          fmt::format("--ca={}/ca.crt", dir_)}) {
      args.push_back(flag);
    }
    return RunCommand(args);
  }

  // JSON flow lines from `bulkhead flows -o json` as `stem`, polled until
  // one matches `pred` or 10 s pass.
  template <typename Pred>
  std::optional<nlohmann::json> WaitForFlow(const std::string& stem,
                                            const std::vector<std::string>& filter, Pred pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      std::vector<std::string> args = {"flows", "-o", "json"};
      args.insert(args.end(), filter.begin(), filter.end());
      auto result = Cli(stem, args);
      EXPECT_EQ(result.exit_code, 0) << result.err;
      for (std::string_view line : SplitNonEmpty(result.out, "\n")) {
        auto doc = nlohmann::json::parse(line, nullptr, false);
        if (!doc.is_discarded() && pred(doc)) {
          return doc;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return std::nullopt;
  }

  std::string dir_;
  std::unique_ptr<PodProcess> agent_;
  std::unique_ptr<PodProcess> prometheus_;
  int api_port_ = 0;
  int metrics_port_ = 0;
};

TEST_F(AgentApiPrivilegedTest, CrossTenantConnectInFlowsAndPrometheus) {
  auto server = node_->Start(b1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  ASSERT_TRUE(Refused(node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"})));

  auto from_a1 = [this](const nlohmann::json& doc) {
    return doc["source"]["pod"] == "a1" && doc["destination"]["pod"] == "b1";
  };
  auto flow = WaitForFlow("tenant-team-b", {"--verdict", "denied"}, from_a1);
  ASSERT_TRUE(flow) << agent_->Output();
  EXPECT_EQ((*flow)["source"]["tenant"], "team-a");
  // connect4 runs before the socket is bound: the kernel knows the source
  // pod from its cgroup but not yet its address.
  std::string source_address = (*flow)["source"]["address"];
  EXPECT_TRUE(source_address == a1_->ipv4 || source_address == "::") << source_address;
  EXPECT_EQ((*flow)["destination"]["tenant"], "team-b");
  EXPECT_EQ((*flow)["destination"]["address"], b1_->ipv4);
  EXPECT_EQ((*flow)["destination"]["port"], 8080);
  EXPECT_EQ((*flow)["protocol"], "tcp");
  EXPECT_EQ((*flow)["verdict"], "denied");
  EXPECT_EQ((*flow)["reason"], "cross-tenant");
  EXPECT_EQ((*flow)["hook"], "connect4");
  EXPECT_EQ((*flow)["node"], "test-node");
  // team-c's certificate does not see a flow between team-a and team-b.
  auto as_c = Cli("tenant-team-c", {"flows", "-o", "json"});
  ASSERT_EQ(as_c.exit_code, 0) << as_c.err;
  EXPECT_EQ(as_c.out.find("\"b1\""), std::string::npos) << as_c.out;

  // A real Prometheus scrapes the agent; its query API reports the flow.
  int prometheus_port = FreePort();
  ASSERT_GT(prometheus_port, 0);
  std::ofstream(dir_ + "/prometheus.yml") << fmt::format(
      "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n"
      "scrape_configs:\n"
      "- job_name: bulkhead-agent\n"
      "  static_configs: [{{targets: ['127.0.0.1:{}']}}]\n",
      metrics_port_);
  prometheus_ = StartProcess({"/usr/bin/prometheus", "--config.file=" + dir_ + "/prometheus.yml",
                              "--storage.tsdb.path=" + dir_ + "/prometheus-data",
                              fmt::format("--web.listen-address=127.0.0.1:{}", prometheus_port),
                              "--log.level=warn"});
  ASSERT_TRUE(prometheus_ != nullptr);
  std::string query = UrlEncode(
      "bulkhead_flows_total{source_tenant=\"team-a\",destination_tenant=\"team-b\","
      "verdict=\"denied\"}");
  nlohmann::json answer;
  double attempts = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < deadline && attempts < 1) {
    (void)prometheus_->Output();  // keep its log pipe drained
    answer = nlohmann::json::parse(HttpGet(prometheus_port, "/api/v1/query?query=" + query),
                                   nullptr, false);
    if (!answer.is_discarded() && answer["status"] == "success" &&
        !answer["data"]["result"].empty()) {
      attempts = std::stod(answer["data"]["result"][0]["value"][1].get<std::string>());
    }
    if (attempts < 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  ASSERT_GE(attempts, 1) << answer.dump() << "\n" << prometheus_->Output();
  EXPECT_EQ(answer["data"]["result"][0]["metric"]["node"], "test-node");
  EXPECT_EQ(answer["data"]["result"][0]["metric"]["job"], "bulkhead-agent");
  // The other families are there too, as scraped.
  std::string metrics = HttpGet(metrics_port_, "/metrics");
  for (const char* family :
       {"bulkhead_flow_records_lost_total{node=\"test-node\",reason=\"ring_buffer_full\"}",
        "bulkhead_map_entries{node=\"test-node\",map=\"tenants\"} 3",
        "bulkhead_tenant_endpoints{node=\"test-node\",tenant=\"team-a\",scope=\"local\"} 2"}) {
    EXPECT_NE(metrics.find(family), std::string::npos) << family << "\n" << metrics;
  }
}

TEST_F(AgentApiPrivilegedTest, GrantAppliedOverTheApiOpensTheWallInTheKernel) {
  auto server = node_->Start(b1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  ASSERT_TRUE(Refused(node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"})));
  std::ofstream(dir_ + "/bounds.yaml") << "tenant: team-b\nmay_grant_to: [team-a]\n";
  auto bounds = Cli("admin", {"tenant", "bounds", "-f", dir_ + "/bounds.yaml"});
  ASSERT_EQ(bounds.exit_code, 0) << bounds.err;
  std::ofstream(dir_ + "/policy.yaml")
      << "tenant: team-b\ngeneration: 1\ngrants:\n- {to: team-a, pod: b1, port: 8080, protocol: "
         "tcp}\n";
  // team-a may not grant itself access to team-b's pod.
  auto stolen = Cli("tenant-team-a", {"tenant", "apply", "-f", dir_ + "/policy.yaml"});
  EXPECT_EQ(stolen.exit_code, 1);
  EXPECT_NE(stolen.err.find("PERMISSION_DENIED"), std::string::npos) << stolen.err;
  ASSERT_TRUE(Refused(node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"})));

  auto applied = Cli("tenant-team-b", {"tenant", "apply", "-f", dir_ + "/policy.yaml"});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  auto open = node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"});
  EXPECT_EQ(open.exit_code, 0) << open.out;
  // Only the granted pod and port: c1 is still refused, and so is a1 on 8081.
  EXPECT_TRUE(Refused(node_->Run(c1_, {"connect-tcp", b1_->ipv4, "8080"})));
  EXPECT_TRUE(Refused(node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8081"})));
  auto allowed = WaitForFlow("admin", {"--verdict", "allowed"}, [](const nlohmann::json& doc) {
    return doc["source"]["pod"] == "a1" && doc["reason"] == "grant";
  });
  EXPECT_TRUE(allowed) << agent_->Output();

  // The state file keeps the grant across a restart of the agent.
  agent_.reset();
  EXPECT_EQ(node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"}).exit_code, 0);
  agent_ =
      StartProcess({BULKHEAD_AGENT_PATH, "--log-level", "info", "run", "--endpoints-file",
                    dir_ + "/endpoints.yaml", "--pods-cgroup", node_->pods_cgroup(), "--bpf-root",
                    bpf_root_, "--node-name", "test-node", "--listen", "127.0.0.1:0", "--certs-dir",
                    dir_, "--state-file", dir_ + "/agent-state.json"});
  ASSERT_TRUE(agent_->WaitForText("agent ready", kReady)) << agent_->Output();
  auto still = node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"});
  EXPECT_EQ(still.exit_code, 0) << still.out;
}

TEST_F(AgentApiPrivilegedTest, StopsCleanlyWithAFollowingClient) {
  auto follower = StartProcess(
      {BULKHEAD_CLI_PATH, "flows", "--follow", "-o", "json",
       fmt::format("--agent=127.0.0.1:{}", api_port_), fmt::format("--cert={}/admin.crt", dir_),
       fmt::format("--key={}/admin.key", dir_), fmt::format("--ca={}/ca.crt", dir_)});
  ASSERT_TRUE(follower != nullptr);
  ASSERT_TRUE(Refused(node_->Run(c1_, {"connect-tcp", b1_->ipv4, "8080"})));
  ASSERT_TRUE(follower->WaitForText("\"pod\":\"c1\"", kReady)) << follower->Output();
  // SIGTERM: the open stream is ended and the agent exits 0 (under the
  // sanitizers that includes the leak check).
  ::kill(agent_->pid(), SIGTERM);
  int status = 0;
  ASSERT_TRUE(Reaped(*agent_, status)) << "the agent did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << agent_->Output();
  int follower_status = 0;
  ASSERT_TRUE(Reaped(*follower, follower_status)) << "bulkhead flows --follow did not end";
  EXPECT_TRUE(WIFEXITED(follower_status) && WEXITSTATUS(follower_status) == 1)
      << follower->Output();
}

}  // namespace
}  // namespace bulkhead::testing
