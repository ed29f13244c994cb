// Per-tenant network isolation on the real kernel: pods in network
// namespaces and cgroups, real TCP/UDP/raw traffic, the netpol programs
// attached to the pods cgroup.
//
// How a refused client sees it: connect() and sendto() fail at once with
// EPERM ("Operation not permitted"), printed by bulkhead-test-pod as
// "error EPERM ...". Packets dropped by the cgroup_skb hooks (raw sockets,
// traffic from other nodes) simply never arrive.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>

#include "agent/netpol/map_transaction.h"
#include "common/unique_fd.h"
#include "tests/privileged/netpol_fixture.h"

namespace bulkhead::testing {
namespace {

using agent::netpol::Cidr;
using agent::netpol::FlowRecord;
using agent::netpol::Protocol;
using agent::netpol::Reason;
using agent::netpol::TenantMode;
using agent::netpol::Verdict;

constexpr auto kReady = std::chrono::seconds(5);

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

// The packet hooks find the ports after IP options too (the UDP header at
// offset 24, not 20): a grant for one port lets that port through and no other.
TEST_F(NetpolTest, PortsAreReadAfterIpOptions) {
  ASSERT_TRUE(datapath_
                  ->AddGrant({"team-a", Cidr::Host(*agent::netpol::IpAddress::Parse(b1_->ipv4)),
                              9092, Protocol::kUdp})
                  .ok());
  auto granted_server = node_->Start(b1_, {"serve-udp", "9092"});
  auto other_server = node_->Start(b1_, {"serve-udp", "9093"});
  ASSERT_TRUE(granted_server->WaitForLine("ready", kReady));
  ASSERT_TRUE(other_server->WaitForLine("ready", kReady));
  auto other =
      node_->Run(a1_, {"send-raw-udp", a1_->ipv4, b1_->ipv4, "9093", "opt-other", "options"});
  EXPECT_NE(other.out.find("EPERM"), std::string::npos) << other.out;  // dropped at egress
  auto granted =
      node_->Run(a1_, {"send-raw-udp", a1_->ipv4, b1_->ipv4, "9092", "opt-granted", "options"});
  ASSERT_EQ(granted.exit_code, 0) << granted.out;
  EXPECT_TRUE(granted_server->WaitForLine(fmt::format("got {} opt-granted", a1_->ipv4), kReady))
      << granted_server->Output();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string received = other_server->Output();
  EXPECT_EQ(received.find("opt-other"), std::string::npos) << received;
  auto record = WaitForFlow([&](const FlowRecord& r) {
    return r.reason == Reason::kCrossTenant && r.src_pod == "a1" && r.dst_port == 9093;
  });
  ASSERT_TRUE(record.has_value()) << "no cross-tenant record for port 9093";
  EXPECT_EQ(record->hook, agent::netpol::Hook::kEgress);
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

TEST_F(NetpolTest, OverlappingAddressIsRefusedAndNothingChanges) {
  auto server = node_->Start(b1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  auto before = datapath_->Summary();
  agent::netpol::Endpoint thief{
      "team-c", "thief", {*agent::netpol::IpAddress::Parse(b1_->ipv4)}, ""};
  auto status = datapath_->UpsertEndpoint(thief);
  ASSERT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_NE(MessageOf(status).find("already belongs to pod team-b/b1"), std::string::npos);
  auto after = datapath_->Summary();
  EXPECT_EQ(after.endpoints, before.endpoints);
  EXPECT_EQ(after.endpoint_addresses, before.endpoint_addresses);
  // b1's address still means team-b: c1 stays out, b2 stays in.
  EXPECT_TRUE(Refused(node_->Run(c1_, {"connect-tcp", b1_->ipv4, "8080"})));
  EXPECT_EQ(node_->Run(b2_, {"connect-tcp", b1_->ipv4, "8080"}).exit_code, 0);

  // The same through Replace: the thief alone is refused and listed, the rest is enforced.
  auto state = BaseState();
  state.endpoints.push_back(thief);
  auto replaced = datapath_->Replace(state);
  EXPECT_TRUE(replaced.ok()) << replaced;
  auto refused = datapath_->Summary().refused;
  ASSERT_EQ(refused.size(), 1U);
  EXPECT_NE(refused[0].find("already belongs to pod team-b/b1"), std::string::npos) << refused[0];
  EXPECT_TRUE(Refused(node_->Run(c1_, {"connect-tcp", b1_->ipv4, "8080"})));
  EXPECT_EQ(node_->Run(b2_, {"connect-tcp", b1_->ipv4, "8080"}).exit_code, 0);
}

TEST_F(NetpolTest, UnknownTenantsAndBadCgroupsAreRefused) {
  auto unknown = datapath_->UpsertEndpoint({"team-z", "z1", {}, ""});
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound) << unknown;
  EXPECT_NE(MessageOf(unknown).find("add the tenant first"), std::string::npos);
  auto grant = datapath_->AddGrant({"team-z", *Cidr::Parse("198.18.0.0/16"), 0, Protocol::kAny});
  EXPECT_EQ(grant.code(), absl::StatusCode::kNotFound) << grant;
  auto busy = datapath_->RemoveTenant("team-a");
  EXPECT_EQ(busy.code(), absl::StatusCode::kFailedPrecondition) << busy;
  EXPECT_NE(MessageOf(busy).find("2 endpoint(s)"), std::string::npos) << busy;
  auto missing = datapath_->UpsertEndpoint({"team-a", "a9", {}, node_->pods_cgroup() + "/none"});
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  auto outside = datapath_->UpsertEndpoint({"team-a", "a9", {}, node_->root_cgroup()});
  EXPECT_EQ(outside.code(), absl::StatusCode::kFailedPrecondition) << outside;
  EXPECT_NE(MessageOf(outside).find("not below the pods cgroup"), std::string::npos) << outside;
  auto v1 = datapath_->UpsertEndpoint({"team-a", "a9", {}, "/sys/fs/cgroup/memory"});
  EXPECT_EQ(v1.code(), absl::StatusCode::kInvalidArgument) << v1;
  auto twice = datapath_->UpsertEndpoint({"team-a",
                                          "a9",
                                          {*agent::netpol::IpAddress::Parse("198.18.9.9"),
                                           *agent::netpol::IpAddress::Parse("198.18.9.9")},
                                          ""});
  EXPECT_EQ(twice.code(), absl::StatusCode::kInvalidArgument) << twice;
  EXPECT_EQ(datapath_->Summary().endpoints, 5U);
}

TEST_F(NetpolTest, TooManyAddressesIsRefusedAloneAndOldStateStays) {
  auto server = node_->Start(b1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  auto state = BaseState();
  // 65,537 addresses: one more than the endpoints map holds.
  agent::netpol::Endpoint big{"team-c", "big", {}, ""};
  for (std::uint32_t i = 0; i < 65537; ++i) {
    big.addresses.push_back(agent::netpol::IpAddress::FromV4(htonl(0x0A000000U + i)));
  }
  state.endpoints.push_back(big);
  auto status = datapath_->Replace(state);
  EXPECT_TRUE(status.ok()) << status;
  auto refused = datapath_->Summary().refused;
  ASSERT_EQ(refused.size(), 1U);
  EXPECT_NE(refused[0].find("at most 65536 endpoint addresses"), std::string::npos) << refused[0];
  EXPECT_EQ(datapath_->Summary().endpoint_addresses, 10U);
  EXPECT_TRUE(Refused(node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"})));
}

TEST_F(NetpolTest, MapTransactionUndoesEarlierWritesWhenTheKernelRefusesOne) {
  // A real kernel map with room for two entries.
  bulkhead::UniqueFd map(bpf_map_create(BPF_MAP_TYPE_HASH, "bh_tx_test", sizeof(std::uint32_t),
                                        sizeof(std::uint32_t), 2, nullptr));
  ASSERT_TRUE(map.valid()) << "bpf_map_create errno " << errno;
  std::uint32_t one = 1;
  std::uint32_t old_value = 100;
  ASSERT_EQ(bpf_map_update_elem(map.get(), &one, &old_value, BPF_ANY), 0);
  agent::netpol::MapTransaction tx;
  tx.Put(map.get(), "bh_tx_test", agent::netpol::ToBytes(std::uint32_t{1}),
         agent::netpol::ToBytes(std::uint32_t{200}));
  tx.Put(map.get(), "bh_tx_test", agent::netpol::ToBytes(std::uint32_t{2}),
         agent::netpol::ToBytes(std::uint32_t{2}));
  tx.Put(map.get(), "bh_tx_test", agent::netpol::ToBytes(std::uint32_t{3}),
         agent::netpol::ToBytes(std::uint32_t{3}));
  auto status = tx.Commit();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_NE(MessageOf(status).find("bh_tx_test is full"), std::string::npos) << status;
  std::uint32_t value = 0;
  ASSERT_EQ(bpf_map_lookup_elem(map.get(), &one, &value), 0);
  EXPECT_EQ(value, 100U) << "the first write was not undone";
  std::uint32_t two = 2;
  EXPECT_NE(bpf_map_lookup_elem(map.get(), &two, &value), 0) << "the second write was not undone";
}

TEST_F(NetpolTest, ReopeningTakesOverThePinsWithoutAGap) {
  auto server = node_->Start(b1_, {"serve-tcp", "8080"});
  ASSERT_TRUE(server->WaitForLine("ready", kReady));
  flows_.reset();
  datapath_.reset();  // the agent is gone; the kernel still enforces
  EXPECT_TRUE(Refused(node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"})));
  auto reopened = agent::netpol::Datapath::Open(
      {bpf_root_, node_->pods_cgroup(), "test-node", node_->node_netns().path()});
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  datapath_ = std::move(*reopened);
  EXPECT_TRUE(datapath_->Summary().reused_pins);
  // Before the new agent applies any state, the pinned maps still hold it.
  EXPECT_TRUE(Refused(node_->Run(a1_, {"connect-tcp", b1_->ipv4, "8080"})));
  EXPECT_EQ(node_->Run(b2_, {"connect-tcp", b1_->ipv4, "8080"}).exit_code, 0);
  // Replace with a state without team-c removes c1's entries left in the maps.
  auto state = BaseState();
  state.endpoints.pop_back();
  state.tenants.pop_back();
  ASSERT_TRUE(datapath_->Replace(state).ok());
  auto c1 = node_->Run(c1_, {"connect-tcp", b1_->ipv4, "8080"});
  EXPECT_TRUE(Refused(c1)) << "c1 is now an unknown endpoint and fails closed: " << c1.out;
  auto flows = agent::netpol::FlowLog::Create(*datapath_);
  ASSERT_TRUE(flows.ok());
  flows_ = std::move(*flows);
  auto record = WaitForFlow(
      [](const FlowRecord& r) { return r.reason == Reason::kUnknownSource && r.dst_pod == "b1"; });
  EXPECT_TRUE(record.has_value());
}

TEST_F(NetpolTest, PinsOfAnotherCgroupAreNotHijacked) {
  auto other = agent::netpol::Datapath::Open(
      {bpf_root_, node_->root_cgroup(), "test-node", node_->node_netns().path()});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition) << other.status();
  EXPECT_NE(MessageOf(other.status()).find("bulkhead-agent uninstall"), std::string::npos);
}

}  // namespace
}  // namespace bulkhead::testing
