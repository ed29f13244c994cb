// Per-tenant network isolation on the real kernel: pods in network
// namespaces and cgroups, real TCP/UDP/raw traffic, the netpol programs
// attached to the pods cgroup.
//
// How a refused client sees it: connect() and sendto() fail at once with
// EPERM ("Operation not permitted"), printed by bulkhead-test-pod as
// "error EPERM ...". Packets dropped by the cgroup_skb hooks (raw sockets,
// traffic from other nodes) simply never arrive.
#include <gtest/gtest.h>

#include "tests/privileged/netpol_fixture.h"

namespace bulkhead::testing {
namespace {

using agent::netpol::Cidr;
using agent::netpol::FlowRecord;
using agent::netpol::Grant;
using agent::netpol::Protocol;
using agent::netpol::Reason;
using agent::netpol::Tenant;
using agent::netpol::TenantMode;
using agent::netpol::Verdict;

constexpr auto kReady = std::chrono::seconds(5);

bool Refused(const CommandResult& r) {
  return r.exit_code == 1 && r.out.rfind("error EPERM", 0) == 0;
}

TEST_F(NetpolTest, SameTenantTcpAndUdpWork) {
  auto tcp = node_->Start(a2_, {"serve-tcp", "8080"});
  auto udp = node_->Start(a2_, {"serve-udp", "9090"});
  ASSERT_TRUE(tcp->WaitForLine("ready", kReady));
  ASSERT_TRUE(udp->WaitForLine("ready", kReady));
  auto r = node_->Run(a1_, {"connect-tcp", a2_->ipv4, "8080"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "ok hello\n");
  auto u = node_->Run(a1_, {"send-udp", a2_->ipv4, "9090", "ping", "2000"});
  EXPECT_EQ(u.exit_code, 0) << u.out;
  EXPECT_EQ(u.out, "ok\n");
  EXPECT_NE(udp->Output().find(fmt::format("got {} ping", a1_->ipv4)), std::string::npos);
}

TEST_F(NetpolTest, CrossTenantTcpIsRefusedInBothDirections) {
  auto b_server = node_->Start(b1_, {"serve-tcp", "8080"});
  auto a_server = node_->Start(a1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(b_server->WaitForLine("ready", kReady));
  ASSERT_TRUE(a_server->WaitForLine("ready", kReady));
  auto a_to_b = node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"});
  EXPECT_TRUE(Refused(a_to_b)) << a_to_b.out;
  auto b_to_a = node_->Run(b1_, {"connect-tcp", a1_->ipv4, "8080"});
  EXPECT_TRUE(Refused(b_to_a)) << b_to_a.out;
  // Same tenant on the same servers still works: the refusal is the wall.
  auto b_to_b = node_->Run(b2_, {"connect-tcp", b1_->ipv4, "8080"});
  EXPECT_EQ(b_to_b.exit_code, 0) << b_to_b.out;
}

TEST_F(NetpolTest, CrossTenantUdpNeverArrives) {
  auto server = node_->Start(b1_, {"serve-udp", "9090"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  auto r = node_->Run(a1_, {"send-udp", b1_->ipv4, "9090", "secret"});
  EXPECT_TRUE(Refused(r)) << r.out;
  auto control = node_->Run(b2_, {"send-udp", b1_->ipv4, "9090", "sibling", "2000"});
  EXPECT_EQ(control.out, "ok\n");
  std::string received = server->Output();
  EXPECT_EQ(received.find("secret"), std::string::npos) << received;
  EXPECT_NE(received.find("sibling"), std::string::npos) << received;
}

TEST_F(NetpolTest, RawSocketWithSpoofedSourceNeverReachesAnotherTenant) {
  auto server = node_->Start(b1_, {"serve-udp", "9091"});
  auto a_server = node_->Start(a2_, {"serve-udp", "9091"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  ASSERT_TRUE(a_server->WaitForLine("ready", kReady));
  // Control: a raw packet with the sender's own address to its own tenant arrives.
  auto control = node_->Run(a1_, {"send-raw-udp", a1_->ipv4, a2_->ipv4, "9091", "raw-own"});
  ASSERT_EQ(control.exit_code, 0) << control.out;
  // From team-a's namespace, pretending to be b2 (team-b's own pod).
  auto spoofed = node_->Run(a1_, {"send-raw-udp", b2_->ipv4, b1_->ipv4, "9091", "raw-spoof"});
  // And with its own address, straight across the wall.
  auto direct = node_->Run(a1_, {"send-raw-udp", a1_->ipv4, b1_->ipv4, "9091", "raw-direct"});
  EXPECT_TRUE(a_server->WaitForLine(fmt::format("got {} raw-own", a1_->ipv4), kReady))
      << a_server->Output();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string received = server->Output();
  EXPECT_EQ(received.find("raw-spoof"), std::string::npos) << received;
  EXPECT_EQ(received.find("raw-direct"), std::string::npos) << received;
  auto record = WaitForFlow(
      [&](const FlowRecord& r) { return r.reason == Reason::kSpoofedSource && r.src_pod == "a1"; });
  ASSERT_TRUE(record.has_value()) << "no spoofed-source flow record";
  EXPECT_EQ(record->src_tenant, "team-a");
  EXPECT_EQ(record->verdict, Verdict::kDenied);
  EXPECT_EQ(record->src_address.ToString(), b2_->ipv4);
  EXPECT_EQ(record->hook, agent::netpol::Hook::kEgress);
}

TEST_F(NetpolTest, NodeReachesPodsAndPodsReachTheNode) {
  auto server = node_->Start(a1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  auto r = node_->Run(nullptr, {"connect-tcp", a1_->ipv4, "8080"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  auto r6 = node_->Run(nullptr, {"connect-tcp", a1_->ipv6, "8080"});
  EXPECT_EQ(r6.exit_code, 0) << r6.out;
  auto node_server = node_->Start(nullptr, {"serve-tcp", "8081"});
  ASSERT_TRUE(node_server->WaitForLine("ready", kReady));
  auto to_node = node_->Run(a1_, {"connect-tcp", kNodeV4, "8081"});
  EXPECT_EQ(to_node.exit_code, 0) << to_node.out;
}

TEST_F(NetpolTest, MetadataAndKubeletAreDenied) {
  auto metadata = node_->Run(a1_, {"connect-tcp", "169.254.169.254", "80"});
  EXPECT_TRUE(Refused(metadata)) << metadata.out;
  auto kubelet = node_->Run(a1_, {"connect-tcp", kNodeV4, "10250"});
  EXPECT_TRUE(Refused(kubelet)) << kubelet.out;
  // Another node port nobody listens on: refused by the node, not by us.
  auto other = node_->Run(a1_, {"connect-tcp", kNodeV4, "10999"});
  EXPECT_EQ(other.out.rfind("error ECONNREFUSED", 0), 0U) << other.out;
  auto record = WaitForFlow(
      [](const FlowRecord& r) { return r.dst_address.ToString() == "169.254.169.254"; });
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->reason, Reason::kDeniedDestination);
  EXPECT_EQ(record->src_tenant, "team-a");
  EXPECT_EQ(record->dst_tenant, "");
}

TEST_F(NetpolTest, GrantWorksForItsTenantAndNoOther) {
  auto server = node_->Start(b1_, {"serve-tcp", "8080"});
  auto other_port = node_->Start(b1_, {"serve-tcp", "8081"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  ASSERT_TRUE(other_port->WaitForLine("ready", kReady));
  ASSERT_TRUE(datapath_
                  ->AddGrant({"team-a", Cidr::Host(*agent::netpol::IpAddress::Parse(b1_->ipv4)),
                              8080, Protocol::kTcp})
                  .ok());
  auto granted = node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"});
  EXPECT_EQ(granted.exit_code, 0) << granted.out;
  EXPECT_EQ(granted.out, "ok hello\n");
  auto other_tenant = node_->Run(c1_, {"connect-tcp", b1_->ipv4, "8080"});
  EXPECT_TRUE(Refused(other_tenant)) << other_tenant.out;
  auto other = node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8081"});
  EXPECT_TRUE(Refused(other)) << other.out;
  auto reverse = node_->Run(b1_, {"connect-tcp", a1_->ipv4, "8080"});
  EXPECT_TRUE(Refused(reverse)) << reverse.out;

  auto record = WaitForFlow([](const FlowRecord& r) {
    return r.verdict == Verdict::kAllowed && r.reason == Reason::kGrant;
  });
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->src_tenant, "team-a");
  EXPECT_EQ(record->dst_tenant, "team-b");
  EXPECT_EQ(record->dst_port, 8080);

  // Removing the grant closes the wall again for new connections.
  ASSERT_TRUE(datapath_
                  ->RemoveGrant({"team-a", Cidr::Host(*agent::netpol::IpAddress::Parse(b1_->ipv4)),
                                 8080, Protocol::kTcp})
                  .ok());
  auto after = node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"});
  EXPECT_TRUE(Refused(after)) << after.out;
}

TEST_F(NetpolTest, UdpGrantAllowsTheAnswer) {
  auto server = node_->Start(b1_, {"serve-udp", "5300"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  ASSERT_TRUE(
      datapath_->AddGrant({"team-a", *Cidr::Parse("198.18.0.13/32"), 5300, Protocol::kUdp}).ok());
  auto r = node_->Run(a1_, {"send-udp", b1_->ipv4, "5300", "query", "2000"});
  EXPECT_EQ(r.out, "ok\n");
}

TEST_F(NetpolTest, AuditModePassesTrafficAndRecordsIt) {
  auto server = node_->Start(b1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  ASSERT_TRUE(datapath_->UpsertTenant({"team-c", TenantMode::kAudit}).ok());
  auto r = node_->Run(c1_, {"connect-tcp", b1_->ipv4, "8080"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  auto record = WaitForFlow([](const FlowRecord& f) { return f.verdict == Verdict::kAudit; });
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->src_tenant, "team-c");
  EXPECT_EQ(record->dst_tenant, "team-b");
  EXPECT_EQ(record->reason, Reason::kCrossTenant);
  // Tenants not in audit mode still enforce.
  auto enforced = node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"});
  EXPECT_TRUE(Refused(enforced)) << enforced.out;
}

TEST_F(NetpolTest, FlowRecordsCarryTenantsPodsPortsVerdictAndReason) {
  auto server = node_->Start(b1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  auto r = node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"});
  ASSERT_TRUE(Refused(r)) << r.out;
  auto record = WaitForFlow([](const FlowRecord& f) {
    return f.src_pod == "a1" && f.dst_pod == "b1" && f.dst_port == 8080;
  });
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->src_tenant, "team-a");
  EXPECT_EQ(record->dst_tenant, "team-b");
  EXPECT_EQ(record->dst_address.ToString(), b1_->ipv4);
  EXPECT_EQ(record->protocol, Protocol::kTcp);
  EXPECT_EQ(record->verdict, Verdict::kDenied);
  EXPECT_EQ(record->reason, Reason::kCrossTenant);
  EXPECT_EQ(record->hook, agent::netpol::Hook::kConnect4);
  EXPECT_EQ(record->node, "test-node");
  auto age = std::chrono::system_clock::now() - record->time;
  EXPECT_LT(std::chrono::abs(age), std::chrono::seconds(30));
  bool counted = false;
  for (const auto& counter : datapath_->Counters()) {
    if (counter.src_tenant == "team-a" && counter.dst_tenant == "team-b" &&
        counter.verdict == Verdict::kDenied) {
      counted = counter.count >= 1;
    }
  }
  EXPECT_TRUE(counted);
  EXPECT_EQ(datapath_->Loss().ring_buffer_full, 0U);
}

TEST_F(NetpolTest, Ipv6SameTenantWorksCrossTenantRefused) {
  auto a_server = node_->Start(a2_, {"serve-tcp", "8080"});
  auto b_server = node_->Start(b1_, {"serve-udp", "9090"});
  ASSERT_TRUE(a_server->WaitForLine("ready", kReady));
  ASSERT_TRUE(b_server->WaitForLine("ready", kReady));
  auto same = node_->Run(a1_, {"connect-tcp", a2_->ipv6, "8080"});
  EXPECT_EQ(same.exit_code, 0) << same.out;
  auto cross = node_->Run(b2_, {"connect-tcp", a2_->ipv6, "8080"});
  EXPECT_TRUE(Refused(cross)) << cross.out;
  auto udp = node_->Run(a1_, {"send-udp", b1_->ipv6, "9090", "secret6"});
  EXPECT_TRUE(Refused(udp)) << udp.out;
  EXPECT_EQ(b_server->Output().find("secret6"), std::string::npos);
  auto record = WaitForFlow([&](const FlowRecord& f) {
    return f.hook == agent::netpol::Hook::kConnect6 && f.src_pod == "b2";
  });
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->dst_address.ToString(), a2_->ipv6);
}

TEST_F(NetpolTest, Ipv6GrantAndMetadata) {
  auto server = node_->Start(b1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  ASSERT_TRUE(
      datapath_->AddGrant({"team-a", *Cidr::Parse("fd00:b0::13/128"), 8080, Protocol::kTcp}).ok());
  auto granted = node_->Run(a1_, {"connect-tcp", b1_->ipv6, "8080"});
  EXPECT_EQ(granted.exit_code, 0) << granted.out;
  auto other = node_->Run(c1_, {"connect-tcp", b1_->ipv6, "8080"});
  EXPECT_TRUE(Refused(other)) << other.out;
  auto metadata = node_->Run(a1_, {"connect-tcp", "fd00:ec2::254", "80"});
  EXPECT_TRUE(Refused(metadata)) << metadata.out;
  auto kubelet = node_->Run(a1_, {"connect-tcp", kNodeV6, "10250"});
  EXPECT_TRUE(Refused(kubelet)) << kubelet.out;
}

TEST_F(NetpolTest, UnknownEndpointsFailClosed) {
  // x1 runs in the pods cgroup but the agent has not learned it yet.
  auto x1 = node_->AddPod("team-x", "x1", 6);
  ASSERT_TRUE(x1.ok()) << x1.status();
  auto a_server = node_->Start(a1_, {"serve-tcp", "8080"});
  auto x_server = node_->Start(*x1, {"serve-tcp", "8080"});
  ASSERT_TRUE(a_server->WaitForLine("ready", kReady));
  ASSERT_TRUE(x_server->WaitForLine("ready", kReady));
  auto from_unknown = node_->Run(*x1, {"connect-tcp", a1_->ipv4, "8080"});
  EXPECT_TRUE(Refused(from_unknown)) << from_unknown.out;
  auto to_unknown = node_->Run(a1_, {"connect-tcp", (*x1)->ipv4, "8080"});
  EXPECT_TRUE(Refused(to_unknown)) << to_unknown.out;
  // The node still reaches it (probes work before the agent knows a pod).
  auto probe = node_->Run(nullptr, {"connect-tcp", (*x1)->ipv4, "8080"});
  EXPECT_EQ(probe.exit_code, 0) << probe.out;
  auto record = WaitForFlow([](const FlowRecord& f) {
    return f.reason == Reason::kUnknownSource || f.reason == Reason::kUnknownDestination;
  });
  EXPECT_TRUE(record.has_value());

  // Once learned, its tenant's rules apply.
  ASSERT_TRUE(datapath_->UpsertTenant({"team-x"}).ok());
  ASSERT_TRUE(datapath_->UpsertEndpoint(EndpointOf(**x1)).ok());
  auto still_cross = node_->Run(*x1, {"connect-tcp", a1_->ipv4, "8080"});
  EXPECT_TRUE(Refused(still_cross)) << still_cross.out;
  ASSERT_TRUE(
      datapath_->AddGrant({"team-x", *Cidr::Parse("198.18.0.11/32"), 0, Protocol::kAny}).ok());
  auto granted = node_->Run(*x1, {"connect-tcp", a1_->ipv4, "8080"});
  EXPECT_EQ(granted.exit_code, 0) << granted.out;
}

TEST_F(NetpolTest, EgressDefaultDenyStopsExternalTraffic) {
  ASSERT_TRUE(
      datapath_->UpsertTenant({"team-a", TenantMode::kEnforce, agent::netpol::EgressDefault::kDeny})
          .ok());
  // 192.0.2.1 (TEST-NET-1) has no route from the node namespace: refused
  // by policy before any packet leaves the pod.
  auto r = node_->Run(a1_, {"send-udp", "192.0.2.1", "9", "x"});
  EXPECT_TRUE(Refused(r)) << r.out;
  auto b = node_->Run(b1_, {"send-udp", "192.0.2.1", "9", "x"});
  EXPECT_EQ(b.out, "sent\n");
}

}  // namespace
}  // namespace bulkhead::testing
