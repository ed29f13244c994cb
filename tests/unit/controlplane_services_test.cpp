// Services in process (ApiHarness): what a Service must be to be stored,
// and the cluster IPs and node ports each one holds — never two Services
// with one address, kept across updates, given back on delete, right again
// after a restart — with the store's reservations read directly.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "controlplane/apiserver/registry/ip_range.h"
#include "controlplane/apiserver/registry/range_allocator.h"
#include "fmt/format.h"
#include "tests/unit/controlplane_api_harness.h"

namespace bulkhead::controlplane::testing {
namespace {

namespace json = boost::json;

constexpr char kServices[] = "/api/v1/namespaces/default/services";

std::string Service(const std::string& name, const std::string& spec_fields = "",
                    const std::string& ports = R"([{"port":80}])") {
  return fmt::format(
      R"({{"apiVersion":"v1","kind":"Service","metadata":{{"name":"{}"}},"spec":{{{}"selector":{{"app":"web"}},"ports":{}}}}})",
      name, spec_fields, ports);
}

std::string SpecText(const Recorded& recorded, const char* field) {
  json::value object = recorded.Json();
  const json::value* spec = object.is_object() ? object.as_object().if_contains("spec") : nullptr;
  const json::value* value =
      spec != nullptr && spec->is_object() ? spec->as_object().if_contains(field) : nullptr;
  return value == nullptr     ? ""
         : value->is_string() ? std::string(value->as_string())
                              : json::serialize(*value);
}

int64_t NodePort(const Recorded& recorded, size_t index = 0) {
  json::value object = recorded.Json();
  return object.at("spec").at("ports").at(index).as_object().at("nodePort").as_int64();
}

// Reservations in the store: item -> holder.
std::map<std::string, std::string> Held(ApiHarness& api, const std::string& range) {
  auto list = api.store().List("/bulkhead/ranges/" + range + "/", "", 0, 0);
  EXPECT_TRUE(list.ok());
  std::map<std::string, std::string> held;
  for (const auto& kv : list.ok() ? list->items : std::vector<KeyValue>{}) {
    held[kv.key.substr(("/bulkhead/ranges/" + range + "/").size())] = kv.value;
  }
  return held;
}

ApiServerOptions SmallNetwork() {
  ApiServerOptions options;
  // Six addresses (.1 to .6) and five node ports.
  options.service_network.cidrs = {IpRange::Parse("10.0.0.0/29").value()};
  options.service_network.node_ports = PortRange::Parse("30000-30004").value();
  return options;
}

TEST(IpRangeTest, AddressesAreNumberedFromTheOneAfterTheNetworkAndReadBack) {
  auto v4 = IpRange::Parse("10.96.0.0/12");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->size(), (uint64_t{1} << 20) - 2);
  EXPECT_EQ(v4->At(0), "10.96.0.1");
  EXPECT_EQ(v4->At(255), "10.96.1.0");
  EXPECT_EQ(v4->At(v4->size() - 1), "10.111.255.254");
  EXPECT_EQ(v4->IndexOf("10.96.1.0"), 255U);
  EXPECT_EQ(v4->IndexOf("10.96.0.0"), std::nullopt);       // the network
  EXPECT_EQ(v4->IndexOf("10.111.255.255"), std::nullopt);  // broadcast
  EXPECT_EQ(v4->IndexOf("10.112.0.1"), std::nullopt);
  EXPECT_EQ(v4->IndexOf("fd00::1"), std::nullopt);
  // Host bits in the CIDR are cleared.
  EXPECT_EQ(IpRange::Parse("10.96.7.9/12")->At(0), "10.96.0.1");

  auto v6 = IpRange::Parse("fd00:10:96::/108");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_TRUE(v6->ipv6());
  EXPECT_EQ(v6->size(), (uint64_t{1} << 20) - 1);
  EXPECT_EQ(v6->At(0), "fd00:10:96::1");
  EXPECT_EQ(v6->At(0xffff), "fd00:10:96::1:0");
  EXPECT_EQ(v6->IndexOf("fd00:10:96:0:0:0:1:0"), 0xffffU);
  EXPECT_EQ(v6->IndexOf("fd00:10:97::1"), std::nullopt);
  // A huge IPv6 range is used up to 2^20 addresses.
  EXPECT_EQ(IpRange::Parse("fd00::/64")->size(), (uint64_t{1} << 20) - 1);

  for (const char* bad : {"", "10.96.0.0", "10.96.0.0/33", "10.96.0.0/30", "10.96.0.0/x",
                          "10.96.0.0/-1", "banana/12", "fd00::/126", "10.96.0.0/12 "}) {
    EXPECT_FALSE(IpRange::Parse(bad).ok()) << bad;
  }
  EXPECT_FALSE(PortRange::Parse("32767-30000").ok());
  EXPECT_FALSE(PortRange::Parse("0-10").ok());
  EXPECT_FALSE(PortRange::Parse("30000").ok());
  EXPECT_EQ(PortRange::Parse("30000-30009")->size(), 10U);
}

// One holder asking again and again gets a new item each time, never one
// it holds (a Service's second port is not its first), until none is left.
TEST(RangeAllocatorTest, EachAllocationIsAnItemNobodyHeldUntilTheRangeIsUsedUp) {
  ApiHarness api;
  RangeAllocator ports(api.store(), "testports", 8,
                       [](uint64_t i) { return std::to_string(40000 + i); });
  std::set<std::string> given;
  for (int i = 0; i < 8; ++i) {
    auto item = ports.AllocateNext("uid-a");
    ASSERT_TRUE(item.ok()) << item.status();
    EXPECT_TRUE(given.insert(*item).second) << *item << " handed out twice";
  }
  EXPECT_EQ(given.size(), 8U);
  EXPECT_EQ(ports.AllocateNext("uid-a").status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ports.AllocateNext("uid-b").status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Held(api, "testports").size(), 8U);

  // Asking for an item by name: holding it already is fine, another's is not.
  EXPECT_TRUE(ports.Allocate("40003", "uid-a").ok());
  EXPECT_EQ(ports.Allocate("40003", "uid-b").code(), absl::StatusCode::kAlreadyExists);
  // Only the holder frees it; then the next one asking gets exactly it.
  EXPECT_TRUE(ports.Release("40003", "uid-b").ok());
  EXPECT_EQ(*ports.HolderOf("40003"), "uid-a");
  EXPECT_TRUE(ports.Release("40003", "uid-a").ok());
  EXPECT_EQ(*ports.HolderOf("40003"), "");
  auto again = ports.AllocateNext("uid-b");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, "40003");
  EXPECT_EQ(Held(api, "testports").at("40003"), "uid-b");
}

TEST(ServicesTest, NumbersThatAreNotIntegersAreRefusedAndNothingIsStored) {
  ApiHarness api;
  int64_t before = api.store().Revision();
  for (const char* target_port :
       {"1.5", "8080.0", "1e3", "8888000000000000000000000000000000000000000000000000000002"}) {
    Recorded refused = api.Call(
        "POST", kServices,
        Service("web", "", fmt::format(R"([{{"port":80,"targetPort":{}}}])", target_port)));
    EXPECT_EQ(refused.status, 400) << target_port << ": " << refused.body;
    EXPECT_NE(refused.body.find("spec.ports[0].targetPort"), std::string::npos) << refused.body;
  }
  EXPECT_EQ(api.store().Revision(), before);
  // Integers past int32 are numbers still: the kind's own rules refuse them.
  EXPECT_EQ(api.Call("POST", kServices, Service("web", "", R"([{"port":4294967296}])")).status,
            422);
}

TEST(ServicesTest, ServicesAreRefusedAsKubernetesRefusesThem) {
  ApiHarness api;
  struct Case {
    std::string body;
    const char* field;
  };
  for (const Case& c : std::vector<Case>{
           {Service("a", "", R"([{"port":80,"protocol":"tcp"}])"), "spec.ports[0].protocol"},
           {Service("a", "", R"([{"port":0}])"), "spec.ports[0].port"},
           {Service("a", "", R"([{"port":65536}])"), "spec.ports[0].port"},
           {Service("a", "", R"([{"name":"x"}])"), "spec.ports[0].port"},
           {Service("a", "", R"([])"), "spec.ports"},
           {Service("a", "", R"([{"port":80},{"port":81}])"), "spec.ports[0].name"},
           {Service("a", "", R"([{"name":"h","port":80},{"name":"h","port":81}])"),
            "spec.ports[1].name"},
           {Service("a", "", R"([{"name":"a","port":80},{"name":"b","port":80}])"),
            "spec.ports[1]"},
           {Service("a", "", R"([{"port":80,"targetPort":"Not_A_Name"}])"),
            "spec.ports[0].targetPort"},
           {Service("a", "", R"([{"port":80,"targetPort":70000}])"), "spec.ports[0].targetPort"},
           {Service("a", "", R"([{"port":80,"nodePort":30001}])"), "spec.ports[0].nodePort"},
           {Service("a", R"("type":"Magic",)"), "spec.type"},
           {Service("a", R"("type":"ExternalName",)"), "spec.externalName"},
           {Service("a", R"("type":"NodePort","clusterIP":"None",)"), "spec.clusterIP"},
           {Service("a", R"("clusterIP":"10.96.0.300",)"), "spec.clusterIP"},
           {Service("a", R"("clusterIP":"192.168.0.1",)"), "spec.clusterIP"},
           {Service("a", R"("sessionAffinity":"Sticky",)"), "spec.sessionAffinity"},
           {Service("a", R"("ipFamilies":["IPv5"],)"), "spec.ipFamilies[0]"},
           {Service("a", R"("ipFamilyPolicy":"RequireDualStack",)"), "spec.ipFamilyPolicy"},
           {Service("a", R"("type":"NodePort",)", R"([{"port":80,"nodePort":80}])"),
            "spec.ports[0].nodePort"},
       }) {
    Recorded refused = api.Call("POST", kServices, c.body);
    EXPECT_EQ(refused.status, 422) << c.body << "\n" << refused.body;
    EXPECT_NE(refused.body.find(fmt::format("\"field\":\"{}\"", c.field)), std::string::npos)
        << c.field << ": " << refused.body;
  }
  EXPECT_TRUE(Held(api, "serviceips").empty());
  EXPECT_TRUE(Held(api, "servicenodeports").empty());
  // Headless and ExternalName Services need no ports and hold no address.
  Recorded headless = api.Call("POST", kServices, Service("h", R"("clusterIP":"None",)", "[]"));
  EXPECT_EQ(headless.status, 201) << headless.body;
  EXPECT_EQ(SpecText(headless, "clusterIPs"), R"(["None"])");
  Recorded external = api.Call(
      "POST", kServices, Service("e", R"("type":"ExternalName","externalName":"db.example.com",)"));
  EXPECT_EQ(external.status, 201) << external.body;
  EXPECT_EQ(SpecText(external, "clusterIP"), "");
  EXPECT_TRUE(Held(api, "serviceips").empty());
}

TEST(ServicesTest, EachServiceHoldsItsOwnAddressUntilItIsDeleted) {
  ApiHarness api(SmallNetwork());
  std::set<std::string> addresses;
  for (int i = 0; i < 6; ++i) {
    Recorded created = api.Call("POST", kServices, Service(fmt::format("s{}", i)));
    ASSERT_EQ(created.status, 201) << created.body;
    std::string ip = SpecText(created, "clusterIP");
    EXPECT_TRUE(IpRange::Parse("10.0.0.0/29")->IndexOf(ip).has_value()) << ip;
    EXPECT_EQ(SpecText(created, "clusterIPs"), fmt::format(R"(["{}"])", ip));
    EXPECT_EQ(SpecText(created, "ipFamilies"), R"(["IPv4"])");
    EXPECT_EQ(SpecText(created, "ipFamilyPolicy"), "SingleStack");
    addresses.insert(ip);
  }
  EXPECT_EQ(addresses.size(), 6U);
  EXPECT_EQ(Held(api, "serviceips").size(), 6U);
  Recorded full = api.Call("POST", kServices, Service("s6"));
  EXPECT_EQ(full.status, 422) << full.body;
  EXPECT_NE(full.body.find("failed to allocate a service IP"), std::string::npos) << full.body;
  EXPECT_EQ(api.Call("GET", std::string(kServices) + "/s6").status, 404);

  // A PUT that leaves the address out keeps it; one that changes it is refused.
  Recorded s0 = api.Call("GET", std::string(kServices) + "/s0");
  std::string ip0 = SpecText(s0, "clusterIP");
  json::value updated = s0.Json();
  updated.at("spec").as_object().erase("clusterIP");
  updated.at("spec").as_object().erase("clusterIPs");
  updated.at("spec").as_object()["selector"] = json::object{{"app", "other"}};
  Recorded put = api.Call("PUT", std::string(kServices) + "/s0", json::serialize(updated));
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(SpecText(put, "clusterIP"), ip0);
  Recorded moved = api.Call("PATCH", std::string(kServices) + "/s0",
                            R"({"spec":{"clusterIP":"10.0.0.7","clusterIPs":["10.0.0.7"]}})",
                            WithContentType("application/merge-patch+json"));
  EXPECT_EQ(moved.status, 422) << moved.body;

  // A deleted Service's address is free again, for a new one that asks for it.
  ASSERT_EQ(api.Call("DELETE", std::string(kServices) + "/s0").status, 200);
  EXPECT_EQ(Held(api, "serviceips").count(ip0), 0U);
  std::string other =
      *addresses.begin() == ip0 ? *std::next(addresses.begin()) : *addresses.begin();
  Recorded taken =
      api.Call("POST", kServices, Service("s7", fmt::format(R"("clusterIP":"{}",)", other)));
  EXPECT_EQ(taken.status, 422) << taken.body;
  EXPECT_NE(taken.body.find("provided IP is already allocated"), std::string::npos) << taken.body;
  Recorded mine =
      api.Call("POST", kServices, Service("s8", fmt::format(R"("clusterIP":"{}",)", ip0)));
  ASSERT_EQ(mine.status, 201) << mine.body;
  EXPECT_EQ(SpecText(mine, "clusterIP"), ip0);
  EXPECT_EQ(Held(api, "serviceips").size(), 6U);

  // A dry run holds nothing; deleting the namespace's content gives all back.
  ASSERT_EQ(api.Call("DELETE", std::string(kServices) + "/s1").status, 200);
  Recorded dry = api.Call("POST", std::string(kServices) + "?dryRun=All", Service("dry"));
  EXPECT_EQ(dry.status, 201) << dry.body;
  EXPECT_EQ(Held(api, "serviceips").size(), 5U);
  ASSERT_EQ(api.Call("DELETE", kServices).status, 200);
  EXPECT_TRUE(Held(api, "serviceips").empty());
}

TEST(ServicesTest, NodePortsAreHandedOutInTheRangeAndGivenBack) {
  ApiHarness api(SmallNetwork());
  Recorded web =
      api.Call("POST", kServices,
               Service("web", R"("type":"NodePort",)",
                       R"([{"name":"http","port":80},{"name":"dns","port":53,"protocol":"UDP"}])"));
  ASSERT_EQ(web.status, 201) << web.body;
  int64_t http = NodePort(web, 0);
  int64_t dns = NodePort(web, 1);
  EXPECT_GE(http, 30000);
  EXPECT_LE(http, 30004);
  EXPECT_NE(http, dns);
  EXPECT_EQ(Held(api, "servicenodeports").size(), 2U);

  Recorded clash = api.Call("POST", kServices,
                            Service("other", R"("type":"NodePort",)",
                                    fmt::format(R"([{{"port":80,"nodePort":{}}}])", http)));
  EXPECT_EQ(clash.status, 422) << clash.body;
  EXPECT_NE(clash.body.find("provided port is already allocated"), std::string::npos);

  // A PUT without the node ports keeps them.
  json::value again = web.Json();
  for (auto& port : again.at("spec").at("ports").as_array()) {
    port.as_object().erase("nodePort");
  }
  Recorded put = api.Call("PUT", std::string(kServices) + "/web", json::serialize(again));
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(NodePort(put, 0), http);
  EXPECT_EQ(NodePort(put, 1), dns);

  // Back to ClusterIP (without node ports): both are free again.
  json::value cluster = put.Json();
  cluster.at("spec").as_object()["type"] = "ClusterIP";
  for (auto& port : cluster.at("spec").at("ports").as_array()) {
    port.as_object().erase("nodePort");
  }
  Recorded back = api.Call("PUT", std::string(kServices) + "/web", json::serialize(cluster));
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_TRUE(Held(api, "servicenodeports").empty());
  EXPECT_EQ(api.Call("POST", kServices,
                     Service("other", R"("type":"NodePort",)",
                             fmt::format(R"([{{"port":80,"nodePort":{}}}])", http)))
                .status,
            201);
}

TEST(ServicesTest, ARestartMakesWhatIsHeldMatchTheStoredServices) {
  ApiHarness api(SmallNetwork());
  Recorded a = api.Call("POST", kServices, Service("a"));
  Recorded b = api.Call("POST", kServices, Service("b"));
  ASSERT_EQ(a.status, 201);
  ASSERT_EQ(b.status, 201);
  std::string ip_a = SpecText(a, "clusterIP");
  std::string ip_b = SpecText(b, "clusterIP");
  // As after a crash: a reservation nobody holds, and one lost.
  std::string stray;
  for (int i = 0; i < 6; ++i) {
    std::string ip = IpRange::Parse("10.0.0.0/29")->At(i);
    if (ip != ip_a && ip != ip_b) {
      stray = ip;
      break;
    }
  }
  ASSERT_TRUE(api.store()
                  .Create("/bulkhead/ranges/serviceips/" + stray,
                          [](int64_t, int64_t) -> StatusOr<std::string> { return "gone-uid"; })
                  .ok());
  ASSERT_TRUE(api.store().Delete("/bulkhead/ranges/serviceips/" + ip_b, 0).ok());

  ApiServerOptions options = SmallNetwork();
  ApiServer restarted(api.store(), options);
  ASSERT_TRUE(restarted.Bootstrap().ok());
  auto held = Held(api, "serviceips");
  EXPECT_EQ(held.size(), 2U);
  EXPECT_EQ(held.count(stray), 0U);
  EXPECT_EQ(held.count(ip_a), 1U);
  EXPECT_EQ(held.count(ip_b), 1U);
  // So no new Service can take b's address.
  Recorded again =
      api.Call("POST", kServices, Service("c", fmt::format(R"("clusterIP":"{}",)", ip_b)));
  EXPECT_EQ(again.status, 422) << again.body;
}

}  // namespace
}  // namespace bulkhead::controlplane::testing
