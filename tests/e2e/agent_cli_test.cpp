// The `bulkhead` CLI against a real agent API (in this process, mTLS on
// loopback): certificates by flag and by environment, tenant apply and
// bounds from files, node status, flows as a table and JSON lines, help on
// every command, and one-line errors with exit 2 for bad flags.
#include <gtest/gtest.h>

#include <fstream>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/agent_api_harness.h"
#include "tests/support/command.h"

namespace bulkhead::testing {
namespace {

using agent::netpol::Verdict;

size_t Lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

class AgentCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RunCerts({"init", "--dir", dir_.path()});
    for (const char* role : {"agent", "admin", "tenant:team-a", "tenant:team-b"}) {
      RunCerts({"issue", "--role", role, "--dir", dir_.path()});
    }
    agent_ = std::make_unique<InProcessAgent>(dir_.path(), "");
    ASSERT_TRUE(agent_->ok());
  }

  // `bulkhead <args>` with the certificate of `stem` in the environment.
  CommandResult Cli(const std::string& stem, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/env"};
    if (!stem.empty()) {
      ClientCert cert = CertFor(dir_.path(), stem);
      argv.push_back("BULKHEAD_CERT=" + cert.cert);
      argv.push_back("BULKHEAD_KEY=" + cert.key);
      argv.push_back("BULKHEAD_CA=" + cert.ca);
      argv.push_back("BULKHEAD_AGENT=" + agent_->address());
    }
    argv.emplace_back(BULKHEAD_CLI_PATH);
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  ScratchDir dir_;
  std::unique_ptr<InProcessAgent> agent_;
};

TEST_F(AgentCliTest, EveryCommandHasHelpWithAnExample) {
  for (const auto& command : std::vector<std::vector<std::string>>{{"certs"},
                                                                   {"certs", "init"},
                                                                   {"certs", "issue"},
                                                                   {"flows"},
                                                                   {"node"},
                                                                   {"node", "status"},
                                                                   {"tenant"},
                                                                   {"tenant", "apply"},
                                                                   {"tenant", "bounds"}}) {
    auto args = command;
    args.emplace_back("--help");
    auto result = Cli("", args);
    EXPECT_EQ(result.exit_code, 0) << command.back() << result.err;
    EXPECT_NE(result.out.find("Example"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("bulkhead " + command.front()), std::string::npos) << result.out;
  }
}

TEST_F(AgentCliTest, BadFlagsAreOneLineErrorsWithExit2) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"flows", "--verdict", "maybe"},
                                             {"flows", "--port", "70000"},
                                             {"flows", "--since", "yesterday"},
                                             {"tenant", "apply"},
                                             {"certs", "issue", "--role", "root", "--dir", "/tmp"},
                                             {"node", "status", "-o", "yaml"}}) {
    auto result = Cli("", args);
    EXPECT_EQ(result.exit_code, 2) << args[0] << " " << args[1] << ": " << result.err;
    EXPECT_EQ(Lines(result.err), 1U) << result.err;
  }
  // No certificate anywhere: exit 2 and say which flag or variable.
  auto result = Cli("", {"node", "status", "--agent", agent_->address()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(Lines(result.err), 1U) << result.err;
  EXPECT_NE(result.err.find("BULKHEAD_CERT"), std::string::npos) << result.err;
}

TEST_F(AgentCliTest, ApplyStatusAndFlowsAsUsersRunThem) {
  std::string bounds =
      Write("bounds.yaml", "tenant: team-b\nallow_audit: false\nmay_grant_to: [team-a]\n");
  auto set = Cli("admin", {"tenant", "bounds", "-f", bounds});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  // A tenant may not set bounds.
  auto refused = Cli("tenant-team-b", {"tenant", "bounds", "-f", bounds});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(Lines(refused.err), 1U) << refused.err;
  EXPECT_NE(refused.err.find("PERMISSION_DENIED"), std::string::npos) << refused.err;

  std::string policy =
      Write("policy.yaml",
            "tenant: team-b\ngeneration: 1\nmode: enforce\negress_default: deny\ngrants:\n"
            "- {to: team-a, pod: b1, port: 8080, protocol: tcp}\n");
  auto applied = Cli("tenant-team-b", {"tenant", "apply", "-f", policy});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_EQ(applied.out, "tenant team-b generation 1 applied\n");
  auto again = Cli("tenant-team-b", {"tenant", "apply", "-f", policy});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("unchanged"), std::string::npos) << again.out;
  // Another tenant's certificate may not apply team-b's policy.
  auto foreign = Cli("tenant-team-a", {"tenant", "apply", "-f", policy});
  EXPECT_EQ(foreign.exit_code, 1);
  EXPECT_NE(foreign.err.find("may not apply a tenant policy of tenant team-b"), std::string::npos)
      << foreign.err;
  std::string typo = Write("typo.yaml", "tenant: team-b\ngeneration: 2\ngrantz: []\n");
  auto bad = Cli("tenant-team-b", {"tenant", "apply", "-f", typo});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown field 'grantz'"), std::string::npos) << bad.err;

  // Budgets: inside the admin's ceiling, recorded; above it, refused.
  std::string ceiling = Write("ceiling.yaml",
                              "tenant: team-b\nmay_grant_to: [team-a]\n"
                              "budget_ceiling: {memory_bytes: 536870912, pids: 256}\n");
  ASSERT_EQ(Cli("admin", {"tenant", "bounds", "-f", ceiling}).exit_code, 0);
  std::string budget = Write("budget.yaml",
                             "tenant: team-b\ntotal: {memory_bytes: 268435456, pids: 128}\n"
                             "pod_default: {pids: 32}\n");
  auto recorded = Cli("tenant-team-b", {"tenant", "budget", "-f", budget});
  EXPECT_EQ(recorded.exit_code, 0) << recorded.err;
  EXPECT_NE(recorded.out.find("recorded"), std::string::npos) << recorded.out;
  std::string greedy =
      Write("greedy.yaml", "tenant: team-b\ntotal: {memory_bytes: 1073741824, pids: 128}\n");
  auto above = Cli("tenant-team-b", {"tenant", "budget", "-f", greedy});
  EXPECT_EQ(above.exit_code, 1);
  EXPECT_NE(
      above.err.find("PERMISSION_DENIED: budget memory bytes 1073741824 is above the ceiling"),
      std::string::npos)
      << above.err;

  auto status = Cli("tenant-team-b", {"node", "status", "-o", "json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  auto doc = nlohmann::json::parse(status.out);
  ASSERT_EQ(doc["tenants"].size(), 1U) << status.out;
  EXPECT_EQ(doc["tenants"][0]["name"], "team-b");
  EXPECT_EQ(doc["tenants"][0]["policy"]["generation"], "1");  // uint64 is a JSON string
  EXPECT_EQ(doc["caller_role"], "tenant:team-b");
  EXPECT_EQ(doc["tenants"][0]["budget"]["total"]["pids"], "128");
  auto text = Cli("admin", {"node", "status"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("team-c"), std::string::npos) << text.out;

  agent_->Publish(Record("team-a", "a1", "team-b", "b1", Verdict::kDenied, 9090));
  agent_->Publish(Record("team-c", "c1", "team-b", "b1", Verdict::kAllowed, 8080));
  auto json = Cli("tenant-team-a", {"flows", "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  ASSERT_EQ(Lines(json.out), 1U) << json.out;  // team-c -> team-b does not touch team-a
  auto flow = nlohmann::json::parse(json.out);
  EXPECT_EQ(flow["source"]["tenant"], "team-a");
  EXPECT_EQ(flow["source"]["pod"], "a1");
  EXPECT_EQ(flow["destination"]["tenant"], "team-b");
  EXPECT_EQ(flow["destination"]["pod"], "b1");
  EXPECT_EQ(flow["destination"]["port"], 9090);
  EXPECT_EQ(flow["verdict"], "denied");
  EXPECT_EQ(flow["reason"], "cross-tenant");
  EXPECT_EQ(flow["protocol"], "tcp");
  EXPECT_EQ(flow["node"], "test-node");

  auto table = Cli("admin", {"flows", "--verdict", "allowed"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(Lines(table.out), 2U) << table.out;  // header and one flow
  EXPECT_NE(table.out.find("team-c/c1 10.1.0.1:0"), std::string::npos) << table.out;

  auto other = Cli("tenant-team-a", {"flows", "--tenant", "team-b"});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_EQ(Lines(other.err), 1U) << other.err;
  EXPECT_NE(other.err.find("PERMISSION_DENIED"), std::string::npos) << other.err;
}

}  // namespace
}  // namespace bulkhead::testing
