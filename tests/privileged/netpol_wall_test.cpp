// The holes in the tenant wall, each as the attack on the real kernel:
// link-local, multicast and loopback judged like every other address;
// host-network pods as the node's class; the node reaching tenant pods only
// on their probe ports and with answers; node addresses read from the node.
// And the controls that must keep working.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "tests/privileged/netpol_fixture.h"

namespace bulkhead::testing {
namespace {

using agent::netpol::FlowRecord;
using agent::netpol::IpAddress;
using agent::netpol::Reason;
using agent::netpol::Verdict;

constexpr auto kReady = std::chrono::seconds(5);

bool Answered(const CommandResult& r) { return r.exit_code == 0 && r.out.rfind("ok", 0) == 0; }

class NetpolWallTest : public NetpolTest {
 protected:
  // Waits until the datapath follows an address the node gained.
  bool WaitForNodeAddress(const std::string& text) {
    IpAddress wanted = *IpAddress::Parse(text);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      auto addresses = datapath_->NodeAddresses();
      if (std::find(addresses.begin(), addresses.end(), wanted) != addresses.end()) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  Status NodeIp(std::vector<std::string> args) {
    args.insert(args.begin(), {"-n", node_->node_netns().name()});
    return Ip(args);
  }
  // Starts a server in each pod (nullptr: on the node) and waits until all are ready.
  std::vector<std::unique_ptr<PodProcess>> Serve(
      const std::vector<std::pair<const TestPod*, std::vector<std::string>>>& servers) {
    std::vector<std::unique_ptr<PodProcess>> started;
    started.reserve(servers.size());
    for (const auto& [pod, args] : servers) {
      started.push_back(node_->Start(pod, args));
    }
    for (const auto& process : started) {
      EXPECT_TRUE(process->WaitForLine("ready", kReady)) << process->Output();
    }
    return started;
  }
  Status PodIp(const TestPod* pod, std::vector<std::string> args) {
    args.insert(args.begin(), {"-n", pod->netns->name()});
    return Ip(args);
  }
};

TEST_F(NetpolWallTest, PodCannotReachTheKubeletOnTheNodesLinkLocalAddress) {
  ASSERT_TRUE(NodeIp({"addr", "add", "fe80::1/64", "dev", "br0", "nodad"}).ok());
  ASSERT_TRUE(WaitForNodeAddress("fe80::1"));
  auto servers = Serve({{nullptr, {"serve-tcp", "10250"}}, {nullptr, {"serve-tcp", "8081"}}});
  ASSERT_FALSE(HasFailure());
  auto attack = node_->Run(a1_, {"connect-tcp", "fe80::1%eth0", "10250"});
  EXPECT_TRUE(Refused(attack)) << attack.out;
  // The node's link-local address is a node address: other ports answer.
  auto control = node_->Run(a1_, {"connect-tcp", "fe80::1%eth0", "8081"});
  EXPECT_TRUE(Answered(control)) << control.out;
  auto record = WaitForFlow([](const FlowRecord& r) {
    return r.dst_address.ToString() == "fe80::1" && r.dst_port == 10250;
  });
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->reason, Reason::kDeniedDestination);
}

TEST_F(NetpolWallTest, TenantsCannotTalkOverLinkLocalOrMulticastOnTheBridge) {
  ASSERT_TRUE(PodIp(a1_, {"addr", "add", "fe80::a1/64", "dev", "eth0", "nodad"}).ok());
  ASSERT_TRUE(PodIp(b1_, {"addr", "add", "fe80::b1/64", "dev", "eth0", "nodad"}).ok());
  auto b_tcp = node_->Start(b1_, {"serve-tcp", "8080"});
  auto b_udp = node_->Start(b1_, {"serve-udp", "9090"});
  auto a_tcp = node_->Start(a1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(b_tcp->WaitForLine("ready", kReady));
  ASSERT_TRUE(b_udp->WaitForLine("ready", kReady));
  ASSERT_TRUE(a_tcp->WaitForLine("ready", kReady));
  auto a_to_b = node_->Run(a1_, {"connect-tcp", "fe80::b1%eth0", "8080"});
  EXPECT_TRUE(Refused(a_to_b)) << a_to_b.out;
  auto b_to_a = node_->Run(b1_, {"connect-tcp", "fe80::a1%eth0", "8080"});
  EXPECT_TRUE(Refused(b_to_a)) << b_to_a.out;
  auto multicast = node_->Run(a1_, {"send-udp", "ff02::1%eth0", "9090", "all-nodes"});
  EXPECT_TRUE(Refused(multicast)) << multicast.out;
  // A frame that bypasses a1's egress hooks is judged at b1's ingress: an
  // unowned link-local source is refused there.
  auto bypass = node_->Run(a1_, {"send-packet-udp", "fe80::a1", "fe80::b1", "9090", "bypass"});
  EXPECT_EQ(bypass.exit_code, 0) << bypass.out;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(b_udp->Output().find("got"), std::string::npos) << b_udp->Output();
  auto record = WaitForFlow([&](const FlowRecord& r) {
    return r.hook == agent::netpol::Hook::kIngress && r.src_address.ToString() == "fe80::a1";
  });
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->reason, Reason::kUnknownSource);
  // Control: the same tenant still talks over its own addresses.
  auto a2_to_a1 = node_->Run(a2_, {"connect-tcp", a1_->ipv6, "8080"});
  EXPECT_TRUE(Answered(a2_to_a1)) << a2_to_a1.out;
}

TEST_F(NetpolWallTest, HostNetworkPodsAreTheNodesClassWithTheDeniedPorts) {
  auto host = node_->AddHostNetworkPod("team-b", "b-host");
  ASSERT_TRUE(host.ok()) << host.status();
  auto state = BaseState();
  agent::netpol::Endpoint endpoint{"team-b", "b-host", {}, (*host)->cgroup};
  endpoint.host_network = true;
  state.endpoints.push_back(endpoint);
  ASSERT_TRUE(datapath_->Replace(state).ok());
  // Services on the node's loopback: a control plane and something else.
  auto servers = Serve({{nullptr, {"serve-tcp", "6443"}},
                        {nullptr, {"serve-tcp", "8081"}},
                        {a1_, {"serve-tcp", "8080"}},
                        {a1_, {"serve-tcp", "8082"}}});
  ASSERT_FALSE(HasFailure());
  auto attack = node_->Run(*host, {"connect-tcp", "127.0.0.1", "6443"});
  EXPECT_TRUE(Refused(attack)) << attack.out;
  auto attack6 = node_->Run(*host, {"connect-tcp", "::1", "6443"});
  EXPECT_TRUE(Refused(attack6)) << attack6.out;
  auto kubelet = node_->Run(*host, {"connect-tcp", kNodeV4, "10250"});
  EXPECT_TRUE(Refused(kubelet)) << kubelet.out;
  auto loopback = node_->Run(*host, {"connect-tcp", "127.0.0.1", "8081"});
  EXPECT_TRUE(Answered(loopback)) << loopback.out;
  // To a tenant pod: the node's probe port only, not as team-b.
  auto probe = node_->Run(*host, {"connect-tcp", a1_->ipv4, "8080"});
  EXPECT_TRUE(Answered(probe)) << probe.out;
  auto not_probe = node_->Run(*host, {"connect-tcp", a1_->ipv4, "8082"});
  EXPECT_TRUE(Refused(not_probe)) << not_probe.out;
  auto record = WaitForFlow([&](const FlowRecord& r) { return r.dst_port == 8082; });
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->src_tenant, "(node)");
  EXPECT_EQ(record->reason, Reason::kCrossTenant);
  // A pod's own loopback is its own: still open, even on a node port.
  auto own = node_->Start(a1_, {"serve-tcp", "6443"});
  ASSERT_TRUE(own->WaitForLine("ready", kReady));
  auto own_loopback = node_->Run(a1_, {"connect-tcp", "127.0.0.1", "6443"});
  EXPECT_TRUE(Answered(own_loopback)) << own_loopback.out;
}

TEST_F(NetpolWallTest, TheNodeReachesTenantPodsOnlyOnProbePortsAndWithAnswers) {
  auto servers = Serve({{a1_, {"serve-tcp", "8080"}},
                        {a1_, {"serve-tcp", "8081"}},
                        {nullptr, {"serve-tcp", "7000"}}});
  ASSERT_FALSE(HasFailure());
  // The attack: anything with a node source address (host-network pods,
  // hairpin, masquerade) reached every port of every pod.
  auto attack = node_->Run(nullptr, {"connect-tcp", a1_->ipv4, "8081"});
  EXPECT_FALSE(Answered(attack)) << attack.out;
  auto attack6 = node_->Run(nullptr, {"connect-tcp", a1_->ipv6, "8081"});
  EXPECT_FALSE(Answered(attack6)) << attack6.out;
  auto record = WaitForFlow([&](const FlowRecord& r) {
    return r.hook == agent::netpol::Hook::kIngress && r.dst_port == 8081;
  });
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->src_tenant, "(node)");
  EXPECT_EQ(record->dst_tenant, "team-a");
  EXPECT_EQ(record->verdict, Verdict::kDenied);
  // Controls: probes, and answers to the pod's own connections to the node.
  auto probe = node_->Run(nullptr, {"connect-tcp", a1_->ipv4, "8080"});
  EXPECT_TRUE(Answered(probe)) << probe.out;
  auto probe6 = node_->Run(nullptr, {"connect-tcp", a1_->ipv6, "8080"});
  EXPECT_TRUE(Answered(probe6)) << probe6.out;
  auto to_node = node_->Run(a1_, {"connect-tcp", kNodeV4, "7000"});
  EXPECT_TRUE(Answered(to_node)) << to_node.out;
  auto to_node6 = node_->Run(a1_, {"connect-tcp", kNodeV6, "7000"});
  EXPECT_TRUE(Answered(to_node6)) << to_node6.out;
}

TEST_F(NetpolWallTest, DeniedPortsCoverEveryAddressTheNodeHasIncludingNewOnes) {
  for (const char* port : {"9443", "9444", "6443"}) {
    auto denied = node_->Run(a1_, {"connect-tcp", kNodeV4, port});
    EXPECT_TRUE(Refused(denied)) << port << ": " << denied.out;
  }
  // A second interface the node gains later (a docker0, a second NIC), in
  // no list: the datapath reads it from the node and denies its ports.
  ASSERT_TRUE(NodeIp({"link", "add", "docker0", "type", "bridge"}).ok());
  ASSERT_TRUE(NodeIp({"addr", "add", "198.19.0.1/24", "dev", "docker0"}).ok());
  ASSERT_TRUE(NodeIp({"link", "set", "docker0", "up"}).ok());
  ASSERT_TRUE(WaitForNodeAddress("198.19.0.1"));
  auto servers = Serve({{nullptr, {"serve-tcp", "10250"}}, {nullptr, {"serve-tcp", "8081"}}});
  ASSERT_FALSE(HasFailure());
  auto attack = node_->Run(a1_, {"connect-tcp", "198.19.0.1", "10250"});
  EXPECT_TRUE(Refused(attack)) << attack.out;
  auto control = node_->Run(a1_, {"connect-tcp", "198.19.0.1", "8081"});
  EXPECT_TRUE(Answered(control)) << control.out;
  // And what the node loses is forgotten.
  ASSERT_TRUE(NodeIp({"link", "del", "docker0"}).ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  IpAddress gone = *IpAddress::Parse("198.19.0.1");
  while (std::chrono::steady_clock::now() < deadline) {
    auto addresses = datapath_->NodeAddresses();
    if (std::find(addresses.begin(), addresses.end(), gone) == addresses.end()) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto addresses = datapath_->NodeAddresses();
  EXPECT_EQ(std::find(addresses.begin(), addresses.end(), gone), addresses.end());
}

TEST_F(NetpolWallTest, DnsOnTheNodeStillAnswersEveryTenant) {
  auto state = BaseState();
  state.node.dns = {*IpAddress::Parse(kNodeV4)};
  ASSERT_TRUE(datapath_->Replace(state).ok());
  auto dns = node_->Start(nullptr, {"serve-udp", "53"});
  ASSERT_TRUE(dns->WaitForLine("ready", kReady));
  for (const TestPod* pod : {a1_, b1_}) {
    auto query = node_->Run(pod, {"send-udp", kNodeV4, "53", "query", "2000"});
    EXPECT_TRUE(Answered(query)) << pod->name << ": " << query.out;
  }
}

TEST_F(NetpolWallTest, AfPacketFramesWithAnotherSourceAreDroppedWhereTheyLeaveThePod) {
  auto victim = node_->Start(b2_, {"serve-udp", "9090"});
  auto same_tenant = node_->Start(a2_, {"serve-udp", "9090"});
  auto attacker = node_->Start(a1_, {"serve-udp", "9091"});  // a1 has a process
  for (auto* p : {victim.get(), same_tenant.get(), attacker.get()}) {
    ASSERT_TRUE(p->WaitForLine("ready", kReady));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!datapath_->GuardedInterface("team-a", "a1") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(datapath_->GuardedInterface("team-a", "a1").has_value());
  // The attacks: frames the cgroup hooks never see, with the source of a
  // pod of the victim's tenant (which the victim trusts) or of the node.
  struct Spoof {
    std::string source;
    std::string destination;
  };
  for (const Spoof& spoof : {Spoof{b1_->ipv4, b2_->ipv4}, Spoof{b1_->ipv6, b2_->ipv6},
                             Spoof{kNodeV4, b2_->ipv4}, Spoof{kNodeV6, b2_->ipv6}}) {
    auto sent = node_->Run(a1_, {"send-packet-udp", spoof.source, spoof.destination, "9090",
                                 "spoofed-" + spoof.source});
    EXPECT_EQ(sent.exit_code, 0) << sent.out;
  }
  // The control: a1's own frames still pass (to its own tenant's pod).
  auto own = node_->Run(a1_, {"send-packet-udp", a1_->ipv4, a2_->ipv4, "9090", "own-v4"});
  EXPECT_EQ(own.exit_code, 0) << own.out;
  auto own6 = node_->Run(a1_, {"send-packet-udp", a1_->ipv6, a2_->ipv6, "9090", "own-v6"});
  EXPECT_EQ(own6.exit_code, 0) << own6.out;
  EXPECT_TRUE(same_tenant->WaitForText("own-v4", std::chrono::seconds(3))) << same_tenant->Output();
  EXPECT_TRUE(same_tenant->WaitForText("own-v6", std::chrono::seconds(3))) << same_tenant->Output();
  EXPECT_EQ(victim->Output().find("spoofed"), std::string::npos) << victim->Output();
}

}  // namespace
}  // namespace bulkhead::testing
