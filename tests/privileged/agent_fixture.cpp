#include "tests/privileged/agent_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>

#include "common/unique_fd.h"
#include "fmt/format.h"

namespace bulkhead::testing {

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
std::string HttpGet(int port, const std::string& path, const std::string& headers) {
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
  std::string request =
      fmt::format("GET {} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n{}\r\n", path, port, headers);
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

void AgentProcessTest::SetUp() {
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
    text += fmt::format("- {{tenant: {}, pod: {}, addresses: [{}, \"{}\"], cgroup: {}{}}}\n",
                        pod->tenant, pod->name, pod->ipv4, pod->ipv6, pod->cgroup,
                        EndpointFields(*pod));
  }
  std::ofstream(dir_ + "/endpoints.yaml") << text;
  std::ofstream(dir_ + "/metrics.token") << kMetricsToken << "\n";
  BeforeAgent();
  if (IsSkipped() || HasFatalFailure()) {
    return;
  }
  std::vector<std::string> argv = {BULKHEAD_AGENT_PATH,
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
                                   "--metrics-token-file",
                                   dir_ + "/metrics.token",
                                   "--state-file",
                                   dir_ + "/agent-state.json"};
  for (const std::string& flag : AgentFlags()) {
    argv.push_back(flag);
  }
  agent_ = StartProcess(argv);
  ASSERT_TRUE(agent_ != nullptr);
  ASSERT_TRUE(agent_->WaitForText("agent ready", kAgentReady)) << agent_->Output();
  std::string output = agent_->Output();
  api_port_ = ReadyPort(output, "api_port");
  metrics_port_ = ReadyPort(output, "metrics_port");
  ASSERT_GT(api_port_, 0) << output;
  ASSERT_GT(metrics_port_, 0) << output;
}

void AgentProcessTest::TearDown() {
  prometheus_.reset();  // SIGKILL and reap
  agent_.reset();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  NetpolTest::TearDown();
}

void AgentProcessTest::Certs(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BULKHEAD_CLI_PATH, "certs"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = RunCommand(argv);
  ASSERT_EQ(result.exit_code, 0) << result.err;
}

CommandResult AgentProcessTest::Cli(const std::string& stem, std::vector<std::string> args) {
  args.insert(args.begin(), BULKHEAD_CLI_PATH);
  for (const std::string& flag :
       {fmt::format("--agent=127.0.0.1:{}", api_port_), fmt::format("--cert={}/{}.crt", dir_, stem),
        fmt::format("--key={}/{}.key", dir_, stem), fmt::format("--ca={}/ca.crt", dir_)}) {
    args.push_back(flag);
  }
  return RunCommand(args);
}

std::string AgentProcessTest::Metrics() const {
  return HttpGet(metrics_port_, "/metrics",
                 fmt::format("Authorization: Bearer {}\r\n", kMetricsToken));
}

double AgentProcessTest::WaitForMetric(const std::string& prefix, double at_least) const {
  double seen = -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = Metrics();  // the lines below point into it
    for (std::string_view line : SplitNonEmpty(text, "\n")) {
      if (line.starts_with(prefix)) {
        std::string value(line.substr(line.rfind(' ') + 1));
        seen = std::strtod(value.c_str(), nullptr);
      }
    }
    if (seen >= at_least) {
      return seen;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return seen;
}

}  // namespace bulkhead::testing
