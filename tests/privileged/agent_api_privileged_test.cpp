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
#include "tests/privileged/agent_fixture.h"

namespace bulkhead::testing {
namespace {

constexpr auto kReady = kAgentReady;

using AgentApiPrivilegedTest = AgentProcessTest;

TEST_F(AgentApiPrivilegedTest, CrossTenantConnectInFlowsAndPrometheus) {
  auto server = node_->Start(b1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  ASSERT_TRUE(Refused(node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"})));

  auto from_a1 = [](const nlohmann::json& doc) {
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
  // It scrapes with the bearer token (docs/agent-api.md); a second job
  // without one gets the node-level series only.
  std::ofstream(dir_ + "/prometheus.yml") << fmt::format(
      "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n"
      "scrape_configs:\n"
      "- job_name: bulkhead-agent\n"
      "  authorization: {{type: Bearer, credentials_file: {}/metrics.token}}\n"
      "  static_configs: [{{targets: ['127.0.0.1:{}']}}]\n"
      "- job_name: anonymous\n"
      "  static_configs: [{{targets: ['127.0.0.1:{}']}}]\n",
      dir_, metrics_port_, metrics_port_);
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
  // The anonymous job got the node's totals and no tenant name.
  std::string anonymous_query = UrlEncode("bulkhead_node_flows_total{job=\"anonymous\"}");
  bool anonymous_seen = false;
  while (std::chrono::steady_clock::now() < deadline && !anonymous_seen) {
    (void)prometheus_->Output();
    answer = nlohmann::json::parse(
        HttpGet(prometheus_port, "/api/v1/query?query=" + anonymous_query), nullptr, false);
    anonymous_seen = !answer.is_discarded() && answer["status"] == "success" &&
                     !answer["data"]["result"].empty();
    if (!anonymous_seen) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  ASSERT_TRUE(anonymous_seen) << answer.dump();
  auto tenant_series = nlohmann::json::parse(
      HttpGet(prometheus_port,
              "/api/v1/query?query=" + UrlEncode("count({job=\"anonymous\",tenant!=\"\"}) or "
                                                 "count({job=\"anonymous\",source_tenant!=\"\"})")),
      nullptr, false);
  ASSERT_FALSE(tenant_series.is_discarded());
  EXPECT_TRUE(tenant_series["data"]["result"].empty()) << tenant_series.dump();
  std::string anonymous = HttpGet(metrics_port_, "/metrics");
  EXPECT_EQ(anonymous.find("team-"), std::string::npos) << anonymous;
  EXPECT_NE(anonymous.find("bulkhead_node_flows_total{node=\"test-node\",verdict=\"denied\"}"),
            std::string::npos)
      << anonymous;

  // The other families are there too, as scraped with the token.
  std::string metrics = Metrics();
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
