// What bulkhead-controlplane refuses to store, and the requests it refuses
// to serve, so that no client can make an object the server cannot read,
// patch or delete again, or take a namespace the cluster needs: patch
// amplification, nesting, system namespaces, CRDs over built-in resources,
// watch parameters out of range.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/e2e/controlplane_harness.h"

namespace bulkhead::testing {
namespace {

using nlohmann::json;

constexpr const char* kConfigMaps = "/api/v1/namespaces/default/configmaps";

class LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plane_ = ControlPlane::Start();
    ASSERT_NE(plane_, nullptr) << "control plane did not start";
  }
  static json Body(const CommandResult& result) {
    return json::parse(HttpBody(result), nullptr, false);
  }
  static json ExpectStatus(const CommandResult& result, int code, const std::string& reason) {
    EXPECT_EQ(HttpStatus(result), code) << result.out.substr(0, 2000) << result.err;
    json status = Body(result);
    EXPECT_EQ(status["kind"], "Status") << result.out.substr(0, 2000);
    EXPECT_EQ(status["code"], code) << result.out.substr(0, 2000);
    EXPECT_EQ(status["reason"], reason) << result.out.substr(0, 2000);
    return status;
  }
  std::string CreateConfigMap(const std::string& name, const std::string& value) {
    auto created = plane_->Curl(
        "POST", kConfigMaps, json{{"metadata", {{"name", name}}}, {"data", {{"a", value}}}}.dump(),
        "application/json");
    EXPECT_EQ(HttpStatus(created), 201) << created.out.substr(0, 2000);
    return Body(created)["metadata"]["resourceVersion"];
  }
  std::string ResourceVersionOf(const std::string& name) {
    return Body(
        plane_->Curl("GET", std::string(kConfigMaps) + "/" + name))["metadata"]["resourceVersion"];
  }
  // {"a":{"a":...{"a":1}...}} with `levels` objects.
  static std::string Nested(int levels) {
    std::string text;
    for (int i = 0; i < levels - 1; ++i) {
      text += "{\"a\":";
    }
    text += "{\"a\":1}";
    text += std::string(static_cast<size_t>(levels - 1), '}');
    return text;
  }

  // A namespaced CRD whose one version keeps unknown fields.
  static json PreservingCrd(const std::string& group, const std::string& plural,
                            const std::string& kind, const std::string& version) {
    std::string singular = plural.substr(0, plural.size() - 1);
    return {
        {"apiVersion", "apiextensions.k8s.io/v1"},
        {"kind", "CustomResourceDefinition"},
        {"metadata", {{"name", plural + "." + group}}},
        {"spec",
         {{"group", group},
          {"scope", "Namespaced"},
          {"names", {{"plural", plural}, {"singular", singular}, {"kind", kind}}},
          {"versions", json::array({{{"name", version},
                                     {"served", true},
                                     {"storage", true},
                                     {"schema",
                                      {{"openAPIV3Schema",
                                        {{"type", "object"},
                                         {"x-kubernetes-preserve-unknown-fields", true}}}}}}})}}}};
  }

  std::unique_ptr<ControlPlane> plane_;
};

TEST_F(LimitsTest, JsonPatchCopiesCannotGrowAnObjectPastTheLimit) {
  std::string rv = CreateConfigMap("amplified", std::string(1024, 'x'));
  // Each copy of /data into itself doubles the object: 14 of them would make
  // 16 MiB from a 746-byte patch.
  json patch = json::array();
  patch.push_back({{"op", "add"}, {"path", "/spec"}, {"value", {{"a", std::string(1024, 'x')}}}});
  for (int i = 0; i < 14; ++i) {
    patch.push_back({{"op", "copy"}, {"from", "/spec"}, {"path", "/spec/c" + std::to_string(i)}});
  }
  auto result = plane_->Curl("PATCH", std::string(kConfigMaps) + "/amplified", patch.dump(),
                             "application/json-patch+json");
  auto status = ExpectStatus(result, 413, "RequestEntityTooLarge");
  EXPECT_NE(status["message"].get<std::string>().find("larger than"), std::string::npos)
      << status.dump();
  EXPECT_EQ(ResourceVersionOf("amplified"), rv);
  // kubectl reports it to the user.
  auto kubectl =
      plane_->Kubectl({"patch", "configmap", "amplified", "--type=json", "-p", patch.dump()});
  EXPECT_NE(kubectl.exit_code, 0);
  EXPECT_NE(kubectl.err.find("too large"), std::string::npos) << kubectl.err;
  EXPECT_EQ(ResourceVersionOf("amplified"), rv);
}

TEST_F(LimitsTest, MergePatchAndUpdateCannotStoreMoreThanTheLimit) {
  // Two bodies under the 3 MiB request limit that together make a larger object.
  std::string rv = CreateConfigMap("grown", std::string(size_t{2} << 20, 'x'));
  json merge = {{"data", {{"b", std::string(size_t{2} << 20, 'y')}}}};
  auto merged = plane_->Curl("PATCH", std::string(kConfigMaps) + "/grown", merge.dump(),
                             "application/merge-patch+json");
  ExpectStatus(merged, 413, "RequestEntityTooLarge");
  auto strategic = plane_->Curl("PATCH", std::string(kConfigMaps) + "/grown", merge.dump(),
                                "application/strategic-merge-patch+json");
  ExpectStatus(strategic, 413, "RequestEntityTooLarge");
  EXPECT_EQ(ResourceVersionOf("grown"), rv);
  // A smaller object still patches.
  auto small = plane_->Curl("PATCH", std::string(kConfigMaps) + "/grown",
                            R"({"data":{"a":"small"}})", "application/merge-patch+json");
  EXPECT_EQ(HttpStatus(small), 200) << small.out.substr(0, 500);
}

TEST_F(LimitsTest, NestingPastTheLimitIsRefusedOnEveryPathAndWhatIsStoredReadsBack) {
  // A body nested past the limit is refused at parse; 22,000 levels cost one pass.
  std::string deep = R"({"metadata":{"name":"deep"},"data":{"a":"b"},"x":)" + Nested(22000) + "}";
  ExpectStatus(plane_->Curl("POST", kConfigMaps, deep, "application/json"), 400, "BadRequest");
  // Custom resources that keep unknown fields can hold any nesting a patch makes.
  json crd = PreservingCrd("example.com", "widgets", "Widget", "v1");
  auto made = plane_->Curl("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                           crd.dump(), "application/json");
  ASSERT_EQ(HttpStatus(made), 201) << made.out.substr(0, 500);
  const std::string widgets = "/apis/example.com/v1/namespaces/default/widgets";
  auto widget = plane_->Curl("POST", widgets, R"({"metadata":{"name":"nested"},"spec":{}})",
                             "application/json");
  ASSERT_EQ(HttpStatus(widget), 201) << widget.out.substr(0, 500);
  std::string rv = Body(widget)["metadata"]["resourceVersion"];
  // A patch that nests the object past the limit: 422, nothing stored.
  // (A patch body itself may nest 100 levels: its values reach 98.)
  json patch =
      json::array({{{"op", "add"}, {"path", "/spec/b"}, {"value", json::object()}},
                   {{"op", "add"}, {"path", "/spec/b/c"}, {"value", json::parse(Nested(98))}}});
  auto patched =
      plane_->Curl("PATCH", widgets + "/nested", patch.dump(), "application/json-patch+json");
  EXPECT_EQ(HttpStatus(patched), 422) << patched.out.substr(0, 500);
  EXPECT_NE(patched.out.find("nested more than 100 levels"), std::string::npos)
      << patched.out.substr(0, 500);
  // (A merge patch has the shape of the object it makes, so the parse bound
  // of its body covers it: one nested past the limit is a 400.)
  // Copies that nest deeper than the limit are stopped while the patch runs.
  std::string deep_path = "/spec/d";
  for (int i = 0; i < 40; ++i) {
    deep_path += "/a";
  }
  json copies =
      json::array({{{"op", "add"}, {"path", "/spec/d"}, {"value", json::parse(Nested(60))}},
                   {{"op", "copy"}, {"from", "/spec/d"}, {"path", deep_path + "/b"}}});
  auto copied =
      plane_->Curl("PATCH", widgets + "/nested", copies.dump(), "application/json-patch+json");
  EXPECT_EQ(HttpStatus(copied), 422) << copied.out.substr(0, 500);
  auto unchanged = Body(plane_->Curl("GET", widgets + "/nested"));
  EXPECT_EQ(unchanged["metadata"]["resourceVersion"], rv) << unchanged.dump().substr(0, 300);
  // A depth under the limit (60 levels) is stored, listed with a selector,
  // watched and deleted.
  auto under = plane_->Curl(
      "POST", widgets,
      R"({"metadata":{"name":"sixty","labels":{"app":"deep"}},"spec":)" + Nested(60) + "}",
      "application/json");
  ASSERT_EQ(HttpStatus(under), 201) << under.out.substr(0, 500);
  auto listed = Body(plane_->Curl("GET", widgets + "?labelSelector=app%3Ddeep"));
  EXPECT_EQ(listed["items"].size(), 1U) << listed.dump().substr(0, 500);
  auto watched =
      HttpBody(plane_->Curl("GET", widgets + "?watch=1&timeoutSeconds=1&labelSelector=app%3Ddeep"));
  EXPECT_NE(watched.find("\"name\":\"sixty\""), std::string::npos) << watched.substr(0, 500);
  auto got = plane_->Kubectl({"get", "widgets", "sixty", "-o", "name"});
  EXPECT_EQ(got.exit_code, 0) << got.err;
  auto deleted = plane_->Kubectl({"delete", "widgets", "sixty", "nested"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
}

TEST_F(LimitsTest, SystemNamespacesCannotBeDeleted) {
  for (const char* name : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    auto result = plane_->Curl("DELETE", std::string("/api/v1/namespaces/") + name);
    auto status = ExpectStatus(result, 403, "Forbidden");
    EXPECT_EQ(status["message"], std::string("namespaces \"") + name +
                                     "\" is forbidden: this namespace may not be "
                                     "deleted");
  }
  auto kubectl = plane_->Kubectl({"delete", "namespace", "kube-system"});
  EXPECT_NE(kubectl.exit_code, 0);
  EXPECT_NE(kubectl.err.find("this namespace may not be deleted"), std::string::npos)
      << kubectl.err;
  auto still = plane_->Kubectl({"get", "namespace", "kube-system", "default", "-o", "name"});
  EXPECT_EQ(still.exit_code, 0) << still.err;
  EXPECT_NE(still.out.find("namespace/default"), std::string::npos) << still.out;
  // Other namespaces still delete.
  plane_->Kubectl({"create", "namespace", "team-a"});
  EXPECT_EQ(plane_->Kubectl({"delete", "namespace", "team-a"}).exit_code, 0);
}

TEST_F(LimitsTest, CrdOverABuiltInResourceIsRefusedAndBuiltInObjectsStay) {
  auto lease = plane_->Curl("POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases",
                            R"({"metadata":{"name":"holder"},"spec":{"holderIdentity":"me"}})",
                            "application/json");
  ASSERT_EQ(HttpStatus(lease), 201) << lease.out;
  json crd = PreservingCrd("coordination.k8s.io", "leases", "Lease", "v2");
  auto refused = plane_->Curl("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                              crd.dump(), "application/json");
  auto status = ExpectStatus(refused, 422, "Invalid");
  EXPECT_NE(status["message"].get<std::string>().find("built-in"), std::string::npos)
      << status.dump();
  auto crds = Body(plane_->Curl("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"));
  EXPECT_TRUE(crds["items"].empty()) << crds.dump();
  auto leases = plane_->Kubectl({"get", "leases", "-o", "name"});
  EXPECT_EQ(leases.exit_code, 0) << leases.err;
  EXPECT_NE(leases.out.find("lease.coordination.k8s.io/holder"), std::string::npos) << leases.out;
}

TEST_F(LimitsTest, FutureResourceVersionIsTooLargeNotAHang) {
  for (const std::string& query :
       {std::string("?watch=1&resourceVersion=999999"),
        std::string("?resourceVersion=999999&resourceVersionMatch=Exact"),
        std::string("?resourceVersion=999999")}) {
    auto result = plane_->Curl("GET", kConfigMaps + query);
    auto status = ExpectStatus(result, 504, "Timeout");
    EXPECT_NE(status["message"].get<std::string>().find("Too large resource version: 999999"),
              std::string::npos)
        << status.dump();
    EXPECT_EQ(status["details"]["retryAfterSeconds"], 1) << status.dump();
    EXPECT_EQ(status["details"]["causes"][0]["reason"], "ResourceVersionTooLarge") << status.dump();
  }
}

TEST_F(LimitsTest, HugeWatchTimeoutDoesNotOverflow) {
  // INT64_MAX seconds: the watch stays open and delivers events (it ended at
  // once when the deadline overflowed).
  auto argv = std::vector<std::string>{
      "/usr/bin/curl",
      "-sS",
      "-N",
      "--max-time",
      "3",
      "--cacert",
      plane_->data_dir() + "/pki/ca.crt",
      "-H",
      "Authorization: Bearer " + plane_->token(),
      plane_->url() + kConfigMaps + "?watch=1&timeoutSeconds=9223372036854775807"};
  CommandResult watch;
  std::thread watcher([&] { watch = RunCommand(argv); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  CreateConfigMap("during", "v");
  watcher.join();
  EXPECT_EQ(watch.exit_code, 28) << "the stream should still be open at curl's deadline: "
                                 << watch.out << watch.err;
  EXPECT_NE(watch.out.find("\"name\":\"during\""), std::string::npos) << watch.out;
}

}  // namespace
}  // namespace bulkhead::testing
