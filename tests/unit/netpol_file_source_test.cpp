#include "agent/endpoints/file_source.h"

#include <gtest/gtest.h>

#include "agent/netpol/flow_format.h"
#include "agent/netpol/flow_log.h"
#include "nlohmann/json.hpp"

namespace bulkhead::agent {
namespace {

constexpr std::string_view kDocument = R"(
node_address: 10.244.1.1       # this node's address on the pod network
dns: [10.96.0.10]
pod_networks: [10.244.0.0/16, "fd00:244::/64"]
tenants:
- {name: team-b, mode: audit, egress_default: deny}
endpoints:
- {tenant: team-a, pod: web-1, addresses: [10.244.1.11, "fd00:244::11"], cgroup: /sys/fs/cgroup/unified/pods/web-1}
- {tenant: team-a, pod: web-2, addresses: [10.244.2.12]}   # no cgroup: a pod on another node
- {tenant: team-b, pod: db-1, addresses: 10.244.1.20}
grants:
- {tenant: team-a, destination: 10.244.1.20/32, port: 5432, protocol: tcp}
)";

TEST(EndpointsDocument, ReadsProbePortsHostNetworkPodsAndNodePorts) {
  auto state = ParseEndpointsDocument(R"(
node_ports: [8472]
endpoints:
- {tenant: team-a, pod: web-1, addresses: [10.244.1.11], cgroup: /c/web-1, probe_ports: [8080, 9090]}
- {tenant: team-a, pod: agent-1, cgroup: /c/agent-1, host_network: true}
)");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->network.endpoints[0].probe_ports, (std::vector<std::uint16_t>{8080, 9090}));
  EXPECT_FALSE(state->network.endpoints[0].host_network);
  EXPECT_TRUE(state->network.endpoints[1].host_network);
  EXPECT_EQ(state->network.node.node_ports.back(), 8472);
  auto zero = ParseEndpointsDocument(
      "endpoints:\n- {tenant: a, pod: p, addresses: [10.0.0.1], probe_ports: [0]}\n");
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.status().message().find("endpoints[0].probe_ports[0]"), std::string::npos)
      << zero.status();
  auto bad = ParseEndpointsDocument(
      "endpoints:\n- {tenant: a, pod: p, addresses: [], host_network: maybe}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("host_network"), std::string::npos) << bad.status();
}

TEST(EndpointsDocument, ParsesTheDocumentedShape) {
  auto state = ParseEndpointsDocument(kDocument);
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_EQ(state->network.node.node_addresses.size(), 1U);
  EXPECT_EQ(state->network.node.node_addresses[0].ToString(), "10.244.1.1");
  EXPECT_EQ(state->network.node.dns[0].ToString(), "10.96.0.10");
  EXPECT_EQ(state->network.node.pod_networks.size(), 2U);
  // Metadata (v4 and v6) and the five node ports (TCP and UDP) on the node address.
  EXPECT_EQ(state->network.node.denied.size(), 12U);
  ASSERT_EQ(state->network.endpoints.size(), 3U);
  EXPECT_EQ(state->network.endpoints[0].addresses.size(), 2U);
  EXPECT_EQ(state->network.endpoints[0].cgroup, "/sys/fs/cgroup/unified/pods/web-1");
  EXPECT_TRUE(state->network.endpoints[1].cgroup.empty());
  EXPECT_EQ(state->network.endpoints[2].addresses.size(), 1U);
  ASSERT_EQ(state->network.tenants.size(), 2U);
  EXPECT_EQ(state->network.tenants[0].name, "team-b");
  EXPECT_EQ(state->network.tenants[0].mode, netpol::TenantMode::kAudit);
  EXPECT_EQ(state->network.tenants[0].egress_default, netpol::EgressDefault::kDeny);
  EXPECT_EQ(state->network.tenants[1].name, "team-a");  // named by an endpoint, defaults
  EXPECT_EQ(state->network.tenants[1].mode, netpol::TenantMode::kEnforce);
  ASSERT_EQ(state->network.grants.size(), 1U);
  EXPECT_EQ(state->network.grants[0].port, 5432);
  EXPECT_EQ(state->network.grants[0].protocol, netpol::Protocol::kTcp);
}

TEST(EndpointsDocument, JsonIsYamlToo) {
  auto state = ParseEndpointsDocument(
      R"({"node_address": "10.0.0.1", "endpoints": [{"tenant": "t", "pod": "p", "addresses": ["10.0.0.2"]}]})");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->network.endpoints.size(), 1U);
}

TEST(EndpointsDocument, EmptyDocumentIsNoTenants) {
  auto state = ParseEndpointsDocument("");
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->network.tenants.empty());
}

void ExpectError(std::string_view text, std::string_view fragment) {
  auto state = ParseEndpointsDocument(text);
  ASSERT_FALSE(state.ok()) << text;
  EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(MessageOf(state.status()).find(fragment), std::string::npos)
      << state.status() << " should mention " << fragment;
}

TEST(EndpointsDocument, ErrorsNameTheField) {
  ExpectError("endpoints:\n- {tenant: a, pod: p, addresses: [10.0.0.300]}\n",
              "endpoints[0].addresses[0]: \"10.0.0.300\" is not an IPv4 or IPv6 address");
  ExpectError("endpoints:\n- {tenant: a, addresses: [10.0.0.1]}\n", "endpoints[0].pod");
  ExpectError("grants:\n- {tenant: a, destination: 10.0.0.1/8}\n", "grants[0].destination");
  ExpectError("grants:\n- {tenant: a, destination: 10.0.0.1, port: 70000}\n", "grants[0].port");
  ExpectError("grants:\n- {tenant: a, destination: 10.0.0.1, protocol: sctp}\n",
              "unknown protocol \"sctp\"");
  ExpectError("tenants:\n- {name: a, mode: loud}\n", "tenants[0].mode: must be enforce or audit");
  ExpectError("endpoint:\n- {}\n", "unknown field \"endpoint\"");
  ExpectError("endpoints: {tenant: a}\n", "endpoints: must be a list");
  ExpectError("node_address: [10.0.0.1\n", "not valid YAML");
}

TEST(EndpointsDocument, KubeletIdentityOfLocalPods) {
  auto state = ParseEndpointsDocument(
      "endpoints:\n"
      "- {tenant: a, pod: p1, addresses: [10.0.0.1], cgroup: /x/p1, uid: 0b5e-41aa, qos: "
      "Guaranteed}\n"
      "- {tenant: a, pod: p2, addresses: [10.0.0.2], cgroup: /x/p2, uid: 77c1}\n"
      "- {tenant: a, pod: p3, addresses: [10.0.0.3], cgroup: /x/p3}\n");
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_EQ(state->identities.size(), 2U);
  EXPECT_EQ(state->identities[0],
            (PodIdentity{"a", "p1", "0b5e-41aa", budgets::QosClass::kGuaranteed}));
  // Without a qos the pod is Burstable, the kubelet's class for most pods.
  EXPECT_EQ(state->identities[1], (PodIdentity{"a", "p2", "77c1", budgets::QosClass::kBurstable}));
  EXPECT_EQ(state->network.endpoints.size(), 3U);
}

TEST(EndpointsDocument, BadKubeletIdentityIsRefused) {
  ExpectError("endpoints:\n- {tenant: a, pod: p, addresses: [10.0.0.1], uid: abc}\n",
              "endpoints[0]: uid and qos describe a pod on this node: give its cgroup too");
  ExpectError("endpoints:\n- {tenant: a, pod: p, cgroup: /x, uid: ../../etc}\n",
              "endpoints[0].uid: must be the pod's metadata.uid");
  ExpectError("endpoints:\n- {tenant: a, pod: p, cgroup: /x, uid: abc, qos: Gold}\n",
              "endpoints[0].qos");
  ExpectError("endpoints:\n- {tenant: a, pod: p, cgroup: /x, qos: BestEffort}\n",
              "endpoints[0].uid: must be a string");
  ExpectError(
      "endpoints:\n- {tenant: a, pod: p, cgroup: /x, uid: u1}\n"
      "- {tenant: b, pod: q, cgroup: /y, uid: u1}\n",
      "endpoints[1].uid: \"u1\" is another pod's uid already");
}

TEST(FlowFilter, MatchesEitherSide) {
  netpol::FlowRecord record;
  record.src_tenant = "team-a";
  record.dst_tenant = "team-b";
  record.src_pod = "a1";
  record.dst_pod = "b1";
  record.dst_port = 8080;
  record.protocol = netpol::Protocol::kTcp;
  record.verdict = netpol::Verdict::kDenied;
  record.time = std::chrono::system_clock::now();
  auto matches = [&](auto set) {
    netpol::FlowFilter filter;
    set(filter);
    return filter.Matches(record);
  };
  using F = netpol::FlowFilter;
  EXPECT_TRUE(matches([](F&) {}));
  EXPECT_TRUE(matches([](F& f) { f.tenant = "team-b"; }));
  EXPECT_FALSE(matches([](F& f) { f.tenant = "team-c"; }));
  EXPECT_TRUE(matches([](F& f) { f.pod = "a1"; }));
  EXPECT_TRUE(matches([](F& f) { f.verdict = netpol::Verdict::kDenied; }));
  EXPECT_FALSE(matches([](F& f) { f.verdict = netpol::Verdict::kAllowed; }));
  EXPECT_TRUE(matches([](F& f) { f.port = 8080; }));
  EXPECT_FALSE(matches([](F& f) { f.port = 53; }));
  EXPECT_FALSE(matches([](F& f) { f.protocol = netpol::Protocol::kUdp; }));
  EXPECT_FALSE(matches([&](F& f) { f.since = record.time + std::chrono::seconds(1); }));
}

TEST(FlowRecordJson, CarriesEveryField) {
  netpol::FlowRecord record;
  record.time = std::chrono::system_clock::time_point(std::chrono::microseconds(1763714533123456));
  record.node = "n1";
  record.src_tenant = "team-a";
  record.dst_tenant = "team-b";
  record.src_pod = "a1";
  record.dst_pod = "b1";
  record.src_address = *netpol::IpAddress::Parse("10.0.0.1");
  record.dst_address = *netpol::IpAddress::Parse("fd00::2");
  record.src_port = 40000;
  record.dst_port = 8080;
  record.protocol = netpol::Protocol::kTcp;
  record.verdict = netpol::Verdict::kAudit;
  record.reason = netpol::Reason::kCrossTenant;
  record.hook = netpol::Hook::kConnect4;
  auto doc = nlohmann::json::parse(netpol::FlowRecordJson(record));
  EXPECT_EQ(doc["time"], "2025-11-21T08:42:13.123456Z");
  EXPECT_EQ(doc["verdict"], "audit");
  EXPECT_EQ(doc["reason"], "cross-tenant");
  EXPECT_EQ(doc["hook"], "connect4");
  EXPECT_EQ(doc["protocol"], "tcp");
  EXPECT_EQ(doc["source"]["address"], "10.0.0.1");
  EXPECT_EQ(doc["source"]["port"], 40000);
  EXPECT_EQ(doc["destination"]["address"], "fd00::2");
  EXPECT_EQ(doc["destination"]["pod"], "b1");
}

}  // namespace
}  // namespace bulkhead::agent
