// Admission in process: the Pod Security Standards as a pure function, Pod
// Security admission from namespace labels and the platform's floor, and
// the ServiceAccount plugin's projected token volume.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "common/quantity.h"
#include "controlplane/apiserver/admission/pod_resources.h"
#include "controlplane/apiserver/admission/pod_security.h"
#include "tests/unit/controlplane_api_harness.h"

namespace bulkhead::controlplane::testing {
namespace {

namespace json = boost::json;

json::object Spec(const std::string& text) { return json::parse(text).as_object(); }

TEST(PodSecurityTest, BaselineRefusesWhatBreaksOutOfTheContainerAndSaysWhere) {
  auto spec = Spec(R"({"hostNetwork":true,"containers":[
      {"name":"a","image":"x","securityContext":{"privileged":true,
       "capabilities":{"add":["NET_ADMIN","CHOWN"]}},"ports":[{"containerPort":80,"hostPort":8080}]},
      {"name":"b","image":"x","securityContext":{"privileged":true}}],
      "volumes":[{"name":"root","hostPath":{"path":"/"}}]})");
  std::vector<std::string> got = PodSecurityViolations(PodSecurityLevel::kBaseline, spec, nullptr);
  // NOLINTBEGIN(bugprone-suspicious-missing-comma): long messages split in two
  EXPECT_EQ(got, (std::vector<std::string>{
                     "host namespaces (hostNetwork=true)",
                     "privileged (containers \"a\", \"b\" must not set "
                     "securityContext.privileged=true)",
                     "non-default capabilities (container \"a\" must not include \"NET_ADMIN\" in "
                     "securityContext.capabilities.add)",
                     "hostPath volumes (volume \"root\")",
                     "hostPort (container \"a\" uses hostPort 8080)"}));
  // NOLINTEND(bugprone-suspicious-missing-comma)
  EXPECT_TRUE(PodSecurityViolations(PodSecurityLevel::kPrivileged, spec, nullptr).empty());
  EXPECT_TRUE(PodSecurityViolations(PodSecurityLevel::kBaseline,
                                    Spec(R"({"containers":[{"name":"c","image":"x"}]})"), nullptr)
                  .empty());
}

TEST(PodSecurityTest, RestrictedWantsNonRootNoEscalationSeccompAndDroppedCapabilities) {
  auto plain = Spec(R"({"containers":[{"name":"c","image":"x"}]})");
  EXPECT_EQ(PodSecurityViolations(PodSecurityLevel::kRestricted, plain, nullptr),
            (std::vector<std::string>{
                "allowPrivilegeEscalation != false (container \"c\" must set "
                "securityContext.allowPrivilegeEscalation=false)",
                "runAsNonRoot != true (pod or container \"c\" must set "
                "securityContext.runAsNonRoot=true)",
                "seccompProfile (pod or container \"c\" must set "
                "securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")",
                "unrestricted capabilities (container \"c\" must set "
                "securityContext.capabilities.drop=[\"ALL\"])"}));
  auto compliant = Spec(R"({"securityContext":{"runAsNonRoot":true,
      "seccompProfile":{"type":"RuntimeDefault"}},
      "containers":[{"name":"c","image":"x","securityContext":{"allowPrivilegeEscalation":false,
      "capabilities":{"drop":["ALL"],"add":["NET_BIND_SERVICE"]}}}],
      "volumes":[{"name":"t","projected":{"sources":[]}},{"name":"e","emptyDir":{}}]})");
  EXPECT_TRUE(PodSecurityViolations(PodSecurityLevel::kRestricted, compliant, nullptr).empty());
  compliant["volumes"].as_array().push_back(
      json::object{{"name", "data"}, {"nfs", json::object{{"server", "s"}, {"path", "/"}}}});
  compliant["securityContext"].as_object()["runAsUser"] = 0;
  EXPECT_EQ(PodSecurityViolations(PodSecurityLevel::kRestricted, compliant, nullptr),
            (std::vector<std::string>{
                "restricted volume types (volume \"data\" uses restricted volume type \"nfs\")",
                "runAsUser=0 (pod must not set runAsUser=0)"}));
}

constexpr char kPrivilegedPod[] = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"root"},
    "spec":{"containers":[{"name":"c","image":"busybox","securityContext":{"privileged":true}}]}})";

std::string Namespace(const std::string& name, const std::string& labels) {
  return R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + name + R"(","labels":)" +
         labels + "}}";
}

std::string Message(const Recorded& recorded) {
  json::value body = recorded.Json();
  return body.is_object() && body.as_object().contains("message")
             ? std::string(body.as_object().at("message").as_string())
             : recorded.body;
}

TEST(PodSecurityAdmissionTest, EnforceRefusesWarnWarnsAndATemplateIsWarnedAbout) {
  ApiHarness api;
  ASSERT_EQ(api.Call("POST", "/api/v1/namespaces",
                     Namespace("locked", R"({"pod-security.kubernetes.io/enforce":"restricted"})"))
                .status,
            201);
  auto refused = api.Call("POST", "/api/v1/namespaces/locked/pods", kPrivilegedPod);
  EXPECT_EQ(refused.status, 403);
  EXPECT_TRUE(Message(refused).starts_with(
      "pods \"root\" is forbidden: violates PodSecurity \"restricted:latest\": privileged "
      "(container \"c\" must not set securityContext.privileged=true), "
      "allowPrivilegeEscalation != false"))
      << Message(refused);
  EXPECT_EQ(api.Call("GET", "/api/v1/namespaces/locked/pods/root").status, 404);
  // A Deployment is stored, with a warning that its pods will be refused.
  auto deployment = api.Call("POST", "/apis/apps/v1/namespaces/locked/deployments",
                             R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"web"},"spec":{"selector":{"matchLabels":{"a":"b"}},
      "template":{"metadata":{"labels":{"a":"b"}},
      "spec":{"containers":[{"name":"c","image":"x"}]}}}})");
  EXPECT_EQ(deployment.status, 201) << deployment.body;
  EXPECT_NE(
      deployment.Header("Warning").find("would violate PodSecurity \\\"restricted:latest\\\""),
      std::string::npos)
      << deployment.Header("Warning");

  ASSERT_EQ(api.Call("POST", "/api/v1/namespaces",
                     Namespace("watched", R"({"pod-security.kubernetes.io/warn":"baseline"})"))
                .status,
            201);
  auto warned = api.Call("POST", "/api/v1/namespaces/watched/pods", kPrivilegedPod);
  EXPECT_EQ(warned.status, 201);
  EXPECT_NE(warned.Header("Warning").find(
                "would violate PodSecurity \\\"baseline:latest\\\": privileged (container "
                "\\\"c\\\" must not set securityContext.privileged=true)"),
            std::string::npos)
      << warned.Header("Warning");
  // No labels: privileged, as in Kubernetes.
  EXPECT_EQ(api.Call("POST", "/api/v1/namespaces/default/pods", kPrivilegedPod).status, 201);
  // A level that is not one counts as restricted.
  ASSERT_EQ(api.Call("POST", "/api/v1/namespaces",
                     Namespace("typo", R"({"pod-security.kubernetes.io/enforce":"baselin"})"))
                .status,
            201);
  EXPECT_NE(Message(api.Call("POST", "/api/v1/namespaces/typo/pods", kPrivilegedPod))
                .find("restricted:latest"),
            std::string::npos);
}

TEST(PodSecurityAdmissionTest, TheFloorHoldsWhateverTheTenantLabelsItsNamespace) {
  ApiServerOptions options;
  options.pod_security_floor = PodSecurityLevel::kRestricted;
  ApiHarness api(options);
  ASSERT_EQ(api.Call("POST", "/api/v1/namespaces",
                     Namespace("open", R"({"pod-security.kubernetes.io/enforce":"privileged"})"))
                .status,
            201);
  for (const char* ns : {"default", "open"}) {
    auto refused =
        api.Call("POST", std::string("/api/v1/namespaces/") + ns + "/pods", kPrivilegedPod);
    EXPECT_EQ(refused.status, 403) << ns;
    EXPECT_NE(Message(refused).find("violates PodSecurity \"restricted:latest\""),
              std::string::npos)
        << Message(refused);
  }
  // A pod that meets restricted runs anywhere.
  EXPECT_EQ(api.Call("POST", "/api/v1/namespaces/open/pods",
                     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"ok"},
      "spec":{"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
      "containers":[{"name":"c","image":"x","securityContext":{"allowPrivilegeEscalation":false,
      "capabilities":{"drop":["ALL"]}}}]}})")
                .status,
            201);
}

TEST(ServiceAccountAdmissionTest, APodGetsItsAccountsTokenVolumeUnlessItOptsOut) {
  ApiHarness api;
  auto created = api.Call("POST", "/api/v1/namespaces/default/pods",
                          R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},
      "spec":{"initContainers":[{"name":"init","image":"x"}],
      "containers":[{"name":"c","image":"x"},{"name":"own","image":"x","volumeMounts":[
        {"name":"mine","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}]}],
      "volumes":[{"name":"mine","emptyDir":{}}]}})");
  ASSERT_EQ(created.status, 201) << created.body;
  json::value pod = created.Json();
  const json::object& spec = pod.at("spec").as_object();
  EXPECT_EQ(spec.at("serviceAccountName").as_string(), "default");
  const json::array& volumes = spec.at("volumes").as_array();
  ASSERT_EQ(volumes.size(), 2U);
  const std::string volume(volumes[1].at("name").as_string());
  EXPECT_TRUE(volume.starts_with("kube-api-access-")) << volume;
  EXPECT_EQ(volume.size(), std::string("kube-api-access-").size() + 5);
  const std::string sources = json::serialize(volumes[1].at("projected").at("sources"));
  EXPECT_NE(sources.find(R"("serviceAccountToken":{"expirationSeconds":3607,"path":"token"})"),
            std::string::npos)
      << sources;
  EXPECT_NE(sources.find("kube-root-ca.crt"), std::string::npos);
  EXPECT_NE(sources.find("metadata.namespace"), std::string::npos);
  auto mount_of = [&](const char* list, size_t i) {
    return json::serialize(spec.at(list).at(i).at("volumeMounts"));
  };
  EXPECT_NE(mount_of("initContainers", 0).find(volume), std::string::npos);
  EXPECT_NE(mount_of("containers", 0).find(volume), std::string::npos);
  EXPECT_EQ(mount_of("containers", 1).find(volume), std::string::npos);  // its own is kept

  // Opting out on the pod, or on its service account.
  auto opted = api.Call("POST", "/api/v1/namespaces/default/pods",
                        R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"quiet"},
      "spec":{"automountServiceAccountToken":false,"containers":[{"name":"c","image":"x"}]}})");
  ASSERT_EQ(opted.status, 201);
  EXPECT_FALSE(opted.Json().at("spec").as_object().contains("volumes")) << opted.body;
  ASSERT_EQ(api.Call("POST", "/api/v1/namespaces/default/serviceaccounts",
                     R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"batch"},
                         "automountServiceAccountToken":false})")
                .status,
            201);
  auto by_account = api.Call("POST", "/api/v1/namespaces/default/pods",
                             R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"b"},
      "spec":{"serviceAccountName":"batch","containers":[{"name":"c","image":"x"}]}})");
  ASSERT_EQ(by_account.status, 201);
  EXPECT_FALSE(by_account.Json().at("spec").as_object().contains("volumes")) << by_account.body;
}

}  // namespace
}  // namespace bulkhead::controlplane::testing

namespace bulkhead::controlplane::testing {
namespace {

TEST(QuantityTest, ParsesKubernetesFormsAndPrintsThemCanonically) {
  auto q = [](const char* text) { return Quantity::Parse(text); };
  EXPECT_EQ(q("500m")->milli, 500);
  EXPECT_EQ(q("2")->milli, 2000);
  EXPECT_EQ(q("1.5")->milli, 1500);
  EXPECT_EQ(q("128Mi")->milli, int64_t{128} * 1024 * 1024 * 1000);
  EXPECT_EQ(q("1G")->milli, int64_t{1000000000} * 1000);
  EXPECT_EQ(q("1e3")->milli, 1000000);
  EXPECT_EQ(q("0.0001")->milli, 1);  // a fraction of a milli rounds up
  EXPECT_EQ(q("1500m")->ToString(), "1500m");
  EXPECT_EQ(q("2000m")->ToString(), "2");
  EXPECT_EQ(q("1024Mi")->ToString(), "1Gi");
  EXPECT_EQ(q("1000")->ToString(), "1k");
  EXPECT_EQ((*q("1Gi") + *q("512Mi")).ToString(), "1536Mi");
  for (const char* bad : {"", "abc", "1x", "1.2.3", "Mi", "1e", "--1"}) {
    EXPECT_FALSE(q(bad).has_value()) << bad;
  }
}

constexpr char kLimitRange[] = R"({"apiVersion":"v1","kind":"LimitRange",
    "metadata":{"name":"limits"},"spec":{"limits":[{"type":"Container",
    "default":{"cpu":"500m","memory":"256Mi"},"defaultRequest":{"cpu":"100m"},
    "max":{"cpu":"1"},"min":{"cpu":"50m"}}]}})";

TEST(LimitRangeAdmissionTest, DefaultsAreFilledInAndBoundsRefuseWithKubernetesWording) {
  ApiHarness api;
  ASSERT_EQ(api.Call("POST", "/api/v1/namespaces/default/limitranges", kLimitRange).status, 201);
  auto created = api.Call("POST", "/api/v1/namespaces/default/pods",
                          R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},
      "spec":{"containers":[{"name":"c","image":"x"}]}})");
  ASSERT_EQ(created.status, 201) << created.body;
  json::value pod = created.Json();
  const json::value& resources = pod.at("spec").at("containers").at(0).at("resources");
  EXPECT_EQ(
      json::serialize(resources),
      R"({"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"100m","memory":"256Mi"}})");
  EXPECT_EQ(
      pod.at("metadata").at("annotations").at("kubernetes.io/limit-ranger").as_string(),
      "LimitRanger plugin set: cpu request for container c; cpu, memory limit for container c");
  auto too_big = api.Call("POST", "/api/v1/namespaces/default/pods",
                          R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"big"},
      "spec":{"containers":[{"name":"c","image":"x","resources":{"limits":{"cpu":"2"}}}]}})");
  EXPECT_EQ(too_big.status, 403);
  EXPECT_EQ(Message(too_big),
            "pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 2");
  auto two = api.Call("POST", "/api/v1/namespaces/default/pods",
                      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"two"},
      "spec":{"containers":[{"name":"c","image":"x",
      "resources":{"requests":{"cpu":"10m"},"limits":{"cpu":"3"}}}]}})");
  EXPECT_EQ(Message(two),
            "pods \"two\" is forbidden: [minimum cpu usage per Container is 50m, but request is "
            "10m, maximum cpu usage per Container is 1, but limit is 3]");
}

constexpr char kQuota[] = R"({"apiVersion":"v1","kind":"ResourceQuota",
    "metadata":{"name":"compute"},"spec":{"hard":{"pods":"2","requests.cpu":"1",
    "configmaps":"3"}}})";

std::string SizedPod(const std::string& name, const std::string& cpu) {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
         R"("},"spec":{"containers":[{"name":"c","image":"x","resources":{"requests":{"cpu":")" +
         cpu + R"("}}}]}})";
}

TEST(ResourceQuotaAdmissionTest, APodOverTheQuotaIsRefusedAndUseIsChargedAsItGoes) {
  ApiHarness api;
  ASSERT_EQ(api.Call("POST", "/api/v1/namespaces/default/resourcequotas", kQuota).status, 201);
  EXPECT_EQ(api.Call("POST", "/api/v1/namespaces/default/pods", SizedPod("a", "600m")).status, 201);
  // A dry run is judged and charges nothing (the refusal below says 600m used).
  {
    auto r = api.Call("POST", "/api/v1/namespaces/default/pods?dryRun=All", SizedPod("t", "300m"));
    EXPECT_EQ(r.status, 201) << r.body;
  }
  EXPECT_EQ(
      api.Call("POST", "/api/v1/namespaces/default/pods?dryRun=All", SizedPod("t", "500m")).status,
      403);
  auto over = api.Call("POST", "/api/v1/namespaces/default/pods", SizedPod("b", "500m"));
  EXPECT_EQ(over.status, 403);
  EXPECT_EQ(Message(over),
            "pods \"b\" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, used: "
            "requests.cpu=600m, limited: requests.cpu=1");
  EXPECT_EQ(api.Call("GET", "/api/v1/namespaces/default/pods/b").status, 404);
  auto unstated = api.Call("POST", "/api/v1/namespaces/default/pods",
                           R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"n"},
      "spec":{"containers":[{"name":"c","image":"x"}]}})");
  EXPECT_EQ(Message(unstated),
            "pods \"n\" is forbidden: failed quota: compute: must specify requests.cpu for: c");
  EXPECT_EQ(api.Call("POST", "/api/v1/namespaces/default/pods", SizedPod("c", "400m")).status, 201);
  auto third = api.Call("POST", "/api/v1/namespaces/default/pods", SizedPod("d", "0"));
  EXPECT_NE(Message(third).find("exceeded quota: compute, requested: pods=1, used: pods=2, "
                                "limited: pods=2"),
            std::string::npos)
      << Message(third);
  auto quota = api.Call("GET", "/api/v1/namespaces/default/resourcequotas/compute");
  ASSERT_TRUE(quota.Json().as_object().contains("status")) << quota.body;
  EXPECT_EQ(json::serialize(quota.Json().at("status").at("used")),
            R"({"configmaps":"0","pods":"2","requests.cpu":"1"})");
  // Object counts too.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(api.Call("POST", "/api/v1/namespaces/default/configmaps",
                       R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m)" +
                           std::to_string(i) + R"("}})")
                  .status,
              201);
  }
  EXPECT_EQ(api.Call("POST", "/api/v1/namespaces/default/configmaps",
                     R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m3"}})")
                .status,
            403);
  // Another namespace is not bound by it.
  EXPECT_EQ(api.Call("POST", "/api/v1/namespaces/kube-system/pods", SizedPod("free", "5")).status,
            201);
}

TEST(PodResourcesTest, TheQosClassIsComputedAsKubernetesComputesIt) {
  auto qos = [](const std::string& containers) {
    return QosClassOf(json::parse(R"({"containers":)" + containers + "}").as_object());
  };
  EXPECT_EQ(qos(R"([{"name":"a"}])"), "BestEffort");
  EXPECT_EQ(qos(R"([{"name":"a","resources":{"requests":{"cpu":"1"}}}])"), "Burstable");
  EXPECT_EQ(qos(R"([{"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"}}}])"),
            "Guaranteed");
  EXPECT_EQ(
      qos(R"([{"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"500m"}}}])"),
      "Burstable");
  EXPECT_EQ(qos(R"([{"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"}}},{"name":"b"}])"),
            "Burstable");
  // Created, a pod carries it; a LimitRange default counts.
  ApiHarness api;
  auto made = api.Call("POST", "/api/v1/namespaces/default/pods", SizedPod("p", "250m"));
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(made.Json().at("status").at("qosClass"), json::value("Burstable"));
}

}  // namespace
}  // namespace bulkhead::controlplane::testing
