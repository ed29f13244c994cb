// The agent binary on a real netns test node (netpol_fixture.h) with its
// gRPC API and metrics on: certificates from `bulkhead certs` for the agent,
// an admin and the tenants, an endpoints file for the node's pods, and
// `bulkhead` as the client. Subclasses add agent flags and endpoint fields.
// TearDown stops the agent and Prometheus and removes the directory.
#ifndef BULKHEAD_TESTS_PRIVILEGED_AGENT_FIXTURE_H_
#define BULKHEAD_TESTS_PRIVILEGED_AGENT_FIXTURE_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/strings.h"
#include "nlohmann/json.hpp"
#include "tests/privileged/netpol_fixture.h"

namespace bulkhead::testing {

inline constexpr auto kAgentReady = std::chrono::seconds(20);

// A port on 127.0.0.1 that was free a moment ago (for Prometheus, which
// cannot report the port it picked).
int FreePort();
// The bearer token the agent's --metrics-token-file holds.
inline constexpr std::string_view kMetricsToken = "test-metrics-token-0123456789";

// GET http://127.0.0.1:<port><path> with extra header lines (each ending
// in \r\n); the body, or "" on any failure.
std::string HttpGet(int port, const std::string& path, const std::string& headers = "");
std::string UrlEncode(std::string_view text);
// The number after "<key>=" in the agent's ready line.
int ReadyPort(const std::string& output, const std::string& key);
// Waits up to 20 s for `process` to exit; marks it reaped.
bool Reaped(PodProcess& process, int& status);

class AgentProcessTest : public NetpolTest {
 protected:
  [[nodiscard]] bool InProcessDatapath() const override { return false; }
  void SetUp() override;
  void TearDown() override;

  // Runs after the node is up and before the agent starts.
  virtual void BeforeAgent() {}
  // Flags added to `bulkhead-agent run`.
  [[nodiscard]] virtual std::vector<std::string> AgentFlags() const { return {}; }
  // Fields added to the pod's endpoint entry (", uid: ...").
  [[nodiscard]] virtual std::string EndpointFields(const TestPod& /*pod*/) const { return ""; }

  void Certs(const std::vector<std::string>& args);
  // `bulkhead ARGS` with the certificate files of `stem` ("admin",
  // "tenant-team-a").
  CommandResult Cli(const std::string& stem, std::vector<std::string> args);
  // The metrics text now.
  std::string Metrics() const;
  // Polls the metrics until a line starts with `prefix` and its value is
  // at least `at_least`, or 15 s pass; the value seen last (-1: none).
  double WaitForMetric(const std::string& prefix, double at_least) const;

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

}  // namespace bulkhead::testing

#endif  // BULKHEAD_TESTS_PRIVILEGED_AGENT_FIXTURE_H_
