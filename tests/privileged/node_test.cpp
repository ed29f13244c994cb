// bulkhead-node on the real kernel: pods of a host-mode API run in real
// containers through containerd, runc and the CNI bridge, and what they do
// (serve, crash, run out of memory, read their volumes) shows in their
// status as a kubelet writes it.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <sstream>
#include <thread>

#include "tests/privileged/node_fixture.h"

namespace bulkhead::testing {
namespace {

using nlohmann::json;

bool PhaseIs(const json& pod, const std::string& phase) {
  return pod.value("/status/phase"_json_pointer, "") == phase;
}

bool Ready(const json& pod) {
  for (const json& c : pod.value("/status/conditions"_json_pointer, json::array())) {
    if (c.value("type", "") == "Ready") {
      return c.value("status", "") == "True";
    }
  }
  return false;
}

std::string PodIp(const json& pod) { return pod.value("/status/podIP"_json_pointer, ""); }

constexpr const char* kBusybox = "bulkhead.local/busybox:1.35";

// Two httpd pods of a Deployment become Ready with addresses in the node's
// pod network; the host reaches each, and a pod reaches the other.
TEST_F(NodeTest, ADeploymentBecomesReadyAndItsPodsAnswerFromTheHostAndEachOther) {
  Apply(std::string(R"Y(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: )Y") +
        kBusybox + R"Y(
        command: ["sh", "-c", "echo $POD_NAME > /www/index.html; exec httpd -f -p 8080 -h /www"]
        env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
        volumeMounts: [{name: www, mountPath: /www}]
      volumes: [{name: www, emptyDir: {}}]
)Y");
  Ok({"rollout", "status", "deployment/web", "--timeout=90s"}, 100);
  json pods = WaitFor("pods", [](const json& list) {
    int ready = 0;
    for (const json& pod : list["items"]) {
      ready += Ready(pod) && !PodIp(pod).empty() ? 1 : 0;
    }
    return ready == 2;
  });
  ASSERT_EQ(pods["items"].size(), 2U) << pods.dump();
  std::vector<std::string> names;
  std::vector<std::string> ips;
  for (const json& pod : pods["items"]) {
    names.push_back(pod["metadata"]["name"]);
    ips.push_back(PodIp(pod));
    EXPECT_EQ(
        pod.value("/status/hostIP"_json_pointer, ""),
        shared_->containerd.pod_cidr.substr(0, shared_->containerd.pod_cidr.rfind('.')) + ".1");
    json status = ContainerStatus(pod, "httpd");
    EXPECT_EQ(status.value("restartCount", -1), 0) << status.dump();
    EXPECT_TRUE(status.value("/state/running/startedAt"_json_pointer, "") != "") << status.dump();
    EXPECT_TRUE(status.value("containerID", "").starts_with("containerd://")) << status.dump();
  }
  ASSERT_NE(ips[0], ips[1]);
  const std::string prefix =
      shared_->containerd.pod_cidr.substr(0, shared_->containerd.pod_cidr.rfind('.') + 1);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(ips[i].starts_with(prefix)) << ips[i] << " not in " << shared_->containerd.pod_cidr;
    auto answer = RunCommand({"/usr/bin/curl", "-s", "-m", "5", "http://" + ips[i] + ":8080/"});
    EXPECT_EQ(answer.exit_code, 0) << answer.err;
    EXPECT_EQ(answer.out, names[i] + "\n");
  }
  // From inside the pod network: a pod that fetches the other pod's page
  // and succeeds only if it gets that pod's name.
  Apply(std::string(R"Y(apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  containers:
  - name: fetch
    image: )Y") +
        kBusybox + R"Y(
    command: ["sh", "-c", "test \"$(timeout 10 wget -qO- http://)Y" +
        ips[1] + R"Y(:8080/)\" = )Y" + names[1] + R"Y("]
)Y");
  json client = WaitFor("pod/client", [](const json& pod) {
    return PhaseIs(pod, "Succeeded") || PhaseIs(pod, "Failed");
  });
  EXPECT_TRUE(PhaseIs(client, "Succeeded")) << client.dump();
  EXPECT_EQ(ContainerStatus(client, "fetch").value("/state/terminated/reason"_json_pointer, ""),
            "Completed");
}

// Under OnFailure a container that exits non-zero runs again, each time
// after a longer back-off; its status says CrashLoopBackOff, the restart
// count and the last exit code. One that exits 0 ends the pod Succeeded.
TEST_F(NodeTest, AFailingContainerRestartsWithBackOffAndOneThatSucceedsEndsThePod) {
  Apply(std::string(R"Y(apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  restartPolicy: OnFailure
  containers:
  - {name: app, image: )Y") +
        kBusybox + R"Y(, command: ["sh", "-c", "exit 3"]}
---
apiVersion: v1
kind: Pod
metadata: {name: done}
spec:
  restartPolicy: OnFailure
  containers:
  - {name: app, image: )Y" +
        kBusybox + R"Y(, command: ["true"]}
)Y");
  json crash = WaitFor("pod/crash", [](const json& pod) {
    return ContainerStatus(pod, "app").value("restartCount", 0) >= 2;
  });
  json status = ContainerStatus(crash, "app");
  EXPECT_EQ(status.value("/lastState/terminated/exitCode"_json_pointer, 0), 3) << status.dump();
  EXPECT_EQ(status.value("/lastState/terminated/reason"_json_pointer, ""), "Error");
  EXPECT_TRUE(PhaseIs(crash, "Running")) << crash.dump();
  json waiting = WaitFor("pod/crash", [](const json& pod) {
    return ContainerStatus(pod, "app").value("/state/waiting/reason"_json_pointer, "") ==
           "CrashLoopBackOff";
  });
  auto table = Ok({"get", "pod", "crash"});
  EXPECT_NE(table.out.find("CrashLoopBackOff"), std::string::npos) << table.out;
  json done = WaitFor("pod/done", [](const json& pod) { return PhaseIs(pod, "Succeeded"); });
  EXPECT_EQ(ContainerStatus(done, "app").value("restartCount", -1), 0);
  auto events = Ok({"get", "events", "--field-selector", "involvedObject.name=crash"});
  EXPECT_NE(events.out.find("BackOff"), std::string::npos) << events.out;
}

// A container over its memory limit is killed by the kernel and says
// OOMKilled; its limit is in its cgroup under the pod's kubepods parent.
TEST_F(NodeTest, AContainerOverItsMemoryLimitIsOomKilled) {
  Apply(std::string(R"Y(apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: )Y") +
        kBusybox + R"Y(
    command: ["sh", "-c", "sleep 1; x=$(head -c 200000000 /dev/zero | tr '\\0' a); sleep 30"]
    resources:
      limits: {memory: 32Mi, cpu: 500m}
)Y");
  json running = WaitFor("pod/hog", [](const json& pod) {
    return ContainerStatus(pod, "hog").contains("/state/running"_json_pointer) ||
           PhaseIs(pod, "Failed");
  });
  std::string uid = running["metadata"]["uid"];
  EXPECT_EQ(running.value("/status/qosClass"_json_pointer, ""), "Guaranteed");
  std::string container = ContainerStatus(running, "hog").value("containerID", "").substr(13);
  std::string limit_file = "/sys/fs/cgroup/memory" + shared_->cgroup_root + "/kubepods/pod" + uid +
                           "/" + container + "/memory.limit_in_bytes";
  if (PhaseIs(running, "Running")) {
    auto limit = RunCommand({"/bin/cat", limit_file});
    EXPECT_EQ(limit.out, std::to_string(32 << 20) + "\n") << limit_file << limit.err;
  }
  json hog = WaitFor("pod/hog", [](const json& pod) { return PhaseIs(pod, "Failed"); });
  EXPECT_EQ(ContainerStatus(hog, "hog").value("/state/terminated/reason"_json_pointer, ""),
            "OOMKilled")
      << hog.dump();
  EXPECT_EQ(ContainerStatus(hog, "hog").value("/state/terminated/exitCode"_json_pointer, 0), 137);
}

// What a pod gets wrong shows in its status and events, and the node goes
// on running the others: an image nobody has, a command the image lacks,
// a ConfigMap that does not exist.
TEST_F(NodeTest, BadImagesCommandsAndMissingConfigMapsSayWhyAndHarmNoOther) {
  Apply(std::string(R"Y(apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec:
  containers:
  - {name: app, image: bulkhead.local/nothing-here:1}
---
apiVersion: v1
kind: Pod
metadata: {name: nocommand}
spec:
  restartPolicy: Never
  containers:
  - {name: app, image: )Y") +
        kBusybox + R"Y(, command: ["/no/such/program"]}
---
apiVersion: v1
kind: Pod
metadata: {name: noconfig}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: )Y" +
        kBusybox + R"Y(
    command: ["sleep", "3600"]
    volumeMounts: [{name: conf, mountPath: /conf}]
  volumes: [{name: conf, configMap: {name: absent}}]
---
apiVersion: v1
kind: Pod
metadata: {name: fine}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: )Y" +
        kBusybox + R"Y(, command: ["sleep", "3600"]}
)Y");
  json noimage = WaitFor("pod/noimage", [](const json& pod) {
    std::string reason =
        ContainerStatus(pod, "app").value("/state/waiting/reason"_json_pointer, "");
    return reason == "ErrImagePull" || reason == "ImagePullBackOff";
  });
  std::string message =
      ContainerStatus(noimage, "app").value("/state/waiting/message"_json_pointer, "");
  EXPECT_NE(message.find("bulkhead.local/nothing-here:1"), std::string::npos) << message;
  EXPECT_NE(message.find("bulkhead node import"), std::string::npos) << message;
  EXPECT_TRUE(PhaseIs(noimage, "Pending"));

  json nocommand = WaitFor("pod/nocommand", [](const json& pod) { return PhaseIs(pod, "Failed"); });
  json terminated =
      ContainerStatus(nocommand, "app").value("/state/terminated"_json_pointer, json::object());
  EXPECT_EQ(terminated.value("reason", ""), "StartError") << terminated.dump();
  EXPECT_EQ(terminated.value("exitCode", 0), 128);
  EXPECT_NE(terminated.value("message", "").find("/no/such/program"), std::string::npos);

  json fine = WaitFor("pod/fine", [](const json& pod) { return Ready(pod); });
  EXPECT_TRUE(PhaseIs(fine, "Running"));
  json noconfig = Get("pod/noconfig");
  EXPECT_TRUE(PhaseIs(noconfig, "Pending")) << noconfig.dump();
  EXPECT_NE(
      noconfig.value("/status/message"_json_pointer, "").find("configmap \"absent\" not found"),
      std::string::npos)
      << noconfig.dump();
  auto events = Ok({"get", "events", "--field-selector", "involvedObject.name=noconfig"});
  EXPECT_NE(events.out.find("FailedMount"), std::string::npos) << events.out;
  // Once the ConfigMap exists the pod starts.
  Ok({"create", "configmap", "absent", "--from-literal=key=value"});
  WaitFor("pod/noconfig", [](const json& pod) { return Ready(pod); });
}

// Environment (values, field and resource refs, ConfigMap and Secret keys,
// envFrom), configMap/secret/downwardAPI volumes and the projected service
// account token reach the container as a kubelet puts them there.
TEST_F(NodeTest, EnvironmentVolumesAndTheServiceAccountTokenReachTheContainer) {
  Ok({"create", "configmap", "settings", "--from-literal=color=blue", "--from-literal=size=9"});
  Ok({"create", "secret", "generic", "creds", "--from-literal=password=s3cret"});
  Apply(std::string(R"Y(apiVersion: v1
kind: Pod
metadata: {name: reader, labels: {team: a}}
spec:
  restartPolicy: Never
  hostname: custom
  containers:
  - name: check
    image: )Y") +
        kBusybox + R"Y(
    command: ["sh", "-c"]
    args:
    - >-
      test "$GREETING" = "hello reader" &&
      test "$COLOR" = blue && test "$PASSWORD" = s3cret && test "$CFG_size" = 9 &&
      test "$NS" = "$EXPECTED_NS" && test -n "$POD_IP" && test "$MEM" = 64 &&
      test "$(cat /cfg/color)" = blue && test "$(cat /sec/password)" = s3cret &&
      grep -q 'team="a"' /info/labels &&
      test -s /var/run/secrets/kubernetes.io/serviceaccount/token &&
      test "$(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace)" = "$EXPECTED_NS" &&
      grep -q 'BEGIN CERTIFICATE' /var/run/secrets/kubernetes.io/serviceaccount/ca.crt &&
      test "$(hostname)" = custom &&
      ! touch /cfg/planted 2>/dev/null && ! ln -s /etc /sec/link 2>/dev/null
    env:
    - {name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: GREETING, value: "hello $(NAME)"}
    - {name: COLOR, valueFrom: {configMapKeyRef: {name: settings, key: color}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    - {name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: EXPECTED_NS, value: )Y" +
        ns_ + R"Y(}
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    envFrom: [{prefix: CFG_, configMapRef: {name: settings}}]
    resources: {limits: {memory: 64Mi}}
    volumeMounts:
    - {name: cfg, mountPath: /cfg}
    - {name: sec, mountPath: /sec}
    - {name: info, mountPath: /info}
  volumes:
  - {name: cfg, configMap: {name: settings}}
  - {name: sec, secret: {secretName: creds}}
  - name: info
    downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
)Y");
  json reader = WaitFor("pod/reader", [](const json& pod) {
    return PhaseIs(pod, "Succeeded") || PhaseIs(pod, "Failed");
  });
  EXPECT_TRUE(PhaseIs(reader, "Succeeded")) << reader.dump();
}

// `kubectl logs` reaches the container's output through the host API and
// the node's endpoint: both streams, --tail, -c, and --previous after a
// restart.
TEST_F(NodeTest, KubectlLogsShowsWhatTheContainersWrote) {
  Apply(std::string(R"Y(apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: OnFailure
  containers:
  - name: app
    image: )Y") +
        kBusybox + R"Y(
    command: ["sh", "-c", "echo one; echo two >&2; echo three; if [ ! -f /state/ran ]; then touch /state/ran; exit 1; fi; echo again; sleep 3600"]
    volumeMounts: [{name: state, mountPath: /state}]
  - name: quiet
    image: )Y" +
        kBusybox + R"Y(
    command: ["sh", "-c", "echo shh; echo last; sleep 3600"]
  volumes: [{name: state, emptyDir: {}}]
)Y");
  WaitFor("pod/talker", [](const json& pod) {
    return Ready(pod) && ContainerStatus(pod, "app").value("restartCount", 0) == 1;
  });
  // stdout and stderr reach the log through two pipes: their lines may
  // interleave either way, as on any kubelet.
  auto sorted = [](const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      lines.push_back(line);
    }
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  auto current = Ok({"logs", "talker", "-c", "app"});
  EXPECT_EQ(sorted(current.out), (std::vector<std::string>{"again", "one", "three", "two"}))
      << current.out;
  auto previous = Ok({"logs", "talker", "-c", "app", "--previous"});
  EXPECT_EQ(sorted(previous.out), (std::vector<std::string>{"one", "three", "two"}))
      << previous.out;
  // One stream keeps its order: the quiet container writes stdout only.
  auto quiet = Ok({"logs", "talker", "-c", "quiet"});
  EXPECT_EQ(quiet.out, "shh\nlast\n");
  auto tail = Ok({"logs", "talker", "-c", "quiet", "--tail=1"});
  EXPECT_EQ(tail.out, "last\n");
  auto missing = Run({"logs", "talker", "-c", "nobody"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("nobody"), std::string::npos) << missing.err;
}

// runAsNonRoot is checked by the node: an image that runs as root is
// refused with the reason, a numeric non-root user runs.
TEST_F(NodeTest, RunAsNonRootRefusesARootImageAndRunsANonRootUser) {
  Apply(std::string(R"Y(apiVersion: v1
kind: Pod
metadata: {name: rootimage}
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {runAsNonRoot: true}
  containers:
  - {name: app, image: )Y") +
        kBusybox + R"Y(, command: ["sleep", "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: nonroot}
spec:
  restartPolicy: Never
  securityContext: {runAsNonRoot: true, runAsUser: 1000}
  containers:
  - {name: app, image: )Y" +
        kBusybox + R"Y(, command: ["sh", "-c", "test $(id -u) = 1000"]}
)Y");
  json refused = WaitFor("pod/rootimage", [](const json& pod) {
    return ContainerStatus(pod, "app").value("/state/waiting/reason"_json_pointer, "") ==
           "CreateContainerConfigError";
  });
  EXPECT_NE(ContainerStatus(refused, "app")
                .value("/state/waiting/message"_json_pointer, "")
                .find("runAsNonRoot"),
            std::string::npos)
      << refused.dump();
  json ran = WaitFor("pod/nonroot", [](const json& pod) {
    return PhaseIs(pod, "Succeeded") || PhaseIs(pod, "Failed");
  });
  EXPECT_TRUE(PhaseIs(ran, "Succeeded")) << ran.dump();
}

// Init containers run one at a time, to success, before the containers.
TEST_F(NodeTest, InitContainersRunInOrderBeforeTheContainers) {
  Apply(std::string(R"Y(apiVersion: v1
kind: Pod
metadata: {name: ordered}
spec:
  restartPolicy: Never
  initContainers:
  - {name: first, image: )Y") +
        kBusybox + R"Y(, command: ["sh", "-c", "echo 1 >> /work/order"],
     volumeMounts: [{name: work, mountPath: /work}]}
  - {name: second, image: )Y" +
        kBusybox + R"Y(, command: ["sh", "-c", "echo 2 >> /work/order"],
     volumeMounts: [{name: work, mountPath: /work}]}
  containers:
  - {name: main, image: )Y" +
        kBusybox + R"Y(, command: ["sh", "-c", "test \"$(cat /work/order | tr -d '\\n')\" = 12"],
     volumeMounts: [{name: work, mountPath: /work}]}
  volumes: [{name: work, emptyDir: {}}]
)Y");
  json pod = WaitFor("pod/ordered",
                     [](const json& p) { return PhaseIs(p, "Succeeded") || PhaseIs(p, "Failed"); });
  EXPECT_TRUE(PhaseIs(pod, "Succeeded")) << pod.dump();
  EXPECT_EQ(ContainerStatus(pod, "first").value("/state/terminated/exitCode"_json_pointer, -1), 0);
  EXPECT_EQ(ContainerStatus(pod, "second").value("/state/terminated/exitCode"_json_pointer, -1), 0);
}

// A readiness probe keeps the pod out of Ready until it answers; a liveness
// probe that fails gets the container killed and restarted, and the
// restart count and events show it.
TEST_F(NodeTest, ProbesGateReadinessAndAFailingLivenessProbeRestartsTheContainer) {
  Apply(std::string(R"Y(apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: )Y") +
        kBusybox + R"Y(
    command: ["sh", "-c", "touch /tmp/alive; mkdir /www; httpd -p 8080 -h /www; sleep 4; echo ok > /www/ready; sleep 4; rm /tmp/alive; sleep 3600"]
    readinessProbe:
      httpGet: {path: /ready, port: 8080}
      periodSeconds: 1
    livenessProbe:
      exec: {command: ["test", "-f", "/tmp/alive"]}
      periodSeconds: 1
      failureThreshold: 2
)Y");
  json unready = WaitFor("pod/probed", [](const json& pod) {
    return ContainerStatus(pod, "app").contains("/state/running"_json_pointer) && !Ready(pod);
  });
  EXPECT_FALSE(ContainerStatus(unready, "app").value("ready", true));
  WaitFor("pod/probed", Ready);
  json restarted = WaitFor("pod/probed", [](const json& pod) {
    return ContainerStatus(pod, "app").value("restartCount", 0) >= 1;
  });
  EXPECT_TRUE(ContainerStatus(restarted, "app").contains("/lastState/terminated"_json_pointer))
      << restarted.dump();
  auto events = Ok({"get", "events", "--field-selector", "involvedObject.name=probed"});
  EXPECT_NE(events.out.find("Unhealthy"), std::string::npos) << events.out;
  EXPECT_NE(events.out.find("Liveness probe failed"), std::string::npos) << events.out;
  EXPECT_NE(events.out.find("Killing"), std::string::npos) << events.out;
}

// A subPath is mounted from inside its volume only: a missing one is made,
// and a symlink that a container planted to point out of the volume is
// refused, so the host's files never reach the container.
TEST_F(NodeTest, ASubPathStaysInsideItsVolumeWhateverSymlinksAContainerPlants) {
  Apply(std::string(R"Y(apiVersion: v1
kind: Pod
metadata: {name: escape}
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: plant
    image: )Y") +
        kBusybox + R"Y(
    command: ["sh", "-c", "ln -s /etc /work/out; mkdir -p /work/in; echo inside > /work/in/file"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: fine
    image: )Y" +
        kBusybox + R"Y(
    command: ["sh", "-c", "test \"$(cat /in/file)\" = inside && ls /made && sleep 3600"]
    volumeMounts:
    - {name: work, mountPath: /in, subPath: in}
    - {name: work, mountPath: /made, subPath: new/dir}
  - name: reach
    image: )Y" +
        kBusybox + R"Y(
    command: ["sleep", "3600"]
    volumeMounts: [{name: work, mountPath: /host-etc, subPath: out}]
  volumes: [{name: work, emptyDir: {}}]
)Y");
  json pod = WaitFor("pod/escape", [](const json& p) {
    return ContainerStatus(p, "reach").value("/state/waiting/reason"_json_pointer, "") ==
               "CreateContainerConfigError" &&
           ContainerStatus(p, "fine").contains("/state/running"_json_pointer);
  });
  EXPECT_NE(ContainerStatus(pod, "reach")
                .value("/state/waiting/message"_json_pointer, "")
                .find("leaves its volume"),
            std::string::npos)
      << pod.dump();
  EXPECT_EQ(ContainerStatus(pod, "fine").value("restartCount", -1), 0) << pod.dump();
}

// Deleting a pod stops its container with SIGTERM (which it traps to exit)
// long before the grace period ends; one that ignores SIGTERM is killed
// when its grace period is over. Nothing of either stays on the node.
TEST_F(NodeTest, DeletedPodsStopWithTheirGracePeriodAndLeaveNothingBehind) {
  Apply(std::string(R"Y(apiVersion: v1
kind: Pod
metadata: {name: polite}
spec:
  terminationGracePeriodSeconds: 60
  containers:
  - {name: app, image: )Y") +
        kBusybox +
        R"Y(, command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]}
---
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - {name: app, image: )Y" +
        kBusybox + R"Y(, command: ["sleep", "3600"]}
)Y");
  json polite = WaitFor("pod/polite", Ready);
  json stubborn = WaitFor("pod/stubborn", Ready);
  std::string polite_uid = polite["metadata"]["uid"];
  std::string stubborn_uid = stubborn["metadata"]["uid"];
  const std::string pods_dir = shared_->containerd.state_dir + "/pods/";
  ASSERT_TRUE(std::filesystem::exists(pods_dir + polite_uid));
  auto started = std::chrono::steady_clock::now();
  Ok({"delete", "pod", "polite", "stubborn", "--wait=false"});
  // The host API keeps a bound pod while its node stops it (stubborn
  // ignores SIGTERM: it stays its 2 s), then the node's delete removes it.
  auto marked =
      Run({"get", "pod", "stubborn", "-o", "jsonpath={.metadata.deletionGracePeriodSeconds}"});
  EXPECT_EQ(marked.out, "2") << marked.err;
  Ok({"wait", "--for=delete", "pod/stubborn", "pod/polite", "--timeout=60s"}, 70);
  for (int i = 0; i < 300 && (std::filesystem::exists(pods_dir + polite_uid) ||
                              std::filesystem::exists(pods_dir + stubborn_uid));
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_FALSE(std::filesystem::exists(pods_dir + polite_uid));
  EXPECT_FALSE(std::filesystem::exists(pods_dir + stubborn_uid));
  // Far below polite's 60 s: it ended on SIGTERM; stubborn took its 2 s.
  EXPECT_LT(took, std::chrono::seconds(30));
  EXPECT_GE(took, std::chrono::seconds(2));
  for (const std::string& uid : {polite_uid, stubborn_uid}) {
    EXPECT_FALSE(std::filesystem::exists("/sys/fs/cgroup/memory" + shared_->cgroup_root +
                                         "/kubepods/besteffort/pod" + uid));
    EXPECT_FALSE(std::filesystem::exists("/sys/fs/cgroup/unified" + shared_->cgroup_root +
                                         "/kubepods/besteffort/pod" + uid));
  }
}

// The node stops and starts again: its running pod keeps running (same
// container, no restart) and a pod deleted while it was down is gone from
// the runtime once it is back.
TEST_F(NodeTest, ANodeRestartKeepsPodsRunningAndRemovesPodsDeletedMeanwhile) {
  Apply(std::string(R"Y(apiVersion: v1
kind: Pod
metadata: {name: stays}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: )Y") +
        kBusybox + R"Y(, command: ["sleep", "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: goes}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: )Y" +
        kBusybox + R"Y(, command: ["sleep", "3600"]}
)Y");
  json stays = WaitFor("pod/stays", Ready);
  json goes = WaitFor("pod/goes", Ready);
  const std::string container = ContainerStatus(stays, "app").value("containerID", "");
  const std::string goes_uid = goes["metadata"]["uid"];
  shared_->StopNode();
  Ok({"delete", "pod", "goes", "--wait=false"});
  ASSERT_TRUE(std::filesystem::exists(shared_->containerd.state_dir + "/pods/" + goes_uid));
  ASSERT_EQ(shared_->StartNode(), "");
  for (int i = 0;
       i < 300 && std::filesystem::exists(shared_->containerd.state_dir + "/pods/" + goes_uid);
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(std::filesystem::exists(shared_->containerd.state_dir + "/pods/" + goes_uid))
      << shared_->LogTail();
  json after = WaitFor("pod/stays", Ready);
  EXPECT_EQ(ContainerStatus(after, "app").value("containerID", ""), container);
  EXPECT_EQ(ContainerStatus(after, "app").value("restartCount", -1), 0);
}

// The node's Node: Ready with the machine's capacity, its runtime, and a
// Lease in kube-node-lease that it keeps renewing.
TEST_F(NodeTest, TheNodeIsReadyWithItsCapacityAndRenewsItsLease) {
  auto node = shared_->host->Kubectl({"get", "node", shared_->node_name, "-o", "json"});
  ASSERT_EQ(node.exit_code, 0) << node.err;
  json object = json::parse(node.out);
  EXPECT_EQ(object.value("/status/nodeInfo/containerRuntimeVersion"_json_pointer, "").substr(0, 13),
            "containerd://");
  EXPECT_GE(std::stoi(object.value("/status/capacity/cpu"_json_pointer, "0")), 1);
  EXPECT_EQ(object.value("/metadata/labels/kubernetes.io~1os"_json_pointer, ""), "linux");
  auto lease = [&] {
    auto got = shared_->host->Kubectl({"get", "lease", "-n", "kube-node-lease", shared_->node_name,
                                       "-o", "jsonpath={.spec.renewTime}"});
    return got.out;
  };
  std::string first = lease();
  EXPECT_FALSE(first.empty());
  std::string later = first;
  for (int i = 0; i < 100 && later == first; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    later = lease();
  }
  EXPECT_NE(later, first) << "the lease was not renewed within 10 s";
}

// One argument for sh -c, quoted.
std::string ShellQuote(const std::string& word) {
  std::string out = "'";
  for (const char c : word) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

// kubectl exec and port-forward go through the host API to the node and on
// to containerd's streaming server (kubectl 1.32 asks for WebSocket first
// and falls back to SPDY): a command's output, its exit code and its stdin
// (whose end ends it); attach reaches a running container's stdin and
// stdout; a forwarded port answers from the container; a caller
// without pods/exec is refused; a container that does not exist is named.
TEST_F(NodeTest, KubectlExecAndPortForwardReachTheContainer) {
  Apply(std::string(R"Y(apiVersion: v1
kind: Pod
metadata: {name: shell}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: )Y") +
        kBusybox + R"Y(
    command: ["sh", "-c", "echo $POD_NAME > /www/index.html; exec httpd -f -p 8080 -h /www"]
    env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
    volumeMounts: [{name: www, mountPath: /www}]
  volumes: [{name: www, emptyDir: {}}]
---
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers:
  - name: app
    image: )Y" +
        kBusybox + R"Y(
    stdin: true
    stdinOnce: true
    command: ["sh", "-c", "read line; echo got $line"]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: viewer}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: viewer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: viewer}]
)Y");
  json pod = WaitFor("pod/shell", Ready);
  const std::string ip = PodIp(pod);
  ASSERT_FALSE(ip.empty()) << pod.dump();

  auto page = Ok({"exec", "shell", "--", "cat", "/www/index.html"});
  EXPECT_EQ(page.out, "shell\n");
  auto fetched =
      Ok({"exec", "shell", "-c", "web", "--", "wget", "-qO-", "http://" + ip + ":8080/"});
  EXPECT_EQ(fetched.out, "shell\n");
  auto failed = Run({"exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(failed.exit_code, 3) << failed.err;
  EXPECT_EQ(failed.out, "out\n");
  EXPECT_NE(failed.err.find("err"), std::string::npos) << failed.err;

  // stdin: two lines in, and its end lets `wc` finish.
  std::string kubectl;
  for (const std::string& word :
       shared_->host->KubectlArgv({"-n", ns_, "exec", "-i", "shell", "--", "wc", "-l"})) {
    kubectl += ShellQuote(word) + " ";
  }
  auto counted = RunCommand({"/bin/sh", "-c", "printf 'one\\ntwo\\n' | " + kubectl});
  EXPECT_EQ(counted.exit_code, 0) << counted.err;
  EXPECT_EQ(counted.out.substr(counted.out.find_first_not_of(' ')), "2\n") << counted.out;

  auto nobody = Run({"exec", "shell", "-c", "nobody", "--", "true"});
  EXPECT_NE(nobody.exit_code, 0);
  EXPECT_NE(nobody.err.find("container nobody is not valid for pod shell"), std::string::npos)
      << nobody.err;
  auto forbidden =
      Run({"exec", "shell", "--as=system:serviceaccount:" + ns_ + ":viewer", "--", "true"});
  EXPECT_NE(forbidden.exit_code, 0);
  EXPECT_NE(forbidden.err.find("cannot create resource \"pods/exec\""), std::string::npos)
      << forbidden.err;

  // attach: a line to the container's stdin comes back on its stdout.
  WaitFor("pod/reader", Ready);
  std::string attach;
  for (const std::string& word :
       shared_->host->KubectlArgv({"-n", ns_, "attach", "-i", "reader", "-c", "app", "-q"})) {
    attach += ShellQuote(word) + " ";
  }
  CommandOptions patient;
  patient.timeout_seconds = 60;
  auto attached = RunCommand({"/bin/sh", "-c", "printf 'hello\\n' | " + attach}, patient);
  EXPECT_EQ(attached.exit_code, 0) << attached.err;
  EXPECT_NE(attached.out.find("got hello"), std::string::npos) << attached.out << attached.err;

  // A port forward: kubectl picks a local port and says which.
  auto forward = Process::Spawn(shared_->host->KubectlArgv(
      {"-n", ns_, "port-forward", "pod/shell", ":8080", "--address", "127.0.0.1"}));
  ASSERT_NE(forward, nullptr);
  const std::string line = forward->WaitForLine(
      [](const std::string& text) { return text.find("Forwarding from 127.0.0.1:") == 0; }, 30);
  ASSERT_FALSE(line.empty()) << forward->output();
  const size_t colon = line.find(':');
  const std::string port = line.substr(colon + 1, line.find(' ', colon) - colon - 1);
  for (int round = 0; round < 2; ++round) {
    auto answer = RunCommand({"/usr/bin/curl", "-s", "-m", "10", "http://127.0.0.1:" + port + "/"});
    EXPECT_EQ(answer.exit_code, 0) << answer.err << forward->output();
    EXPECT_EQ(answer.out, "shell\n");
  }
  forward->Kill(SIGTERM);
  forward->Wait(10);
}

}  // namespace
}  // namespace bulkhead::testing
