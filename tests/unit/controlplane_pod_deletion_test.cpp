// Graceful deletion of pods in process (ApiHarness), as Kubernetes 1.32's
// pod registry does it: a pod on a node is marked with a deletionTimestamp
// and grace period and kept until a delete with no grace left (the node's,
// once its containers are stopped); a later delete may only shorten the
// grace; a pod no node runs, or one that has ended, goes at once.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "controlplane/apiserver/object_meta.h"
#include "tests/unit/controlplane_api_harness.h"

namespace bulkhead::controlplane::testing {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kPods[] = "/api/v1/namespaces/default/pods";

std::string PodPath(const std::string& name) { return std::string(kPods) + "/" + name; }

// A pod named `name`; `spec` adds to its spec ("" : nothing), `meta` to its
// metadata.
std::string Pod(const std::string& name, const std::string& spec, const std::string& meta = "") {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name + "\"" +
         (meta.empty() ? "" : "," + meta) + R"(},"spec":{)" + spec + (spec.empty() ? "" : ",") +
         R"("containers":[{"name":"c","image":"x"}]}})";
}

const json::value* At(const json::value& value, std::initializer_list<const char*> path) {
  const json::value* at = &value;
  for (const char* key : path) {
    if (!at->is_object() || !at->as_object().contains(key)) {
      return nullptr;
    }
    at = &at->as_object().at(key);
  }
  return at;
}

std::string Text(const json::value& value, std::initializer_list<const char*> path) {
  const json::value* at = At(value, path);
  return at == nullptr ? "" : at->is_string() ? std::string(at->as_string()) : json::serialize(*at);
}

std::chrono::system_clock::time_point DeletionTime(const json::value& pod) {
  auto at = ParseRfc3339(Text(pod, {"metadata", "deletionTimestamp"}));
  EXPECT_TRUE(at.has_value()) << json::serialize(pod);
  return at.value_or(std::chrono::system_clock::time_point());
}

class PodDeletionTest : public ::testing::Test {
 protected:
  // Creates `name` bound to node n1, with `spec` added; its uid.
  std::string CreateBound(const std::string& name, const std::string& spec = "",
                          const std::string& meta = "") {
    Recorded created = api_.Call(
        "POST", kPods, Pod(name, R"("nodeName":"n1")" + (spec.empty() ? "" : "," + spec), meta));
    EXPECT_EQ(created.status, 201) << created.body;
    return Text(created.Json(), {"metadata", "uid"});
  }
  Recorded Get(const std::string& name) { return api_.Call("GET", PodPath(name)); }
  // As the node reports it, through the status subresource.
  void SetPhase(const std::string& name, const std::string& phase) {
    Recorded status =
        api_.Call("PATCH", PodPath(name) + "/status", R"({"status":{"phase":")" + phase + R"("}})",
                  WithContentType("application/merge-patch+json"));
    ASSERT_EQ(status.status, 200) << status.body;
  }
  Recorded Delete(const std::string& name, const std::string& body = "",
                  const std::string& query = "") {
    return api_.Call("DELETE", PodPath(name) + query, body);
  }

  ApiHarness api_;
};

TEST_F(PodDeletionTest, ABoundPodIsMarkedWithItsSpecsGracePeriodAndKept) {
  CreateBound("p", R"("terminationGracePeriodSeconds":45)");
  const std::string generation = Text(Get("p").Json(), {"metadata", "generation"});
  const auto before = std::chrono::system_clock::now();
  Recorded deleted = Delete("p");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(Text(deleted.Json(), {"kind"}), "Pod");
  EXPECT_EQ(Text(deleted.Json(), {"metadata", "deletionGracePeriodSeconds"}), "45");
  const auto at = DeletionTime(deleted.Json());
  EXPECT_GE(at, std::chrono::time_point_cast<seconds>(before) + seconds(44));
  EXPECT_LE(at, std::chrono::system_clock::now() + seconds(46));
  Recorded got = Get("p");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.body, deleted.body);
  // Not a change of spec: the generation stays (pods of 1.32 have none to bump).
  EXPECT_EQ(Text(got.Json(), {"metadata", "generation"}), generation);

  // Without one in its spec a pod gets the default, 30 seconds.
  Recorded plain = api_.Call("POST", kPods, Pod("plain", R"("nodeName":"n1")"));
  ASSERT_EQ(plain.status, 201) << plain.body;
  Recorded marked = Delete("plain");
  ASSERT_EQ(marked.status, 200) << marked.body;
  EXPECT_EQ(Text(marked.Json(), {"metadata", "deletionGracePeriodSeconds"}), "30");
}

TEST_F(PodDeletionTest, TheGracePeriodAskedForInTheBodyOrTheQueryWins) {
  CreateBound("body", R"("terminationGracePeriodSeconds":45)");
  CreateBound("query", R"("terminationGracePeriodSeconds":45)");
  CreateBound("negative");
  Recorded by_body = Delete("body", R"({"apiVersion":"v1","kind":"DeleteOptions",
                                       "gracePeriodSeconds":10})");
  ASSERT_EQ(by_body.status, 200) << by_body.body;
  EXPECT_EQ(Text(Get("body").Json(), {"metadata", "deletionGracePeriodSeconds"}), "10");
  Recorded by_query = Delete("query", "", "?gracePeriodSeconds=7");
  ASSERT_EQ(by_query.status, 200) << by_query.body;
  EXPECT_EQ(Text(Get("query").Json(), {"metadata", "deletionGracePeriodSeconds"}), "7");
  // A negative grace counts as one second.
  ASSERT_EQ(Delete("negative", R"({"gracePeriodSeconds":-5})").status, 200);
  EXPECT_EQ(Text(Get("negative").Json(), {"metadata", "deletionGracePeriodSeconds"}), "1");
  EXPECT_EQ(Delete("negative", "", "?gracePeriodSeconds=soon").status, 400);
  EXPECT_EQ(Delete("negative", R"({"gracePeriodSeconds":"soon"})").status, 400);
}

TEST_F(PodDeletionTest, ALaterDeleteMayShortenTheGraceButNeverLengthenIt) {
  CreateBound("p", R"("terminationGracePeriodSeconds":60)");
  Recorded first = Delete("p");
  ASSERT_EQ(first.status, 200) << first.body;
  const auto first_at = DeletionTime(first.Json());

  // Longer, equal or none: nothing changes, nothing is written.
  const int64_t revision = api_.store().Revision();
  for (const std::string& body : {std::string(R"({"gracePeriodSeconds":100})"),
                                  std::string(R"({"gracePeriodSeconds":60})"), std::string()}) {
    Recorded again = Delete("p", body);
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(again.body, first.body);
  }
  EXPECT_EQ(api_.store().Revision(), revision);

  // Shorter: the same start, a shorter wait.
  Recorded shorter = Delete("p", R"({"gracePeriodSeconds":20})");
  ASSERT_EQ(shorter.status, 200) << shorter.body;
  EXPECT_EQ(Text(shorter.Json(), {"metadata", "deletionGracePeriodSeconds"}), "20");
  EXPECT_EQ(DeletionTime(shorter.Json()), first_at - seconds(40));
  Recorded got = Get("p");
  EXPECT_EQ(got.body, shorter.body);
}

TEST_F(PodDeletionTest, AGraceOfZeroRemovesItAsTheNodesFinalDeleteDoes) {
  const std::string uid = CreateBound("p");
  ASSERT_EQ(Delete("p").status, 200);
  ASSERT_EQ(Get("p").status, 200);
  Recorded final_delete =
      Delete("p", R"({"apiVersion":"v1","kind":"DeleteOptions","gracePeriodSeconds":0,
                     "preconditions":{"uid":")" +
                      uid + R"("}})");
  ASSERT_EQ(final_delete.status, 200) << final_delete.body;
  EXPECT_EQ(Get("p").status, 404);

  // As `kubectl delete --grace-period=0 --force` asks: gone at once.
  CreateBound("forced");
  ASSERT_EQ(Delete("forced", R"({"gracePeriodSeconds":0,"propagationPolicy":"Background"})").status,
            200);
  EXPECT_EQ(Get("forced").status, 404);
}

TEST_F(PodDeletionTest, APodNoNodeRunsOrOneThatHasEndedGoesAtOnce) {
  // Beside a running one on a node, which stays.
  CreateBound("running");
  SetPhase("running", "Running");
  ASSERT_EQ(Delete("running").status, 200);
  EXPECT_EQ(Get("running").status, 200);

  Recorded unbound = api_.Call("POST", kPods, Pod("unbound", ""));
  ASSERT_EQ(unbound.status, 201) << unbound.body;
  Recorded deleted = Delete("unbound");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(Text(deleted.Json(), {"metadata", "deletionTimestamp"}), "");
  EXPECT_EQ(Get("unbound").status, 404);

  for (const std::string phase : {"Succeeded", "Failed"}) {
    const std::string name = "ended-" + std::to_string(phase.size());
    CreateBound(name);
    SetPhase(name, phase);
    ASSERT_EQ(Delete(name).status, 200);
    EXPECT_EQ(Get(name).status, 404) << phase;
  }
}

TEST_F(PodDeletionTest, AUidPreconditionThatDoesNotMatchIsAConflictAndChangesNothing) {
  CreateBound("p");
  const std::string before = Get("p").body;
  Recorded refused = Delete("p", R"({"gracePeriodSeconds":0,"preconditions":{"uid":"other"}})");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(Text(refused.Json(), {"reason"}), "Conflict");
  EXPECT_EQ(Get("p").body, before);
  // Nor on a pod already being deleted.
  ASSERT_EQ(Delete("p").status, 200);
  const std::string marked = Get("p").body;
  EXPECT_EQ(Delete("p", R"({"gracePeriodSeconds":0,"preconditions":{"uid":"other"}})").status, 409);
  EXPECT_EQ(Get("p").body, marked);
}

TEST_F(PodDeletionTest, AFinalizerStillHoldsThePodAfterItsGraceEnds) {
  CreateBound("p", "", R"("finalizers":["example.com/hold"])");
  ASSERT_EQ(Delete("p").status, 200);
  EXPECT_EQ(Text(Get("p").Json(), {"metadata", "deletionGracePeriodSeconds"}), "30");
  Recorded ended = Delete("p", R"({"gracePeriodSeconds":0})");
  ASSERT_EQ(ended.status, 200) << ended.body;
  Recorded held = Get("p");
  ASSERT_EQ(held.status, 200) << held.body;
  EXPECT_EQ(Text(held.Json(), {"metadata", "deletionGracePeriodSeconds"}), "0");
  Recorded released = api_.Call("PATCH", PodPath("p"), R"({"metadata":{"finalizers":null}})",
                                WithContentType("application/merge-patch+json"));
  EXPECT_EQ(released.status, 200) << released.body;
  EXPECT_EQ(Get("p").status, 404);
}

TEST_F(PodDeletionTest, APodBeingGivenItsGraceTakesWritesAndStays) {
  CreateBound("p", "", R"("finalizers":["example.com/hold"])");
  ASSERT_EQ(Delete("p").status, 200);
  // Its finalizer gone while the grace runs: still there, as the node has
  // not said its containers are stopped.
  Recorded released = api_.Call("PATCH", PodPath("p"), R"({"metadata":{"finalizers":null}})",
                                WithContentType("application/merge-patch+json"));
  ASSERT_EQ(released.status, 200) << released.body;
  SetPhase("p", "Running");
  Recorded got = Get("p");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(Text(got.Json(), {"status", "phase"}), "Running");
  ASSERT_EQ(Delete("p", "", "?gracePeriodSeconds=0").status, 200);
  EXPECT_EQ(Get("p").status, 404);
}

TEST_F(PodDeletionTest, AWatchSeesTheMarkAsAModificationThenTheRemoval) {
  CreateBound("p");
  const std::string revision =
      Text(api_.Call("GET", kPods).Json(), {"metadata", "resourceVersion"});
  Recorded watch = api_.Call("GET", std::string(kPods) + "?watch=1&resourceVersion=" + revision);
  ASSERT_NE(watch.stream, nullptr);
  ASSERT_EQ(Delete("p").status, 200);
  ASSERT_EQ(Delete("p", R"({"gracePeriodSeconds":0})").status, 200);
  std::vector<std::string> lines = watch.stream->WaitForLines(2, milliseconds(10000));
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(Text(json::parse(lines[0]), {"type"}), "MODIFIED");
  EXPECT_NE(Text(json::parse(lines[0]), {"object", "metadata", "deletionTimestamp"}), "");
  EXPECT_EQ(Text(json::parse(lines[1]), {"type"}), "DELETED");
  watch.stream->Disconnect();
}

TEST_F(PodDeletionTest, ADeleteCollectionGivesBoundPodsTheirGraceToo) {
  CreateBound("bound");
  ASSERT_EQ(api_.Call("POST", kPods, Pod("unbound", "")).status, 201);
  Recorded deleted = api_.Call("DELETE", kPods);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(Text(deleted.Json(), {"kind"}), "PodList");
  EXPECT_EQ(Get("unbound").status, 404);
  Recorded bound = Get("bound");
  ASSERT_EQ(bound.status, 200) << bound.body;
  EXPECT_EQ(Text(bound.Json(), {"metadata", "deletionGracePeriodSeconds"}), "30");
  ASSERT_EQ(api_.Call("DELETE", std::string(kPods) + "?gracePeriodSeconds=0").status, 200);
  EXPECT_EQ(Get("bound").status, 404);
}

TEST_F(PodDeletionTest, OnlyPodsAreGivenAGracePeriod) {
  CreateBound("p");
  ASSERT_EQ(Delete("p", "", "?gracePeriodSeconds=30").status, 200);
  EXPECT_EQ(Text(Get("p").Json(), {"metadata", "deletionGracePeriodSeconds"}), "30");
  Recorded created = api_.Call("POST", "/api/v1/namespaces/default/configmaps",
                               R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}})");
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_EQ(
      api_.Call("DELETE", "/api/v1/namespaces/default/configmaps/c?gracePeriodSeconds=30").status,
      200);
  EXPECT_EQ(api_.Call("GET", "/api/v1/namespaces/default/configmaps/c").status, 404);
}

// kubectl get prints a pod being deleted as Terminating until it has ended.
TEST_F(PodDeletionTest, APodBeingDeletedIsTerminatingInATableUntilItHasEnded) {
  CreateBound("running");
  CreateBound("done", "", R"("finalizers":["example.com/hold"])");
  SetPhase("done", "Succeeded");
  ASSERT_EQ(Delete("running").status, 200);
  ASSERT_EQ(Delete("done").status, 200);
  CallOptions table;
  table.accept = "application/json;as=Table;v=v1;g=meta.k8s.io";
  auto status_of = [&](const std::string& name) {
    Recorded got = api_.Call("GET", PodPath(name), "", table);
    EXPECT_EQ(got.status, 200) << got.body;
    const json::value table_json = got.Json();
    const json::value* rows = At(table_json, {"rows"});
    if (rows == nullptr || !rows->is_array() || rows->as_array().empty()) {
      return std::string("no rows: ") + got.body;
    }
    const json::value* cells = At(rows->as_array()[0], {"cells"});
    return cells != nullptr && cells->is_array() && cells->as_array().size() > 2
               ? Text(cells->as_array()[2], {})
               : std::string("no cells: ") + got.body;
  };
  EXPECT_EQ(status_of("running"), "Terminating");
  EXPECT_EQ(status_of("done"), "Succeeded");
}

}  // namespace
}  // namespace bulkhead::controlplane::testing
