// The resource verbs in process (ApiHarness): what a client sees from each
// verb, byte for byte where the bytes are the contract (a stored object is
// served as stored), so that the registry layer under the verbs can be
// rebuilt without a client noticing.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "tests/unit/controlplane_api_harness.h"

namespace bulkhead::controlplane::testing {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

constexpr char kConfigMaps[] = "/api/v1/namespaces/default/configmaps";

std::string ConfigMap(const std::string& name, const std::string& value = "1") {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
         R"("},"data":{"a":")" + value + R"("}})";
}

std::string Field(const json::value& value, std::initializer_list<const char*> path) {
  const json::value* at = &value;
  for (const char* key : path) {
    if (!at->is_object() || !at->as_object().contains(key)) {
      return "";
    }
    at = &at->as_object().at(key);
  }
  return at->is_string() ? std::string(at->as_string()) : json::serialize(*at);
}

TEST(VerbsTest, ACreatedObjectIsServedAsStoredAndCarriesItsMetadata) {
  ApiHarness api;
  Recorded created = api.Call("POST", kConfigMaps, ConfigMap("one"));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.content_type, "application/json");
  json::value object = created.Json();
  EXPECT_EQ(Field(object, {"metadata", "namespace"}), "default");
  EXPECT_FALSE(Field(object, {"metadata", "uid"}).empty());
  EXPECT_FALSE(Field(object, {"metadata", "creationTimestamp"}).empty());
  EXPECT_EQ(Field(object, {"metadata", "resourceVersion"}), std::to_string(api.store().Revision()));
  Recorded got = api.Call("GET", std::string(kConfigMaps) + "/one");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body, created.body);
}

TEST(VerbsTest, ErrorsAreStatusObjectsWithTheirReason) {
  ApiHarness api;
  ASSERT_EQ(api.Call("POST", kConfigMaps, ConfigMap("one")).status, 201);
  Recorded again = api.Call("POST", kConfigMaps, ConfigMap("one"));
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(Field(again.Json(), {"kind"}), "Status");
  EXPECT_EQ(Field(again.Json(), {"reason"}), "AlreadyExists");
  EXPECT_EQ(Field(again.Json(), {"details", "name"}), "one");

  Recorded missing = api.Call("GET", std::string(kConfigMaps) + "/none");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Field(missing.Json(), {"reason"}), "NotFound");
  EXPECT_EQ(Field(missing.Json(), {"message"}), R"(configmaps "none" not found)");

  Recorded bad = api.Call("POST", kConfigMaps, "{not json");
  EXPECT_EQ(bad.status, 400) << bad.body;

  Recorded anonymous = api.Call("GET", kConfigMaps, "", Anonymous());
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(api.Call("GET", "/readyz", "", Anonymous()).status, 200);
}

TEST(VerbsTest, AListIsPagedWithAContinueTokenAtOneRevision) {
  ApiHarness api;
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_EQ(api.Call("POST", kConfigMaps, ConfigMap(name)).status, 201);
  }
  Recorded first = api.Call("GET", std::string(kConfigMaps) + "?limit=2");
  ASSERT_EQ(first.status, 200);
  json::value page = first.Json();
  EXPECT_EQ(Field(page, {"kind"}), "ConfigMapList");
  ASSERT_EQ(page.at("items").as_array().size(), 2U);
  std::string token = Field(page, {"metadata", "continue"});
  ASSERT_FALSE(token.empty());
  // A write between the pages is not in the second one: it is of the
  // first page's revision.
  ASSERT_EQ(api.Call("POST", kConfigMaps, ConfigMap("d")).status, 201);
  Recorded second = api.Call("GET", std::string(kConfigMaps) + "?limit=2&continue=" + token);
  ASSERT_EQ(second.status, 200) << second.body;
  json::value second_page = second.Json();
  const json::array& items = second_page.at("items").as_array();
  ASSERT_EQ(items.size(), 1U);
  EXPECT_EQ(Field(items[0], {"metadata", "name"}), "c");
  EXPECT_EQ(Field(second.Json(), {"metadata", "resourceVersion"}),
            Field(page, {"metadata", "resourceVersion"}));
}

TEST(VerbsTest, AMergePatchChangesOnlyWhatItNamesAndAnUpdateNeedsTheCurrentVersion) {
  ApiHarness api;
  ASSERT_EQ(api.Call("POST", kConfigMaps, ConfigMap("one")).status, 201);
  Recorded patched = api.Call("PATCH", std::string(kConfigMaps) + "/one", R"({"data":{"b":"2"}})",
                              WithContentType("application/merge-patch+json"));
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(Field(patched.Json(), {"data"}), R"({"a":"1","b":"2"})");

  json::value stale = json::parse(ConfigMap("one", "3"));
  stale.as_object()["metadata"].as_object()["resourceVersion"] = "1";
  Recorded conflict = api.Call("PUT", std::string(kConfigMaps) + "/one", json::serialize(stale));
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(Field(conflict.Json(), {"reason"}), "Conflict");
}

TEST(VerbsTest, ADeletedNamespaceTerminatesAndTakesNoNewContent) {
  ApiHarness api;
  ASSERT_EQ(api.Call("POST", "/api/v1/namespaces",
                     R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"}})")
                .status,
            201);
  ASSERT_EQ(api.Call("POST", "/api/v1/namespaces/team/configmaps", ConfigMap("one")).status, 201);
  ASSERT_EQ(api.Call("POST", kConfigMaps, ConfigMap("kept")).status, 201);
  Recorded deleted = api.Call("DELETE", "/api/v1/namespaces/team");
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  // No namespace controller runs here: it stays Terminating, holding its content.
  Recorded got = api.Call("GET", "/api/v1/namespaces/team");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(Field(got.Json(), {"status", "phase"}), "Terminating");
  EXPECT_FALSE(Field(got.Json(), {"metadata", "deletionTimestamp"}).empty());
  EXPECT_EQ(Field(got.Json(), {"spec", "finalizers"}), R"(["kubernetes"])");
  Recorded refused = api.Call("POST", "/api/v1/namespaces/team/configmaps", ConfigMap("two"));
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(Field(refused.Json(), {"message"}),
            "configmaps \"two\" is forbidden: unable to create new content in namespace team "
            "because it is being terminated");
  EXPECT_EQ(api.Call("GET", "/api/v1/namespaces/team/configmaps/one").status, 200);
  EXPECT_EQ(api.Call("GET", std::string(kConfigMaps) + "/kept").status, 200);
  // The namespaces a cluster needs cannot be deleted.
  EXPECT_EQ(api.Call("DELETE", "/api/v1/namespaces/default").status, 403);
}

TEST(VerbsTest, AWatchFromAListsRevisionSeesWhatCameAfterItInOrder) {
  ApiHarness api;
  ASSERT_EQ(api.Call("POST", kConfigMaps, ConfigMap("before")).status, 201);
  std::string revision =
      Field(api.Call("GET", kConfigMaps).Json(), {"metadata", "resourceVersion"});
  Recorded watch =
      api.Call("GET", std::string(kConfigMaps) + "?watch=1&resourceVersion=" + revision);
  ASSERT_EQ(watch.status, 200);
  ASSERT_NE(watch.stream, nullptr);
  ASSERT_EQ(api.Call("POST", kConfigMaps, ConfigMap("after")).status, 201);
  ASSERT_EQ(api.Call("DELETE", std::string(kConfigMaps) + "/before").status, 200);
  std::vector<std::string> lines = watch.stream->WaitForLines(2, milliseconds(10000));
  ASSERT_EQ(lines.size(), 2U);
  json::value added = json::parse(lines[0]);
  json::value removed = json::parse(lines[1]);
  EXPECT_EQ(Field(added, {"type"}), "ADDED");
  EXPECT_EQ(Field(added, {"object", "metadata", "name"}), "after");
  EXPECT_EQ(Field(removed, {"type"}), "DELETED");
  EXPECT_EQ(Field(removed, {"object", "metadata", "name"}), "before");
  watch.stream->Disconnect();
}

TEST(VerbsTest, AnUpdateThatChangesNothingWritesNothing) {
  ApiHarness api;
  Recorded created = api.Call("POST", kConfigMaps, ConfigMap("one"));
  ASSERT_EQ(created.status, 201);
  int64_t revision = api.store().Revision();
  Recorded same = api.Call("PUT", std::string(kConfigMaps) + "/one", created.body);
  ASSERT_EQ(same.status, 200) << same.body;
  EXPECT_EQ(same.body, created.body);
  EXPECT_EQ(api.store().Revision(), revision);
  Recorded changed = api.Call("PUT", std::string(kConfigMaps) + "/one", ConfigMap("one", "2"));
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(api.store().Revision(), revision + 1);
}

std::string Workload(std::string_view kind, std::string_view spec) {
  return fmt::format(
      R"({{"apiVersion":"apps/v1","kind":"{}","metadata":{{"name":"w"}},"spec":{}}})", kind, spec);
}

TEST(VerbsTest, WorkloadsAreRefusedAsKubernetesRefusesThem) {
  ApiHarness api;
  // A spec of `fields` (each ending with a comma), then a selector (unless
  // none) and a template whose labels match app=w.
  auto spec = [](std::string_view fields,
                 std::string_view selector = R"("selector":{"matchLabels":{"app":"w"}},)") {
    return fmt::format(
        R"({{{}{}"template":{{"metadata":{{"labels":{{"app":"w"}}}},"spec":{{"containers":[{{"name":"c","image":"x"}}]}}}}}})",
        fields, selector);
  };
  struct Case {
    const char* kind;
    std::string spec;
    const char* field;
  };
  for (const Case& c : std::vector<Case>{
           {"Deployment", spec(R"("replicas":-1,)"), "spec.replicas"},
           {"Deployment", spec(R"("replicas":2147483648,)"), "spec.replicas"},
           {"Deployment", spec(R"("revisionHistoryLimit":-1,)"), "spec.revisionHistoryLimit"},
           {"Deployment", spec("", ""), "spec.selector"},
           {"Deployment", spec("", R"("selector":{"matchLabels":{"app":"other"}},)"),
            "spec.template.metadata.labels"},
           {"Deployment",
            spec(R"("strategy":{"rollingUpdate":{"maxSurge":0,"maxUnavailable":"0%"}},)"),
            "spec.strategy.rollingUpdate.maxUnavailable"},
           {"Deployment", spec(R"("strategy":{"rollingUpdate":{"maxSurge":"lots"}},)"),
            "spec.strategy.rollingUpdate.maxSurge"},
           {"ReplicaSet", spec(R"("replicas":-5,)"), "spec.replicas"},
       }) {
    std::string collection =
        fmt::format("/apis/apps/v1/namespaces/default/{}",
                    std::string_view(c.kind) == "Deployment" ? "deployments" : "replicasets");
    Recorded refused = api.Call("POST", collection, Workload(c.kind, c.spec));
    EXPECT_EQ(refused.status, 422) << c.spec << "\n" << refused.body;
    EXPECT_NE(refused.body.find(fmt::format("\"field\":\"{}\"", c.field)), std::string::npos)
        << c.field << ": " << refused.body;
  }
  EXPECT_EQ(api.Call("POST", "/apis/apps/v1/namespaces/default/deployments",
                     Workload("Deployment", spec("")))
                .status,
            201);
}

// Without a garbage collector running, what each propagation policy leaves
// on an owner: its finalizer, which a later delete may change.
TEST(VerbsTest, EachPropagationPolicyMarksAnOwnerWithItsFinalizerAndAnyOtherKindGoesAtOnce) {
  ApiHarness api;
  const std::string deployment =
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"w","finalizers":["example.com/hold"]},"spec":{"selector":{"matchLabels":{"app":"w"}},"template":{"metadata":{"labels":{"app":"w"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}})";
  const std::string path = "/apis/apps/v1/namespaces/default/deployments/w";
  ASSERT_EQ(api.Call("POST", "/apis/apps/v1/namespaces/default/deployments", deployment).status,
            201);
  auto finalizers = [&] {
    Recorded got = api.Call("GET", path);
    EXPECT_EQ(got.status, 200) << got.body;
    std::vector<std::string> names;
    const json::value body = got.status == 200 ? got.Json() : json::value(json::object());
    const json::value* list =
        body.is_object() && body.as_object().contains("metadata")
            ? body.as_object().at("metadata").as_object().if_contains("finalizers")
            : nullptr;
    for (const auto& f : list != nullptr ? list->as_array() : json::array()) {
      names.emplace_back(f.as_string());
    }
    return names;
  };
  auto remove = [&](const std::string& options) {
    Recorded deleted = api.Call("DELETE", path, options);
    EXPECT_EQ(deleted.status, 200) << deleted.body;
  };
  remove(R"({"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Orphan"})");
  EXPECT_EQ(finalizers(), (std::vector<std::string>{"example.com/hold", "orphan"}));
  Recorded marked = api.Call("GET", path);
  const std::string revision =
      std::string(marked.Json().as_object().at("metadata").at("resourceVersion").as_string());
  // Asked the same again: nothing is written.
  remove(R"({"propagationPolicy":"Orphan"})");
  EXPECT_EQ(std::string(api.Call("GET", path)
                            .Json()
                            .as_object()
                            .at("metadata")
                            .at("resourceVersion")
                            .as_string()),
            revision);
  remove(R"({"propagationPolicy":"Foreground"})");
  EXPECT_EQ(finalizers(), (std::vector<std::string>{"example.com/hold", "foregroundDeletion"}));
  // Background takes the garbage collector's finalizers off; the user's stays.
  remove(R"({"propagationPolicy":"Background"})");
  EXPECT_EQ(finalizers(), (std::vector<std::string>{"example.com/hold"}));

  // A kind whose dependents nothing follows goes at once, whatever is asked.
  ASSERT_EQ(api.Call("POST", kConfigMaps, ConfigMap("plain")).status, 201);
  Recorded plain = api.Call("DELETE", std::string(kConfigMaps) + "/plain?propagationPolicy=Orphan");
  EXPECT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(api.Call("GET", std::string(kConfigMaps) + "/plain").status, 404);
}

TEST(VerbsTest, ACustomResourceNamedLikeABuiltInKindGetsNoneOfItsRules) {
  ApiHarness api;
  Recorded crd = api.Call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", R"({
    "apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
    "metadata":{"name":"namespaces.example.com"},
    "spec":{"group":"example.com","scope":"Cluster",
      "names":{"plural":"namespaces","singular":"namespace","kind":"Namespace"},
      "versions":[{"name":"v1","served":true,"storage":true,
        "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}})");
  ASSERT_EQ(crd.status, 201) << crd.body;
  ASSERT_EQ(api.Call("POST", kConfigMaps, ConfigMap("kept")).status, 201);
  Recorded fake = api.Call("POST", "/apis/example.com/v1/namespaces",
                           R"({"apiVersion":"example.com/v1","kind":"Namespace",
                               "metadata":{"name":"default","finalizers":["example.com/hold"]}})");
  ASSERT_EQ(fake.status, 201) << fake.body;
  EXPECT_EQ(fake.Json().as_object().if_contains("status"), nullptr);  // no Active phase
  // Its finalizer is honoured, as for any custom resource; once gone, the
  // object goes, and the real namespace "default" keeps what is in it.
  Recorded held = api.Call("DELETE", "/apis/example.com/v1/namespaces/default");
  ASSERT_EQ(held.status, 200) << held.body;
  EXPECT_FALSE(Field(held.Json(), {"metadata", "deletionTimestamp"}).empty());
  ASSERT_EQ(api.Call("PATCH", "/apis/example.com/v1/namespaces/default",
                     R"({"metadata":{"finalizers":null}})",
                     WithContentType("application/merge-patch+json"))
                .status,
            200);
  EXPECT_EQ(api.Call("GET", "/apis/example.com/v1/namespaces/default").status, 404);
  EXPECT_EQ(api.Call("GET", std::string(kConfigMaps) + "/kept").status, 200);
  EXPECT_EQ(api.Call("GET", "/api/v1/namespaces/default").status, 200);
}

TEST(VerbsTest, BatchObjectsAreJudgedAtCreationAndAJobGetsItsSelector) {
  ApiHarness api;
  const std::string jobs = "/apis/batch/v1/namespaces/default/jobs";
  auto job = [](const std::string& spec_extra, const std::string& restart) {
    return R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"spec":{)" +
           spec_extra + R"("template":{"spec":{"restartPolicy":")" + restart +
           R"(","containers":[{"name":"c","image":"x"}]}}}})";
  };
  Recorded always = api.Call("POST", jobs, job("", "Always"));
  EXPECT_EQ(always.status, 422) << always.body;
  EXPECT_NE(always.body.find("spec.template.spec.restartPolicy"), std::string::npos);
  Recorded selector =
      api.Call("POST", jobs, job(R"("selector":{"matchLabels":{"a":"b"}},)", "Never"));
  EXPECT_EQ(selector.status, 422) << selector.body;
  EXPECT_NE(selector.body.find("will be auto-generated"), std::string::npos) << selector.body;
  Recorded indexed = api.Call("POST", jobs, job(R"("completionMode":"Indexed",)", "Never"));
  EXPECT_EQ(indexed.status, 422) << indexed.body;
  EXPECT_EQ(api.Call("GET", jobs + "/j").status, 404);

  Recorded made = api.Call("POST", jobs, job("", "Never"));
  ASSERT_EQ(made.status, 201) << made.body;
  const json::value stored = made.Json();
  const std::string uid(stored.at("metadata").at("uid").as_string());
  EXPECT_EQ(
      stored.at("spec").at("selector").at("matchLabels").at("batch.kubernetes.io/controller-uid"),
      json::value(uid));
  EXPECT_EQ(stored.at("spec").at("template").at("metadata").at("labels").at("job-name"),
            json::value("j"));

  const std::string cronjobs = "/apis/batch/v1/namespaces/default/cronjobs";
  Recorded cron = api.Call(
      "POST", cronjobs,
      R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"c"},"spec":{"schedule":"61 * * * *","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"x"}]}}}}}})");
  EXPECT_EQ(cron.status, 422) << cron.body;
  EXPECT_NE(cron.body.find("spec.schedule"), std::string::npos) << cron.body;
  EXPECT_EQ(api.Call("GET", cronjobs + "/c").status, 404);
}

TEST(VerbsTest, AReplicationControllerTakesItsSelectorFromItsTemplateAndIsJudged) {
  ApiHarness api;
  const std::string rcs = "/api/v1/namespaces/default/replicationcontrollers";
  auto rc = [](const std::string& name, const std::string& spec_extra, const std::string& labels,
               const std::string& restart) {
    return R"({"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":")" + name +
           R"("},"spec":{)" + spec_extra + R"("template":{"metadata":{"labels":)" + labels +
           R"(},"spec":{)" + restart + R"("containers":[{"name":"c","image":"x"}]}}}})";
  };
  // No selector: the template's labels are the selector and the labels.
  Recorded made = api.Call("POST", rcs, rc("web", "", R"({"app":"web"})", ""));
  ASSERT_EQ(made.status, 201) << made.body;
  const json::value stored = made.Json();
  EXPECT_EQ(stored.at("spec").at("selector"), json::parse(R"({"app":"web"})"));
  EXPECT_EQ(stored.at("metadata").at("labels"), json::parse(R"({"app":"web"})"));
  EXPECT_EQ(stored.at("spec").at("replicas"), json::value(1));
  // Served with its scale subresource, the selector as a label string.
  Recorded scale = api.Call("GET", rcs + "/web/scale");
  ASSERT_EQ(scale.status, 200) << scale.body;
  EXPECT_EQ(scale.Json().at("status").at("selector"), json::value("app=web"));

  // Nothing to select by: refused, as kube-apiserver refuses it.
  Recorded bare = api.Call("POST", rcs, rc("bare", "", "{}", ""));
  EXPECT_EQ(bare.status, 422) << bare.body;
  EXPECT_NE(bare.body.find("spec.selector"), std::string::npos) << bare.body;
  Recorded other =
      api.Call("POST", rcs, rc("other", R"("selector":{"app":"db"},)", R"({"app":"web"})", ""));
  EXPECT_EQ(other.status, 422) << other.body;
  EXPECT_NE(other.body.find("`selector` does not match template `labels`"), std::string::npos)
      << other.body;
  Recorded never =
      api.Call("POST", rcs, rc("never", "", R"({"app":"web"})", R"("restartPolicy":"Never",)"));
  EXPECT_EQ(never.status, 422) << never.body;
  EXPECT_NE(never.body.find(R"(Unsupported value: \"Never\": supported values: \"Always\")"),
            std::string::npos)
      << never.body;
  Recorded negative = api.Call("POST", rcs, rc("neg", R"("replicas":-1,)", R"({"app":"web"})", ""));
  EXPECT_EQ(negative.status, 422) << negative.body;
  Recorded no_template = api.Call(
      "POST", rcs,
      R"({"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"t"},"spec":{"selector":{"a":"b"}}})");
  EXPECT_EQ(no_template.status, 422) << no_template.body;
  EXPECT_NE(no_template.body.find("spec.template"), std::string::npos) << no_template.body;
  for (const char* name : {"bare", "other", "never", "neg", "t"}) {
    EXPECT_EQ(api.Call("GET", rcs + "/" + name).status, 404) << name;
  }
}

TEST(VerbsTest, AnAutoscalerIsOneObjectInBothVersionsAndV1KeepsWhatItCannotSay) {
  ApiHarness api;
  const std::string v2 = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers";
  const std::string v1 = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers";
  Recorded made = api.Call(
      "POST", v2,
      R"({"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"web"},"spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"},"maxReplicas":5,"metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":70}}},{"type":"Resource","resource":{"name":"memory","target":{"type":"AverageValue","averageValue":"500Mi"}}}]}})");
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(made.Json().at("spec").at("minReplicas"), json::value(1));
  // As v1: the CPU target, and the memory metric in an annotation.
  Recorded old = api.Call("GET", v1 + "/web");
  ASSERT_EQ(old.status, 200) << old.body;
  const json::value as_v1 = old.Json();
  EXPECT_EQ(as_v1.at("apiVersion"), json::value("autoscaling/v1"));
  EXPECT_EQ(as_v1.at("spec").at("targetCPUUtilizationPercentage"), json::value(70));
  EXPECT_FALSE(as_v1.at("spec").as_object().contains("metrics"));
  EXPECT_NE(old.body.find("autoscaling.alpha.kubernetes.io/metrics"), std::string::npos);
  // Changed through v1: v2 still has both metrics, the CPU one changed.
  Recorded patched = api.Call("PATCH", v1 + "/web",
                              R"({"spec":{"maxReplicas":8,"targetCPUUtilizationPercentage":50}})",
                              WithContentType("application/merge-patch+json"));
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.Json().at("spec").at("maxReplicas"), json::value(8));
  Recorded now = api.Call("GET", v2 + "/web");
  ASSERT_EQ(now.status, 200);
  const json::value as_v2 = now.Json();
  const json::array& metrics = as_v2.at("spec").at("metrics").as_array();
  ASSERT_EQ(metrics.size(), 2U) << now.body;
  EXPECT_EQ(metrics[0].at("resource").at("target").at("averageUtilization"), json::value(50));
  EXPECT_EQ(metrics[1].at("resource").at("name"), json::value("memory"));
  EXPECT_EQ(now.body.find("autoscaling.alpha.kubernetes.io"), std::string::npos) << now.body;
  // Created as v1 with no target: v2's default, 80 % CPU.
  Recorded plain = api.Call(
      "POST", v1,
      R"({"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler","metadata":{"name":"plain"},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"web"},"maxReplicas":3}})");
  ASSERT_EQ(plain.status, 201) << plain.body;
  EXPECT_EQ(plain.Json().at("spec").at("targetCPUUtilizationPercentage"), json::value(80));
  // Refused in either version: maxReplicas below minReplicas, no target.
  Recorded bad = api.Call(
      "POST", v1,
      R"({"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler","metadata":{"name":"bad"},"spec":{"scaleTargetRef":{"kind":"Deployment"},"minReplicas":4,"maxReplicas":3}})");
  EXPECT_EQ(bad.status, 422) << bad.body;
  EXPECT_NE(bad.body.find("must be greater than or equal to `minReplicas`"), std::string::npos)
      << bad.body;
  EXPECT_NE(bad.body.find("spec.scaleTargetRef.name"), std::string::npos) << bad.body;
}

TEST(VerbsTest, BudgetsPriorityClassesAndApiServicesAreJudged) {
  ApiHarness api;
  Recorded system =
      api.Call("GET", "/apis/scheduling.k8s.io/v1/priorityclasses/system-node-critical");
  ASSERT_EQ(system.status, 200) << system.body;
  EXPECT_EQ(system.Json().at("value"), json::value(2000001000));
  Recorded high = api.Call(
      "POST", "/apis/scheduling.k8s.io/v1/priorityclasses",
      R"({"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"huge"},"value":1000000001})");
  EXPECT_EQ(high.status, 422) << high.body;
  EXPECT_NE(high.body.find("maximum allowed value of a user defined priority"), std::string::npos);
  Recorded fine = api.Call(
      "POST", "/apis/scheduling.k8s.io/v1/priorityclasses",
      R"({"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"fine"},"value":10})");
  ASSERT_EQ(fine.status, 201) << fine.body;
  EXPECT_EQ(fine.Json().at("preemptionPolicy"), json::value("PreemptLowerPriority"));

  const std::string pdbs = "/apis/policy/v1/namespaces/default/poddisruptionbudgets";
  Recorded percent = api.Call(
      "POST", pdbs,
      R"({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"p"},"spec":{"maxUnavailable":"120%"}})");
  EXPECT_EQ(percent.status, 422) << percent.body;
  EXPECT_NE(percent.body.find("must not be greater than 100%"), std::string::npos) << percent.body;
  Recorded policy = api.Call(
      "POST", pdbs,
      R"({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"p"},"spec":{"minAvailable":1,"unhealthyPodEvictionPolicy":"Sometimes"}})");
  EXPECT_EQ(policy.status, 422) << policy.body;

  const std::string services = "/apis/apiregistration.k8s.io/v1/apiservices";
  Recorded misnamed = api.Call(
      "POST", services,
      R"({"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService","metadata":{"name":"v1.wrong"},"spec":{"group":"metrics.k8s.io","version":"v1beta1","groupPriorityMinimum":100,"versionPriority":0}})");
  EXPECT_EQ(misnamed.status, 422) << misnamed.body;
  EXPECT_NE(misnamed.body.find("metadata.name"), std::string::npos) << misnamed.body;
  EXPECT_NE(misnamed.body.find("spec.versionPriority"), std::string::npos) << misnamed.body;
  Recorded strict = api.Call(
      "POST", services + "?fieldValidation=Strict",
      R"({"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService","metadata":{"name":"v1beta1.metrics.k8s.io"},"spec":{"group":"metrics.k8s.io","version":"v1beta1","groupPriorityMinimum":100,"versionPriority":100,"proxy":true}})");
  EXPECT_EQ(strict.status, 400) << strict.body;
  EXPECT_NE(strict.body.find("unknown field \\\"spec.proxy\\\""), std::string::npos) << strict.body;
}

}  // namespace
}  // namespace bulkhead::controlplane::testing
