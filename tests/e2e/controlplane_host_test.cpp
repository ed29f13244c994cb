// bulkhead-controlplane --host-mode with the real kubectl 1.32: the
// scheduler binds a Deployment's pods to the Ready node, `kubectl describe`
// says why a pod that fits nowhere waits, and the node lifecycle marks a
// node that stops sending heartbeats.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/e2e/controlplane_harness.h"

namespace bulkhead::testing {
namespace {

using nlohmann::json;

bool Eventually(const std::function<bool()>& done, int tenths = 200) {
  for (int i = 0; i < tenths; ++i) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

std::string NodeYaml(const std::string& name) {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char stamp[32];
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return "apiVersion: v1\nkind: Node\nmetadata:\n  name: " + name +
         "\n  labels: {kubernetes.io/hostname: " + name +
         "}\nstatus:\n  capacity: {cpu: \"2\", memory: 4Gi, pods: \"110\"}\n"
         "  allocatable: {cpu: \"2\", memory: 4Gi, pods: \"110\"}\n"
         "  conditions:\n  - {type: Ready, status: \"True\", reason: KubeletReady, "
         "lastHeartbeatTime: \"" +
         std::string(stamp) + "\"}\n";
}

TEST(HostModeTest, PodsAreScheduledAndOneThatFitsNowhereSaysWhyInDescribe) {
  auto plane = ControlPlane::Start("", {"--host-mode", "--node-monitor-grace-period", "3"});
  ASSERT_NE(plane, nullptr);
  TempDir files;
  auto ok = [&](const std::vector<std::string>& args) {
    auto result = plane->Kubectl(args);
    EXPECT_EQ(result.exit_code, 0) << ::testing::PrintToString(args) << "\n"
                                   << result.out << result.err;
    return result;
  };
  ok({"apply", "-f", files.Write("node.yaml", NodeYaml("node-a"))});
  auto nodes = ok({"get", "nodes"});
  EXPECT_NE(nodes.out.find("node-a   Ready"), std::string::npos) << nodes.out;

  ok({"create", "deployment", "web", "--image=busybox", "--replicas=2"});
  ASSERT_TRUE(Eventually([&] {
    auto placed = plane->Kubectl({"get", "pods", "-l", "app=web", "-o",
                                  "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}"});
    return placed.out == "node-a\nnode-a\n";
  })) << plane->Kubectl({"get", "pods", "-o", "wide"}).out;
  auto wide = ok({"get", "pods", "-o", "wide"});
  EXPECT_NE(wide.out.find("node-a"), std::string::npos) << wide.out;

  ok({"create", "-f", files.Write("big.yaml", R"(apiVersion: v1
kind: Pod
metadata: {name: big}
spec:
  containers:
  - name: c
    image: busybox
    resources: {requests: {cpu: "64"}}
)")});
  const std::string why = "0/1 nodes are available: 1 Insufficient cpu.";
  ASSERT_TRUE(Eventually([&] {
    return plane->Kubectl({"describe", "pod", "big"}).out.find(why) != std::string::npos;
  })) << plane->Kubectl({"describe", "pod", "big"}).out;
  auto described = ok({"describe", "pod", "big"});
  EXPECT_NE(described.out.find("Warning  FailedScheduling"), std::string::npos) << described.out;
  EXPECT_NE(described.out.find("default-scheduler"), std::string::npos) << described.out;
  EXPECT_NE(described.out.find("PodScheduled   False"), std::string::npos) << described.out;
  auto pending = ok({"get", "pod", "big", "-o", "jsonpath={.status.phase} {.spec.nodeName}"});
  EXPECT_EQ(pending.out, "Pending ");

  // Nobody renews node-a's heartbeat: after the grace period it is NotReady.
  ASSERT_TRUE(Eventually([&] {
    return plane->Kubectl({"get", "nodes"}).out.find("node-a   NotReady") != std::string::npos;
  })) << plane->Kubectl({"get", "nodes"}).out;
  auto taints = ok({"get", "node", "node-a", "-o", "jsonpath={.spec.taints[*].key}"});
  EXPECT_NE(taints.out.find("node.kubernetes.io/unreachable"), std::string::npos) << taints.out;
}

TEST(HostModeTest, AVirtualClusterRunsNoScheduler) {
  auto plane = ControlPlane::Start();
  ASSERT_NE(plane, nullptr);
  TempDir files;
  ASSERT_EQ(plane->Kubectl({"apply", "-f", files.Write("node.yaml", NodeYaml("node-a"))}).exit_code,
            0);
  ASSERT_EQ(plane->Kubectl({"run", "p", "--image=busybox"}).exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // In a virtual cluster the host runs pods (the syncer): none is bound here.
  EXPECT_EQ(plane->Kubectl({"get", "pod", "p", "-o", "jsonpath={.spec.nodeName}"}).out, "");
}

}  // namespace
}  // namespace bulkhead::testing
