// bulkhead-controlplane with the real kubectl 1.32 (and the /usr/bin/kubectl
// dispatcher, which picks its kubectl build from the server's version).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/e2e/controlplane_harness.h"

namespace bulkhead::testing {
namespace {

using nlohmann::json;

constexpr const char* kDeployment = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
        env:
        - {name: A, value: "1"}
      - name: sidecar
        image: busybox
)";

class KubectlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plane_ = ControlPlane::Start();
    ASSERT_NE(plane_, nullptr) << "control plane did not start";
  }
  CommandResult Ok(const std::vector<std::string>& args) {
    auto result = plane_->Kubectl(args);
    EXPECT_EQ(result.exit_code, 0) << "kubectl " << ::testing::PrintToString(args) << "\n"
                                   << result.out << result.err;
    return result;
  }
  json Json(const std::vector<std::string>& args) {
    auto with_output = args;
    with_output.insert(with_output.end(), {"-o", "json"});
    auto result = Ok(with_output);
    return json::parse(result.out, nullptr, false);
  }

  TempDir files_;
  std::unique_ptr<ControlPlane> plane_;
};

// Plays the node for a control plane without one: every pod that is not
// Ready becomes Running and Ready (as a kubelet reports it, through the
// status subresource).
class TestKubelet {
 public:
  explicit TestKubelet(ControlPlane& plane) : plane_(plane), thread_([this] { Run(); }) {}
  ~TestKubelet() {
    stop_ = true;
    thread_.join();
  }
  TestKubelet(const TestKubelet&) = delete;
  TestKubelet& operator=(const TestKubelet&) = delete;

 private:
  void Run() {
    while (!stop_) {
      json pods = json::parse(HttpBody(plane_.Curl("GET", "/api/v1/namespaces/default/pods")),
                              nullptr, false);
      for (const json& pod :
           pods.is_object() ? pods.value("items", json::array()) : json::array()) {
        bool ready = false;
        for (const json& c : pod["status"].value("conditions", json::array())) {
          ready = ready || (c.value("type", "") == "Ready" && c.value("status", "") == "True");
        }
        if (!ready && !pod["metadata"].contains("deletionTimestamp")) {
          plane_.Curl("PATCH",
                      "/api/v1/namespaces/default/pods/" +
                          pod["metadata"]["name"].get<std::string>() + "/status",
                      R"({"status":{"phase":"Running","podIP":"10.244.0.)" +
                          std::to_string(++pods_made_ % 250 + 1) +
                          R"(","conditions":[{"type":"Ready","status":"True"}]}})",
                      "application/merge-patch+json");
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ControlPlane& plane_;
  int pods_made_ = 0;  // gives each pod its own address
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// With no node to run its pods, a rollout with a short progress deadline
// times out: `kubectl rollout status` says so and fails; once pods become
// ready it completes.
TEST_F(KubectlTest, RolloutStatusFailsOnceTheProgressDeadlinePassesAndRecovers) {
  Ok({"apply", "-f", files_.Write("stuck.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck}
spec:
  replicas: 2
  progressDeadlineSeconds: 2
  selector:
    matchLabels: {app: stuck}
  template:
    metadata:
      labels: {app: stuck}
    spec:
      containers:
      - {name: app, image: busybox, ports: [{containerPort: 8080, protocol: TCP}]}
)")});
  auto stuck = plane_->Kubectl({"rollout", "status", "deployment/stuck", "--timeout=60s"});
  EXPECT_NE(stuck.exit_code, 0) << stuck.out << stuck.err;
  EXPECT_NE(stuck.err.find("deployment \"stuck\" exceeded its progress deadline"),
            std::string::npos)
      << stuck.out << stuck.err;
  auto deployment = Json({"get", "deployment", "stuck"});
  std::string reason;
  for (const json& c : deployment["status"].value("conditions", json::array())) {
    if (c.value("type", "") == "Progressing") {
      reason = c.value("reason", "");
    }
  }
  EXPECT_EQ(reason, "ProgressDeadlineExceeded") << deployment.dump();

  // `rollout status` fails at once while the condition still says the
  // deadline passed, as it does against Kubernetes: wait until the controller
  // has seen the pods become available before asking again.
  TestKubelet kubelet(*plane_);
  Ok({"wait", "--for=condition=Available", "deployment/stuck", "--timeout=60s"});
  auto rolled = Ok({"rollout", "status", "deployment/stuck", "--timeout=60s"});
  EXPECT_NE(rolled.out.find("deployment \"stuck\" successfully rolled out"), std::string::npos)
      << rolled.out;
}

TEST_F(KubectlTest, CreateDeploymentRollsOutAndSetImageRollsBackWithUndo) {
  TestKubelet kubelet(*plane_);
  auto created = Ok({"create", "deployment", "web", "--image=nginx:1.25", "--replicas=3"});
  EXPECT_NE(created.out.find("deployment.apps/web created"), std::string::npos) << created.out;
  auto rolled = Ok({"rollout", "status", "deployment/web", "--timeout=60s"});
  EXPECT_NE(rolled.out.find("deployment \"web\" successfully rolled out"), std::string::npos)
      << rolled.out;
  auto pods = Json({"get", "pods", "-l", "app=web"});
  EXPECT_EQ(pods["items"].size(), 3U) << pods.dump();
  auto sets = Json({"get", "replicasets", "-l", "app=web"});
  ASSERT_EQ(sets["items"].size(), 1U) << sets.dump();
  EXPECT_EQ(sets["items"][0]["status"]["readyReplicas"], 3);

  Ok({"set", "image", "deployment/web", "nginx=nginx:1.26"});
  Ok({"rollout", "status", "deployment/web", "--timeout=60s"});
  auto history = Ok({"rollout", "history", "deployment/web"});
  EXPECT_NE(history.out.find("1 "), std::string::npos) << history.out;
  EXPECT_NE(history.out.find("2 "), std::string::npos) << history.out;
  json rolled_pods = Json({"get", "pods", "-l", "app=web"});
  for (const json& pod : rolled_pods["items"]) {
    EXPECT_EQ(pod["spec"]["containers"][0]["image"], "nginx:1.26");
  }

  auto undone = Ok({"rollout", "undo", "deployment/web"});
  EXPECT_NE(undone.out.find("rolled back"), std::string::npos) << undone.out;
  Ok({"rollout", "status", "deployment/web", "--timeout=60s"});
  auto deployment = Json({"get", "deployment", "web"});
  EXPECT_EQ(deployment["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.25");
  EXPECT_EQ(deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "3");

  Ok({"scale", "deployment/web", "--replicas=1"});
  Ok({"rollout", "status", "deployment/web", "--timeout=60s"});
  EXPECT_EQ(Json({"get", "pods", "-l", "app=web"})["items"].size(), 1U);

  // Deleted (background propagation, kubectl's default): its ReplicaSets
  // and pods are collected.
  Ok({"delete", "deployment", "web"});
  bool collected = false;
  for (int i = 0; i < 300 && !collected; ++i) {
    collected = Json({"get", "replicasets,pods", "-l", "app=web"})["items"].empty();
    if (!collected) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_TRUE(collected) << Json({"get", "replicasets,pods", "-l", "app=web"}).dump();
}

TEST_F(KubectlTest, DeleteWithEachCascadeDoesWhatItSays) {
  TestKubelet kubelet(*plane_);
  for (const char* name : {"fg", "or"}) {
    Ok({"create", "deployment", name, "--image=x:1", "--replicas=2"});
  }
  Ok({"rollout", "status", "deployment/fg", "--timeout=60s"});
  Ok({"rollout", "status", "deployment/or", "--timeout=60s"});
  // Foreground: kubectl waits for the deployment to be gone, which is only
  // once its ReplicaSet and pods are.
  auto foreground = Ok({"delete", "deployment", "fg", "--cascade=foreground", "--timeout=60s"});
  EXPECT_NE(foreground.out.find("deployment.apps \"fg\" deleted"), std::string::npos)
      << foreground.out;
  EXPECT_TRUE(Json({"get", "replicasets,pods", "-l", "app=fg"})["items"].empty());
  // Orphan: the ReplicaSet stays, no longer owned, with its pods.
  Ok({"delete", "deployment", "or", "--cascade=orphan", "--timeout=60s"});
  EXPECT_NE(plane_->Kubectl({"get", "deployment", "or"}).exit_code, 0);
  json sets = Json({"get", "replicasets", "-l", "app=or"});
  ASSERT_EQ(sets["items"].size(), 1U) << sets.dump();
  EXPECT_FALSE(sets["items"][0]["metadata"].contains("ownerReferences")) << sets.dump();
  EXPECT_EQ(Json({"get", "pods", "-l", "app=or"})["items"].size(), 2U);
  // A Job deleted by kubectl (Background) takes its pod.
  Ok({"create", "job", "once", "--image=x:1"});
  bool running = false;
  for (int i = 0; i < 300 && !running; ++i) {
    running = Json({"get", "pods", "-l", "job-name=once"})["items"].size() == 1;
    if (!running) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(running);
  Ok({"delete", "job", "once", "--timeout=60s"});
  bool collected = false;
  for (int i = 0; i < 300 && !collected; ++i) {
    collected = Json({"get", "pods", "-l", "job-name=once"})["items"].empty();
    if (!collected) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_TRUE(collected);
  Ok({"delete", "replicaset", "-l", "app=or", "--timeout=60s"});
}

// The CronJob controller on the real clock: a CronJob of every minute has
// started a Job within a minute; a Job made from it by hand is its too, and
// deleting it (Background) takes both.
// A Job whose pod succeeds completes; one whose pods keep failing uses up
// its backoffLimit and fails. kubectl waits on both and lists them.
TEST_F(KubectlTest, AJobCompletesAndOneThatKeepsFailingExhaustsItsBackoff) {
  Ok({"create", "job", "done", "--image=busybox", "--", "true"});
  Ok({"apply", "-f", files_.Write("bad.yaml", R"(apiVersion: batch/v1
kind: Job
metadata: {name: bad}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: app, image: busybox, command: ["false"]}
)")});
  // Plays the node: the pods of "done" exit 0, those of "bad" exit 1.
  std::atomic<bool> stop{false};
  std::thread node([&] {
    while (!stop) {
      json pods = json::parse(HttpBody(plane_->Curl("GET", "/api/v1/namespaces/default/pods")),
                              nullptr, false);
      for (const json& pod :
           pods.is_object() ? pods.value("items", json::array()) : json::array()) {
        const std::string phase = pod["status"].value("phase", "Pending");
        if (phase != "Pending" || pod["metadata"].contains("deletionTimestamp")) {
          continue;
        }
        const bool good = pod["metadata"]["labels"].value("job-name", "") == "done";
        plane_->Curl(
            "PATCH",
            "/api/v1/namespaces/default/pods/" + pod["metadata"]["name"].get<std::string>() +
                "/status",
            std::string(R"({"status":{"phase":")") + (good ? "Succeeded" : "Failed") +
                R"(","containerStatuses":[{"name":"c","ready":false,"restartCount":0,"image":"busybox","imageID":"","state":{"terminated":{"exitCode":)" +
                (good ? "0" : "1") + "}}}]}}",
            "application/merge-patch+json");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  Ok({"wait", "--for=condition=Complete", "job/done", "--timeout=60s"});
  // Two failures (the second after the controller's 10 s back-off) are one
  // more than backoffLimit allows.
  Ok({"wait", "--for=condition=Failed", "job/bad", "--timeout=90s"});
  stop = true;
  node.join();
  json bad = Json({"get", "job", "bad"});
  std::string reason;
  for (const json& c : bad["status"].value("conditions", json::array())) {
    if (c.value("type", "") == "Failed") {
      reason = c.value("reason", "");
    }
  }
  EXPECT_EQ(reason, "BackoffLimitExceeded") << bad.dump();
  EXPECT_EQ(bad["status"].value("failed", 0), 2) << bad.dump();
  auto table = Ok({"get", "jobs"});
  EXPECT_NE(table.out.find("STATUS"), std::string::npos) << table.out;
  for (const char* line : {"done", "bad"}) {
    const size_t at = table.out.find(std::string("\n") + line);
    ASSERT_NE(at, std::string::npos) << table.out;
    const std::string row = table.out.substr(at + 1, table.out.find('\n', at + 1) - at - 1);
    EXPECT_NE(row.find(std::string_view(line) == "done" ? "Complete" : "Failed"), std::string::npos)
        << row;
    EXPECT_NE(row.find(std::string_view(line) == "done" ? "1/1" : "0/1"), std::string::npos) << row;
  }
}

TEST_F(KubectlTest, ACronJobFiresWithinItsMinuteAndItsJobsGoWithIt) {
  Ok({"create", "cronjob", "tick", "--image=x:1", "--schedule=* * * * *"});
  Ok({"create", "job", "by-hand", "--from=cronjob/tick"});
  json manual = Json({"get", "job", "by-hand"});
  EXPECT_EQ(manual["metadata"]["ownerReferences"][0].value("kind", ""), "CronJob") << manual.dump();
  const auto scheduled = [&] {
    std::vector<std::string> names;
    const json jobs = Json({"get", "jobs"});
    for (const json& job : jobs["items"]) {
      std::string name = job["metadata"].value("name", "");
      if (name.rfind("tick-", 0) == 0) {
        names.push_back(name);
      }
    }
    return names;
  };
  // The first time is the next minute's start: at most 60 s away.
  bool fired = false;
  for (int i = 0; i < 75 && !fired; ++i) {
    fired = !scheduled().empty();
    if (!fired) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  ASSERT_TRUE(fired) << "no Job of cronjob tick within 75 s";
  json job = Json({"get", "job", scheduled().front()});
  EXPECT_TRUE(
      job["metadata"]["annotations"].contains("batch.kubernetes.io/cronjob-scheduled-timestamp"))
      << job.dump();
  bool listed = false;
  for (int i = 0; i < 100 && !listed; ++i) {
    listed = Json({"get", "cronjob", "tick"})["status"].value("active", json::array()).size() == 1;
    if (!listed) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_TRUE(listed) << "the Job it started is not in status.active";
  auto table = Ok({"get", "cronjob", "tick"});
  EXPECT_EQ(table.out.find("<none>"), std::string::npos) << "no LAST SCHEDULE: " << table.out;
  Ok({"delete", "cronjob", "tick", "--timeout=60s"});
  bool collected = false;
  for (int i = 0; i < 300 && !collected; ++i) {
    collected = Json({"get", "jobs"})["items"].empty();
    if (!collected) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_TRUE(collected) << "the cronjob's Jobs outlived it";
}

// A v1 ReplicationController as the public examples write it (no selector:
// the template's labels), scaled and listed by kubectl.
TEST_F(KubectlTest, AReplicationControllerRunsScalesAndListsAsKubectlExpects) {
  TestKubelet kubelet(*plane_);
  Ok({"apply", "-f", files_.Write("rc.yaml", R"(apiVersion: v1
kind: ReplicationController
metadata:
  name: redis
spec:
  replicas: 2
  template:
    metadata:
      labels: {app: redis}
    spec:
      containers:
      - name: redis
        image: redis:7
        ports:
        - containerPort: 6379
)")});
  json rc = Json({"get", "rc", "redis"});
  EXPECT_EQ(rc["spec"]["selector"], json::parse(R"({"app":"redis"})")) << rc.dump();
  Ok({"scale", "rc", "redis", "--replicas=3"});
  bool ready = false;
  for (int i = 0; i < 300 && !ready; ++i) {
    ready = Json({"get", "rc", "redis"})["status"].value("readyReplicas", 0) == 3;
    if (!ready) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(ready) << Json({"get", "rc", "redis"}).dump();
  EXPECT_EQ(Json({"get", "pods", "-l", "app=redis"})["items"].size(), 3U);
  auto table = Ok({"get", "rc", "redis"});
  EXPECT_NE(table.out.find("DESIRED"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("redis   3         3         3"), std::string::npos) << table.out;
  // Refused as kube-apiserver refuses it: a selector its template does not match.
  auto bad = plane_->Kubectl({"apply", "-f", files_.Write("bad-rc.yaml", R"(apiVersion: v1
kind: ReplicationController
metadata:
  name: bad
spec:
  selector: {app: other}
  template:
    metadata:
      labels: {app: redis}
    spec:
      containers:
      - {name: c, image: x}
)")});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("`selector` does not match template `labels`"), std::string::npos)
      << bad.err;
  Ok({"delete", "rc", "redis", "--timeout=60s"});
}

// A StatefulSet from a manifest: kubectl rollout status waits for its
// ordered start; each pod has its claim.
TEST_F(KubectlTest, AStatefulSetRollsOutInOrderWithAClaimPerPod) {
  TestKubelet kubelet(*plane_);
  Ok({"apply", "-f", files_.Write("sts.yaml", R"(apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  clusterIP: None
  selector: {app: db}
  ports:
  - port: 5432
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 3
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: postgres
        image: postgres:16
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
)")});
  auto status = Ok({"rollout", "status", "statefulset/db", "--timeout=60s"});
  EXPECT_NE(status.out.find("partitioned roll out complete"), std::string::npos) << status.out;
  json pods = Json({"get", "pods", "-l", "app=db"});
  std::vector<std::string> names;
  for (const json& pod : pods["items"]) {
    names.push_back(pod["metadata"].value("name", ""));
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"db-0", "db-1", "db-2"}));
  json claims = Json({"get", "pvc", "-l", "app=db"});
  EXPECT_EQ(claims["items"].size(), 3U) << claims.dump();
  auto table = Ok({"get", "statefulset", "db"});
  EXPECT_NE(table.out.find("3/3"), std::string::npos) << table.out;
}

// A DaemonSet on two test nodes: one pod pinned to each, and kubectl
// rollout status waits for both.
TEST_F(KubectlTest, ADaemonSetRunsOnEachOfTwoNodes) {
  TestKubelet kubelet(*plane_);
  Ok({"apply", "-f", files_.Write("nodes.yaml", R"(apiVersion: v1
kind: Node
metadata:
  name: node-a
---
apiVersion: v1
kind: Node
metadata:
  name: node-b
)")});
  Ok({"apply", "-f", files_.Write("ds.yaml", R"(apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: logs
spec:
  selector:
    matchLabels: {app: logs}
  template:
    metadata:
      labels: {app: logs}
    spec:
      containers:
      - name: fluent
        image: fluent-bit:3
)")});
  auto status = Ok({"rollout", "status", "daemonset/logs", "--timeout=60s"});
  EXPECT_NE(status.out.find("successfully rolled out"), std::string::npos) << status.out;
  json pods = Json({"get", "pods", "-l", "app=logs"});
  std::vector<std::string> nodes;
  for (const json& pod : pods["items"]) {
    nodes.push_back(
        pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
           ["nodeSelectorTerms"][0]["matchFields"][0]["values"][0]
               .get<std::string>());
  }
  std::sort(nodes.begin(), nodes.end());
  EXPECT_EQ(nodes, (std::vector<std::string>{"node-a", "node-b"})) << pods.dump();
  auto table = Ok({"get", "daemonset", "logs"});
  EXPECT_NE(table.out.find("logs   2         2         2       2            2"), std::string::npos)
      << table.out;
}

// Kinds public manifests use beside workloads: stored, validated, listed.
TEST_F(KubectlTest, AutoscalersBudgetsPriorityClassesAndApiServicesAreServed) {
  Ok({"create", "deployment", "web", "--image=x:1"});
  Ok({"autoscale", "deployment", "web", "--min=2", "--max=5", "--cpu-percent=60"});
  json hpa = Json({"get", "hpa", "web"});
  EXPECT_EQ(hpa.value("apiVersion", ""), "autoscaling/v2") << hpa.dump();
  EXPECT_EQ(hpa["spec"].value("maxReplicas", 0), 5) << hpa.dump();
  auto hpas = Ok({"get", "hpa"});
  EXPECT_NE(hpas.out.find("Deployment/web"), std::string::npos) << hpas.out;
  EXPECT_NE(hpas.out.find("cpu: <unknown>/60%"), std::string::npos) << hpas.out;

  Ok({"create", "poddisruptionbudget", "web", "--selector=app=web", "--min-available=1"});
  auto pdbs = Ok({"get", "pdb", "web"});
  EXPECT_NE(pdbs.out.find("MIN AVAILABLE"), std::string::npos) << pdbs.out;
  auto both = plane_->Kubectl({"apply", "-f", files_.Write("pdb.yaml", R"(apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: both
spec:
  minAvailable: 1
  maxUnavailable: 1
  selector:
    matchLabels: {app: web}
)")});
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.err.find("minAvailable and maxUnavailable cannot be both set"), std::string::npos)
      << both.err;

  Ok({"create", "priorityclass", "batch-low", "--value=100", "--description=batch"});
  auto classes = Ok({"get", "priorityclasses"});
  for (const char* name : {"batch-low", "system-cluster-critical", "system-node-critical"}) {
    EXPECT_NE(classes.out.find(name), std::string::npos) << classes.out;
  }
  auto reserved = plane_->Kubectl({"create", "priorityclass", "system-mine", "--value=1"});
  EXPECT_NE(reserved.exit_code, 0);
  EXPECT_NE(reserved.err.find("'system-' prefix are reserved"), std::string::npos) << reserved.err;

  Ok({"apply", "-f", files_.Write("apiservice.yaml", R"(apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta1.metrics.k8s.io
spec:
  group: metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  insecureSkipTLSVerify: true
  service: {name: metrics-server, namespace: kube-system}
)")});
  auto services = Ok({"get", "apiservices"});
  EXPECT_NE(services.out.find("kube-system/metrics-server"), std::string::npos) << services.out;
}

TEST_F(KubectlTest, ExposeGivesAClusterIpWhoseEndpointsAreTheReadyPods) {
  TestKubelet kubelet(*plane_);
  Ok({"create", "deployment", "api", "--image=x:1", "--replicas=2", "--port=8080"});
  Ok({"rollout", "status", "deployment/api", "--timeout=60s"});
  auto exposed = Ok({"expose", "deployment", "api", "--port=80", "--target-port=8080"});
  EXPECT_NE(exposed.out.find("service/api exposed"), std::string::npos) << exposed.out;
  json service = Json({"get", "service", "api"});
  std::string ip = service["spec"].value("clusterIP", "");
  // In the default --service-cidr, 10.96.0.0/12.
  int a = 0;
  int b = 0;
  ASSERT_EQ(std::sscanf(ip.c_str(), "%d.%d.", &a, &b), 2) << service.dump();
  EXPECT_EQ(a, 10);
  EXPECT_TRUE(b >= 96 && b <= 111) << ip;
  EXPECT_EQ(service["spec"]["clusterIPs"], json::array({ip}));
  bool two = false;
  json slices;
  for (int i = 0; i < 300 && !two; ++i) {
    slices = Json({"get", "endpointslices", "-l", "kubernetes.io/service-name=api"});
    two = slices["items"].size() == 1 && slices["items"][0]["endpoints"].size() == 2 &&
          slices["items"][0]["endpoints"][0]["conditions"].value("ready", false) &&
          slices["items"][0]["endpoints"][1]["conditions"].value("ready", false);
    if (!two) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(two) << slices.dump();
  EXPECT_EQ(slices["items"][0]["ports"][0]["port"], 8080);
  json endpoints = Json({"get", "endpoints", "api"});
  EXPECT_EQ(endpoints["subsets"][0]["addresses"].size(), 2U) << endpoints.dump();
  // Another Service cannot take the address.
  auto taken = plane_->Kubectl(
      {"create", "service", "clusterip", "other", "--tcp=80:80", "--clusterip=" + ip});
  EXPECT_NE(taken.exit_code, 0);
  EXPECT_NE(taken.err.find("provided IP is already allocated"), std::string::npos) << taken.err;
  Ok({"delete", "service", "api"});
  Ok({"delete", "deployment", "api"});
}

TEST_F(KubectlTest, DeleteNamespaceRemovesWhatIsInItAndEnds) {
  Ok({"create", "namespace", "gone"});
  Ok({"create", "configmap", "settings", "-n", "gone", "--from-literal=a=1"});
  Ok({"create", "deployment", "web", "-n", "gone", "--image=x:1"});
  // kubectl waits for the namespace to be gone (--wait is its default).
  auto deleted = Ok({"delete", "namespace", "gone", "--timeout=60s"});
  EXPECT_NE(deleted.out.find("namespace \"gone\" deleted"), std::string::npos) << deleted.out;
  auto missing = plane_->Kubectl({"get", "namespace", "gone"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("NotFound"), std::string::npos) << missing.err;
  auto content = plane_->Kubectl(
      {"get", "configmaps,deployments,replicasets,pods", "-n", "gone", "-o", "name"});
  EXPECT_EQ(content.out, "") << content.out;
  Ok({"create", "namespace", "gone"});
  Ok({"delete", "namespace", "gone"});
}

// A pod on a node is given its grace period when deleted: kubectl shows it
// Terminating until a delete with no grace left (its node's, or --force).
TEST_F(KubectlTest, ADeletedPodOnANodeIsTerminatingUntilForced) {
  Ok({"apply", "-f", files_.Write("slow.yaml", R"(apiVersion: v1
kind: Pod
metadata: {name: slow}
spec:
  terminationGracePeriodSeconds: 120
  containers:
  - {name: app, image: busybox}
)")});
  auto bound = plane_->Curl(
      "POST", "/api/v1/namespaces/default/pods/slow/binding",
      R"({"apiVersion":"v1","kind":"Binding","metadata":{"name":"slow"},"target":{"kind":"Node","name":"node-a"}})",
      "application/json");
  ASSERT_EQ(HttpStatus(bound), 201) << bound.out;
  auto deleted = Ok({"delete", "pod", "slow", "--wait=false"});
  EXPECT_NE(deleted.out.find("pod \"slow\" deleted"), std::string::npos) << deleted.out;
  auto table = Ok({"get", "pod", "slow"});
  EXPECT_NE(table.out.find("Terminating"), std::string::npos) << table.out;
  json pod = Json({"get", "pod", "slow"});
  EXPECT_EQ(pod["metadata"].value("deletionGracePeriodSeconds", -1), 120) << pod.dump();
  EXPECT_TRUE(pod["metadata"].contains("deletionTimestamp")) << pod.dump();
  auto forced = Ok({"delete", "pod", "slow", "--grace-period=0", "--force"});
  EXPECT_NE(forced.out.find("pod \"slow\" force deleted"), std::string::npos) << forced.out;
  auto missing = plane_->Kubectl({"get", "pod", "slow"});
  EXPECT_NE(missing.exit_code, 0) << missing.out;
  EXPECT_NE(missing.err.find("NotFound"), std::string::npos) << missing.err;
}

TEST_F(KubectlTest, VersionIs132ThroughTheDispatcherToo) {
  auto doc = Json({"version"});
  EXPECT_EQ(doc["serverVersion"]["major"], "1");
  EXPECT_EQ(doc["serverVersion"]["minor"], "32");
  auto argv = plane_->KubectlArgv({"version", "-o", "json"}, kKubectlDispatcher);
  auto dispatched = RunCommand(argv);
  ASSERT_EQ(dispatched.exit_code, 0) << dispatched.err;
  auto via = json::parse(dispatched.out, nullptr, false);
  EXPECT_EQ(via["serverVersion"]["minor"], "32");
  auto listed =
      RunCommand(plane_->KubectlArgv({"get", "namespaces", "-o", "name"}, kKubectlDispatcher));
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("namespace/default"), std::string::npos) << listed.out;
}

TEST_F(KubectlTest, ApiResourcesListsTheServedKinds) {
  auto result = Ok({"api-resources", "-o", "name"});
  for (const char* name :
       {"pods", "namespaces", "configmaps", "deployments.apps", "jobs.batch", "cronjobs.batch",
        "roles.rbac.authorization.k8s.io", "ingresses.networking.k8s.io",
        "storageclasses.storage.k8s.io", "leases.coordination.k8s.io",
        "endpointslices.discovery.k8s.io", "customresourcedefinitions.apiextensions.k8s.io",
        "replicationcontrollers"}) {
    EXPECT_NE(result.out.find(std::string(name) + "\n"), std::string::npos) << name;
  }
  auto namespaces = Ok({"get", "namespaces", "-o", "name"});
  EXPECT_NE(namespaces.out.find("namespace/default"), std::string::npos) << namespaces.out;
  EXPECT_NE(namespaces.out.find("namespace/kube-system"), std::string::npos);
}

TEST_F(KubectlTest, CreateGetYamlJsonAndTable) {
  std::string file = files_.Write("cm.yaml",
                                  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
                                  "data:\n  color: blue\n  size: large\n");
  auto created = Ok({"create", "-f", file});
  EXPECT_NE(created.out.find("configmap/settings created"), std::string::npos) << created.out;
  auto doc = Json({"get", "configmap", "settings"});
  EXPECT_EQ(doc["data"]["color"], "blue");
  EXPECT_FALSE(doc["metadata"]["uid"].get<std::string>().empty());
  EXPECT_FALSE(doc["metadata"]["resourceVersion"].get<std::string>().empty());
  EXPECT_FALSE(doc["metadata"]["creationTimestamp"].get<std::string>().empty());
  auto yaml = Ok({"get", "cm", "settings", "-o", "yaml"});
  EXPECT_NE(yaml.out.find("color: blue"), std::string::npos) << yaml.out;
  auto table = Ok({"get", "configmap", "settings"});
  EXPECT_NE(table.out.find("DATA"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("settings   2"), std::string::npos) << table.out;
  auto again = plane_->Kubectl({"create", "-f", file});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("AlreadyExists"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
}

TEST_F(KubectlTest, GeneratorCommandsSendProtobufAndWork) {
  Ok({"create", "deployment", "gen", "--image=busybox", "--replicas=3", "--port=8080"});
  Ok({"create", "namespace", "team-a"});
  Ok({"create", "configmap", "c1", "--from-literal=a=b", "-n", "team-a"});
  Ok({"create", "secret", "generic", "s1", "--from-literal=p=q"});
  Ok({"create", "service", "clusterip", "svc1", "--tcp=80:8080"});
  auto deployment = Json({"get", "deployment", "gen"});
  EXPECT_EQ(deployment["spec"]["replicas"], 3);
  EXPECT_EQ(deployment["spec"]["template"]["spec"]["containers"][0]["image"], "busybox");
  EXPECT_EQ(deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
            8080);
  // Defaults as a Kubernetes API server sets them.
  EXPECT_EQ(deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"], "TCP");
  EXPECT_EQ(deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "Always");
  EXPECT_EQ(deployment["spec"]["strategy"]["type"], "RollingUpdate");
  EXPECT_EQ(deployment["spec"]["template"]["spec"]["restartPolicy"], "Always");
  EXPECT_EQ(Json({"get", "cm", "c1", "-n", "team-a"})["data"]["a"], "b");
  EXPECT_EQ(Json({"get", "secret", "s1"})["data"]["p"], "cQ==");
  auto service = Json({"get", "service", "svc1"});
  EXPECT_EQ(service["spec"]["ports"][0]["port"], 80);
  EXPECT_EQ(service["spec"]["ports"][0]["targetPort"], 8080);
  EXPECT_EQ(service["spec"]["ports"][0]["protocol"], "TCP");
  EXPECT_EQ(service["spec"]["type"], "ClusterIP");
}

TEST_F(KubectlTest, ApplyTwiceThenChangeMergesByKey) {
  std::string file = files_.Write("deploy.yaml", kDeployment);
  auto first = Ok({"apply", "-f", file});
  EXPECT_NE(first.out.find("deployment.apps/web created"), std::string::npos) << first.out;
  auto applied =
      Json({"get", "deploy",
            "web"})["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"];
  auto second = Ok({"apply", "-f", file});
  EXPECT_NE(second.out.find("deployment.apps/web unchanged"), std::string::npos) << second.out;
  // Unchanged: the spec is not written again (the controllers still write
  // the deployment's status and revision, so its resourceVersion moves).
  auto after = Json({"get", "deploy", "web"});
  EXPECT_EQ(after["metadata"]["generation"], 1);
  EXPECT_EQ(after["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            applied);
  // A change kubectl sends as a strategic merge patch keyed by container name.
  std::string changed = kDeployment;
  changed.replace(changed.find("nginx:1.25"), 10, "nginx:1.26");
  changed.replace(changed.find("      - name: sidecar\n        image: busybox\n"), 44, "");
  Ok({"apply", "-f", files_.Write("deploy.yaml", changed)});
  auto doc = Json({"get", "deploy", "web"});
  auto containers = doc["spec"]["template"]["spec"]["containers"];
  ASSERT_EQ(containers.size(), 1U) << doc.dump();
  EXPECT_EQ(containers[0]["image"], "nginx:1.26");
  EXPECT_EQ(containers[0]["env"][0]["value"], "1");
  EXPECT_EQ(doc["metadata"]["generation"], 2);
}

TEST_F(KubectlTest, PatchOfEachType) {
  Ok({"apply", "-f", files_.Write("deploy.yaml", kDeployment)});
  Ok({"patch", "deployment", "web", "-p",
      R"({"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:2"}]}}}})"});
  auto doc = Json({"get", "deploy", "web"});
  auto containers = doc["spec"]["template"]["spec"]["containers"];
  ASSERT_EQ(containers.size(), 2U) << doc.dump();
  EXPECT_EQ(containers[0]["image"], "nginx:1.25");
  EXPECT_EQ(containers[1]["image"], "busybox:2");
  Ok({"patch", "deployment", "web", "--type", "merge", "-p",
      R"({"metadata":{"labels":{"tier":"front"}},"spec":{"replicas":4}})"});
  doc = Json({"get", "deploy", "web"});
  EXPECT_EQ(doc["metadata"]["labels"]["tier"], "front");
  EXPECT_EQ(doc["spec"]["replicas"], 4);
  const std::string json_patch = R"([{"op":"replace","path":"/spec/replicas","value":1},)"
                                 R"({"op":"remove","path":"/metadata/labels/tier"}])";
  Ok({"patch", "deployment", "web", "--type", "json", "-p", json_patch});
  doc = Json({"get", "deploy", "web"});
  EXPECT_EQ(doc["spec"]["replicas"], 1);
  EXPECT_FALSE(doc["metadata"]["labels"].contains("tier"));
  auto failed = plane_->Kubectl({"patch", "deployment", "web", "--type", "json", "-p",
                                 R"([{"op":"test","path":"/spec/replicas","value":9}])"});
  EXPECT_NE(failed.exit_code, 0);
  auto ssa = plane_->Kubectl({"apply", "--server-side", "-f", files_.Write("d.yaml", kDeployment)});
  EXPECT_NE(ssa.exit_code, 0);
  EXPECT_NE(ssa.err.find("server-side apply is not supported"), std::string::npos) << ssa.err;
}

TEST_F(KubectlTest, LabelAnnotateDelete) {
  Ok({"create", "configmap", "c1", "--from-literal=a=b"});
  Ok({"label", "configmap", "c1", "team=red"});
  Ok({"annotate", "configmap", "c1", "note=hello"});
  auto listed = Ok({"get", "cm", "-l", "team=red", "-o", "name"});
  EXPECT_EQ(listed.out, "configmap/c1\n");
  EXPECT_EQ(Ok({"get", "cm", "-l", "team!=red", "-o", "name"}).out.find("configmap/c1"),
            std::string::npos);
  EXPECT_EQ(Json({"get", "cm", "c1"})["metadata"]["annotations"]["note"], "hello");
  auto bad = plane_->Kubectl({"label", "configmap", "c1", "team=not valid!"});
  EXPECT_NE(bad.exit_code, 0);
  Ok({"label", "configmap", "c1", "team-"});
  EXPECT_FALSE(Json({"get", "cm", "c1"})["metadata"].contains("labels") &&
               Json({"get", "cm", "c1"})["metadata"]["labels"].contains("team"));
  auto deleted = Ok({"delete", "configmap", "c1"});
  EXPECT_NE(deleted.out.find("configmap \"c1\" deleted"), std::string::npos) << deleted.out;
  auto gone = plane_->Kubectl({"get", "configmap", "c1"});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_NE(gone.err.find("NotFound"), std::string::npos) << gone.err;
}

TEST_F(KubectlTest, GetWatchSeesAnotherClientsChange) {
  Ok({"create", "configmap", "watched", "--from-literal=a=1"});
  auto watcher = Process::Spawn(plane_->KubectlArgv({"get", "configmaps", "-w", "-o", "name"}));
  ASSERT_NE(watcher, nullptr);
  auto first = watcher->WaitForLine(
      [](const std::string& line) { return line.find("configmap/watched") != std::string::npos; },
      30);
  EXPECT_FALSE(first.empty()) << watcher->output();
  Ok({"create", "configmap", "from-another-client", "--from-literal=b=2"});
  auto seen = watcher->WaitForLine(
      [](const std::string& line) {
        return line.find("configmap/from-another-client") != std::string::npos;
      },
      30);
  EXPECT_FALSE(seen.empty()) << watcher->output();
}

TEST_F(KubectlTest, WaitForConditionAndForDelete) {
  Ok({"apply", "-f", files_.Write("deploy.yaml", kDeployment)});
  // -v=6 logs each request once answered: the change is made only after
  // kubectl's watch is open, so the wait must come from the watch.
  auto watching = [](const std::string& line) {
    return line.find("watch=true") != std::string::npos && line.find("200 OK") != std::string::npos;
  };
  auto waiter =
      Process::Spawn(plane_->KubectlArgv({"wait", "deployment/web", "--for=condition=Available",
                                          "--timeout=60s", "-v=6"}),
                     {}, true);
  ASSERT_NE(waiter, nullptr);
  ASSERT_FALSE(waiter->WaitForLine(watching, 60).empty()) << waiter->output();
  Ok({"patch", "deployment", "web", "--subresource=status", "--type=merge", "-p",
      R"({"status":{"conditions":[{"type":"Available","status":"True","reason":"Test"}]}})"});
  EXPECT_EQ(waiter->Wait(60), 0) << waiter->output();
  EXPECT_NE(waiter->output().find("condition met"), std::string::npos) << waiter->output();
  auto deleter = Process::Spawn(
      plane_->KubectlArgv({"wait", "deployment/web", "--for=delete", "--timeout=60s", "-v=6"}), {},
      true);
  ASSERT_NE(deleter, nullptr);
  ASSERT_FALSE(deleter->WaitForLine(watching, 60).empty()) << deleter->output();
  Ok({"delete", "deployment", "web"});
  EXPECT_EQ(deleter->Wait(60), 0) << deleter->output();
}

TEST_F(KubectlTest, ScaleUsesTheScaleSubresource) {
  Ok({"apply", "-f", files_.Write("deploy.yaml", kDeployment)});
  auto scaled = Ok({"scale", "deployment", "web", "--replicas=5"});
  EXPECT_NE(scaled.out.find("scaled"), std::string::npos) << scaled.out;
  EXPECT_EQ(Json({"get", "deploy", "web"})["spec"]["replicas"], 5);
  auto stale =
      plane_->Kubectl({"scale", "deployment", "web", "--current-replicas=2", "--replicas=3"});
  EXPECT_NE(stale.exit_code, 0);
  EXPECT_EQ(Json({"get", "deploy", "web"})["spec"]["replicas"], 5);
  auto raw = Ok({"get", "--raw", "/apis/apps/v1/namespaces/default/deployments/web/scale"});
  auto scale = json::parse(raw.out, nullptr, false);
  EXPECT_EQ(scale["kind"], "Scale");
  EXPECT_EQ(scale["apiVersion"], "autoscaling/v1");
  EXPECT_EQ(scale["spec"]["replicas"], 5);
  EXPECT_EQ(scale["status"]["selector"], "app=web");
}

TEST_F(KubectlTest, CustomResourcesLiveInOneVirtualClusterOnly) {
  std::string crd = files_.Write("crd.yaml", R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
)");
  Ok({"apply", "-f", crd});
  Ok({"wait", "crd/widgets.example.com", "--for=condition=Established", "--timeout=30s"});
  Ok({"apply", "-f",
      files_.Write("w.yaml",
                   "apiVersion: example.com/v1\nkind: Widget\n"
                   "metadata:\n  name: w1\nspec:\n  size: 3\n")});
  auto table = Ok({"get", "widgets"});
  EXPECT_NE(table.out.find("SIZE"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("w1"), std::string::npos) << table.out;
  EXPECT_EQ(Json({"get", "wd", "w1"})["spec"]["size"], 3);
  auto unknown =
      plane_->Kubectl({"apply", "-f",
                       files_.Write("bad.yaml",
                                    "apiVersion: example.com/v1\nkind: Widget\n"
                                    "metadata:\n  name: w2\nspec:\n  size: 3\n  shape: round\n")});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("unknown field \"spec.shape\""), std::string::npos) << unknown.err;
  auto typed = plane_->Kubectl({"apply", "-f",
                                files_.Write("bad2.yaml",
                                             "apiVersion: example.com/v1\nkind: Widget\n"
                                             "metadata:\n  name: w3\nspec:\n  size: big\n")});
  EXPECT_NE(typed.exit_code, 0);
  EXPECT_NE(typed.err.find("spec.size"), std::string::npos) << typed.err;

  auto other = ControlPlane::Start();
  ASSERT_NE(other, nullptr);
  auto missing = other->Kubectl({"get", "widgets"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("the server doesn't have a resource type \"widgets\""),
            std::string::npos)
      << missing.err;
  auto crds = other->Kubectl({"get", "crd", "-o", "name"});
  EXPECT_EQ(crds.exit_code, 0) << crds.err;
  EXPECT_EQ(crds.out, "");

  Ok({"delete", "crd", "widgets.example.com"});
  auto after = plane_->Kubectl({"get", "widgets"});
  EXPECT_NE(after.exit_code, 0);
}

TEST_F(KubectlTest, AuthCanIAndWhoAmIAnswerForTheAdmin) {
  EXPECT_EQ(Ok({"auth", "can-i", "create", "deployments"}).out, "yes\n");
  EXPECT_EQ(Ok({"auth", "can-i", "*", "*"}).out, "yes\n");
  auto whoami = Ok({"auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"});
  EXPECT_EQ(whoami.out, "admin");
  // Reviews are answered, never stored.
  auto listed = plane_->Kubectl({"get", "selfsubjectaccessreviews"});
  EXPECT_NE(listed.exit_code, 0);
}

TEST_F(KubectlTest, RestartOnTheSameDirectoryServesTheSameCluster) {
  Ok({"create", "configmap", "kept", "--from-literal=a=b"});
  std::string token = plane_->token();
  std::string dir = plane_->data_dir();
  plane_->Kill9();
  auto again = ControlPlane::Start(dir);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->token(), token);
  auto result = again->Kubectl({"get", "configmap", "kept", "-o", "jsonpath={.data.a}"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "b");
}

}  // namespace
}  // namespace bulkhead::testing
