// The agent's metrics endpoint: who sees tenant names (the bearer token),
// and clients that stall (one that asks and never reads is cut off at the
// deadline while another is answered).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "agent/api/event_hub.h"
#include "agent/api/flow_hub.h"
#include "agent/api/tenant_registry.h"
#include "agent/metrics/http_server.h"
#include "agent/metrics/prometheus_text.h"
#include "common/unique_fd.h"
#include "fmt/format.h"

namespace bulkhead::agent::metrics {
namespace {

using Scope = MetricsScope;

MetricsServerOptions Options(const std::string& token_file = "") {
  MetricsServerOptions options;
  options.listen = "127.0.0.1:0";
  options.token_file = token_file;
  return options;
}

// A connected socket to 127.0.0.1:port; `receive_buffer` > 0 shrinks it,
// and reads give up after `timeout` (a failed test, never a hang).
UniqueFd Dial(int port, int receive_buffer = 0,
              std::chrono::seconds timeout = std::chrono::seconds(20)) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (receive_buffer > 0) {
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  }
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return {};
  }
  return fd;
}

void SendText(int fd, std::string_view text) {
  ASSERT_EQ(::send(fd, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
}

// Reads until the server closes; `ended` says whether it did (false: the
// read timed out first).
std::string ReadAll(int fd, bool* ended = nullptr) {
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (ended != nullptr) {
      *ended = n == 0 || (n < 0 && errno == ECONNRESET);
    }
    return out;
  }
}

std::string Get(int port, const std::string& headers = "") {
  UniqueFd fd = Dial(port);
  if (!fd) {
    return "connect failed";
  }
  SendText(fd.get(), "GET /metrics HTTP/1.0\r\n" + headers + "\r\n");
  return ReadAll(fd.get());
}

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    std::string pattern = "/tmp/bulkhead-metrics-token-XXXXXX";
    int fd = ::mkstemp(pattern.data());
    ::close(fd);
    path_ = pattern;
    Write(text);
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  void Write(const std::string& text) const {
    std::string next = path_ + ".new";
    std::ofstream(next) << text;
    std::filesystem::rename(next, path_);
  }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ScopeText(Scope scope) {
  return scope == Scope::kTenants ? "scope_tenants 1\n" : "scope_node 1\n";
}

TEST(AgentMetricsEndpoint, TenantSeriesOnlyWithTheBearerToken) {
  TempFile token("s3cret-token\n");
  auto server = MetricsServer::Start(Options(token.path()), ScopeText);
  ASSERT_TRUE(server.ok()) << server.status();
  int port = (*server)->port();

  std::string anonymous = Get(port);
  EXPECT_NE(anonymous.find("200 OK"), std::string::npos) << anonymous;
  EXPECT_NE(anonymous.find("scope_node 1"), std::string::npos) << anonymous;
  std::string allowed = Get(port, "Authorization: Bearer s3cret-token\r\n");
  EXPECT_NE(allowed.find("scope_tenants 1"), std::string::npos) << allowed;
  // The header name in any case, as HTTP allows.
  EXPECT_NE(Get(port, "authorization: Bearer s3cret-token\r\n").find("scope_tenants 1"),
            std::string::npos);
  for (const char* wrong :
       {"Authorization: Bearer s3cret-tokeN\r\n", "Authorization: Bearer s3cret\r\n",
        "Authorization: Basic czNjcmV0\r\n", "Authorization: Bearer \r\n"}) {
    std::string refused = Get(port, wrong);
    EXPECT_NE(refused.find("401 Unauthorized"), std::string::npos) << wrong << refused;
    EXPECT_NE(refused.find("WWW-Authenticate: Bearer"), std::string::npos) << refused;
    EXPECT_EQ(refused.find("scope_"), std::string::npos) << refused;
  }
  // A new token in the file is the token from then on.
  token.Write("next-token");
  EXPECT_NE(Get(port, "Authorization: Bearer next-token\r\n").find("scope_tenants 1"),
            std::string::npos);
  EXPECT_NE(Get(port, "Authorization: Bearer s3cret-token\r\n").find("401"), std::string::npos);
}

TEST(AgentMetricsEndpoint, WithoutATokenFileNoCallerGetsTenantSeries) {
  auto server = MetricsServer::Start(Options(), ScopeText);
  ASSERT_TRUE(server.ok()) << server.status();
  int port = (*server)->port();
  EXPECT_NE(Get(port).find("scope_node 1"), std::string::npos);
  std::string refused = Get(port, "Authorization: Bearer anything\r\n");
  EXPECT_NE(refused.find("401"), std::string::npos) << refused;
}

TEST(AgentMetricsEndpoint, AnEmptyOrMissingTokenFileIsRefusedAtStart) {
  TempFile empty(" \n");
  auto started = MetricsServer::Start(Options(empty.path()), ScopeText);
  ASSERT_FALSE(started.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(started.status())) << started.status();
  EXPECT_NE(MessageOf(started.status()).find("empty"), std::string::npos) << started.status();
  EXPECT_FALSE(MetricsServer::Start(Options(empty.path() + ".none"), ScopeText).ok());
}

// A client asks and never reads an answer larger than the socket buffers
// hold; another client is answered in full meanwhile, and the stalled one
// is cut off at the deadline (it never gets the whole answer).
TEST(AgentMetricsEndpoint, AClientThatNeverReadsStopsNobody) {
  const std::string big(16 << 20, 'x');
  MetricsServerOptions options = Options();
  options.deadline = std::chrono::seconds(4);
  auto server = MetricsServer::Start(options, [&big](Scope) { return std::string(big); });
  ASSERT_TRUE(server.ok()) << server.status();
  int port = (*server)->port();

  UniqueFd stalled = Dial(port, 4096);
  ASSERT_TRUE(stalled);
  SendText(stalled.get(), "GET /metrics HTTP/1.0\r\n\r\n");
  // The server has started answering it: the first bytes are here (left
  // unread).
  pollfd pfd{stalled.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 20'000), 1);
  // Its deadline started before now.
  auto cut_by = std::chrono::steady_clock::now() + options.deadline;

  UniqueFd reader = Dial(port);
  ASSERT_TRUE(reader);
  SendText(reader.get(), "GET /metrics HTTP/1.0\r\n\r\n");
  bool ended = false;
  std::string answer = ReadAll(reader.get(), &ended);
  ASSERT_TRUE(ended) << "the second client was not answered while the first one stalled";
  EXPECT_TRUE(answer.starts_with("HTTP/1.0 200 OK")) << answer.substr(0, 200);
  EXPECT_TRUE(answer.ends_with(big));

  // The stalled client, reading only once its deadline has passed, finds
  // it was cut off: it gets what the kernel had buffered, then the end.
  std::this_thread::sleep_until(cut_by + std::chrono::milliseconds(500));
  bool cut = false;
  std::string partial = ReadAll(stalled.get(), &cut);
  EXPECT_TRUE(cut) << "the stalled connection was never closed";
  EXPECT_LT(partial.size(), big.size());
}

// A client that connects and sends nothing (or half a request) holds no
// one else up either.
TEST(AgentMetricsEndpoint, SilentClientsDoNotHoldOthersUp) {
  MetricsServerOptions options = Options();
  options.deadline = std::chrono::seconds(30);
  options.max_connections = 8;
  auto server = MetricsServer::Start(options, ScopeText);
  ASSERT_TRUE(server.ok()) << server.status();
  int port = (*server)->port();
  std::vector<UniqueFd> silent;
  for (int i = 0; i < 20; ++i) {  // more than max_connections: the oldest make room
    silent.push_back(Dial(port));
    ASSERT_TRUE(silent.back());
    SendText(silent.back().get(), "GET /metr");
  }
  UniqueFd reader = Dial(port, 0, std::chrono::seconds(10));
  SendText(reader.get(), "GET /metrics HTTP/1.0\r\n\r\n");
  bool ended = false;
  std::string answer = ReadAll(reader.get(), &ended);
  EXPECT_TRUE(ended);
  EXPECT_NE(answer.find("scope_node 1"), std::string::npos) << answer;
}

// What an anonymous scrape renders: no tenant name anywhere.
TEST(AgentMetricsText, NodeScopeNamesNoTenant) {
  api::TenantRegistry registry(
      "n1", [](const netpol::DesiredState&) { return absl::OkStatus(); }, "");
  netpol::DesiredState state;
  state.tenants = {{"team-secret-a"}, {"team-secret-b"}};
  ASSERT_TRUE(registry.SetSource({state, {}}).ok());
  struct Node : api::NodeBackend {
    [[nodiscard]] std::string NodeName() const override { return "n1"; }
    [[nodiscard]] std::string Mode() const override { return "test"; }
    [[nodiscard]] std::vector<api::MapFill> Maps() const override { return {{"tenants", 2, 1024}}; }
    [[nodiscard]] std::vector<netpol::FlowCounter> Counters() const override {
      return {{"team-secret-a", "team-secret-b", netpol::Verdict::kDenied, 3},
              {"team-secret-b", "team-secret-a", netpol::Verdict::kDenied, 4}};
    }
    [[nodiscard]] netpol::FlowLoss Loss() const override { return {}; }
    [[nodiscard]] std::vector<netpol::TenantFlowUse> TenantFlows() const override {
      return {{"team-secret-a", 12, 3, 0}, {"team-secret-b", 1, 0, 4000}};
    }
  } node;
  api::FlowHub flows;
  api::EventHub events;
  events.Publish({api::EventKind::kPolicyApplied, "team-secret-a", "generation 1"});
  std::string anonymous = RenderMetrics({node, flows, events, registry}, Scope::kNode);
  EXPECT_EQ(anonymous.find("team-secret"), std::string::npos) << anonymous;
  EXPECT_NE(anonymous.find("bulkhead_node_flows_total{node=\"n1\",verdict=\"denied\"} 7\n"),
            std::string::npos)
      << anonymous;
  EXPECT_NE(anonymous.find("bulkhead_map_entries{node=\"n1\",map=\"tenants\"} 2\n"),
            std::string::npos)
      << anonymous;
  std::string admin = RenderMetrics({node, flows, events, registry}, Scope::kTenants);
  EXPECT_NE(admin.find("bulkhead_flows_total{node=\"n1\",source_tenant=\"team-secret-a\","
                       "destination_tenant=\"team-secret-b\",verdict=\"denied\"} 3\n"),
            std::string::npos)
      << admin;
  EXPECT_NE(admin.find("tenant=\"team-secret-b\""), std::string::npos) << admin;
  // Each tenant's flood shows on that tenant only.
  for (const char* line :
       {"bulkhead_tenant_flows_tracked{node=\"n1\",tenant=\"team-secret-a\"} 12\n",
        "bulkhead_tenant_flows_refused_total{node=\"n1\",tenant=\"team-secret-a\"} 3\n",
        "bulkhead_tenant_flow_records_dropped_total{node=\"n1\",tenant=\"team-secret-a\"} 0\n",
        "bulkhead_tenant_flow_records_dropped_total{node=\"n1\",tenant=\"team-secret-b\"} "
        "4000\n"}) {
    EXPECT_NE(admin.find(line), std::string::npos) << line << " missing from\n" << admin;
  }
}

}  // namespace
}  // namespace bulkhead::agent::metrics
