// The `bulkhead` CLI against a real agent API (in this process, mTLS on
// loopback): certificates by flag and by environment, tenant apply and
// bounds from files, node status, flows as a table and JSON lines, help on
// every command, one-line errors with exit 2 for bad flags, and the line a
// user sees when the TLS handshake is refused or nobody listens.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "common/pki/certificates.h"
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
                                                                   {"certs", "renew"},
                                                                   {"certs", "revoke"},
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
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"flows", "--verdict", "maybe"},
           {"flows", "--port", "70000"},
           {"flows", "--since", "yesterday"},
           {"tenant", "apply"},
           {"certs", "issue", "--role", "root", "--dir", "/tmp"},
           {"certs", "issue", "--role", "admin", "--dir", "/tmp", "--valid-for", "400d"},
           {"certs", "renew", "--dir", "/tmp", "--name", "admin", "--valid-for", "1y"},
           {"certs", "revoke", "zz:top", "--dir", "/tmp"},
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
  // A tenant sees its own figures only: no node-wide endpoint count, map
  // fill or loss counters (they tell what the other tenants do).
  EXPECT_EQ(doc["scoped"], true) << status.out;
  EXPECT_FALSE(doc.contains("maps")) << status.out;
  EXPECT_FALSE(doc.contains("endpoints")) << status.out;
  EXPECT_FALSE(doc.contains("loss")) << status.out;
  auto tenant_text = Cli("tenant-team-b", {"node", "status"});
  ASSERT_EQ(tenant_text.exit_code, 0) << tenant_text.err;
  EXPECT_EQ(tenant_text.out.find("maps:"), std::string::npos) << tenant_text.out;
  EXPECT_EQ(tenant_text.out.find("lost records:"), std::string::npos) << tenant_text.out;
  EXPECT_NE(tenant_text.out.find("lost records are node-wide: shown to the admin only"),
            std::string::npos)
      << tenant_text.out;
  EXPECT_EQ(tenant_text.out.find("team-a"), std::string::npos) << tenant_text.out;
  auto text = Cli("admin", {"node", "status"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("team-c"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("maps:\n  tenants"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("lost records:"), std::string::npos) << text.out;
  auto admin_doc = nlohmann::json::parse(Cli("admin", {"node", "status", "-o", "json"}).out);
  EXPECT_EQ(admin_doc["maps"].size(), 1U) << admin_doc.dump();
  EXPECT_EQ(admin_doc["endpoints"], "4") << admin_doc.dump();
  EXPECT_FALSE(admin_doc.contains("scoped")) << admin_doc.dump();

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

  // Nothing matches: no table, a line on stderr (as kubectl says "No resources found").
  auto none = Cli("admin", {"flows", "--port", "4444"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(none.err, "No flows found.\n");

  // A refused call prints its error line and no table header.
  auto other = Cli("tenant-team-a", {"flows", "--tenant", "team-b"});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_EQ(other.out, "");
  EXPECT_EQ(Lines(other.err), 1U) << other.err;
  EXPECT_NE(other.err.find("PERMISSION_DENIED"), std::string::npos) << other.err;
}

// A connection that fails says why on one line, with what to do; the code
// stays UNAVAILABLE (the call never reached the agent) and the exit 1, like
// every failed call. Files that cannot work at all are usage errors (exit 2).
TEST_F(AgentCliTest, RefusedHandshakesSayWhyAndWhatToDo) {
  const std::string& dir = dir_.path();
  std::string foreign = dir + "/foreign";
  RunCerts({"init", "--dir", foreign});
  RunCerts({"issue", "--role", "admin", "--dir", foreign});
  // An admin certificate of the agent's CA that expired a day ago.
  auto issued = std::chrono::system_clock::now();
  pki::IssueOptions expired;
  expired.dir = dir;
  expired.role = {pki::Role::Kind::kAdmin, ""};
  expired.backdate = std::chrono::hours(48);
  expired.lifetime = std::chrono::hours(24);
  expired.stem = "expired-admin";
  ASSERT_TRUE(pki::IssueCertificate(expired).ok());
  std::string address = agent_->address();
  auto status = [&](const ClientCert& cert) {
    return Cli("", {"node", "status", "--agent", address, "--cert", cert.cert, "--key", cert.key,
                    "--ca", cert.ca});
  };

  // Expired: the date it expired and the command that issues a new one.
  auto late = status(CertFor(dir, "expired-admin"));
  EXPECT_EQ(late.exit_code, 1);
  std::string prefix = fmt::format(
      "bulkhead node status: UNAVAILABLE: the agent refused the TLS handshake: your certificate "
      "{}/expired-admin.crt expired on ",
      dir);
  std::string suffix =
      fmt::format(" UTC (issue a new one: bulkhead certs issue --role admin --dir {})\n", dir);
  ASSERT_TRUE(late.err.starts_with(prefix) && late.err.ends_with(suffix)) << late.err;
  std::tm when{};
  std::istringstream(
      late.err.substr(prefix.size(), late.err.size() - prefix.size() - suffix.size())) >>
      std::get_time(&when, "%Y-%m-%d %H:%M:%S");
  std::time_t expected = std::chrono::system_clock::to_time_t(issued - std::chrono::hours(24));
  EXPECT_LE(std::abs(timegm(&when) - expected), 60) << late.err;

  // A certificate of another CA, by any command.
  ClientCert stranger = {foreign + "/admin.crt", foreign + "/admin.key", dir + "/ca.crt"};
  std::string not_ours = fmt::format(
      "UNAVAILABLE: the agent refused the TLS handshake: your certificate {}/admin.crt is not "
      "signed by the CA the agent trusts ({}/ca.crt, which signed the agent's certificate; issue "
      "one from it: bulkhead certs issue --role admin --dir {})\n",
      foreign, dir, dir);
  auto refused = status(stranger);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(refused.err, "bulkhead node status: " + not_ours);
  std::string bounds = Write("bounds.yaml", "tenant: team-b\n");
  auto refused_bounds = Cli("", {"tenant", "bounds", "-f", bounds, "--agent", address, "--cert",
                                 stranger.cert, "--key", stranger.key, "--ca", stranger.ca});
  EXPECT_EQ(refused_bounds.exit_code, 1);
  EXPECT_EQ(refused_bounds.err, "bulkhead tenant bounds: " + not_ours);

  // This side does not trust the agent: --ca is another CA than the agent's.
  auto untrusted = status({dir + "/admin.crt", dir + "/admin.key", foreign + "/ca.crt"});
  EXPECT_EQ(untrusted.exit_code, 1);
  EXPECT_EQ(untrusted.err,
            fmt::format("bulkhead node status: UNAVAILABLE: this side does not trust the agent: "
                        "its certificate is not signed by --ca {}/ca.crt (or it expired); pass "
                        "the ca.crt of the agent's --certs-dir\n",
                        foreign));

  // Files that cannot make a connection: exit 2 before connecting.
  auto wrong_key = status({dir + "/admin.crt", dir + "/tenant-team-a.key", dir + "/ca.crt"});
  EXPECT_EQ(wrong_key.exit_code, 2);
  EXPECT_EQ(wrong_key.err, fmt::format("bulkhead node status: --key (BULKHEAD_KEY) "
                                       "{}/tenant-team-a.key is not the key of --cert "
                                       "(BULKHEAD_CERT) {}/admin.crt (use the .key written next "
                                       "to that certificate)\n",
                                       dir, dir));
  std::string empty = Write("empty.crt", "");
  auto no_cert = status({empty, dir + "/admin.key", dir + "/ca.crt"});
  EXPECT_EQ(no_cert.exit_code, 2);
  EXPECT_EQ(no_cert.err, fmt::format("bulkhead node status: --cert (BULKHEAD_CERT) {} holds no "
                                     "PEM certificate (use the .crt written by 'bulkhead certs "
                                     "issue')\n",
                                     empty));

  // Nobody listening at the address.
  agent_->Stop();
  auto nobody = status(CertFor(dir, "admin"));
  EXPECT_EQ(nobody.exit_code, 1);
  EXPECT_EQ(nobody.err, fmt::format("bulkhead node status: UNAVAILABLE: no agent listening at {} "
                                    "(check --agent or BULKHEAD_AGENT, and that bulkhead-agent "
                                    "runs there with --certs-dir)\n",
                                    address));
}

}  // namespace
}  // namespace bulkhead::testing
