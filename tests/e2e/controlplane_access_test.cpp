// Users, service accounts and RBAC with the real kubectl 1.32: what a user
// bound to `view` may and may not do and how kubectl prints the refusal,
// kubectl auth can-i (and --list) as another user, kubectl create token
// with --duration and that token used as a client would, and a binding an
// `edit` user may not make.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/e2e/controlplane_harness.h"

namespace bulkhead::testing {
namespace {

using nlohmann::json;

class AccessTest : public ::testing::Test {
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
  // kubectl with only a bearer token (the kubeconfig's client certificate
  // would otherwise speak for it).
  CommandResult WithToken(const std::string& token, std::vector<std::string> args) {
    std::vector<std::string> argv = {
        "/usr/bin/env",
        "HOME=" + files_.path(),
        kKubectl,
        "--kubeconfig=/dev/null",
        "--server=" + plane_->url(),
        "--certificate-authority=" + plane_->data_dir() + "/pki/ca.crt",
        "--token=" + token,
        "--cache-dir=" + files_.path() + "/cache"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }

  TempDir files_;
  std::unique_ptr<ControlPlane> plane_;
};

TEST_F(AccessTest, AViewUserGetsButCannotCreateAndKubectlPrintsWhy) {
  Ok({"create", "rolebinding", "jane-view", "--clusterrole=view", "--user=jane"});
  Ok({"create", "configmap", "settings", "--from-literal=a=1"});
  auto got = Ok({"get", "configmaps", "--as", "jane"});
  EXPECT_NE(got.out.find("settings"), std::string::npos) << got.out;
  auto refused =
      plane_->Kubectl({"create", "configmap", "mine", "--from-literal=a=1", "--as", "jane"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("error: failed to create configmap: configmaps is forbidden: User "
                             "\"jane\" cannot create resource \"configmaps\" in API group \"\" in "
                             "the namespace \"default\""),
            std::string::npos)
      << refused.err;
  auto secrets = plane_->Kubectl({"get", "secrets", "--as", "jane"});
  EXPECT_NE(secrets.exit_code, 0);
  EXPECT_NE(secrets.err.find("Error from server (Forbidden): secrets is forbidden: User \"jane\" "
                             "cannot list resource \"secrets\" in API group \"\" in the "
                             "namespace \"default\""),
            std::string::npos)
      << secrets.err;
  EXPECT_EQ(plane_->Kubectl({"get", "configmap", "mine"}).exit_code, 1);

  auto yes = plane_->Kubectl({"auth", "can-i", "list", "pods", "--as", "jane"});
  EXPECT_EQ(yes.exit_code, 0) << yes.err;
  EXPECT_EQ(yes.out, "yes\n");
  auto no = plane_->Kubectl({"auth", "can-i", "create", "pods", "--as", "jane"});
  EXPECT_EQ(no.exit_code, 1);
  EXPECT_EQ(no.out, "no\n");
  auto listed = Ok({"auth", "can-i", "--list", "--as", "jane"});
  EXPECT_NE(listed.out.find("Resources"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("Non-Resource URLs"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("deployments.apps"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("[get list watch]"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("selfsubjectaccessreviews.authorization.k8s.io"), std::string::npos)
      << listed.out;
  EXPECT_EQ(listed.out.find("secrets "), std::string::npos) << listed.out;
  auto whoami = Ok({"auth", "whoami", "--as", "jane", "-o", "json"});
  EXPECT_EQ(json::parse(whoami.out)["status"]["userInfo"]["username"], "jane") << whoami.out;
}

TEST_F(AccessTest, ATokenFromCreateTokenLastsItsDurationAndDoesWhatItsRoleAllows) {
  // The default service account is made with the namespace.
  bool made = false;
  for (int i = 0; i < 100 && !made; ++i) {
    made = plane_->Kubectl({"get", "serviceaccount", "default"}).exit_code == 0;
    if (!made) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(made) << "no default service account";
  auto ca = Ok({"get", "configmap", "kube-root-ca.crt", "-o", "jsonpath={.data.ca\\.crt}"});
  EXPECT_NE(ca.out.find("BEGIN CERTIFICATE"), std::string::npos) << ca.out;

  auto created = Ok({"create", "token", "default", "--duration", "20m"});
  std::string token = created.out;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) {
    token.pop_back();
  }
  ASSERT_EQ(std::count(token.begin(), token.end(), '.'), 2) << token;
  auto denied = WithToken(token, {"get", "configmaps"});
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_NE(denied.err.find("User \"system:serviceaccount:default:default\" cannot list resource "
                            "\"configmaps\""),
            std::string::npos)
      << denied.err;
  Ok({"create", "role", "cm-reader", "--verb=get,list", "--resource=configmaps"});
  Ok({"create", "rolebinding", "default-reads", "--role=cm-reader",
      "--serviceaccount=default:default"});
  auto allowed = WithToken(token, {"get", "configmaps", "-o", "name"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_NE(allowed.out.find("configmap/kube-root-ca.crt"), std::string::npos) << allowed.out;
  EXPECT_NE(WithToken(token, {"get", "pods"}).exit_code, 0);
  // Its lifetime is the 20 minutes asked for.
  auto review = WithToken(token, {"auth", "whoami", "-o", "json"});
  ASSERT_EQ(review.exit_code, 0) << review.err;
  const std::string payload =
      token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1);
  auto decoded = RunCommand({"/usr/bin/python3", "-c",
                             "import base64,json,sys; p=sys.argv[1]; p+='='*(-len(p)%4); "
                             "c=json.loads(base64.urlsafe_b64decode(p)); print(c['exp']-c['iat'])",
                             payload});
  EXPECT_EQ(decoded.out, "1200\n") << decoded.err;
  // A tampered token is refused outright.
  std::string tampered = token;
  tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'A' ? 'B' : 'A';
  auto refused = WithToken(tampered, {"get", "configmaps"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("Unauthorized"), std::string::npos) << refused.err;
}

// A legacy token Secret, made only when asked for: filled by the control
// plane, good for what the account's Role allows, and over with the Secret.
TEST_F(AccessTest, ALegacyTokenSecretIsFilledWhenAskedForAndEndsWithTheSecret) {
  Ok({"create", "serviceaccount", "ci"});
  Ok({"create", "role", "cm-reader", "--verb=get,list", "--resource=configmaps"});
  Ok({"create", "rolebinding", "ci-reads", "--role=cm-reader", "--serviceaccount=default:ci"});
  // An account's Secrets are not made unasked.
  auto none = Ok({"get", "secrets", "-o", "name"});
  EXPECT_EQ(none.out, "") << none.out;
  Ok({"apply", "-f", files_.Write("secret.yaml", R"(apiVersion: v1
kind: Secret
metadata:
  name: ci-token
  annotations: {kubernetes.io/service-account.name: ci}
type: kubernetes.io/service-account-token
)")});
  std::string encoded;
  for (int i = 0; i < 100 && encoded.empty(); ++i) {
    encoded = Ok({"get", "secret", "ci-token", "-o", "jsonpath={.data.token}"}).out;
    if (encoded.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_FALSE(encoded.empty()) << "the token Secret was not filled";
  auto decoded = RunCommand(
      {"/usr/bin/python3", "-c",
       "import base64,sys; sys.stdout.write(base64.b64decode(sys.argv[1]).decode())", encoded});
  ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
  const std::string token = decoded.out;
  auto described = Ok({"describe", "secret", "ci-token"});
  EXPECT_NE(described.out.find("ca.crt:"), std::string::npos) << described.out;
  EXPECT_NE(described.out.find("namespace:"), std::string::npos) << described.out;
  EXPECT_NE(described.out.find("7 bytes"), std::string::npos) << described.out;  // "default"
  auto uid = Ok({"get", "serviceaccount", "ci", "-o", "jsonpath={.metadata.uid}"});
  auto annotated = Ok({"get", "secret", "ci-token", "-o",
                       "jsonpath={.metadata.annotations.kubernetes\\.io/service-account\\.uid}"});
  EXPECT_EQ(annotated.out, uid.out);

  auto listed = WithToken(token, {"get", "configmaps", "-o", "name"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("configmap/kube-root-ca.crt"), std::string::npos) << listed.out;
  auto pods = WithToken(token, {"get", "pods"});
  EXPECT_NE(pods.exit_code, 0);
  EXPECT_NE(pods.err.find("User \"system:serviceaccount:default:ci\" cannot list resource"),
            std::string::npos)
      << pods.err;
  Ok({"delete", "secret", "ci-token"});
  auto after = WithToken(token, {"get", "configmaps"});
  EXPECT_NE(after.exit_code, 0);
  EXPECT_NE(after.err.find("Unauthorized"), std::string::npos) << after.err;
}

TEST_F(AccessTest, AnEditUserCannotBindClusterAdminNorAnAdminGrantMoreThanItHolds) {
  Ok({"create", "rolebinding", "carol-edit", "--clusterrole=edit", "--user=carol"});
  Ok({"create", "rolebinding", "dave-admin", "--clusterrole=admin", "--user=dave"});
  auto by_edit = plane_->Kubectl({"create", "rolebinding", "carol-root",
                                  "--clusterrole=cluster-admin", "--user=carol", "--as", "carol"});
  EXPECT_NE(by_edit.exit_code, 0);
  EXPECT_NE(by_edit.err.find("rolebindings.rbac.authorization.k8s.io is forbidden: User \"carol\" "
                             "cannot create resource \"rolebindings\""),
            std::string::npos)
      << by_edit.err;
  auto by_admin = plane_->Kubectl({"create", "rolebinding", "dave-root",
                                   "--clusterrole=cluster-admin", "--user=dave", "--as", "dave"});
  EXPECT_NE(by_admin.exit_code, 0);
  EXPECT_NE(by_admin.err.find("is attempting to grant RBAC permissions not currently held"),
            std::string::npos)
      << by_admin.err;
  EXPECT_NE(plane_->Kubectl({"get", "rolebinding", "dave-root"}).exit_code, 0);
  // What dave holds he may pass on.
  Ok({"create", "rolebinding", "erin-edit", "--clusterrole=edit", "--user=erin", "--as", "dave"});
}

// Plays the node for the token: reads the pod's projected service account
// volume as a kubelet does, asks for the token it names (bound to the pod),
// writes it at the mount path and the test reads it from there.
TEST_F(AccessTest, APodsProjectedTokenDoesWhatItsRoleAllowsAndEndsWithThePod) {
  Ok({"create", "serviceaccount", "reader"});
  Ok({"create", "role", "cm-reader", "--verb=get,list", "--resource=configmaps"});
  Ok({"create", "rolebinding", "reader-reads", "--role=cm-reader",
      "--serviceaccount=default:reader"});
  const std::string pod_file = files_.Write("pod.yaml", R"(apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  serviceAccountName: reader
  containers: [{name: c, image: busybox}]
)");
  Ok({"create", "-f", pod_file});
  json pod = json::parse(Ok({"get", "pod", "web", "-o", "json"}).out);
  std::string volume;
  int64_t seconds = 0;
  std::string file;
  for (const auto& v : pod["spec"]["volumes"]) {
    for (const auto& source : v["projected"]["sources"]) {
      if (source.contains("serviceAccountToken")) {
        volume = v["name"];
        seconds = source["serviceAccountToken"]["expirationSeconds"];
        file = source["serviceAccountToken"]["path"];
      }
    }
  }
  ASSERT_FALSE(volume.empty()) << pod.dump();
  std::string mount_path;
  for (const auto& mount : pod["spec"]["containers"][0]["volumeMounts"]) {
    if (mount["name"] == volume) {
      mount_path = mount["mountPath"];
    }
  }
  ASSERT_EQ(mount_path, "/var/run/secrets/kubernetes.io/serviceaccount");
  auto issued = Ok({"create", "token", "reader", "--bound-object-kind", "Pod",
                    "--bound-object-name", "web", "--duration", std::to_string(seconds) + "s"});
  std::string token = issued.out;
  while (!token.empty() && token.back() == '\n') {
    token.pop_back();
  }
  const std::string root = files_.path() + "/rootfs";
  ASSERT_EQ(RunCommand({"/bin/mkdir", "-p", root + mount_path}).exit_code, 0);
  files_.Write("rootfs" + mount_path + "/" + file, token);
  auto read = RunCommand({"/bin/cat", root + mount_path + "/" + file});
  ASSERT_EQ(read.out, token);
  // The rest of the volume, as a kubelet fills it: the CA from the
  // namespace's kube-root-ca.crt and the namespace from the downward API.
  files_.Write("rootfs" + mount_path + "/ca.crt",
               Ok({"get", "configmap", "kube-root-ca.crt", "-o", "jsonpath={.data.ca\\.crt}"}).out);
  files_.Write("rootfs" + mount_path + "/namespace", "default");
  const std::string address = plane_->url().substr(std::string("https://").size());
  const std::string host = address.substr(0, address.rfind(':'));
  const std::string port = address.substr(address.rfind(':') + 1);
  auto in_cluster = [&](const char* mode) {
    CommandOptions options;
    options.timeout_seconds = 60;
    return RunCommand(
        {"/usr/bin/python3", std::string(BULKHEAD_E2E_DIR) + "/controlplane_python_in_cluster.py",
         root, host, port, mode},
        options);
  };
  auto python = in_cluster("allowed");
  EXPECT_EQ(python.exit_code, 0) << python.out << python.err;
  EXPECT_NE(python.out.find("in-cluster client: all steps passed"), std::string::npos)
      << python.out << python.err;

  auto listed = WithToken(read.out, {"get", "configmaps", "-o", "name"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  auto pods = WithToken(read.out, {"get", "pods"});
  EXPECT_NE(pods.exit_code, 0);
  EXPECT_NE(pods.err.find("User \"system:serviceaccount:default:reader\" cannot list resource "
                          "\"pods\""),
            std::string::npos)
      << pods.err;
  EXPECT_NE(WithToken(read.out, {"create", "configmap", "x"}).exit_code, 0);
  Ok({"delete", "pod", "web", "--grace-period=0", "--force"});
  auto after = WithToken(read.out, {"get", "configmaps"});
  EXPECT_NE(after.exit_code, 0);
  EXPECT_NE(after.err.find("Unauthorized"), std::string::npos) << after.err;
  auto python_after = in_cluster("refused");
  EXPECT_EQ(python_after.exit_code, 0) << python_after.out << python_after.err;
  EXPECT_NE(python_after.out.find("in-cluster client: all steps passed"), std::string::npos)
      << python_after.out << python_after.err;
}

// A namespace with a LimitRange and a ResourceQuota, as a platform team sets
// one up: pods without resources get the defaults, the quota counts them,
// refuses the one over it with Kubernetes' message, and describe shows use.
TEST_F(AccessTest, ALimitRangeDefaultsPodsAndAQuotaRefusesThePodOverIt) {
  Ok({"create", "namespace", "team"});
  Ok({"apply", "-n", "team", "-f", files_.Write("limits.yaml", R"(apiVersion: v1
kind: LimitRange
metadata: {name: defaults}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 256Mi}
    defaultRequest: {cpu: 250m, memory: 128Mi}
)")});
  Ok({"create", "quota", "compute", "-n", "team",
      "--hard=pods=3,requests.cpu=1,limits.memory=1Gi"});
  auto pod = [&](const std::string& name, const std::string& cpu) {
    std::string text = "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name +
                       "}\nspec:\n  containers:\n  - name: c\n    image: busybox\n";
    if (!cpu.empty()) {
      text += "    resources: {requests: {cpu: " + cpu + "}}\n";
    }
    return files_.Write(name + ".yaml", text);
  };
  Ok({"create", "-n", "team", "-f", pod("a", "")});
  json a = json::parse(Ok({"get", "pod", "a", "-n", "team", "-o", "json"}).out);
  const json& resources = a["spec"]["containers"][0]["resources"];
  EXPECT_EQ(resources["limits"]["cpu"], "500m") << resources.dump();
  EXPECT_EQ(resources["limits"]["memory"], "256Mi") << resources.dump();
  EXPECT_EQ(resources["requests"]["cpu"], "250m") << resources.dump();
  EXPECT_EQ(resources["requests"]["memory"], "128Mi") << resources.dump();
  EXPECT_EQ(a["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
            "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for "
            "container c")
      << a["metadata"].dump();
  Ok({"create", "-n", "team", "-f", pod("b", "")});

  const std::string over = pod("c", "600m");
  auto refused = plane_->Kubectl({"create", "-n", "team", "-f", over});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("Error from server (Forbidden): error when creating \"" + over +
                             "\": pods \"c\" is forbidden: exceeded quota: compute, requested: "
                             "requests.cpu=600m, used: requests.cpu=500m, limited: requests.cpu=1"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(plane_->Kubectl({"get", "pod", "c", "-n", "team"}).exit_code, 0);

  auto described = Ok({"describe", "quota", "compute", "-n", "team"});
  for (const char* row :
       {"limits.memory  512Mi  1Gi", "pods           2      3", "requests.cpu   500m   1"}) {
    EXPECT_NE(described.out.find(row), std::string::npos) << row << "\n" << described.out;
  }
  // A pod that fits still goes in, and a delete gives its share back.
  Ok({"create", "-n", "team", "-f", pod("d", "400m")});
  Ok({"delete", "pod", "a", "b", "-n", "team", "--grace-period=0", "--force"});
  bool given_back = false;
  for (int i = 0; i < 100 && !given_back; ++i) {
    auto used = Ok({"get", "quota", "compute", "-n", "team", "-o",
                    "jsonpath={.status.used.requests\\.cpu} {.status.used.pods}"});
    given_back = used.out == "400m 1";
    if (!given_back) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_TRUE(given_back) << "the quota did not give the deleted pods' share back";
}

constexpr const char* kPrivilegedPod = R"(apiVersion: v1
kind: Pod
metadata: {name: root}
spec:
  containers:
  - name: c
    image: busybox
    securityContext: {privileged: true}
)";

TEST_F(AccessTest, APrivilegedPodIsRefusedInARestrictedNamespaceAndWarnedAboutInABaselineOne) {
  Ok({"create", "namespace", "locked"});
  Ok({"label", "namespace", "locked", "pod-security.kubernetes.io/enforce=restricted"});
  const std::string file = files_.Write("root.yaml", kPrivilegedPod);
  auto refused = plane_->Kubectl({"create", "-f", file, "-n", "locked"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("Error from server (Forbidden): error when creating \"" + file +
                             "\": pods \"root\" is forbidden: violates PodSecurity "
                             "\"restricted:latest\": privileged (container \"c\" must not set "
                             "securityContext.privileged=true)"),
            std::string::npos)
      << refused.err;
  Ok({"create", "namespace", "watched"});
  Ok({"label", "namespace", "watched", "pod-security.kubernetes.io/warn=baseline"});
  auto warned = Ok({"create", "-f", file, "-n", "watched"});
  EXPECT_NE(warned.err.find("Warning: would violate PodSecurity \"baseline:latest\": privileged"),
            std::string::npos)
      << warned.err;
}

TEST(AccessFloorTest,
     UnderARestrictedFloorAPrivilegedPodIsRefusedEvenWhereTheTenantSaysPrivileged) {
  auto plane = ControlPlane::Start("", {"--pod-security-floor", "restricted"});
  ASSERT_NE(plane, nullptr);
  TempDir files;
  ASSERT_EQ(plane->Kubectl({"create", "namespace", "mine"}).exit_code, 0);
  ASSERT_EQ(
      plane
          ->Kubectl({"label", "namespace", "mine", "pod-security.kubernetes.io/enforce=privileged"})
          .exit_code,
      0);
  const std::string file = files.Write("root.yaml", kPrivilegedPod);
  for (const char* ns : {"mine", "default"}) {
    auto refused = plane->Kubectl({"create", "-f", file, "-n", ns});
    EXPECT_NE(refused.exit_code, 0) << ns;
    EXPECT_NE(refused.err.find("violates PodSecurity \"restricted:latest\""), std::string::npos)
        << refused.err;
  }
  auto bad = RunCommand({BULKHEAD_CONTROLPLANE_PATH, "--data-dir", files.path() + "/d",
                         "--pod-security-floor", "strict"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("--pod-security-floor"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace bulkhead::testing
