// The host's scheduler and node lifecycle (host mode) over a real store in
// process: what each filter says of a node, the unschedulable message as
// Kubernetes words it, pods bound where they fit and retried when room
// comes, and a node that stops sending heartbeats marked and tainted.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/registry/client.h"
#include "controlplane/controllers/controller_manager.h"
#include "controlplane/controllers/daemon_set_controller.h"
#include "controlplane/controllers/event_recorder.h"
#include "controlplane/controllers/node_lifecycle_controller.h"
#include "controlplane/controllers/object_helpers.h"
#include "controlplane/controllers/scheduling.h"
#include "tests/unit/controlplane_api_harness.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;
using testing::ApiHarness;
using testing::WaitFor;

json::object Parse(const std::string& text) { return json::parse(text).as_object(); }

// A Ready node with 2 CPUs, 4Gi and room for 3 pods; `extra` goes into spec.
std::string NodeJson(const std::string& name, const std::string& spec = "{}",
                     const std::string& ready = "True", const std::string& cpu = "2") {
  return R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name +
         R"(","labels":{"kubernetes.io/hostname":")" + name + R"("}},"spec":)" + spec +
         R"(,"status":{"allocatable":{"cpu":")" + cpu +
         R"(","memory":"4Gi","pods":"3"},"conditions":[{"type":"Ready","status":")" + ready +
         R"(","lastHeartbeatTime":")" + NowRfc3339() + R"("}]}})";
}

std::string PodJson(const std::string& name, const std::string& cpu,
                    const std::string& spec_extra = "") {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
         R"("},"spec":{"containers":[{"name":"c","image":"x","resources":{"requests":{"cpu":")" +
         cpu + R"("}}}])" + spec_extra + "}}";
}

TEST(SchedulingTest, EachFilterSaysWhyANodeCannotTakeThePod) {
  const json::object node = Parse(NodeJson("n"));
  const json::object pod = Parse(PodJson("p", "500m"));
  NodeLoad empty;
  EXPECT_TRUE(UnfitReasons(pod, node, empty).empty());
  EXPECT_EQ(UnfitReasons(pod, Parse(NodeJson("n", R"({"unschedulable":true})")), empty),
            std::vector<std::string>{"node(s) were unschedulable"});
  EXPECT_EQ(UnfitReasons(pod, Parse(NodeJson("n", R"({"taints":[{"key":"dedicated","value":"gpu",
                                                          "effect":"NoSchedule"}]})")),
                         empty),
            std::vector<std::string>{"node(s) had untolerated taint {dedicated: gpu}"});
  // A node that is not Ready counts as tainted not-ready; a toleration lets the pod on.
  const json::object unready = Parse(NodeJson("n", "{}", "False"));
  EXPECT_EQ(
      UnfitReasons(pod, unready, empty),
      std::vector<std::string>{"node(s) had untolerated taint {node.kubernetes.io/not-ready: }"});
  EXPECT_TRUE(UnfitReasons(Parse(PodJson("p", "500m", R"(,"tolerations":[{"operator":"Exists"}])")),
                           unready, empty)
                  .empty());
  EXPECT_EQ(
      UnfitReasons(Parse(PodJson("p", "500m", R"(,"nodeSelector":{"disk":"ssd"})")), node, empty),
      std::vector<std::string>{"node(s) didn't match Pod's node affinity/selector"});
  NodeLoad busy;
  AddToLoad(Parse(PodJson("a", "1800m")), busy);
  AddToLoad(Parse(PodJson("b", "0")), busy);
  AddToLoad(Parse(PodJson("c", "0")), busy);
  EXPECT_EQ(UnfitReasons(pod, node, busy),
            (std::vector<std::string>{"Too many pods", "Insufficient cpu"}));
  const json::object ported = Parse(
      R"({"spec":{"containers":[{"name":"c","image":"x","ports":[{"containerPort":80,"hostPort":8080}]}]}})");
  NodeLoad ports;
  AddToLoad(ported, ports);
  EXPECT_EQ(UnfitReasons(ported, node, ports),
            std::vector<std::string>{"node(s) didn't have free ports for the requested pod ports"});
  // The node with more room left scores higher.
  EXPECT_GT(Score(pod, node, empty), Score(pod, node, busy));
}

TEST(SchedulingTest, TheMessageCountsNodesPerReasonInKubernetesOrder) {
  EXPECT_EQ(UnschedulableMessage(0, {}), "no nodes available to schedule pods");
  EXPECT_EQ(UnschedulableMessage(3, {{"node(s) didn't match Pod's node affinity/selector", 2},
                                     {"Insufficient cpu", 1}}),
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node "
            "affinity/selector.");
}

// A host's controllers; a node goes without heartbeats for `Grace` seconds
// before it is NotReady.
template <int Grace>
class HostControllers : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(manager_.Start().ok()); }
  static ControllerOptions Host() {
    ControllerOptions options;
    options.host_mode = true;
    options.node_monitor_grace = std::chrono::seconds(Grace);
    return options;
  }
  std::string NodeOf(const std::string& pod) {
    auto got = client_.Get(In(kPodsRef, "default", pod));
    return got.ok() ? StringAt(*got, ".spec.nodeName") : "";
  }
  static std::string Condition(const json::object& object, const std::string& type,
                               const char* field = "status") {
    const json::object* condition = FindCondition(PathValue(object, ".status.conditions"), type);
    return condition != nullptr ? StringField(*condition, field) : "";
  }
  std::string EventsOf(const std::string& name) {
    std::string out;
    for (const json::object& event :
         client_.List(In(kEventsRef, "default")).value_or(std::vector<json::object>{})) {
      if (name.empty() || StringAt(event, ".involvedObject.name") == name) {
        out += StringField(event, "reason") + ": " + StringField(event, "message") + "\n";
      }
    }
    return out;
  }
  ApiHarness api_;
  Client client_{api_.api().objects()};
  ControllerManager manager_{api_.api().objects(), Host()};
};
using HostControllersTest = HostControllers<600>;
using NodeLifecycleTest = HostControllers<2>;

TEST_F(HostControllersTest, APodIsBoundWhereItFitsAndOneThatFitsNowhereWaitsForRoom) {
  ASSERT_EQ(api_.Call("POST", "/api/v1/nodes", NodeJson("small")).status, 201);
  ASSERT_EQ(api_.Call("POST", "/api/v1/nodes",
                      NodeJson("gpu", R"({"taints":[{"key":"dedicated","value":"gpu",
                                                    "effect":"NoSchedule"}]})"))
                .status,
            201);
  ASSERT_EQ(api_.Call("POST", "/api/v1/namespaces/default/pods", PodJson("fits", "1")).status, 201);
  ASSERT_TRUE(WaitFor([&] { return NodeOf("fits") == "small"; })) << NodeOf("fits");
  ASSERT_TRUE(WaitFor([&] {
    auto pod = client_.Get(In(kPodsRef, "default", "fits"));
    return pod.ok() && Condition(*pod, "PodScheduled") == "True";
  }));
  ASSERT_TRUE(WaitFor([&] {
    return EventsOf("fits").find(
               "Scheduled: Successfully assigned "
               "default/fits to small") != std::string::npos;
  })) << EventsOf("fits");

  ASSERT_EQ(api_.Call("POST", "/api/v1/namespaces/default/pods", PodJson("big", "1500m")).status,
            201);
  const std::string why =
      "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint "
      "{dedicated: gpu}.";
  ASSERT_TRUE(WaitFor([&] {
    auto pod = client_.Get(In(kPodsRef, "default", "big"));
    return pod.ok() && Condition(*pod, "PodScheduled") == "False" &&
           Condition(*pod, "PodScheduled", "message") == why;
  }));
  auto waiting = client_.Get(In(kPodsRef, "default", "big"));
  ASSERT_TRUE(waiting.ok());
  EXPECT_EQ(Condition(*waiting, "PodScheduled", "reason"), "Unschedulable");
  EXPECT_EQ(StringAt(*waiting, ".spec.nodeName"), "");
  ASSERT_TRUE(WaitFor([&] {
    return EventsOf("big").find("FailedScheduling: " + why) != std::string::npos;
  })) << EventsOf("big");
  // Room comes: the first pod goes (a bound pod is gone once its node's
  // delete with no grace left comes), and the waiting one is placed at once.
  ASSERT_EQ(api_.Call("DELETE", "/api/v1/namespaces/default/pods/fits?gracePeriodSeconds=0").status,
            200);
  ASSERT_TRUE(WaitFor([&] { return NodeOf("big") == "small"; })) << NodeOf("big");
  // A pod held by a scheduling gate waits, as one for another scheduler does.
  ASSERT_EQ(api_.Call("POST", "/api/v1/namespaces/default/pods",
                      PodJson("gated", "0", R"(,"schedulingGates":[{"name":"example.com/wait"}])"))
                .status,
            201);
  ASSERT_EQ(api_.Call("POST", "/api/v1/namespaces/default/pods",
                      PodJson("other", "0", R"(,"schedulerName":"elsewhere")"))
                .status,
            201);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(NodeOf("other"), "");
  EXPECT_EQ(NodeOf("gated"), "");
}

TEST_F(NodeLifecycleTest, ANodeWithoutHeartbeatsIsUnknownTaintedAndItsPodsNotReady) {
  ASSERT_EQ(api_.Call("POST", "/api/v1/nodes", NodeJson("quiet")).status, 201);
  ASSERT_EQ(api_.Call("POST", "/api/v1/namespaces/default/pods", PodJson("p", "0")).status, 201);
  ASSERT_TRUE(WaitFor([&] { return NodeOf("p") == "quiet"; }));
  // The test plays the kubelet: the pod is Running and Ready.
  auto ready = client_.Mutate(In(kPodsRef, "default", "p", "status"), [](json::object& pod) {
    pod["status"] = json::object{
        {"phase", "Running"},
        {"conditions", json::array{json::object{{"type", "Ready"}, {"status", "True"}}}}};
    return absl::OkStatus();
  });
  ASSERT_TRUE(ready.ok()) << ready.status();
  // No heartbeat for more than the grace period (2 s here).
  ASSERT_TRUE(WaitFor([&] {
    auto node = client_.Get(In(kNodesRef, "", "quiet"));
    return node.ok() && Condition(*node, "Ready") == "Unknown";
  }));
  auto node = client_.Get(In(kNodesRef, "", "quiet"));
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(Condition(*node, "Ready", "message"), "Kubelet stopped posting node status.");
  ASSERT_TRUE(WaitFor([&] {
    auto tainted = client_.Get(In(kNodesRef, "", "quiet"));
    const json::value* taints = tainted.ok() ? PathValue(*tainted, ".spec.taints") : nullptr;
    return taints != nullptr &&
           json::serialize(*taints).find("node.kubernetes.io/unreachable") != std::string::npos;
  }));
  ASSERT_TRUE(WaitFor([&] {
    auto pod = client_.Get(In(kPodsRef, "default", "p"));
    return pod.ok() && Condition(*pod, "Ready") == "False";
  }));
  ASSERT_TRUE(WaitFor([&] {
    return EventsOf("quiet").find("NodeNotReady: Node quiet status is now: NodeNotReady") !=
           std::string::npos;
  })) << EventsOf("");
  // A new pod is not placed on it.
  ASSERT_EQ(api_.Call("POST", "/api/v1/namespaces/default/pods", PodJson("later", "0")).status,
            201);
  ASSERT_TRUE(WaitFor([&] {
    auto pod = client_.Get(In(kPodsRef, "default", "later"));
    return pod.ok() && Condition(*pod, "PodScheduled", "message")
                               .find(
                                   "untolerated taint "
                                   "{node.kubernetes.io/"
                                   "unreachable: }") != std::string::npos;
  }));
  // The kubelet is back: a Lease renewed and Ready; the taints go and the pod is placed.
  ASSERT_EQ(
      api_.Call(
              "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
              R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"quiet"},
                          "spec":{"holderIdentity":"quiet","leaseDurationSeconds":40,"renewTime":")" +
                  NowRfc3339() + R"("}})")
          .status,
      201);
  auto back = client_.Mutate(In(kNodesRef, "", "quiet", "status"), [](json::object& n) {
    n["status"].as_object()["conditions"] = json::array{
        json::object{{"type", "Ready"}, {"status", "True"}, {"lastHeartbeatTime", NowRfc3339()}}};
    return absl::OkStatus();
  });
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(WaitFor([&] { return NodeOf("later") == "quiet"; })) << NodeOf("later");
}

}  // namespace
}  // namespace bulkhead::controlplane::controllers
