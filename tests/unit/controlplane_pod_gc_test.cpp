// The host's pod garbage collector (host mode) over a real store in
// process, with a quarantine of 200 ms: pods of a node that is gone are
// marked Failed and force-deleted once it stays gone, whether they were
// being deleted or not; a node's own pods, or those of a node back in
// time, stay; terminating pods of an out-of-service node go; above the
// threshold the oldest ended pods go.
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
#include "controlplane/controllers/object_helpers.h"
#include "tests/unit/controlplane_api_harness.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using testing::ApiHarness;
using testing::WaitFor;

constexpr milliseconds kQuarantine{200};

class PodGcTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(manager_.Start().ok()); }
  static ControllerOptions Host() {
    ControllerOptions options;
    options.host_mode = true;
    options.node_monitor_grace = std::chrono::seconds(600);
    options.pod_gc.quarantine = kQuarantine;
    options.pod_gc.check_period = milliseconds(100);
    options.pod_gc.terminated_threshold = 2;
    return options;
  }
  // A node whose Ready condition is `ready`, with `taints` (a JSON array).
  void AddNode(const std::string& name, const std::string& ready = "True",
               const std::string& taints = "[]") {
    const std::string body = R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name +
                             R"("},"spec":{"taints":)" + taints +
                             R"(},"status":{"conditions":[{"type":"Ready","status":")" + ready +
                             R"(","lastHeartbeatTime":")" + NowRfc3339() + R"("}]}})";
    ASSERT_EQ(api_.Call("POST", "/api/v1/nodes", body).status, 201) << name;
  }
  // A pod bound to `node` (which need not exist).
  void AddPod(const std::string& name, const std::string& node, json::array finalizers = {}) {
    json::object pod{
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", json::object{{"name", name}, {"finalizers", std::move(finalizers)}}},
        {"spec",
         json::object{{"nodeName", node},
                      {"containers", json::array{json::object{{"name", "c"}, {"image", "x"}}}}}}};
    auto made = client_.Create(In(kPodsRef, "default"), std::move(pod));
    ASSERT_TRUE(made.ok()) << made.status();
  }
  // A first delete: the pod of a node is only marked Terminating.
  void StartDeleting(const std::string& name) {
    ASSERT_EQ(api_.Call("DELETE", "/api/v1/namespaces/default/pods/" + name).status, 200);
    auto marked = Pod(name);
    ASSERT_TRUE(marked.ok() && IsTerminating(*marked)) << name;
  }
  void SetStatus(const std::string& name, const json::object& status) {
    auto written = client_.Mutate(In(kPodsRef, "default", name, "status"), [&](json::object& pod) {
      pod["status"] = status;
      return absl::OkStatus();
    });
    ASSERT_TRUE(written.ok()) << written.status();
  }
  StatusOr<json::object> Pod(const std::string& name) {
    return client_.Get(In(kPodsRef, "default", name));
  }
  bool Gone(const std::string& name) { return !Pod(name).ok(); }
  // A pod of a node that never existed, made now and waited out: once it
  // is gone, a quarantine started earlier has ended and been acted on.
  void WaitOutAQuarantine(const std::string& name) {
    AddPod(name, "never-there");
    ASSERT_TRUE(WaitFor([&] { return Gone(name); })) << name;
  }

  ApiHarness api_;
  Client client_{api_.api().objects()};
  ControllerManager manager_{api_.api().objects(), Host()};
};

TEST_F(PodGcTest, PodsOfAMissingNodeGoAfterTheQuarantineTerminatingOrNot) {
  AddNode("here");
  const auto start = std::chrono::steady_clock::now();
  AddPod("deleting", "gone");
  AddPod("running", "gone");
  AddPod("on-a-node", "here");
  StartDeleting("deleting");
  StartDeleting("on-a-node");
  ASSERT_TRUE(WaitFor([&] { return Gone("deleting") && Gone("running"); }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, kQuarantine);
  // The pod of a node that exists waits for that node to end it.
  WaitOutAQuarantine("control");
  auto kept = Pod("on-a-node");
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_TRUE(IsTerminating(*kept));
}

TEST_F(PodGcTest, AnOrphanIsMarkedFailedAsADisruptionTargetBeforeItsForceDelete) {
  AddPod("held", "gone", json::array{"example.com/hold"});
  // The finalizer keeps it after the grace-0 delete, as marked.
  ASSERT_TRUE(WaitFor([&] {
    auto pod = Pod("held");
    return pod.ok() && IsTerminating(*pod);
  }));
  auto held = Pod("held");
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(StringAt(*held, ".status.phase"), "Failed");
  EXPECT_EQ(IntAt(*held, ".metadata.deletionGracePeriodSeconds", -1), 0);
  const json::object* condition =
      FindCondition(PathValue(*held, ".status.conditions"), "DisruptionTarget");
  ASSERT_NE(condition, nullptr) << json::serialize(*held);
  EXPECT_EQ(StringField(*condition, "status"), "True");
  EXPECT_EQ(StringField(*condition, "reason"), "DeletionByPodGC");
  EXPECT_EQ(StringField(*condition, "message"), "PodGC: node no longer exists");
  auto released = client_.Mutate(In(kPodsRef, "default", "held"), [](json::object& pod) {
    Metadata(pod).erase("finalizers");
    return absl::OkStatus();
  });
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_TRUE(WaitFor([&] { return Gone("held"); }));
}

TEST_F(PodGcTest, ANodeBackWithinTheQuarantineKeepsItsPods) {
  AddNode("flaky");
  AddPod("p", "flaky");
  StartDeleting("p");
  ASSERT_EQ(api_.Call("DELETE", "/api/v1/nodes/flaky").status, 200);
  // Gone for a moment, well within the quarantine.
  std::this_thread::sleep_for(milliseconds(50));
  AddNode("flaky");
  WaitOutAQuarantine("control");
  EXPECT_TRUE(Pod("p").ok());
}

TEST_F(PodGcTest, TerminatingPodsOfAnOutOfServiceNodeGo) {
  AddNode("down", "False",
          R"([{"key":"node.kubernetes.io/out-of-service","value":"nodeshutdown",
               "effect":"NoExecute"}])");
  AddPod("leaving", "down");
  AddPod("staying", "down");
  StartDeleting("leaving");
  ASSERT_TRUE(WaitFor([&] { return Gone("leaving"); }));
  WaitOutAQuarantine("control");
  EXPECT_TRUE(Pod("staying").ok());
}

TEST_F(PodGcTest, AboveTheThresholdTheEvictedThenTheOldestEndedPodsGo) {
  AddNode("n");
  for (const char* name : {"a", "b", "c", "d", "live"}) {
    AddPod(name, "n");
  }
  for (const char* name : {"a", "b", "c"}) {
    SetStatus(name, json::object{{"phase", "Succeeded"}});
  }
  SetStatus("d", json::object{{"phase", "Failed"}, {"reason", "Evicted"}});
  ASSERT_TRUE(WaitFor([&] { return Gone("a") && Gone("d"); }));
  // A few more sweeps take nothing else: two ended pods are kept.
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_TRUE(Pod("b").ok());
  EXPECT_TRUE(Pod("c").ok());
  EXPECT_TRUE(Pod("live").ok());
}

}  // namespace
}  // namespace bulkhead::controlplane::controllers
