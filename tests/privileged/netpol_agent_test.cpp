// The agent binary as it runs on a node: enforcement that survives kill -9,
// a restart with no window, a bad endpoint in a file refused on its own, and
// uninstall that removes everything.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "tests/privileged/netpol_fixture.h"

namespace bulkhead::testing {
namespace {

constexpr auto kReady = std::chrono::seconds(10);

class NetpolAgentTest : public NetpolTest {
 protected:
  [[nodiscard]] bool InProcessDatapath() const override { return false; }

  void SetUp() override {
    NetpolTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    endpoints_file_ = fmt::format("/tmp/bulkhead-test-endpoints-{}-{}.yaml", ::getpid(),
                                  ::testing::UnitTest::GetInstance()->random_seed());
    WriteEndpoints("");
  }

  void TearDown() override {
    agent_.reset();
    ::unlink(endpoints_file_.c_str());
    NetpolTest::TearDown();
  }

  void WriteEndpoints(const std::string& extra) {
    std::string text =
        fmt::format("node_address: {}\nnode_addresses: [{}]\npod_networks: [{}, {}]\nendpoints:\n",
                    kNodeV4, kNodeV6, kPodNetworkV4, kPodNetworkV6);
    for (const TestPod* pod : {a1_, a2_, b1_, b2_, c1_}) {
      text += fmt::format("- {{tenant: {}, pod: {}, addresses: [{}, \"{}\"], cgroup: {}}}\n",
                          pod->tenant, pod->name, pod->ipv4, pod->ipv6, pod->cgroup);
    }
    text += extra;
    std::string tmp = endpoints_file_ + ".tmp";
    std::ofstream(tmp) << text;
    ASSERT_EQ(::rename(tmp.c_str(), endpoints_file_.c_str()), 0);
  }

  // The agent's stdout is a pipe this test drains only when it looks; the
  // agent drops lines rather than block on it.
  std::unique_ptr<PodProcess> StartAgent(bool print_flows = true) {
    std::vector<std::string> argv = {
        BULKHEAD_AGENT_PATH, "--log-level",   "info",          "run",
        "--endpoints-file",  endpoints_file_, "--pods-cgroup", node_->pods_cgroup(),
        "--bpf-root",        bpf_root_,       "--node-name",   "test-node"};
    if (print_flows) {
      argv.emplace_back("--print-flows");
    }
    auto agent = StartProcess(argv);
    EXPECT_TRUE(agent != nullptr);
    if (agent != nullptr) {
      EXPECT_TRUE(agent->WaitForText("agent ready", kReady)) << agent->Output();
    }
    return agent;
  }

  // SIGTERM and wait up to 10 s for a clean exit (then SIGKILL and fail).
  static void Terminate(std::unique_ptr<PodProcess>& agent) {
    ::kill(agent->pid(), SIGTERM);
    int status = 0;
    bool exited = false;
    for (int i = 0; i < 200 && !exited; ++i) {
      exited = ::waitpid(agent->pid(), &status, WNOHANG) == agent->pid();
      if (!exited) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    EXPECT_TRUE(exited) << "agent did not stop on SIGTERM";
    if (exited) {
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      agent->MarkReaped();
    }
    agent.reset();
  }

  static void Kill9(std::unique_ptr<PodProcess>& agent) {
    ::kill(agent->pid(), SIGKILL);
    ::waitpid(agent->pid(), nullptr, 0);
    agent->MarkReaped();
    agent.reset();
  }

  std::string endpoints_file_;
  std::unique_ptr<PodProcess> agent_;
};

TEST_F(NetpolAgentTest, WallsHoldAfterKill9) {
  agent_ = StartAgent();
  auto server = node_->Start(b1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  ASSERT_TRUE(Refused(node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"})));
  ASSERT_EQ(node_->Run(b2_, {"connect-tcp", b1_->ipv4, "8080"}).exit_code, 0);

  Kill9(agent_);
  auto cross = node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"});
  EXPECT_TRUE(Refused(cross)) << cross.out;
  auto cross6 = node_->Run(a1_, {"connect-tcp", b1_->ipv6, "8080"});
  EXPECT_TRUE(Refused(cross6)) << cross6.out;
  auto same = node_->Run(b2_, {"connect-tcp", b1_->ipv4, "8080"});
  EXPECT_EQ(same.exit_code, 0) << same.out;
  auto metadata = node_->Run(a1_, {"connect-tcp", "169.254.169.254", "80"});
  EXPECT_TRUE(Refused(metadata)) << metadata.out;

  // Records made while no agent ran wait in the pinned ring buffer: the next
  // agent reports the attempt from c1, made now.
  auto from_c = node_->Run(c1_, {"connect-tcp", b1_->ipv4, "8080"});
  EXPECT_TRUE(Refused(from_c)) << from_c.out;
  agent_ = StartAgent();
  ASSERT_TRUE(agent_->WaitForText("\"pod\":\"c1\"", kReady)) << agent_->Output();
  bool found = false;
  std::string output = agent_->Output();
  size_t pos = 0;
  while ((pos = output.find('{', pos)) != std::string::npos) {
    size_t end = output.find('\n', pos);
    auto doc = nlohmann::json::parse(output.substr(pos, end - pos), nullptr, false);
    pos = end;
    if (!doc.is_discarded() && doc["source"]["pod"] == "c1") {
      found = true;
      EXPECT_EQ(doc["source"]["tenant"], "team-c");
      EXPECT_EQ(doc["destination"]["tenant"], "team-b");
      EXPECT_EQ(doc["destination"]["pod"], "b1");
      EXPECT_EQ(doc["destination"]["port"], 8080);
      EXPECT_EQ(doc["verdict"], "denied");
      EXPECT_EQ(doc["reason"], "cross-tenant");
      EXPECT_EQ(doc["node"], "test-node");
    }
  }
  EXPECT_TRUE(found) << output;
}

TEST_F(NetpolAgentTest, NoCrossTenantConnectGetsThroughDuringRestarts) {
  // Flows printed to a pipe nobody reads: the agent must still stop on SIGTERM.
  agent_ = StartAgent(true);
  auto server = node_->Start(b1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  auto prober = node_->Start(a1_, {"hammer-tcp", b1_->ipv4, "8080", "4000"});
  // Restart three times while the prober hammers: twice kill -9, once SIGTERM.
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    if (i == 1) {
      Terminate(agent_);
    } else {
      Kill9(agent_);
    }
    agent_ = StartAgent(true);
    EXPECT_NE(agent_->Output().find("replaced=in-place"), std::string::npos) << agent_->Output();
  }
  ASSERT_TRUE(prober->WaitForText("attempts", std::chrono::seconds(10)));
  std::string out = prober->Output();
  long attempts = 0;
  long successes = -1;
  long eperm = 0;
  ASSERT_EQ(std::sscanf(out.c_str(), "attempts %ld successes %ld eperm %ld", &attempts, &successes,
                        &eperm),
            3)
      << out;
  EXPECT_GT(attempts, 100) << out;
  EXPECT_EQ(successes, 0) << out;
  EXPECT_EQ(eperm, attempts) << out;
}

// One bad endpoint in a file (an address another pod holds, a cgroup that
// vanished) is refused on its own: the rest of the file, a new grant
// included, is enforced, and the wall stays.
TEST_F(NetpolAgentTest, BadEndpointInAFileIsRefusedAlone) {
  agent_ = StartAgent();
  auto server = node_->Start(b1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  std::string grant_a = fmt::format(
      "grants:\n- {{tenant: team-a, destination: {}/32, port: 8080, protocol: tcp}}\n", b1_->ipv4);
  WriteEndpoints(grant_a);
  ASSERT_TRUE(agent_->WaitForText("source applied", kReady)) << agent_->Output();
  ASSERT_EQ(node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"}).exit_code, 0);
  ASSERT_TRUE(Refused(node_->Run(c1_, {"connect-tcp", b1_->ipv4, "8080"})));
  WriteEndpoints(
      fmt::format("- {{tenant: team-c, pod: thief, addresses: [{}]}}\n"
                  "- {{tenant: team-c, pod: ghost, addresses: [198.18.1.3], cgroup: {}/vanished}}\n"
                  "{}- {{tenant: team-c, destination: {}/32, port: 8080, protocol: tcp}}\n",
                  b1_->ipv4, node_->pods_cgroup(), grant_a, b1_->ipv4));
  ASSERT_TRUE(agent_->WaitForText("refused=2", kReady)) << agent_->Output();
  std::string out = agent_->Output();
  EXPECT_NE(out.find("already belongs to pod team-b/b1"), std::string::npos) << out;
  EXPECT_NE(out.find("team-c/ghost"), std::string::npos) << out;
  // Both grants are enforced; b1's address is still b1's (team-b's wall holds for b2's peers).
  EXPECT_EQ(node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"}).exit_code, 0);
  EXPECT_EQ(node_->Run(c1_, {"connect-tcp", b1_->ipv4, "8080"}).exit_code, 0);
  EXPECT_TRUE(Refused(node_->Run(b1_, {"connect-tcp", c1_->ipv4, "8080"})));
}

TEST_F(NetpolAgentTest, UninstallRemovesEverything) {
  agent_ = StartAgent();
  auto server = node_->Start(b1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  ASSERT_TRUE(Refused(node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"})));
  Kill9(agent_);
  auto result = RunCommand({BULKHEAD_AGENT_PATH, "uninstall", "--bpf-root", bpf_root_});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  struct stat st {};
  EXPECT_NE(::stat(bpf_root_.c_str(), &st), 0) << bpf_root_ << " still there";
  // No program is attached any more: the connect goes through.
  auto open = node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"});
  EXPECT_EQ(open.exit_code, 0) << open.out;
}

TEST_F(NetpolAgentTest, BadFlagsAndMissingCgroupAreOneLineErrors) {
  auto bad = RunCommand(
      {BULKHEAD_AGENT_PATH, "run", "--pods-cgroup", "/nonexistent/pods", "--bpf-root", bpf_root_});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  EXPECT_NE(bad.err.find("/nonexistent/pods"), std::string::npos) << bad.err;
  auto v1 = RunCommand({BULKHEAD_AGENT_PATH, "run", "--pods-cgroup", "/sys/fs/cgroup/memory",
                        "--bpf-root", bpf_root_});
  EXPECT_EQ(v1.exit_code, 1);
  EXPECT_NE(v1.err.find("is not on cgroup v2"), std::string::npos) << v1.err;
}

}  // namespace
}  // namespace bulkhead::testing
