// A test node with the netpol datapath installed: tenants team-a (pods a1,
// a2), team-b (b1, b2) and team-c (c1), the node's addresses, the pod
// networks and the default deny list. Each test gets its own bpffs root and
// removes it, with every namespace and cgroup, in TearDown.
#ifndef BULKHEAD_TESTS_PRIVILEGED_NETPOL_FIXTURE_H_
#define BULKHEAD_TESTS_PRIVILEGED_NETPOL_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "agent/netpol/datapath.h"
#include "agent/netpol/flow_log.h"
#include "tests/support/test_node.h"

namespace bulkhead::testing {

// How a refused client sees the wall: bulkhead-test-pod exits 1 and prints
// "error EPERM ..." (connect() or sendto() failed with EPERM).
inline bool Refused(const CommandResult& r) {
  return r.exit_code == 1 && r.out.rfind("error EPERM", 0) == 0;
}

class NetpolTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Tests that run the agent binary instead of an in-process Datapath.
  [[nodiscard]] virtual bool InProcessDatapath() const { return true; }

  agent::netpol::DesiredState BaseState() const;
  static agent::netpol::Endpoint EndpointOf(const TestPod& pod);

  // Polls the flow log until a record matches `pred` or 3 s pass.
  template <typename Pred>
  std::optional<agent::netpol::FlowRecord> WaitForFlow(Pred pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (std::chrono::steady_clock::now() < deadline) {
      (void)flows_->Poll(std::chrono::milliseconds(50));
      for (const auto& record : flows_->Recent({})) {
        if (pred(record)) {
          return record;
        }
      }
    }
    return std::nullopt;
  }

  std::string bpf_root_;
  std::unique_ptr<TestNode> node_;
  TestPod* a1_ = nullptr;
  TestPod* a2_ = nullptr;
  TestPod* b1_ = nullptr;
  TestPod* b2_ = nullptr;
  TestPod* c1_ = nullptr;
  std::unique_ptr<agent::netpol::Datapath> datapath_;
  std::unique_ptr<agent::netpol::FlowLog> flows_;
};

}  // namespace bulkhead::testing

#endif  // BULKHEAD_TESTS_PRIVILEGED_NETPOL_FIXTURE_H_
