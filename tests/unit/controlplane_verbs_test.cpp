// The resource verbs in process (ApiHarness): what a client sees from each
// verb, byte for byte where the bytes are the contract (a stored object is
// served as stored), so that the registry layer under the verbs can be
// rebuilt without a client noticing.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <string>
#include <tuple>
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

TEST(VerbsTest, StatefulSetAndDaemonSetStrategiesAreJudged) {
  ApiHarness api;
  auto workload = [](const std::string& kind, const std::string& spec_extra) {
    return R"({"apiVersion":"apps/v1","kind":")" + kind + R"(","metadata":{"name":"w"},"spec":{)" +
           spec_extra +
           R"("selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}})";
  };
  const std::string sets = "/apis/apps/v1/namespaces/default/statefulsets";
  const std::string daemons = "/apis/apps/v1/namespaces/default/daemonsets";
  for (
      const auto& [path, body, field] :
      std::vector<std::tuple<std::string, std::string, std::string>>{
          {sets, workload("StatefulSet", R"("podManagementPolicy":"Sometimes",)"),
           "spec.podManagementPolicy"},
          {sets, workload("StatefulSet", R"("updateStrategy":{"type":"RollingUpdte"},)"),
           "spec.updateStrategy.type"},
          {sets,
           workload(
               "StatefulSet",
               R"("updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":-1}},)"),
           "spec.updateStrategy.rollingUpdate.partition"},
          {sets, workload("StatefulSet", R"("ordinals":{"start":-3},)"), "spec.ordinals.start"},
          {daemons,
           workload(
               "DaemonSet",
               R"("updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"9223372036854775807%"}},)"),
           "spec.updateStrategy.rollingUpdate.maxUnavailable"},
          {daemons,
           workload(
               "DaemonSet",
               R"("updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0,"maxSurge":0}},)"),
           "spec.updateStrategy.rollingUpdate.maxUnavailable"},
      }) {
    Recorded refused = api.Call("POST", path, body);
    EXPECT_EQ(refused.status, 422) << refused.body;
    EXPECT_NE(refused.body.find(field), std::string::npos) << field << ": " << refused.body;
  }
  EXPECT_EQ(api.Call("GET", sets + "/w").status, 404);
  EXPECT_EQ(api.Call("GET", daemons + "/w").status, 404);
  Recorded fine = api.Call("POST", daemons, workload("DaemonSet", ""));
  ASSERT_EQ(fine.status, 201) << fine.body;
  EXPECT_EQ(fine.Json().at("spec").at("updateStrategy").at("rollingUpdate").at("maxUnavailable"),
            json::value(1));
}

std::string PodSpecWith(const std::string& container_extra, const std::string& spec_extra = "") {
  return R"({)" + spec_extra + R"("containers":[{"name":"c","image":"x")" + container_extra +
         R"(}]})";
}

TEST(VerbsTest, PodSpecsAreJudgedInPodsAndInEveryTemplate) {
  ApiHarness api;
  const std::string pods = "/api/v1/namespaces/default/pods";
  const std::string deployments = "/apis/apps/v1/namespaces/default/deployments";
  const std::string cron_jobs = "/apis/batch/v1/namespaces/default/cronjobs";
  auto pod = [](const std::string& spec) {
    return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":)" + spec + "}";
  };
  auto deployment = [](const std::string& spec) {
    return R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":)" +
           spec + "}}}";
  };
  auto cron_job = [](const std::string& spec) {
    return R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"c"},"spec":{"schedule":"* * * * *","jobTemplate":{"spec":{"template":{"spec":)" +
           spec + "}}}}}";
  };
  const std::string lower_tcp = R"(,"ports":[{"containerPort":80,"protocol":"tcp"}])";
  for (
      const auto& [path, body, field, message] :
      std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
          {pods, pod(PodSpecWith(lower_tcp)), "spec.containers[0].ports[0].protocol",
           R"(Unsupported value: \"tcp\": supported values: \"SCTP\", \"TCP\", \"UDP\")"},
          {deployments, deployment(PodSpecWith(lower_tcp)),
           "spec.template.spec.containers[0].ports[0].protocol", R"(Unsupported value: \"tcp\")"},
          {cron_jobs, cron_job(PodSpecWith(lower_tcp, R"("restartPolicy":"Never",)")),
           "spec.jobTemplate.spec.template.spec.containers[0].ports[0].protocol",
           R"(Unsupported value: \"tcp\")"},
          {pods, pod(PodSpecWith(R"(,"ports":[{"containerPort":70000}])")),
           "spec.containers[0].ports[0].containerPort", "must be between 1 and 65535, inclusive"},
          {pods, pod(PodSpecWith(R"(,"ports":[{"protocol":"TCP"}])")),
           "spec.containers[0].ports[0].containerPort", "Required value"},
          {pods, pod(R"({"containers":[{"name":"c"}]})"), "spec.containers[0].image",
           "Required value"},
          {pods, pod(R"({"containers":[]})"), "spec.containers", "Required value"},
          {pods,
           pod(R"({"initContainers":[{"name":"c","image":"x"}],"containers":[{"name":"c","image":"x"}]})"),
           "spec.initContainers[0].name", R"(Duplicate value: \"c\")"},
          {pods, pod(PodSpecWith(R"(,"volumeMounts":[{"name":"data","mountPath":"/d"}])")),
           "spec.containers[0].volumeMounts[0].name", R"(Not found: \"data\")"},
          {pods, pod(PodSpecWith(R"(,"imagePullPolicy":"Sometimes")")),
           "spec.containers[0].imagePullPolicy", R"(Unsupported value: \"Sometimes\")"},
          {pods, pod(PodSpecWith("", R"("dnsPolicy":"clusterFirst",)")), "spec.dnsPolicy",
           R"(Unsupported value: \"clusterFirst\")"},
          {deployments, deployment(PodSpecWith("", R"("restartPolicy":"Never",)")),
           "spec.template.spec.restartPolicy",
           R"(Unsupported value: \"Never\": supported values: \"Always\")"},
      }) {
    Recorded refused = api.Call("POST", path, body);
    EXPECT_EQ(refused.status, 422) << body << ": " << refused.body;
    EXPECT_NE(refused.body.find(field), std::string::npos) << field << ": " << refused.body;
    EXPECT_NE(refused.body.find(message), std::string::npos) << message << ": " << refused.body;
  }
  EXPECT_EQ(api.Call("GET", pods + "/p").status, 404);
  EXPECT_EQ(api.Call("GET", deployments + "/d").status, 404);
  EXPECT_EQ(api.Call("GET", cron_jobs + "/c").status, 404);
  Recorded fine = api.Call(
      "POST", pods,
      pod(PodSpecWith(
          R"(,"ports":[{"name":"http","containerPort":80,"protocol":"TCP"}],"volumeMounts":[{"name":"data","mountPath":"/d"}])",
          R"("volumes":[{"name":"data","emptyDir":{}}],)")));
  EXPECT_EQ(fine.status, 201) << fine.body;
  // "" is an enum left to its default, as decoding takes it.
  Recorded defaulted = api.Call(
      "POST", pods,
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"q"},"spec":{"restartPolicy":"","containers":[{"name":"c","image":"x","imagePullPolicy":"","ports":[{"containerPort":80,"protocol":""}]}]}})");
  EXPECT_EQ(defaulted.status, 201) << defaulted.body;
  // A StatefulSet's template mounts what its claim templates make.
  Recorded set = api.Call(
      "POST", "/apis/apps/v1/namespaces/default/statefulsets",
      R"({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"web"},"spec":{"serviceName":"web","selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"x","volumeMounts":[{"name":"www","mountPath":"/w"}]}]}},"volumeClaimTemplates":[{"metadata":{"name":"www"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}})");
  EXPECT_EQ(set.status, 201) << set.body;

  // The pod made above as stored before these rules (put past them): it
  // still takes status writes and metadata edits; a change to its spec is
  // judged.
  api.Overwrite("/registry/core/pods/default/p",
                json::parse(std::string(R"({"spec":)") + PodSpecWith(lower_tcp) + "}").as_object());
  CallOptions merge;
  merge.content_type = "application/merge-patch+json";
  Recorded status =
      api.Call("PATCH", pods + "/p/status", R"({"status":{"phase":"Running"}})", merge);
  EXPECT_EQ(status.status, 200) << status.body;
  Recorded labelled =
      api.Call("PATCH", pods + "/p", R"({"metadata":{"labels":{"seen":"yes"}}})", merge);
  EXPECT_EQ(labelled.status, 200) << labelled.body;
  Recorded respecced =
      api.Call("PATCH", pods + "/p", R"({"spec":{"activeDeadlineSeconds":5}})", merge);
  EXPECT_EQ(respecced.status, 422) << respecced.body;

  // Unknown fields are found inside a volume source too.
  Recorded deep = api.Call(
      "POST", pods + "?fieldValidation=Strict",
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"deep"},"spec":{"containers":[{"name":"c","image":"x"}],"volumes":[{"name":"v","rbd":{"monitors":["m"],"image":"i","keyrin":"k"}}]}})");
  EXPECT_EQ(deep.status, 400) << deep.body;
  EXPECT_NE(deep.body.find(R"(unknown field \"spec.volumes[0].rbd.keyrin\")"), std::string::npos)
      << deep.body;
}

// A workload's selector is fixed once made (a new one would release all it
// has), in apps/v1 as in Kubernetes; a ReplicationController's may change.
TEST(VerbsTest, AnAppsWorkloadKeepsItsSelector) {
  ApiHarness api;
  const std::string deployments = "/apis/apps/v1/namespaces/default/deployments";
  auto deployment = [](const std::string& app) {
    return R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"app":")" +
           app + R"("}},"template":{"metadata":{"labels":{"app":")" + app +
           R"("}},"spec":{"containers":[{"name":"c","image":"x"}]}}}})";
  };
  ASSERT_EQ(api.Call("POST", deployments, deployment("a")).status, 201);
  Recorded moved = api.Call("PUT", deployments + "/d", deployment("b"));
  EXPECT_EQ(moved.status, 422) << moved.body;
  EXPECT_NE(moved.body.find("spec.selector"), std::string::npos) << moved.body;
  EXPECT_NE(moved.body.find("field is immutable"), std::string::npos) << moved.body;
  Recorded same = api.Call("PUT", deployments + "/d", deployment("a"));
  EXPECT_EQ(same.status, 200) << same.body;
}

TEST(VerbsTest, StorageIsJudgedAndWhatIsFixedAtCreationStaysFixed) {
  ApiHarness api;
  const std::string volumes = "/api/v1/persistentvolumes";
  const std::string claims = "/api/v1/namespaces/default/persistentvolumeclaims";
  const std::string classes = "/apis/storage.k8s.io/v1/storageclasses";
  auto volume = [](const std::string& source) {
    return R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"v"},"spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"])" +
           source + "}}";
  };
  const std::string nfs = R"(,"nfs":{"server":"nfs.example","path":"/a"})";
  for (
      const auto& [body, field, message] :
      std::vector<std::tuple<std::string, std::string, std::string>>{
          {volume(""), "\"spec\"", "must specify a volume type"},
          {volume(nfs + R"(,"hostPath":{"path":"/b"})"), "spec.", "may not specify more than 1"},
          {volume(R"(,"hostPath":{"type":""})"), "spec.hostPath.path", "Required value"},
          {R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"v"},"spec":{"accessModes":["readwriteonce"])" +
               nfs + "}}",
           "spec.capacity", "Required value"},
      }) {
    Recorded refused = api.Call("POST", volumes, body);
    EXPECT_EQ(refused.status, 422) << body << ": " << refused.body;
    EXPECT_NE(refused.body.find(field), std::string::npos) << field << ": " << refused.body;
    EXPECT_NE(refused.body.find(message), std::string::npos) << message << ": " << refused.body;
  }
  // Unknown fields are found at every depth, and a volume type a PV cannot
  // have (gitRepo is a pod volume only) is one of them.
  for (const std::string& extra : {std::string(R"(,"nfs":{"server":"s","path":"/a","sever":"t"})"),
                                   std::string(R"(,"gitRepo":{"repository":"r"})")}) {
    Recorded strict = api.Call("POST", volumes + "?fieldValidation=Strict", volume(extra));
    EXPECT_EQ(strict.status, 400) << strict.body;
    EXPECT_NE(strict.body.find("unknown field"), std::string::npos) << strict.body;
  }
  EXPECT_EQ(api.Call("GET", volumes + "/v").status, 404);

  Recorded made = api.Call("POST", volumes, volume(nfs));
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(made.Json().at("spec").at("persistentVolumeReclaimPolicy"), json::value("Retain"));
  EXPECT_EQ(made.Json().at("spec").at("volumeMode"), json::value("Filesystem"));
  Recorded moved =
      api.Call("PUT", volumes + "/v", volume(R"(,"nfs":{"server":"other","path":"/a"})"));
  EXPECT_EQ(moved.status, 422) << moved.body;
  EXPECT_NE(moved.body.find("spec.persistentvolumesource is immutable after creation"),
            std::string::npos)
      << moved.body;
  Recorded relabelled = api.Call(
      "PUT", volumes + "/v",
      R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"v","labels":{"tier":"a"}},"spec":{"capacity":{"storage":"2Gi"},"accessModes":["ReadWriteOnce"])" +
          nfs + "}}");
  EXPECT_EQ(relabelled.status, 200) << relabelled.body;

  auto claim = [](const std::string& modes, const std::string& storage) {
    return R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c"},"spec":{"accessModes":)" +
           modes + R"(,"resources":{"requests":{)" + storage + "}}}}";
  };
  Recorded no_size = api.Call("POST", claims, claim(R"(["ReadWriteOnce"])", ""));
  EXPECT_EQ(no_size.status, 422) << no_size.body;
  EXPECT_NE(no_size.body.find("spec.resources[storage]"), std::string::npos) << no_size.body;
  Recorded no_mode = api.Call("POST", claims, claim("[]", R"("storage":"1Gi")"));
  EXPECT_EQ(no_mode.status, 422) << no_mode.body;
  EXPECT_NE(no_mode.body.find("at least 1 access mode is required"), std::string::npos)
      << no_mode.body;
  ASSERT_EQ(api.Call("POST", claims, claim(R"(["ReadWriteOnce"])", R"("storage":"1Gi")")).status,
            201);
  // Unbound, a claim keeps the size it asked for; bound, it may grow.
  Recorded early =
      api.Call("PUT", claims + "/c", claim(R"(["ReadWriteOnce"])", R"("storage":"2Gi")"));
  EXPECT_EQ(early.status, 422) << early.body;
  CallOptions merge;
  merge.content_type = "application/merge-patch+json";
  Recorded bound =
      api.Call("PATCH", claims + "/c/status", R"({"status":{"phase":"Bound"}})", merge);
  ASSERT_EQ(bound.status, 200) << bound.body;
  Recorded grown = api.Call("PATCH", claims + "/c",
                            R"({"spec":{"resources":{"requests":{"storage":"2Gi"}}}})", merge);
  EXPECT_EQ(grown.status, 200) << grown.body;
  Recorded remoded =
      api.Call("PATCH", claims + "/c", R"({"spec":{"accessModes":["ReadWriteMany"]}})", merge);
  EXPECT_EQ(remoded.status, 422) << remoded.body;
  EXPECT_NE(remoded.body.find("spec is immutable after creation"), std::string::npos)
      << remoded.body;

  auto storage_class = [](const std::string& rest) {
    return R"({"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"fast"})" +
           rest + "}";
  };
  Recorded no_provisioner = api.Call("POST", classes, storage_class(""));
  EXPECT_EQ(no_provisioner.status, 422) << no_provisioner.body;
  Recorded bad_mode =
      api.Call("POST", classes, storage_class(R"(,"provisioner":"p","volumeBindingMode":"Later")"));
  EXPECT_EQ(bad_mode.status, 422) << bad_mode.body;
  Recorded sc =
      api.Call("POST", classes, storage_class(R"(,"provisioner":"p","parameters":{"a":"1"})"));
  ASSERT_EQ(sc.status, 201) << sc.body;
  EXPECT_EQ(sc.Json().at("reclaimPolicy"), json::value("Delete"));
  EXPECT_EQ(sc.Json().at("volumeBindingMode"), json::value("Immediate"));
  for (
      const auto& [rest, message] : std::vector<std::pair<std::string, std::string>>{
          {R"(,"provisioner":"p","parameters":{"a":"2"})", "updates to parameters are forbidden."},
          {R"(,"provisioner":"q","parameters":{"a":"1"})", "updates to provisioner are forbidden."},
          {R"(,"provisioner":"p","parameters":{"a":"1"},"reclaimPolicy":"Retain")",
           "updates to reclaimPolicy are forbidden."},
          {R"(,"provisioner":"p","parameters":{"a":"1"},"volumeBindingMode":"WaitForFirstConsumer")",
           R"(Invalid value: \"WaitForFirstConsumer\": field is immutable)"},
      }) {
    Recorded changed = api.Call("PUT", classes + "/fast", storage_class(rest));
    EXPECT_EQ(changed.status, 422) << changed.body;
    EXPECT_NE(changed.body.find(message), std::string::npos) << message << ": " << changed.body;
  }
  Recorded kept = api.Call("GET", classes + "/fast");
  EXPECT_EQ(kept.Json().at("parameters"), json::parse(R"({"a":"1"})"));
  EXPECT_EQ(
      api.Call("PUT", classes + "/fast",
               storage_class(
                   R"(,"provisioner":"p","parameters":{"a":"1"},"allowVolumeExpansion":true)"))
          .status,
      200);
  // A class stored before its defaults existed still takes an annotation.
  api.Overwrite("/registry/storage.k8s.io/storageclasses/fast",
                json::parse(R"({"reclaimPolicy":null,"volumeBindingMode":null})").as_object());
  Recorded annotated = api.Call(
      "PATCH", classes + "/fast",
      R"({"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}})",
      merge);
  EXPECT_EQ(annotated.status, 200) << annotated.body;
}

TEST(VerbsTest, SecretsAreJudgedByTypeAndStringDataIsWrittenIntoData) {
  ApiHarness api;
  const std::string secrets = "/api/v1/namespaces/default/secrets";
  auto secret = [](const std::string& name, const std::string& rest) {
    return R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":")" + name + R"("})" + rest +
           "}";
  };
  for (const auto& [body, field] : std::vector<std::pair<std::string, std::string>>{
           {secret("t", R"(,"type":"kubernetes.io/service-account-token")"),
            "metadata.annotations[kubernetes.io/service-account.name]"},
           {secret("t", R"(,"type":"kubernetes.io/tls","data":{"tls.crt":"YQ=="})"),
            "data[tls.key]"},
           {secret("t", R"(,"type":"kubernetes.io/dockerconfigjson")"), "data[.dockerconfigjson]"},
           {secret("t", R"(,"data":{"a/b":"YQ=="})"), "data[a/b]"},
           {secret("t", R"(,"stringData":{"n":5})"), "stringData[n]"},
       }) {
    Recorded refused = api.Call("POST", secrets, body);
    EXPECT_EQ(refused.status, 422) << body << ": " << refused.body;
    EXPECT_NE(refused.body.find(field), std::string::npos) << field << ": " << refused.body;
  }
  EXPECT_EQ(api.Call("GET", secrets + "/t").status, 404);

  Recorded made = api.Call("POST", secrets, secret("s", R"(,"stringData":{"password":"hunter2"})"));
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(made.Json().at("data").at("password"), json::value("aHVudGVyMg=="));
  EXPECT_FALSE(made.Json().as_object().contains("stringData")) << made.body;
  EXPECT_EQ(made.Json().at("type"), json::value("Opaque"));
  Recorded retyped = api.Call("PUT", secrets + "/s",
                              secret("s", R"(,"type":"kubernetes.io/basic-auth","data":{})"));
  EXPECT_EQ(retyped.status, 422) << retyped.body;
  EXPECT_NE(retyped.body.find("field is immutable"), std::string::npos) << retyped.body;

  ASSERT_EQ(
      api.Call("POST", secrets, secret("fixed", R"(,"immutable":true,"data":{"a":"YQ=="})")).status,
      201);
  Recorded changed = api.Call("PUT", secrets + "/fixed",
                              secret("fixed", R"(,"immutable":true,"data":{"a":"Yg=="})"));
  EXPECT_EQ(changed.status, 422) << changed.body;
  EXPECT_NE(changed.body.find("field is immutable when `immutable` is set"), std::string::npos)
      << changed.body;
  Recorded labelled = api.Call(
      "PUT", secrets + "/fixed",
      R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"fixed","labels":{"a":"b"}},"immutable":true,"data":{"a":"YQ=="}})");
  EXPECT_EQ(labelled.status, 200) << labelled.body;
}

TEST(VerbsTest, ABindingAssignsAPodToANodeOnce) {
  ApiHarness api;
  ASSERT_EQ(api.Call("POST", "/api/v1/namespaces/default/pods",
                     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
                         "spec":{"containers":[{"name":"c","image":"x"}]}})")
                .status,
            201);
  const std::string path = "/api/v1/namespaces/default/pods/p/binding";
  auto binding = [](const std::string& target) {
    return R"({"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":)" + target +
           "}";
  };
  Recorded wrong_kind = api.Call("POST", path, binding(R"({"kind":"Pod","name":"n1"})"));
  EXPECT_EQ(wrong_kind.status, 422) << wrong_kind.body;
  EXPECT_NE(wrong_kind.body.find("must be empty or 'Node'"), std::string::npos) << wrong_kind.body;
  Recorded no_name = api.Call("POST", path, binding(R"({"kind":"Node"})"));
  EXPECT_EQ(no_name.status, 422) << no_name.body;
  EXPECT_EQ(api.Call("GET", path).status, 405);
  Recorded bound = api.Call("POST", path, binding(R"({"kind":"Node","name":"n1"})"));
  ASSERT_EQ(bound.status, 201) << bound.body;
  EXPECT_EQ(bound.Json().at("status"), json::value("Success"));
  Recorded pod = api.Call("GET", "/api/v1/namespaces/default/pods/p");
  EXPECT_EQ(pod.Json().at("spec").at("nodeName"), json::value("n1"));
  EXPECT_NE(
      json::serialize(pod.Json().at("status")).find(R"("type":"PodScheduled","status":"True")"),
      std::string::npos)
      << pod.body;
  Recorded again = api.Call("POST", path, binding(R"({"kind":"Node","name":"n2"})"));
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_NE(again.body.find(R"(pod p is already assigned to node \"n1\")"), std::string::npos)
      << again.body;
  EXPECT_EQ(api.Call("POST", "/api/v1/namespaces/default/pods/gone/binding",
                     R"({"target":{"kind":"Node","name":"n1"}})")
                .status,
            404);
}

TEST(VerbsTest, APodsResourcesAreQuantitiesNoneNegativeAndRequestsDefaultToLimits) {
  ApiHarness api;
  auto pod = [](const std::string& name, const std::string& resources) {
    return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
           R"("},"spec":{"containers":[{"name":"c","image":"x","resources":)" + resources + "}]}}";
  };
  const std::string pods = "/api/v1/namespaces/default/pods";
  for (const auto& [resources, field, message] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {R"({"requests":{"cpu":"-1"}})", "spec.containers[0].resources.requests[cpu]",
            "must be greater than or equal to 0"},
           {R"({"limits":{"memory":"lots"}})", "spec.containers[0].resources.limits[memory]",
            "quantities must match the regular expression"},
           {R"({"limits":{"cpu":"1"},"requests":{"cpu":"2"}})",
            "spec.containers[0].resources.requests",
            "must be less than or equal to cpu limit of 1"},
       }) {
    Recorded refused = api.Call("POST", pods, pod("bad", resources));
    EXPECT_EQ(refused.status, 422) << resources << ": " << refused.body;
    EXPECT_NE(refused.body.find(field), std::string::npos) << field << ": " << refused.body;
    EXPECT_NE(refused.body.find(message), std::string::npos) << message << ": " << refused.body;
  }
  EXPECT_EQ(api.Call("GET", pods + "/bad").status, 404);
  Recorded limited =
      api.Call("POST", pods, pod("l", R"({"limits":{"cpu":"500m","memory":"1Gi"}})"));
  ASSERT_EQ(limited.status, 201) << limited.body;
  EXPECT_EQ(json::serialize(limited.Json().at("spec").at("containers").at(0).at("resources")),
            R"({"limits":{"cpu":"500m","memory":"1Gi"},"requests":{"cpu":"500m","memory":"1Gi"}})");
  EXPECT_EQ(limited.Json().at("status").at("qosClass"), json::value("Guaranteed"));
}

}  // namespace
}  // namespace bulkhead::controlplane::testing
