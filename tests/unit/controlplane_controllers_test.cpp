// The controllers over a real store in process (ApiHarness): the work
// queue's guarantees, and Deployments and ReplicaSets doing what kubectl
// expects, with a test kubelet that makes pods Running and Ready.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/object_paths.h"
#include "controlplane/apiserver/registry/client.h"
#include "controlplane/controllers/controller_manager.h"
#include "controlplane/controllers/daemon_set_controller.h"
#include "controlplane/controllers/deployment_controller.h"
#include "controlplane/controllers/endpoint_slice_controller.h"
#include "controlplane/controllers/job_controller.h"
#include "controlplane/controllers/namespace_controller.h"
#include "controlplane/controllers/object_helpers.h"
#include "controlplane/controllers/work_queue.h"
#include "fmt/format.h"
#include "tests/unit/controlplane_api_harness.h"

namespace bulkhead::controlplane::controllers {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using testing::ApiHarness;
using testing::WaitFor;

TEST(WorkQueueTest, AKeyWaitsOnceAndIsNeverWithTwoWorkers) {
  WorkQueue queue;
  queue.Add("a");
  queue.Add("a");
  queue.Add("b");
  EXPECT_EQ(queue.Get(), "a");
  queue.Add("a");  // while in work: back once it is done, not before
  EXPECT_EQ(queue.Get(), "b");
  queue.Done("b");
  queue.Done("a");
  EXPECT_EQ(queue.Get(), "a");
  queue.Done("a");
  queue.ShutDown();
  EXPECT_EQ(queue.Get(), std::nullopt);
}

TEST(WorkQueueTest, AFailingKeyComesBackAfterADoublingDelay) {
  EXPECT_EQ(WorkQueue::Backoff(0), milliseconds(5));
  EXPECT_EQ(WorkQueue::Backoff(3), milliseconds(40));
  EXPECT_EQ(WorkQueue::Backoff(100), std::chrono::seconds(30));
  WorkQueue queue;
  queue.AddRateLimited("bad");
  queue.AddRateLimited("bad");
  EXPECT_EQ(queue.Failures("bad"), 2U);
  auto start = WorkQueue::Clock::now();
  EXPECT_EQ(queue.Get(), "bad");
  EXPECT_GE(WorkQueue::Clock::now() - start, milliseconds(4));
  queue.Done("bad");
  queue.Forget("bad");
  EXPECT_EQ(queue.Failures("bad"), 0U);
}

TEST(WorkQueueTest, AKeyDelayedAgainAndAgainWaitsOnceForTheEarliest) {
  WorkQueue queue;
  for (int i = 0; i < 100; ++i) {
    queue.AddAfter("k", milliseconds(50 + i));
  }
  queue.AddAfter("k", milliseconds(20));
  auto start = WorkQueue::Clock::now();
  EXPECT_EQ(queue.Get(), "k");
  EXPECT_LT(WorkQueue::Clock::now() - start, milliseconds(45));
  queue.Done("k");
  // Nothing else waits: the other 100 were folded into the one.
  queue.AddAfter("other", milliseconds(200));
  EXPECT_EQ(queue.Get(), "other");
  EXPECT_GE(WorkQueue::Clock::now() - start, milliseconds(190));
}

TEST(DeploymentMathTest, HashesAreStableAndSurgeRoundsUpUnavailableDown) {
  json::object pod_template = json::parse(R"({"metadata":{"labels":{"app":"web"}}})").as_object();
  EXPECT_EQ(PodTemplateHash(pod_template, 0), PodTemplateHash(pod_template, 0));
  EXPECT_NE(PodTemplateHash(pod_template, 0), PodTemplateHash(pod_template, 1));
  for (char c : PodTemplateHash(pod_template, 0)) {
    EXPECT_NE(std::string("bcdfghjklmnpqrstvwxz2456789").find(c), std::string::npos);
  }
  json::value quarter = "25%";
  json::value two = 2;
  EXPECT_EQ(ScaledValue(&quarter, 3, true, 0), 1);
  EXPECT_EQ(ScaledValue(&quarter, 3, false, 0), 0);
  EXPECT_EQ(ScaledValue(&two, 3, false, 0), 2);
  EXPECT_EQ(ScaledValue(nullptr, 3, false, 7), 7);
}

const ObjectRef kPods{"", "v1", "pods", "default", "", ""};
const ObjectRef kReplicaSets{"apps", "v1", "replicasets", "default", "", ""};
const ObjectRef kDeployment{"apps", "v1", "deployments", "default", "web", ""};

// Plays the node: every pod that is not Ready yet becomes Running and Ready.
class TestKubelet {
 public:
  explicit TestKubelet(Client& client) : client_(client), thread_([this] { Run(); }) {}
  ~TestKubelet() {
    stop_ = true;
    thread_.join();
  }
  TestKubelet(const TestKubelet&) = delete;
  TestKubelet& operator=(const TestKubelet&) = delete;

 private:
  void Run() {
    while (!stop_) {
      auto pods = client_.List(kPods);
      for (const json::object& pod : pods.ok() ? *pods : std::vector<json::object>{}) {
        if (IsPodReady(pod) || IsTerminating(pod)) {
          continue;
        }
        ObjectRef ref = kPods;
        ref.name = MetaString(pod, "name");
        ref.subresource = "status";
        (void)client_.Mutate(ref, [](json::object& next) {
          next["status"] = json::object{
              {"phase", "Running"},
              {"conditions", json::array{json::object{{"type", "Ready"}, {"status", "True"}}}}};
          return absl::OkStatus();
        });
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  Client& client_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string Deployment(int replicas, const std::string& image, const std::string& strategy = "") {
  return R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":)" +
         std::to_string(replicas) + strategy +
         R"(,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":")" +
         image + R"("}]}}}})";
}

class ControllersTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(manager_.Start().ok()); }
  // The deployment as kubectl rollout status judges it: done when the
  // status has caught up with the spec and every replica is new and available.
  bool RolledOut(int replicas) {
    auto d = client_.Get(kDeployment);
    return d.ok() &&
           IntAt(*d, ".status.observedGeneration", 0) >= IntAt(*d, ".metadata.generation", 1) &&
           IntAt(*d, ".status.updatedReplicas", 0) == replicas &&
           IntAt(*d, ".status.replicas", 0) == replicas &&
           IntAt(*d, ".status.availableReplicas", 0) == replicas;
  }
  std::vector<json::object> ActivePods() {
    std::vector<json::object> active;
    for (const json::object& pod : client_.List(kPods).value_or(std::vector<json::object>{})) {
      if (IsPodActive(pod)) {
        active.push_back(pod);
      }
    }
    return active;
  }
  ApiHarness api_;
  Client client_{api_.api().objects()};
  ControllerManager manager_{api_.api().objects()};
};

TEST_F(ControllersTest, ADeploymentRunsItsReplicasThroughAReplicaSetAndRollsOut) {
  TestKubelet kubelet(client_);
  ASSERT_EQ(api_.Call("POST", "/apis/apps/v1/namespaces/default/deployments", Deployment(3, "a:1"))
                .status,
            201);
  ASSERT_TRUE(WaitFor([&] { return RolledOut(3); }));
  auto sets = client_.List(kReplicaSets);
  ASSERT_TRUE(sets.ok());
  ASSERT_EQ(sets->size(), 1U);
  const json::object& rs = sets->front();
  std::string hash = MetaString(rs, "name").substr(4);
  EXPECT_EQ(std::string(LabelsOf(rs).at("pod-template-hash").as_string()), hash);
  EXPECT_EQ(ControllerOf(rs)->kind, "Deployment");
  std::vector<json::object> pods = ActivePods();
  ASSERT_EQ(pods.size(), 3U);
  for (const json::object& pod : pods) {
    EXPECT_EQ(ControllerOf(pod)->name, MetaString(rs, "name"));
    EXPECT_EQ(std::string(LabelsOf(pod).at("pod-template-hash").as_string()), hash);
  }
  auto d = client_.Get(kDeployment);
  ASSERT_TRUE(d.ok());
  const json::value* conditions = PathValue(*d, ".status.conditions");
  ASSERT_NE(conditions, nullptr);
  EXPECT_NE(json::serialize(*conditions).find("NewReplicaSetAvailable"), std::string::npos);
  EXPECT_EQ(json::serialize(*PathValue(*d, ".metadata.annotations")),
            R"({"deployment.kubernetes.io/revision":"1"})");
  // Rolled out, nothing is written any more: the controllers do not loop.
  int64_t settled = api_.store().Revision();
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(api_.store().Revision(), settled);
}

// The Progressing condition's reason, "" when there is none.
std::string ProgressingReason(const json::object& deployment) {
  const json::value* conditions = PathValue(deployment, ".status.conditions");
  if (conditions != nullptr && conditions->is_array()) {
    for (const auto& c : conditions->as_array()) {
      if (c.is_object() && StringField(c.as_object(), "type") == "Progressing") {
        return StringField(c.as_object(), "reason");
      }
    }
  }
  return "";
}

TEST_F(ControllersTest, ARolloutThatMakesNoProgressWithinItsDeadlineTimesOutUntilItDoes) {
  ASSERT_EQ(api_.Call("POST", "/apis/apps/v1/namespaces/default/deployments",
                      Deployment(2, "a:1", R"(,"progressDeadlineSeconds":1)"))
                .status,
            201);
  // No node runs the pods: after a second without progress the rollout has
  // timed out, and says so in the condition kubectl rollout status reads.
  ASSERT_TRUE(WaitFor([&] {
    auto d = client_.Get(kDeployment);
    return d.ok() && ProgressingReason(*d) == "ProgressDeadlineExceeded";
  }));
  auto d = client_.Get(kDeployment);
  ASSERT_TRUE(d.ok());
  std::string conditions = json::serialize(*PathValue(*d, ".status.conditions"));
  EXPECT_NE(conditions.find(R"("status":"False","lastUpdateTime")"), std::string::npos)
      << conditions;
  EXPECT_NE(conditions.find("has timed out progressing."), std::string::npos) << conditions;
  // Timed out is a state, not a loop: nothing more is written while nothing changes.
  int64_t settled = api_.store().Revision();
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_EQ(api_.store().Revision(), settled);
  // Pods coming up are progress again, and the rollout completes.
  {
    TestKubelet kubelet(client_);
    ASSERT_TRUE(WaitFor([&] { return RolledOut(2); }));
    EXPECT_TRUE(WaitFor([&] {
      auto done = client_.Get(kDeployment);
      return done.ok() && ProgressingReason(*done) == "NewReplicaSetAvailable";
    }));
  }
  // A completed rollout does not time out when a pod fails later.
  auto pods = ActivePods();
  ASSERT_FALSE(pods.empty());
  ObjectRef failing = kPods;
  failing.name = MetaString(pods.front(), "name");
  failing.subresource = "status";
  ASSERT_TRUE(client_
                  .Mutate(failing,
                          [](json::object& next) {
                            next["status"] = json::object{
                                {"phase", "Running"},
                                {"conditions", json::array{json::object{{"type", "Ready"},
                                                                        {"status", "False"}}}}};
                            return absl::OkStatus();
                          })
                  .ok());
  ASSERT_TRUE(WaitFor([&] {
    auto got = client_.Get(kDeployment);
    return got.ok() && IntAt(*got, ".status.availableReplicas", 0) == 1;
  }));
  std::this_thread::sleep_for(milliseconds(1500));
  auto after = client_.Get(kDeployment);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(ProgressingReason(*after), "NewReplicaSetAvailable")
      << json::serialize(*PathValue(*after, ".status.conditions"));

  // minReadySeconds must stay below the deadline, and a change of it
  // reaches the ReplicaSet (it is not part of the template).
  testing::CallOptions merge;
  merge.content_type = "application/merge-patch+json";
  const std::string path = "/apis/apps/v1/namespaces/default/deployments/web";
  auto too_long = api_.Call("PATCH", path, R"({"spec":{"minReadySeconds":5}})", merge);
  EXPECT_EQ(too_long.status, 422) << too_long.body;
  EXPECT_NE(too_long.body.find("must be greater than minReadySeconds"), std::string::npos)
      << too_long.body;
  auto fine = api_.Call("PATCH", path,
                        R"({"spec":{"minReadySeconds":5,"progressDeadlineSeconds":30}})", merge);
  ASSERT_EQ(fine.status, 200) << fine.body;
  EXPECT_TRUE(WaitFor([&] {
    auto sets = client_.List(kReplicaSets);
    return sets.ok() && sets->size() == 1U && IntAt(sets->front(), ".spec.minReadySeconds", 0) == 5;
  }));
}

TEST_F(ControllersTest, APodCountsAsAvailableOnlyOnceReadyForMinReadySeconds) {
  ASSERT_EQ(api_.Call("POST", "/apis/apps/v1/namespaces/default/deployments",
                      Deployment(2, "a:1", R"(,"minReadySeconds":3)"))
                .status,
            201);
  ASSERT_TRUE(WaitFor([&] { return ActivePods().size() == 2U; }));
  // Ready from now: available three seconds on, when nothing else happens.
  const std::string since = NowRfc3339();
  for (const json::object& pod : ActivePods()) {
    ObjectRef ref = kPods;
    ref.name = MetaString(pod, "name");
    ref.subresource = "status";
    ASSERT_TRUE(
        client_
            .Mutate(ref,
                    [&](json::object& next) {
                      next["status"] = json::object{
                          {"phase", "Running"},
                          {"conditions", json::array{json::object{{"type", "Ready"},
                                                                  {"status", "True"},
                                                                  {"lastTransitionTime", since}}}}};
                      return absl::OkStatus();
                    })
            .ok());
  }
  ASSERT_TRUE(WaitFor([&] {
    auto d = client_.Get(kDeployment);
    return d.ok() && IntAt(*d, ".status.readyReplicas", 0) == 2;
  }));
  auto d = client_.Get(kDeployment);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(IntAt(*d, ".status.availableReplicas", 0), 0) << json::serialize(*d);
  EXPECT_TRUE(WaitFor([&] { return RolledOut(2); }));
  auto sets = client_.List(kReplicaSets);
  ASSERT_TRUE(sets.ok());
  ASSERT_EQ(sets->size(), 1U);
  EXPECT_EQ(IntAt(sets->front(), ".status.availableReplicas", 0), 2);
}

TEST_F(ControllersTest, ANewTemplateRollsWithinSurgeAndAScaleDownRemovesPods) {
  TestKubelet kubelet(client_);
  ASSERT_EQ(api_.Call("POST", "/apis/apps/v1/namespaces/default/deployments", Deployment(4, "a:1"))
                .status,
            201);
  ASSERT_TRUE(WaitFor([&] { return RolledOut(4); }));
  // While rolling, never more than replicas + maxSurge (25% of 4: 1) pods.
  std::atomic<size_t> most{0};
  std::atomic<bool> watching{true};
  std::thread watcher([&] {
    while (watching) {
      most = std::max(most.load(), ActivePods().size());
      std::this_thread::sleep_for(milliseconds(5));
    }
  });
  ASSERT_EQ(
      api_.Call("PUT", "/apis/apps/v1/namespaces/default/deployments/web", Deployment(4, "a:2"))
          .status,
      200);
  bool rolled = WaitFor([&] {
    auto sets = client_.List(kReplicaSets);
    return RolledOut(4) && sets.ok() && sets->size() == 2U;
  });
  watching = false;
  watcher.join();
  ASSERT_TRUE(rolled);
  EXPECT_LE(most.load(), 5U);
  for (const json::object& pod : ActivePods()) {
    EXPECT_EQ(json::serialize(*PathValue(pod, ".spec.containers")).find("a:1"), std::string::npos);
  }
  auto d = client_.Get(kDeployment);
  EXPECT_EQ(std::string(PathValue(*d, ".metadata.annotations")
                            ->at("deployment.kubernetes.io/revision")
                            .as_string()),
            "2");
  ASSERT_EQ(api_.Call("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale",
                      R"({"spec":{"replicas":1}})",
                      testing::WithContentType("application/merge-patch+json"))
                .status,
            200);
  EXPECT_TRUE(WaitFor([&] { return ActivePods().size() == 1U && RolledOut(1); }));
}

TEST_F(ControllersTest, RecreateTakesTheOldPodsDownBeforeTheNewOnes) {
  TestKubelet kubelet(client_);
  std::string recreate = R"(,"strategy":{"type":"Recreate"})";
  ASSERT_EQ(api_.Call("POST", "/apis/apps/v1/namespaces/default/deployments",
                      Deployment(2, "a:1", recreate))
                .status,
            201);
  ASSERT_TRUE(WaitFor([&] { return RolledOut(2); }));
  std::atomic<bool> mixed{false};
  std::atomic<bool> watching{true};
  std::thread watcher([&] {
    while (watching) {
      bool old_image = false;
      bool new_image = false;
      for (const json::object& pod : ActivePods()) {
        std::string containers = json::serialize(*PathValue(pod, ".spec.containers"));
        old_image = old_image || containers.find("a:1") != std::string::npos;
        new_image = new_image || containers.find("a:2") != std::string::npos;
      }
      mixed = mixed || (old_image && new_image);
      std::this_thread::sleep_for(milliseconds(5));
    }
  });
  ASSERT_EQ(api_.Call("PUT", "/apis/apps/v1/namespaces/default/deployments/web",
                      Deployment(2, "a:2", recreate))
                .status,
            200);
  bool rolled = WaitFor([&] {
    auto sets = client_.List(kReplicaSets);
    return RolledOut(2) && sets.ok() && sets->size() == 2U;
  });
  watching = false;
  watcher.join();
  ASSERT_TRUE(rolled);
  EXPECT_FALSE(mixed.load()) << "old and new pods ran at once under Recreate";
}

TEST_F(ControllersTest, AReplicaSetReplacesADeletedPodAndNeverCreatesTwice) {
  ASSERT_EQ(
      api_.Call(
              "POST", "/apis/apps/v1/namespaces/default/replicasets",
              R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"rs"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"rs"}},"template":{"metadata":{"labels":{"app":"rs"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}})")
          .status,
      201);
  ASSERT_TRUE(WaitFor([&] { return ActivePods().size() == 2U; }));
  ObjectRef pod = kPods;
  pod.name = MetaString(ActivePods().front(), "name");
  ASSERT_TRUE(client_.Delete(pod).ok());
  ASSERT_TRUE(WaitFor([&] {
    auto pods = ActivePods();
    return pods.size() == 2U && MetaString(pods[0], "name") != pod.name &&
           MetaString(pods[1], "name") != pod.name;
  }));
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(ActivePods().size(), 2U);
  auto rs = client_.Get({"apps", "v1", "replicasets", "default", "rs", ""});
  ASSERT_TRUE(rs.ok());
  EXPECT_TRUE(WaitFor([&] {
    auto now = client_.Get({"apps", "v1", "replicasets", "default", "rs", ""});
    return now.ok() && IntAt(*now, ".status.replicas", 0) == 2;
  }));
}

TEST_F(ControllersTest, AReplicationControllerKeepsItsReplicasScalesAndTakesThemWhenDeleted) {
  TestKubelet kubelet(client_);
  const std::string rcs = "/api/v1/namespaces/default/replicationcontrollers";
  ASSERT_EQ(
      api_.Call(
              "POST", rcs,
              R"({"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"rc"},"spec":{"replicas":2,"template":{"metadata":{"labels":{"app":"rc"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}})")
          .status,
      201);
  ASSERT_TRUE(WaitFor([&] { return ActivePods().size() == 2U; }));
  for (const json::object& pod : ActivePods()) {
    auto owner = ControllerOf(pod);
    ASSERT_TRUE(owner.has_value());
    EXPECT_EQ(owner->kind, "ReplicationController");
    EXPECT_EQ(owner->api_version, "v1");
  }
  const ObjectRef rc{"", "v1", "replicationcontrollers", "default", "rc", ""};
  ASSERT_TRUE(WaitFor([&] {
    auto now = client_.Get(rc);
    return now.ok() && IntAt(*now, ".status.readyReplicas", 0) == 2 &&
           IntAt(*now, ".status.fullyLabeledReplicas", 0) == 2;
  }));
  // Scaled through its scale subresource, as kubectl scale does.
  testing::Recorded scaled = api_.Call("PATCH", rcs + "/rc/scale", R"({"spec":{"replicas":3}})",
                                       testing::WithContentType("application/merge-patch+json"));
  ASSERT_EQ(scaled.status, 200) << scaled.body;
  ASSERT_TRUE(WaitFor([&] { return ActivePods().size() == 3U; }));
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(ActivePods().size(), 3U);
  // Deleted (Background): the garbage collector takes its pods.
  ASSERT_EQ(api_.Call("DELETE", rcs + "/rc").status, 200);
  EXPECT_TRUE(WaitFor([&] { return ActivePods().empty() && !client_.Get(rc).ok(); }));
}

// A StatefulSet's pods as the API has them, by name.
std::map<std::string, json::object> PodsByName(Client& client, const std::string& prefix) {
  std::map<std::string, json::object> out;
  for (const json::object& pod : client.List(kPods).value_or(std::vector<json::object>{})) {
    if (MetaString(pod, "name").rfind(prefix, 0) == 0 && !IsTerminating(pod)) {
      out[MetaString(pod, "name")] = pod;
    }
  }
  return out;
}

std::string StatefulSet(const std::string& name, const std::string& spec_extra,
                        const std::string& image) {
  return R"({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":")" + name +
         R"("},"spec":{"serviceName":"db",)" + spec_extra +
         R"("selector":{"matchLabels":{"app":")" + name +
         R"("}},"template":{"metadata":{"labels":{"app":")" + name +
         R"("}},"spec":{"containers":[{"name":"c","image":")" + image +
         R"("}]}},"volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}})";
}

TEST_F(ControllersTest, AStatefulSetStartsItsPodsInOrderWithTheirClaimsAndRollsFromTheTop) {
  const std::string sets = "/apis/apps/v1/namespaces/default/statefulsets";
  ASSERT_EQ(api_.Call("POST", sets, StatefulSet("db", R"("replicas":3,)", "x:1")).status, 201);
  // OrderedReady: db-1 only once db-0 runs and is ready.
  ASSERT_TRUE(WaitFor([&] { return PodsByName(client_, "db-").size() == 1U; }));
  std::this_thread::sleep_for(milliseconds(300));
  auto first = PodsByName(client_, "db-");
  ASSERT_EQ(first.size(), 1U);
  const json::object& pod = first.begin()->second;
  EXPECT_EQ(MetaString(pod, "name"), "db-0");
  EXPECT_EQ(PathValue(pod, ".spec.hostname")->as_string(), "db-0");
  EXPECT_EQ(PathValue(pod, ".spec.subdomain")->as_string(), "db");
  EXPECT_EQ(LabelsOf(pod).at("statefulset.kubernetes.io/pod-name").as_string(), "db-0");
  EXPECT_EQ(LabelsOf(pod).at("apps.kubernetes.io/pod-index").as_string(), "0");
  // Its claim was made first and is what its volume "data" mounts.
  const ObjectRef claims{"", "v1", "persistentvolumeclaims", "default", "", ""};
  EXPECT_TRUE(client_.Get(In(claims, "default", "data-db-0")).ok());
  bool mounted = false;
  for (const auto& volume : PathValue(pod, ".spec.volumes")->as_array()) {
    mounted = mounted || json::serialize(volume) ==
                             R"({"name":"data","persistentVolumeClaim":{"claimName":"data-db-0"}})";
  }
  EXPECT_TRUE(mounted) << json::serialize(pod);

  {
    TestKubelet kubelet(client_);
    const ObjectRef set{"apps", "v1", "statefulsets", "default", "db", ""};
    const auto settled = [&](int64_t replicas) {
      auto now = client_.Get(set);
      return now.ok() && IntAt(*now, ".status.readyReplicas", 0) == replicas &&
             IntAt(*now, ".status.updatedReplicas", 0) == replicas &&
             StringAt(*now, ".status.currentRevision") == StringAt(*now, ".status.updateRevision");
    };
    ASSERT_TRUE(WaitFor([&] { return settled(3); }));
    for (const char* claim : {"data-db-0", "data-db-1", "data-db-2"}) {
      EXPECT_TRUE(client_.Get(In(claims, "default", claim)).ok()) << claim;
    }
    const std::string old_revision = StringAt(*client_.Get(set), ".status.currentRevision");

    // A new image rolls from db-2 down; with a partition of 1, db-0 keeps its revision.
    auto patched = api_.Call(
        "PATCH", sets + "/db",
        R"({"spec":{"updateStrategy":{"rollingUpdate":{"partition":1}},"template":{"spec":{"containers":[{"name":"c","image":"x:2"}]}}}})",
        testing::WithContentType("application/merge-patch+json"));
    ASSERT_EQ(patched.status, 200) << patched.body;
    ASSERT_TRUE(WaitFor([&] {
      auto now = client_.Get(set);
      return now.ok() && IntAt(*now, ".status.updatedReplicas", 0) == 2 &&
             IntAt(*now, ".status.readyReplicas", 0) == 3;
    }));
    auto pods = PodsByName(client_, "db-");
    ASSERT_EQ(pods.size(), 3U);
    EXPECT_EQ(LabelsOf(pods["db-0"]).at("controller-revision-hash").as_string(), old_revision);
    EXPECT_NE(LabelsOf(pods["db-2"]).at("controller-revision-hash").as_string(), old_revision);
    EXPECT_EQ(PathValue(pods["db-2"], ".spec.containers")->as_array()[0].at("image"),
              json::value("x:2"));
    auto now = client_.Get(set);
    EXPECT_EQ(StringAt(*now, ".status.currentRevision"), old_revision);

    // Scaled to 1: db-2 and db-1 go, their claims stay.
    auto scaled = api_.Call("PATCH", sets + "/db/scale", R"({"spec":{"replicas":1}})",
                            testing::WithContentType("application/merge-patch+json"));
    ASSERT_EQ(scaled.status, 200) << scaled.body;
    ASSERT_TRUE(WaitFor([&] {
      auto left = PodsByName(client_, "db-");
      return left.size() == 1U && left.begin()->first == "db-0";
    }));
    EXPECT_TRUE(client_.Get(In(claims, "default", "data-db-2")).ok());
  }
}

TEST_F(ControllersTest, AParallelStatefulSetMakesAllItsPodsAtOnceAndItsClaimsGoWithIt) {
  const std::string sets = "/apis/apps/v1/namespaces/default/statefulsets";
  ASSERT_EQ(api_.Call("POST", sets,
                      StatefulSet("par",
                                  R"("replicas":3,"podManagementPolicy":"Parallel",
                                     "persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete"},
                                     "ordinals":{"start":5},)",
                                  "x:1"))
                .status,
            201);
  // No kubelet: none is ready, yet all three are made, from ordinal 5.
  ASSERT_TRUE(WaitFor([&] { return PodsByName(client_, "par-").size() == 3U; }));
  auto pods = PodsByName(client_, "par-");
  EXPECT_EQ(pods.begin()->first, "par-5");
  EXPECT_EQ(pods.rbegin()->first, "par-7");
  const ObjectRef claims{"", "v1", "persistentvolumeclaims", "default", "", ""};
  auto claim = client_.Get(In(claims, "default", "data-par-6"));
  ASSERT_TRUE(claim.ok());
  EXPECT_EQ(ControllerOf(*claim)->kind, "StatefulSet");
  // whenDeleted: Delete, so the claims are collected with the set.
  ASSERT_EQ(api_.Call("DELETE", sets + "/par").status, 200);
  EXPECT_TRUE(WaitFor([&] {
    return PodsByName(client_, "par-").empty() &&
           !client_.Get(In(claims, "default", "data-par-6")).ok();
  }));
}

// The nodes each daemon pod of `set` is pinned to (active pods only).
std::multiset<std::string> DaemonNodes(Client& client) {
  std::multiset<std::string> nodes;
  for (const json::object& pod : client.List(kPods).value_or(std::vector<json::object>{})) {
    if (IsPodActive(pod) && !IsTerminating(pod)) {
      nodes.insert(DaemonPodNode(pod));
    }
  }
  return nodes;
}

TEST_F(ControllersTest, ADaemonSetRunsOnePodPerFittingNodeAndFollowsTheNodes) {
  for (
      const char* node :
      {R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","labels":{"pool":"a"}}})",
       R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n2","labels":{"pool":"a"}}})",
       R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"gpu","labels":{"pool":"a"}},"spec":{"taints":[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}]}})",
       R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"other","labels":{"pool":"b"}}})"}) {
    auto made = api_.Call("POST", "/api/v1/nodes", node);
    ASSERT_EQ(made.status, 201) << made.body;
  }
  TestKubelet kubelet(client_);
  const std::string sets = "/apis/apps/v1/namespaces/default/daemonsets";
  auto made = api_.Call(
      "POST", sets,
      R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent"},"spec":{"selector":{"matchLabels":{"app":"agent"}},"template":{"metadata":{"labels":{"app":"agent"}},"spec":{"nodeSelector":{"pool":"a"},"containers":[{"name":"c","image":"x:1"}]}}}})");
  ASSERT_EQ(made.status, 201) << made.body;
  // Not on the tainted node (not tolerated) nor on the other pool.
  const ObjectRef set{"apps", "v1", "daemonsets", "default", "agent", ""};
  ASSERT_TRUE(WaitFor([&] {
    auto now = client_.Get(set);
    return now.ok() && IntAt(*now, ".status.numberReady", 0) == 2 &&
           IntAt(*now, ".status.desiredNumberScheduled", 0) == 2 &&
           IntAt(*now, ".status.updatedNumberScheduled", 0) == 2;
  }));
  EXPECT_EQ(DaemonNodes(client_), (std::multiset<std::string>{"n1", "n2"}));
  const json::object pod = ActivePods().front();
  bool tolerates_not_ready = false;
  for (const auto& toleration : PathValue(pod, ".spec.tolerations")->as_array()) {
    tolerates_not_ready = tolerates_not_ready || StringField(toleration.as_object(), "key") ==
                                                     "node.kubernetes.io/not-ready";
  }
  EXPECT_TRUE(tolerates_not_ready) << json::serialize(pod);

  // A new template replaces each pod, one node at a time.
  auto patched =
      api_.Call("PATCH", sets + "/agent",
                R"({"spec":{"template":{"spec":{"containers":[{"name":"c","image":"x:2"}]}}}})",
                testing::WithContentType("application/merge-patch+json"));
  ASSERT_EQ(patched.status, 200) << patched.body;
  ASSERT_TRUE(WaitFor([&] {
    auto pods = ActivePods();
    return pods.size() == 2U && std::all_of(pods.begin(), pods.end(), [](const json::object& p) {
             return PathValue(p, ".spec.containers")->as_array()[0].at("image") ==
                        json::value("x:2") &&
                    IsPodReady(p);
           });
  }));
  EXPECT_EQ(DaemonNodes(client_), (std::multiset<std::string>{"n1", "n2"}));

  // A node that goes takes its pod; one that joins gets one; a NoExecute
  // taint evicts.
  ASSERT_EQ(api_.Call("DELETE", "/api/v1/nodes/n2").status, 200);
  ASSERT_EQ(
      api_.Call(
              "POST", "/api/v1/nodes",
              R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n4","labels":{"pool":"a"}}})")
          .status,
      201);
  ASSERT_TRUE(WaitFor([&] {
    return DaemonNodes(client_) == std::multiset<std::string>{"n1", "n4"};
  }));
  auto tainted = api_.Call("PATCH", "/api/v1/nodes/n1",
                           R"({"spec":{"taints":[{"key":"drain","effect":"NoExecute"}]}})",
                           testing::WithContentType("application/merge-patch+json"));
  ASSERT_EQ(tainted.status, 200) << tainted.body;
  ASSERT_TRUE(WaitFor([&] { return DaemonNodes(client_) == std::multiset<std::string>{"n4"}; }));
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(DaemonNodes(client_), std::multiset<std::string>{"n4"});

  // Deleted: the garbage collector takes its pods.
  ASSERT_EQ(api_.Call("DELETE", sets + "/agent").status, 200);
  EXPECT_TRUE(WaitFor([&] { return ActivePods().empty(); }));
}

TEST_F(ControllersTest, AFailedDaemonPodIsReplacedAfterAWaitThatGrows) {
  ASSERT_EQ(api_.Call("POST", "/api/v1/nodes",
                      R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}})")
                .status,
            201);
  ASSERT_EQ(
      api_.Call(
              "POST", "/apis/apps/v1/namespaces/default/daemonsets",
              R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"crash"},"spec":{"selector":{"matchLabels":{"app":"crash"}},"template":{"metadata":{"labels":{"app":"crash"}},"spec":{"containers":[{"name":"c","image":"x:1"}]}}}})")
          .status,
      201);
  const auto fail_the_pod = [&]() -> std::string {
    std::string name;
    if (!WaitFor([&] { return ActivePods().size() == 1U; })) {
      return "";
    }
    name = MetaString(ActivePods().front(), "name");
    ObjectRef ref = kPods;
    ref.name = name;
    ref.subresource = "status";
    auto failed = client_.Mutate(ref, [](json::object& next) {
      next["status"] = json::object{{"phase", "Failed"}};
      return absl::OkStatus();
    });
    EXPECT_TRUE(failed.ok()) << failed.status();
    return name;
  };
  const std::string first = fail_the_pod();
  ASSERT_FALSE(first.empty());
  // The first failure is replaced at once.
  ASSERT_TRUE(WaitFor([&] {
    auto pods = ActivePods();
    return pods.size() == 1U && MetaString(pods.front(), "name") != first;
  }));
  const std::string second = fail_the_pod();
  ASSERT_FALSE(second.empty());
  // The next one waits (2 s): no create-and-delete loop.
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_TRUE(ActivePods().empty());
  auto pods = client_.List(kPods);
  ASSERT_TRUE(pods.ok());
  EXPECT_EQ(pods->size(), 1U) << "the failed pod stays until its wait is over";
  ASSERT_TRUE(WaitFor([&] {
    auto now = ActivePods();
    return now.size() == 1U && MetaString(now.front(), "name") != second;
  }));
}

TEST_F(ControllersTest, DeletingADeploymentCollectsItsReplicaSetsAndTheirPods) {
  TestKubelet kubelet(client_);
  ASSERT_EQ(api_.Call("POST", "/apis/apps/v1/namespaces/default/deployments", Deployment(2, "a:1"))
                .status,
            201);
  ASSERT_TRUE(WaitFor([&] { return RolledOut(2); }));
  ASSERT_EQ(api_.Call("DELETE", "/apis/apps/v1/namespaces/default/deployments/web").status, 200);
  EXPECT_TRUE(WaitFor([&] {
    auto sets = client_.List(kReplicaSets);
    auto pods = client_.List(kPods);
    return sets.ok() && sets->empty() && pods.ok() && pods->empty();
  }));
}

bool HasFinalizer(const json::object& object, const std::string& finalizer) {
  const json::value* finalizers = PathValue(object, ".metadata.finalizers");
  if (finalizers == nullptr || !finalizers->is_array()) {
    return false;
  }
  for (const json::value& f : finalizers->as_array()) {
    if (f.is_string() && f.as_string() == finalizer) {
      return true;
    }
  }
  return false;
}

TEST_F(ControllersTest, AForegroundDeleteKeepsTheDeploymentUntilItsReplicaSetsAndPodsAreGone) {
  TestKubelet kubelet(client_);
  ASSERT_EQ(api_.Call("POST", "/apis/apps/v1/namespaces/default/deployments", Deployment(3, "a:1"))
                .status,
            201);
  ASSERT_TRUE(WaitFor([&] { return RolledOut(3); }));
  auto deleted = api_.Call("DELETE", "/apis/apps/v1/namespaces/default/deployments/web",
                           R"({"kind":"DeleteOptions","apiVersion":"v1",
                               "propagationPolicy":"Foreground"})");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  // Answered with the deployment as marked: it waits for its dependents.
  json::object marked = deleted.Json().as_object();
  EXPECT_TRUE(HasFinalizer(marked, "foregroundDeletion")) << deleted.body;
  EXPECT_FALSE(MetaString(marked, "deletionTimestamp").empty());
  // The deployment is gone last: never while a pod or ReplicaSet is left.
  bool gone_first = false;
  EXPECT_TRUE(WaitFor([&] {
    auto sets = client_.List(kReplicaSets);
    auto pods = client_.List(kPods);
    const bool dependents_left = !sets.ok() || !sets->empty() || !pods.ok() || !pods->empty();
    const bool deployment_left = client_.Get(kDeployment).ok();
    gone_first = gone_first || (dependents_left && !deployment_left);
    return !dependents_left && !deployment_left;
  }));
  EXPECT_FALSE(gone_first) << "the deployment went before its dependents";
}

// Two ReplicaSets that own each other, each blocking the other's deletion:
// a foreground delete of one must not wait forever on the other (the
// collector drops the block of a dependent that is itself waiting), and a
// background delete takes both.
TEST_F(ControllersTest, AnOwnerReferenceCycleNeitherHangsAForegroundDeleteNorStopsTheCollector) {
  auto replica_set = [](const std::string& name) {
    return json::parse(R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":")" +
                       name + R"("},"spec":{"replicas":0,"selector":{"matchLabels":{"app":")" +
                       name + R"("}},"template":{"metadata":{"labels":{"app":")" + name +
                       R"("}},"spec":{"containers":[{"name":"c","image":"x"}]}}}})")
        .as_object();
  };
  for (const std::string policy : {"Foreground", "Background"}) {
    SCOPED_TRACE(policy);
    auto a = client_.Create(kReplicaSets, replica_set("a"));
    auto b = client_.Create(kReplicaSets, replica_set("b"));
    ASSERT_TRUE(a.ok() && b.ok());
    const auto own = [&](const std::string& name, const json::object& owner) {
      ObjectRef ref = kReplicaSets;
      ref.name = name;
      return client_
          .Mutate(ref,
                  [&](json::object& next) {
                    next["metadata"].as_object()["ownerReferences"] =
                        json::array{json::object{{"apiVersion", "apps/v1"},
                                                 {"kind", "ReplicaSet"},
                                                 {"name", MetaString(owner, "name")},
                                                 {"uid", MetaString(owner, "uid")},
                                                 {"blockOwnerDeletion", true}}};
                    return absl::OkStatus();
                  })
          .ok();
    };
    ASSERT_TRUE(own("a", *b));
    ASSERT_TRUE(own("b", *a));
    auto deleted = api_.Call("DELETE", "/apis/apps/v1/namespaces/default/replicasets/a",
                             R"({"propagationPolicy":")" + policy + R"("})");
    ASSERT_EQ(deleted.status, 200) << deleted.body;
    EXPECT_TRUE(WaitFor([&] {
      auto sets = client_.List(kReplicaSets);
      return sets.ok() && sets->empty();
    })) << "the cycle was not collected";
  }
  // The collector still serves everything else.
  ASSERT_TRUE(
      client_
          .Create(kPods, json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"late",
                      "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"gone",
                      "uid":"gone-uid"}]},"spec":{"containers":[{"name":"c","image":"x"}]}})")
                             .as_object())
          .ok());
  EXPECT_TRUE(WaitFor([&] {
    auto pods = client_.List(kPods);
    return pods.ok() && pods->empty();
  }));
}

TEST_F(ControllersTest, AnOrphanDeleteLeavesTheReplicaSetAndPodsRunningWithoutTheOwner) {
  TestKubelet kubelet(client_);
  ASSERT_EQ(api_.Call("POST", "/apis/apps/v1/namespaces/default/deployments", Deployment(2, "a:1"))
                .status,
            201);
  ASSERT_TRUE(WaitFor([&] { return RolledOut(2); }));
  // As kubectl delete --cascade=orphan asks it.
  auto deleted =
      api_.Call("DELETE", "/apis/apps/v1/namespaces/default/deployments/web",
                R"({"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Orphan"})");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_TRUE(HasFinalizer(deleted.Json().as_object(), "orphan")) << deleted.body;
  ASSERT_TRUE(WaitFor([&] { return !client_.Get(kDeployment).ok(); }));
  auto sets = client_.List(kReplicaSets);
  ASSERT_TRUE(sets.ok());
  ASSERT_EQ(sets->size(), 1U);
  EXPECT_EQ(PathValue(sets->front(), ".metadata.ownerReferences"), nullptr)
      << json::serialize(sets->front());
  // The pods are still the ReplicaSet's, and stay: nothing collects them.
  std::this_thread::sleep_for(milliseconds(500));
  auto pods = ActivePods();
  ASSERT_EQ(pods.size(), 2U);
  for (const json::object& pod : pods) {
    ASSERT_TRUE(ControllerOf(pod).has_value());
    EXPECT_EQ(ControllerOf(pod)->uid, MetaString(sets->front(), "uid"));
  }
  // Deleted again in the background, the ReplicaSet takes its pods.
  ObjectRef rs = kReplicaSets;
  rs.name = MetaString(sets->front(), "name");
  ASSERT_TRUE(client_.Delete(rs).ok());
  EXPECT_TRUE(WaitFor([&] {
    auto left = client_.List(kPods);
    return left.ok() && left->empty();
  }));
}

// An orphan pod the selector matches is adopted (one pod fewer to make); a
// pod relabelled out of the selector is released and replaced.
TEST_F(ControllersTest, AReplicaSetAdoptsTheOrphansItSelectsAndReleasesAPodRelabelledAway) {
  ASSERT_TRUE(
      client_
          .Create(kPods, json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"stray",
                      "labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"x"}]}})")
                             .as_object())
          .ok());
  // The controller's pod cache must have seen "stray" before the ReplicaSet
  // looks (or it rightly makes two pods and deletes one later): a pod made
  // after it, once adopted by another ReplicaSet, shows that it has (one
  // watch, in revision order).
  ASSERT_TRUE(
      client_
          .Create(kPods, json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"marker",
                      "labels":{"app":"marker"}},"spec":{"containers":[{"name":"c","image":"x"}]}})")
                             .as_object())
          .ok());
  ASSERT_TRUE(client_
                  .Create(kReplicaSets, json::parse(R"({"apiVersion":"apps/v1","kind":"ReplicaSet",
      "metadata":{"name":"marker"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"marker"}},
      "template":{"metadata":{"labels":{"app":"marker"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}})")
                                            .as_object())
                  .ok());
  ObjectRef marker = kPods;
  marker.name = "marker";
  ASSERT_TRUE(WaitFor([&] {
    auto got = client_.Get(marker);
    return !got.ok() || ControllerOf(*got).has_value();
  }));
  auto rs = client_.Create(kReplicaSets, json::parse(R"({"apiVersion":"apps/v1","kind":"ReplicaSet",
      "metadata":{"name":"x"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"x"}},
      "template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}})")
                                             .as_object());
  ASSERT_TRUE(rs.ok()) << rs.status();
  const std::string uid = MetaString(*rs, "uid");
  // Its pods and the one relabelled away (not the marker's).
  const auto app_pods = [&] {
    size_t n = 0;
    for (const json::object& pod : ActivePods()) {
      const json::value* app = PathValue(pod, ".metadata.labels.app");
      n += app != nullptr && app->is_string() && app->as_string() != "marker" ? 1 : 0;
    }
    return n;
  };
  const auto owned = [&] {
    std::vector<json::object> mine;
    for (const json::object& pod : ActivePods()) {
      if (auto owner = ControllerOf(pod); owner && owner->uid == uid) {
        mine.push_back(pod);
      }
    }
    return mine;
  };
  ASSERT_TRUE(WaitFor([&] { return owned().size() == 2U; }));
  ObjectRef stray = kPods;
  stray.name = "stray";
  auto adopted = client_.Get(stray);
  ASSERT_TRUE(adopted.ok());
  ASSERT_TRUE(ControllerOf(*adopted).has_value()) << json::serialize(*adopted);
  EXPECT_EQ(ControllerOf(*adopted)->uid, uid);
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(app_pods(), 2U) << "the adopted pod was made again";

  ASSERT_TRUE(
      client_
          .Mutate(stray,
                  [](json::object& next) {
                    next["metadata"].as_object()["labels"] = json::object{{"app", "elsewhere"}};
                    return absl::OkStatus();
                  })
          .ok());
  EXPECT_TRUE(WaitFor([&] {
    auto released = client_.Get(stray);
    return released.ok() && PathValue(*released, ".metadata.ownerReferences") == nullptr &&
           owned().size() == 2U;
  }));
  EXPECT_EQ(app_pods(), 3U);
}

// `kubectl delete deployment --cascade=orphan`, then the same Deployment
// again: it takes its ReplicaSet back, and no pod is made or lost.
TEST_F(ControllersTest, ADeploymentMadeAgainAfterAnOrphaningDeleteAdoptsItsReplicaSet) {
  TestKubelet kubelet(client_);
  const std::string deployments = "/apis/apps/v1/namespaces/default/deployments";
  ASSERT_EQ(api_.Call("POST", deployments, Deployment(2, "a:1")).status, 201);
  ASSERT_TRUE(WaitFor([&] { return RolledOut(2); }));
  std::set<std::string> pod_names;
  for (const json::object& pod : ActivePods()) {
    pod_names.insert(MetaString(pod, "name"));
  }
  ASSERT_EQ(api_.Call("DELETE", deployments + "/web", R"({"propagationPolicy":"Orphan"})").status,
            200);
  ASSERT_TRUE(WaitFor([&] {
    auto sets = client_.List(kReplicaSets);
    return !client_.Get(kDeployment).ok() && sets.ok() && sets->size() == 1U &&
           PathValue(sets->front(), ".metadata.ownerReferences") == nullptr;
  }));
  auto again = api_.Call("POST", deployments, Deployment(2, "a:1"));
  ASSERT_EQ(again.status, 201) << again.body;
  const std::string uid = MetaString(again.Json().as_object(), "uid");
  EXPECT_TRUE(WaitFor([&] {
    auto sets = client_.List(kReplicaSets);
    if (!sets.ok() || sets->size() != 1U) {
      return false;
    }
    auto owner = ControllerOf(sets->front());
    return owner && owner->uid == uid && RolledOut(2);
  }));
  std::set<std::string> after;
  for (const json::object& pod : ActivePods()) {
    after.insert(MetaString(pod, "name"));
  }
  EXPECT_EQ(after, pod_names);
}

TEST_F(ControllersTest, APropagationPolicyThatIsNotOneOfTheThreeIsRefusedAndNothingIsDeleted) {
  ASSERT_EQ(api_.Call("POST", "/apis/apps/v1/namespaces/default/deployments", Deployment(0, "a:1"))
                .status,
            201);
  auto bad = api_.Call("DELETE", "/apis/apps/v1/namespaces/default/deployments/web",
                       R"({"propagationPolicy":"Sideways"})");
  EXPECT_EQ(bad.status, 422) << bad.body;
  EXPECT_NE(bad.body.find("Unsupported value: \\\"Sideways\\\""), std::string::npos) << bad.body;
  auto query = api_.Call(
      "DELETE", "/apis/apps/v1/namespaces/default/deployments/web?propagationPolicy=orphan");
  EXPECT_EQ(query.status, 422) << query.body;
  auto both = api_.Call("DELETE", "/apis/apps/v1/namespaces/default/deployments/web",
                        R"({"propagationPolicy":"Orphan","orphanDependents":true})");
  EXPECT_EQ(both.status, 422) << both.body;
  EXPECT_NE(both.body.find("cannot be both set"), std::string::npos) << both.body;
  auto kept = client_.Get(kDeployment);
  ASSERT_TRUE(kept.ok());
  EXPECT_FALSE(IsTerminating(*kept));
  EXPECT_EQ(PathValue(*kept, ".metadata.finalizers"), nullptr);
  // The deprecated orphanDependents=true is Orphan.
  auto orphaning = api_.Call("DELETE", "/apis/apps/v1/namespaces/default/deployments/web",
                             R"({"orphanDependents":true})");
  ASSERT_EQ(orphaning.status, 200) << orphaning.body;
  EXPECT_TRUE(HasFinalizer(orphaning.Json().as_object(), "orphan"));
  EXPECT_TRUE(WaitFor([&] { return !client_.Get(kDeployment).ok(); }));
}

// The manager runs Jobs; a Job deleted as batch/v1 does by default
// (no propagationPolicy: Orphan) leaves its pods, one deleted in the
// background takes them.
TEST_F(ControllersTest, AJobRunsUnderTheManagerAndOnlyABackgroundDeleteTakesItsPods) {
  auto job = [](const std::string& name) {
    return R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":")" + name +
           R"("},"spec":{"completions":1,"template":{"spec":{"restartPolicy":"Never",)"
           R"("containers":[{"name":"c","image":"x"}]}}}})";
  };
  auto pods_of = [&](const std::string& name) {
    std::vector<json::object> out;
    for (const json::object& pod : client_.List(kPods).value_or(std::vector<json::object>{})) {
      if (LabelsOf(pod).contains("job-name") && LabelsOf(pod).at("job-name") == json::value(name)) {
        out.push_back(pod);
      }
    }
    return out;
  };
  const std::string jobs = "/apis/batch/v1/namespaces/default/jobs";
  for (const std::string name : {"kept", "taken"}) {
    ASSERT_EQ(api_.Call("POST", jobs, job(name)).status, 201);
    ASSERT_TRUE(WaitFor([&] { return pods_of(name).size() == 1U; }));
    ObjectRef status = kPods;
    status.name = MetaString(pods_of(name).front(), "name");
    status.subresource = "status";
    ASSERT_TRUE(client_
                    .Mutate(status,
                            [](json::object& next) {
                              next["status"] = json::object{{"phase", "Succeeded"}};
                              return absl::OkStatus();
                            })
                    .ok());
    ASSERT_TRUE(WaitFor([&] {
      auto got = client_.Get(In(kJobsRef, "default", name));
      return got.ok() && IntAt(*got, ".status.succeeded", 0) == 1 &&
             PathValue(*got, ".status.completionTime") != nullptr;
    })) << name;
  }
  auto orphaned = api_.Call("DELETE", jobs + "/kept");
  ASSERT_EQ(orphaned.status, 200) << orphaned.body;
  EXPECT_TRUE(HasFinalizer(orphaned.Json().as_object(), "orphan")) << orphaned.body;
  ASSERT_TRUE(WaitFor([&] { return !client_.Get(In(kJobsRef, "default", "kept")).ok(); }));
  ASSERT_EQ(pods_of("kept").size(), 1U);
  EXPECT_EQ(PathValue(pods_of("kept").front(), ".metadata.ownerReferences"), nullptr);

  auto taken = api_.Call("DELETE", jobs + "/taken?propagationPolicy=Background");
  ASSERT_EQ(taken.status, 200) << taken.body;
  EXPECT_TRUE(WaitFor([&] {
    return !client_.Get(In(kJobsRef, "default", "taken")).ok() && pods_of("taken").empty();
  }));
  // The orphaned pod is nobody's to collect.
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(pods_of("kept").size(), 1U);
}

TEST_F(ControllersTest, AnObjectWhoseOwnersAreGoneIsCollectedAndAGoneOwnerOfManyIsDropped) {
  auto rs = client_.Create(kReplicaSets, json::parse(R"({"apiVersion":"apps/v1","kind":"ReplicaSet",
      "metadata":{"name":"kept"},"spec":{"replicas":0,"selector":{"matchLabels":{"app":"k"}},
      "template":{"metadata":{"labels":{"app":"k"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}})")
                                             .as_object());
  ASSERT_TRUE(rs.ok()) << rs.status();
  auto ref = [](const std::string& name, const std::string& uid) {
    return json::object{
        {"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", name}, {"uid", uid}};
  };
  auto pod = [&](const std::string& name, json::array owners) {
    return json::object{
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", json::object{{"name", name}, {"ownerReferences", std::move(owners)}}},
        {"spec",
         json::object{{"containers", json::array{json::object{{"name", "c"}, {"image", "x"}}}}}}};
  };
  // One owner that never existed: collected. Two owners, one gone: kept,
  // with only the live owner's reference left. An owner of another group
  // (a custom "ReplicaSet") is never judged gone.
  ASSERT_TRUE(client_.Create(kPods, pod("orphan", {ref("none", "no-such-uid")})).ok());
  json::object custom_owner = ref("none", "custom-uid");
  custom_owner["apiVersion"] = "example.com/v1";
  ASSERT_TRUE(client_.Create(kPods, pod("custom", {custom_owner})).ok());
  ASSERT_TRUE(client_
                  .Create(kPods, pod("shared", {ref("none", "no-such-uid"),
                                                ref("kept", MetaString(*rs, "uid"))}))
                  .ok());
  ObjectRef orphan = kPods;
  orphan.name = "orphan";
  ObjectRef shared = kPods;
  shared.name = "shared";
  EXPECT_TRUE(WaitFor([&] { return !client_.Get(orphan).ok(); }));
  EXPECT_TRUE(WaitFor([&] {
    auto got = client_.Get(shared);
    return got.ok() && PathValue(*got, ".metadata.ownerReferences")->as_array().size() == 1U;
  }));
  auto got = client_.Get(shared);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(ControllerOf(*got), std::nullopt);
  ObjectRef custom = kPods;
  custom.name = "custom";
  EXPECT_TRUE(client_.Get(custom).ok()) << "a pod of a custom owner was collected";
  EXPECT_EQ(std::string(
                PathValue(*got, ".metadata.ownerReferences")->as_array()[0].at("name").as_string()),
            "kept");
}

// JSON text with every object's keys in order, to compare by value.
std::string Normal(const std::string& text) {
  std::function<json::value(const json::value&)> sorted = [&](const json::value& value) {
    if (value.is_object()) {
      std::map<std::string, json::value> keys;
      for (const auto& [key, field] : value.as_object()) {
        keys[std::string(key)] = sorted(field);
      }
      json::object out;
      for (auto& [key, field] : keys) {
        out[key] = std::move(field);
      }
      return json::value(std::move(out));
    }
    if (value.is_array()) {
      json::array out;
      for (const auto& item : value.as_array()) {
        out.push_back(sorted(item));
      }
      return json::value(std::move(out));
    }
    return value;
  };
  return json::serialize(sorted(json::parse(text)));
}

// The slices of Service `name` in default, by name.
std::map<std::string, json::object> SlicesOf(Client& client, const std::string& name) {
  std::map<std::string, json::object> slices;
  ObjectRef all = kEndpointSlicesRef;
  all.namespace_name = "default";
  for (json::object& slice : client.List(all).value_or(std::vector<json::object>{})) {
    const json::value* service = LabelsOf(slice).if_contains(kServiceNameLabel);
    if (service != nullptr && *service == name.c_str()) {
      slices.emplace(MetaString(slice, "name"), std::move(slice));
    }
  }
  return slices;
}

// The one endpoint of the one slice of `name`, serialized, or why not.
std::string OnlyEndpoint(Client& client, const std::string& name) {
  auto slices = SlicesOf(client, name);
  if (slices.size() != 1) {
    return fmt::format("{} slices", slices.size());
  }
  const json::value* endpoints = PathValue(slices.begin()->second, ".endpoints");
  if (endpoints == nullptr || !endpoints->is_array() || endpoints->as_array().size() != 1) {
    return "not one endpoint";
  }
  json::object endpoint = endpoints->as_array()[0].as_object();
  endpoint["ports"] = *PathValue(slices.begin()->second, ".ports");
  endpoint.erase("targetRef");
  return Normal(json::serialize(endpoint));
}

std::string EndpointsSubsets(Client& client, const std::string& name) {
  auto endpoints = client.Get(In(kEndpointsRef, "default", name));
  if (!endpoints.ok()) {
    return "none";
  }
  const json::value* subsets = endpoints->if_contains("subsets");
  if (subsets == nullptr) {
    return "[]";
  }
  json::value copy = json::parse(Normal(json::serialize(*subsets)));
  for (auto& subset : copy.as_array()) {
    for (const char* list : {"addresses", "notReadyAddresses"}) {
      if (auto* addresses = subset.as_object().if_contains(list)) {
        for (auto& address : addresses->as_array()) {
          address.as_object().erase("targetRef");
        }
      }
    }
  }
  return Normal(json::serialize(copy));
}

TEST_F(ControllersTest, AServicesEndpointSlicesFollowItsPodsBecomingReadyAndUnready) {
  ASSERT_EQ(api_.Call("POST", "/api/v1/namespaces/default/services",
                      R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},
                          "spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,
                          "targetPort":"http"}]}})")
                .status,
            201);
  // A selecting Service has one empty slice and an Endpoints without subsets.
  ASSERT_TRUE(WaitFor([&] { return SlicesOf(client_, "web").size() == 1; }));
  EXPECT_TRUE(WaitFor([&] { return EndpointsSubsets(client_, "web") == "[]"; }));
  auto pod = [](const std::string& name, const std::string& app) {
    return json::parse(fmt::format(R"({{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{}",
        "labels":{{"app":"{}"}}}},"spec":{{"nodeName":"n1","containers":[{{"name":"c","image":"x",
        "ports":[{{"name":"http","containerPort":8080}}]}}]}}}})",
                                   name, app))
        .as_object();
  };
  ASSERT_TRUE(client_.Create(In(kPodsRef, "default"), pod("p1", "web")).ok());
  ASSERT_TRUE(client_.Create(In(kPodsRef, "default"), pod("p2", "other")).ok());
  auto set_status = [&](const std::string& name, const std::string& ip, bool ready) {
    ASSERT_TRUE(client_
                    .Mutate(In(kPodsRef, "default", name, "status"),
                            [&](json::object& next) {
                              next["status"] = json::object{
                                  {"phase", "Running"},
                                  {"podIP", ip},
                                  {"podIPs", json::array{json::object{{"ip", ip}}}},
                                  {"conditions",
                                   json::array{json::object{
                                       {"type", "Ready"}, {"status", ready ? "True" : "False"}}}}};
                              return absl::OkStatus();
                            })
                    .ok());
  };
  set_status("p1", "10.1.0.1", false);
  set_status("p2", "10.1.0.2", true);
  const std::string not_ready =
      R"({"addresses":["10.1.0.1"],"conditions":{"ready":false,"serving":false,"terminating":false},"nodeName":"n1","ports":[{"port":8080,"protocol":"TCP","name":"http"}]})";
  EXPECT_TRUE(WaitFor([&] { return OnlyEndpoint(client_, "web") == Normal(not_ready); }))
      << OnlyEndpoint(client_, "web");
  EXPECT_TRUE(WaitFor([&] {
    return EndpointsSubsets(client_, "web") ==
           Normal(
               R"([{"notReadyAddresses":[{"ip":"10.1.0.1","nodeName":"n1"}],"ports":[{"port":8080,"protocol":"TCP","name":"http"}]}])");
  })) << EndpointsSubsets(client_, "web");

  set_status("p1", "10.1.0.1", true);
  const std::string ready =
      R"({"addresses":["10.1.0.1"],"conditions":{"ready":true,"serving":true,"terminating":false},"nodeName":"n1","ports":[{"port":8080,"protocol":"TCP","name":"http"}]})";
  EXPECT_TRUE(WaitFor([&] { return OnlyEndpoint(client_, "web") == Normal(ready); }))
      << OnlyEndpoint(client_, "web");
  EXPECT_TRUE(WaitFor([&] {
    return EndpointsSubsets(client_, "web") ==
           Normal(
               R"([{"addresses":[{"ip":"10.1.0.1","nodeName":"n1"}],"ports":[{"port":8080,"protocol":"TCP","name":"http"}]}])");
  })) << EndpointsSubsets(client_, "web");

  // Relabelled away: gone from the Service's endpoints.
  ASSERT_TRUE(client_
                  .Mutate(In(kPodsRef, "default", "p1"),
                          [](json::object& next) {
                            Metadata(next)["labels"] = json::object{{"app", "other"}};
                            return absl::OkStatus();
                          })
                  .ok());
  EXPECT_TRUE(WaitFor([&] { return OnlyEndpoint(client_, "web") == "not one endpoint"; }));
  EXPECT_TRUE(WaitFor([&] { return EndpointsSubsets(client_, "web") == "[]"; }));

  // A slice deleted by hand comes back; the Service's delete takes both.
  std::string slice_name = SlicesOf(client_, "web").begin()->first;
  ASSERT_TRUE(client_.Delete(In(kEndpointSlicesRef, "default", slice_name)).ok());
  EXPECT_TRUE(WaitFor([&] { return SlicesOf(client_, "web").count(slice_name) == 1; }));
  ASSERT_EQ(api_.Call("DELETE", "/api/v1/namespaces/default/services/web").status, 200);
  EXPECT_TRUE(WaitFor([&] {
    return SlicesOf(client_, "web").empty() && EndpointsSubsets(client_, "web") == "none";
  }));
}

TEST_F(ControllersTest, ADeletedNamespaceLosesAllItHoldsAndEndsWhenTheLastFinalizerGoes) {
  TestKubelet kubelet(client_);
  ASSERT_EQ(api_.Call("POST", "/api/v1/namespaces",
                      R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"}})")
                .status,
            201);
  ASSERT_EQ(
      api_.Call("POST", "/apis/apps/v1/namespaces/team/deployments", Deployment(2, "a:1")).status,
      201);
  ASSERT_EQ(api_.Call("POST", "/api/v1/namespaces/team/configmaps",
                      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"held",
                          "finalizers":["example.com/hold"]}})")
                .status,
            201);
  ASSERT_EQ(api_.Call("POST", "/api/v1/namespaces/default/configmaps",
                      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"elsewhere"}})")
                .status,
            201);
  ASSERT_TRUE(WaitFor([&] { return client_.List(In(kPodsRef, "team"))->size() == 2; }));
  ASSERT_EQ(api_.Call("DELETE", "/api/v1/namespaces/team").status, 200);
  // Everything but the held config map goes; the namespace says what waits.
  EXPECT_TRUE(WaitFor([&] {
    return client_.List(In(kPodsRef, "team"))->empty() &&
           client_.List(In(kReplicaSetsRef, "team"))->empty() &&
           client_.List(In(kDeploymentsRef, "team"))->empty();
  }));
  EXPECT_TRUE(WaitFor([&] {
    auto ns = client_.Get(In(kNamespacesRef, "", "team"));
    return ns.ok() && json::serialize(*ns).find("example.com/hold") != std::string::npos;
  }));
  auto held = client_.Get(In(ObjectRef{"", "v1", "configmaps", "", "", ""}, "team", "held"));
  ASSERT_TRUE(held.ok());
  EXPECT_TRUE(IsTerminating(*held));
  // Its finalizer done, the config map goes, then the namespace.
  (void)client_.Mutate(In(ObjectRef{"", "v1", "configmaps", "", "", ""}, "team", "held"),
                       [](json::object& next) {
                         Metadata(next).erase("finalizers");
                         return absl::OkStatus();
                       });
  EXPECT_FALSE(client_.Get(In(ObjectRef{"", "v1", "configmaps", "", "", ""}, "team", "held")).ok());
  EXPECT_TRUE(WaitFor([&] { return !client_.Get(In(kNamespacesRef, "", "team")).ok(); }));
  EXPECT_TRUE(
      client_.Get(In(ObjectRef{"", "v1", "configmaps", "", "", ""}, "default", "elsewhere")).ok());
  // The name is free again.
  EXPECT_EQ(api_.Call("POST", "/api/v1/namespaces",
                      R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"}})")
                .status,
            201);
}

// A pod on a node is only marked when its namespace or its owner goes (the
// node stops it, then deletes it with no grace left); one no node runs goes
// at once. Both controllers finish once the node's delete comes.
TEST_F(ControllersTest, ANamespaceAndAGoneOwnerWaitForTheNodeToEndABoundPod) {
  ASSERT_EQ(api_.Call("POST", "/api/v1/namespaces",
                      R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"}})")
                .status,
            201);
  auto pod = [](const std::string& name, const std::string& node, json::array owners) {
    json::object spec{{"containers", json::array{json::object{{"name", "c"}, {"image", "x"}}}}};
    if (!node.empty()) {
      spec["nodeName"] = node;
    }
    return json::object{
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", json::object{{"name", name}, {"ownerReferences", std::move(owners)}}},
        {"spec", std::move(spec)}};
  };
  auto bound = client_.Create(In(kPodsRef, "team"), pod("bound", "n1", {}));
  ASSERT_TRUE(bound.ok()) << bound.status();
  ASSERT_TRUE(client_.Create(In(kPodsRef, "team"), pod("loose", "", {})).ok());
  // An owner that never existed: the collector deletes its pod.
  const json::array gone_owner{json::object{
      {"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "none"}, {"uid", "no-such-uid"}}};
  auto owned = client_.Create(kPods, pod("owned", "n1", gone_owner));
  ASSERT_TRUE(owned.ok()) << owned.status();

  ASSERT_EQ(api_.Call("DELETE", "/api/v1/namespaces/team").status, 200);
  EXPECT_TRUE(WaitFor([&] { return !client_.Get(In(kPodsRef, "team", "loose")).ok(); }));
  EXPECT_TRUE(WaitFor([&] {
    auto ns = client_.Get(In(kNamespacesRef, "", "team"));
    return ns.ok() &&
           json::serialize(*ns).find("pods has 1 resource instances") != std::string::npos;
  }));
  auto marked = client_.Get(In(kPodsRef, "team", "bound"));
  ASSERT_TRUE(marked.ok()) << marked.status();
  EXPECT_TRUE(IsTerminating(*marked));
  EXPECT_EQ(IntAt(*marked, ".metadata.deletionGracePeriodSeconds", -1), 30);
  EXPECT_TRUE(WaitFor([&] {
    auto got = client_.Get(In(kPodsRef, "default", "owned"));
    return got.ok() && IsTerminating(*got);
  }));
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_TRUE(client_.Get(In(kNamespacesRef, "", "team")).ok());
  EXPECT_TRUE(client_.Get(In(kPodsRef, "default", "owned")).ok());

  // The node's final deletes (grace 0, its uid as precondition).
  DeleteOptions final_delete{MetaString(*bound, "uid"), "", Propagation::kDefault, 0};
  ASSERT_TRUE(client_.Delete(In(kPodsRef, "team", "bound"), final_delete).ok());
  final_delete.uid = MetaString(*owned, "uid");
  ASSERT_TRUE(client_.Delete(In(kPodsRef, "default", "owned"), final_delete).ok());
  EXPECT_FALSE(client_.Get(In(kPodsRef, "default", "owned")).ok());
  EXPECT_TRUE(WaitFor([&] { return !client_.Get(In(kNamespacesRef, "", "team")).ok(); }));
}

}  // namespace
}  // namespace bulkhead::controlplane::controllers
