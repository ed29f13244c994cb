// The boot window: a node registers with the bulkhead.io/agent-not-ready
// taint, and its agent removes it once its programs are attached. The host
// API is a real bulkhead-controlplane process (it stores Nodes); the agent
// reaches it with the control plane's kubeconfig, over TLS, with a token.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/e2e/controlplane_harness.h"
#include "tests/privileged/agent_fixture.h"

namespace bulkhead::testing {
namespace {

constexpr const char* kTaint = "bulkhead.io/agent-not-ready";
constexpr auto kReady = std::chrono::seconds(10);

class AgentReadinessTest : public AgentProcessTest {
 protected:
  void BeforeAgent() override {
    plane_ = ControlPlane::Start();
    ASSERT_NE(plane_, nullptr) << "bulkhead-controlplane did not start";
  }
  [[nodiscard]] std::vector<std::string> AgentFlags() const override {
    return {"--kubeconfig", plane_->kubeconfig()};
  }
  void TearDown() override {
    AgentProcessTest::TearDown();
    plane_.reset();  // SIGKILL; its data directory goes with it
  }

  // The keys of the Node's taints ("" when the Node cannot be read).
  [[nodiscard]] std::vector<std::string> TaintKeys() const {
    auto got = plane_->Curl("GET", "/api/v1/nodes/test-node");
    if (HttpStatus(got) != 200) {
      return {""};
    }
    auto doc = nlohmann::json::parse(HttpBody(got), nullptr, false);
    std::vector<std::string> keys;
    if (doc.is_object() && doc.contains("spec") && doc["spec"].contains("taints")) {
      for (const auto& taint : doc["spec"]["taints"]) {
        keys.push_back(taint.value("key", ""));
      }
    }
    return keys;
  }

  std::unique_ptr<ControlPlane> plane_;
};

TEST_F(AgentReadinessTest, TheAgentRemovesItsNotReadyTaintOnceItsProgramsAreAttached) {
  // The agent enforces without waiting for the host API: it is ready
  // (SetUp) while its Node does not exist yet, and says it will retry.
  ASSERT_TRUE(agent_->WaitForText("no such Node in the host API", std::chrono::seconds(20)))
      << agent_->Output();
  auto server = node_->Start(b1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  EXPECT_TRUE(Refused(node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"})))
      << "the wall must stand while the host API has no Node for the agent";

  // The Node registers as a kubelet with --register-with-taints would make
  // it, with another taint of someone else's beside the agent's.
  nlohmann::json node = {
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata", {{"name", "test-node"}}},
      {"spec",
       {{"taints",
         {{{"key", "example.com/dedicated"}, {"value", "gpu"}, {"effect", "NoSchedule"}},
          {{"key", kTaint}, {"effect", "NoSchedule"}}}}}}};
  auto created = plane_->Curl("POST", "/api/v1/nodes", node.dump(), "application/json");
  ASSERT_EQ(HttpStatus(created), 201) << HttpBody(created);

  // Back-off is at most 30 s between attempts; the first few come sooner.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(45);
  std::vector<std::string> keys = TaintKeys();
  while (std::find(keys.begin(), keys.end(), kTaint) != keys.end() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    keys = TaintKeys();
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"example.com/dedicated"})) << agent_->Output();
  EXPECT_TRUE(agent_->WaitForText("node ready", std::chrono::seconds(5))) << agent_->Output();
}

}  // namespace
}  // namespace bulkhead::testing
