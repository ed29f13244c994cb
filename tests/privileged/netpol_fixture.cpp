#include "tests/privileged/netpol_fixture.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "fmt/format.h"
#include "tests/support/privileged.h"

namespace bulkhead::testing {

using agent::netpol::Cidr;
using agent::netpol::IpAddress;

namespace {
std::atomic<int> g_counter{0};
}  // namespace

agent::netpol::Endpoint NetpolTest::EndpointOf(const TestPod& pod) {
  return {pod.tenant,
          pod.name,
          {*IpAddress::Parse(pod.ipv4), *IpAddress::Parse(pod.ipv6)},
          pod.cgroup,
          // 8080: the port the node probes.
          {8080}};
}

agent::netpol::DesiredState NetpolTest::BaseState() const {
  agent::netpol::DesiredState state;
  auto node_v4 = *IpAddress::Parse(kNodeV4);
  auto node_v6 = *IpAddress::Parse(kNodeV6);
  state.node.node_addresses = {node_v4, node_v6};
  state.node.pod_networks = {*Cidr::Parse(kPodNetworkV4), *Cidr::Parse(kPodNetworkV6)};
  state.node.denied = agent::netpol::DefaultDeniedDestinations(state.node.node_addresses);
  state.tenants = {{"team-a"}, {"team-b"}, {"team-c"}};
  for (const TestPod* pod : {a1_, a2_, b1_, b2_, c1_}) {
    state.endpoints.push_back(EndpointOf(*pod));
  }
  return state;
}

void NetpolTest::SetUp() {
  BULKHEAD_REQUIRE_PRIVILEGES();
  int n = g_counter++;
  bpf_root_ = fmt::format("/sys/fs/bpf/bulkhead-test-{}-{}", ::getpid(), n);
  auto node = TestNode::Create(fmt::format("np{}x", n));
  ASSERT_TRUE(node.ok()) << node.status();
  node_ = std::move(*node);
  auto add = [&](const char* tenant, const char* name, int index) -> TestPod* {
    auto pod = node_->AddPod(tenant, name, index);
    EXPECT_TRUE(pod.ok()) << pod.status();
    return pod.ok() ? *pod : nullptr;
  };
  a1_ = add("team-a", "a1", 1);
  a2_ = add("team-a", "a2", 2);
  b1_ = add("team-b", "b1", 3);
  b2_ = add("team-b", "b2", 4);
  c1_ = add("team-c", "c1", 5);
  ASSERT_TRUE(a1_ && a2_ && b1_ && b2_ && c1_);
  if (!InProcessDatapath()) {
    return;
  }
  auto datapath = agent::netpol::Datapath::Open(
      {bpf_root_, node_->pods_cgroup(), "test-node", node_->node_netns().path()});
  ASSERT_TRUE(datapath.ok()) << datapath.status();
  datapath_ = std::move(*datapath);
  auto status = datapath_->Replace(BaseState());
  ASSERT_TRUE(status.ok()) << status;
  auto flows = agent::netpol::FlowLog::Create(*datapath_);
  ASSERT_TRUE(flows.ok()) << flows.status();
  flows_ = std::move(*flows);
}

void NetpolTest::TearDown() {
  flows_.reset();
  datapath_.reset();
  if (!bpf_root_.empty()) {
    auto status = agent::netpol::Datapath::Uninstall(bpf_root_);
    EXPECT_TRUE(status.ok()) << status;
    struct stat st {};
    EXPECT_NE(::stat(bpf_root_.c_str(), &st), 0) << bpf_root_ << " left behind";
  }
  std::string root = node_ ? node_->root_cgroup() : "";
  node_.reset();
  if (!root.empty()) {
    struct stat st {};
    EXPECT_NE(::stat(root.c_str(), &st), 0) << root << " left behind";
  }
}

}  // namespace bulkhead::testing
