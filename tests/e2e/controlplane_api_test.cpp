// bulkhead-controlplane over raw HTTPS (curl): authentication, discovery,
// bad input answered with the right metav1.Status and nothing stored, watch
// semantics, and no acknowledged write lost to kill -9.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/e2e/controlplane_harness.h"
#include "tests/support/subject_certificate.h"

namespace bulkhead::testing {
namespace {

using nlohmann::json;

constexpr const char* kConfigMaps = "/api/v1/namespaces/default/configmaps";

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plane_ = ControlPlane::Start();
    ASSERT_NE(plane_, nullptr) << "control plane did not start";
  }
  json Body(const CommandResult& result) { return json::parse(HttpBody(result), nullptr, false); }
  // Asserts a metav1.Status with `code` and `reason`; returns it.
  json ExpectStatus(const CommandResult& result, int code, const std::string& reason) {
    EXPECT_EQ(HttpStatus(result), code) << result.out << result.err;
    json status = Body(result);
    EXPECT_EQ(status["kind"], "Status") << result.out;
    EXPECT_EQ(status["code"], code) << result.out;
    EXPECT_EQ(status["reason"], reason) << result.out;
    return status;
  }
  size_t ConfigMapCount() {
    auto list = Body(plane_->Curl("GET", kConfigMaps));
    // Not counting the one every namespace has (kube-root-ca.crt).
    size_t count = 0;
    for (const auto& item : list["items"]) {
      count += item["metadata"]["name"] == "kube-root-ca.crt" ? 0 : 1;
    }
    return count;
  }

  std::unique_ptr<ControlPlane> plane_;
};

TEST_F(ApiTest, AnonymousRequestsAreRefusedHealthIsOpen) {
  auto anonymous = plane_->Curl("GET", "/api/v1/namespaces", "", "", false);
  ExpectStatus(anonymous, 401, "Unauthorized");
  auto version = plane_->Curl("GET", "/version", "", "", false);
  EXPECT_EQ(HttpStatus(version), 401);
  for (const char* path : {"/readyz", "/healthz", "/livez"}) {
    auto health = plane_->Curl("GET", path, "", "", false);
    EXPECT_EQ(HttpStatus(health), 200) << path;
    EXPECT_EQ(HttpBody(health), "ok");
  }
  auto wrong = RunCommand({"/usr/bin/curl", "-sS", "--cacert", plane_->data_dir() + "/pki/ca.crt",
                           "-H", "Authorization: Bearer not-the-token", "-w", "\n%{http_code}",
                           plane_->url() + "/api"});
  EXPECT_EQ(HttpStatus(wrong), 401);
  auto by_certificate = RunCommand(
      {"/usr/bin/curl", "-sS", "--cacert", plane_->data_dir() + "/pki/ca.crt", "--cert",
       plane_->data_dir() + "/pki/admin.crt", "--key", plane_->data_dir() + "/pki/admin.key", "-w",
       "\n%{http_code}", plane_->url() + "/version/"});
  EXPECT_EQ(HttpStatus(by_certificate), 200) << by_certificate.out << by_certificate.err;
  EXPECT_EQ(Body(by_certificate)["minor"], "32");
}

// One CN rule for every Bulkhead server: a client certificate of the
// cluster's client authority with two CNs is refused with the reason (this
// server used to take the last CN, the agent the first).
TEST_F(ApiTest, AClientCertificateWithTwoCommonNamesIsRefused) {
  std::string pki = plane_->data_dir() + "/pki";
  auto get = [&](const std::string& stem) {
    return RunCommand({"/usr/bin/curl", "-sS", "--cacert", pki + "/ca.crt", "--cert",
                       pki + "/" + stem + ".crt", "--key", pki + "/" + stem + ".key", "-w",
                       "\n%{http_code}", plane_->url() + "/api/v1/namespaces"});
  };
  for (const char* subject :
       {"/O=system:masters/CN=nobody/CN=admin", "/O=system:masters/CN=admin/CN=nobody"}) {
    ASSERT_EQ(
        IssueWithSubject(pki + "/client-ca.crt", pki + "/client-ca.key", subject, pki + "/two-cn"),
        "");
    json status = ExpectStatus(get("two-cn"), 401, "Unauthorized");
    EXPECT_NE(status["message"].get<std::string>().find("more than one common name"),
              std::string::npos)
        << status.dump();
  }
  ASSERT_EQ(IssueWithSubject(pki + "/client-ca.crt", pki + "/client-ca.key",
                             "/O=system:masters/CN=jane", pki + "/one-cn"),
            "");
  EXPECT_EQ(HttpStatus(get("one-cn")), 200) << get("one-cn").out;
  // A certificate from another authority (here the serving one) is no one,
  // whatever it says: refused before anything is read.
  ASSERT_EQ(IssueWithSubject(pki + "/ca.crt", pki + "/ca.key", "/O=system:masters/CN=admin",
                             pki + "/foreign"),
            "");
  auto foreign = get("foreign");
  EXPECT_EQ(HttpStatus(foreign), 401) << foreign.out << foreign.err;
}

TEST_F(ApiTest, AggregatedDiscoveryIsChosenByAccept) {
  auto argv = std::vector<std::string>{
      "/usr/bin/curl",
      "-sS",
      "--cacert",
      plane_->data_dir() + "/pki/ca.crt",
      "-H",
      "Authorization: Bearer " + plane_->token(),
      "-H",
      std::string("Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,") +
          "application/json",
      "-D",
      "-",
      plane_->url() + "/apis"};
  auto result = RunCommand(argv);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"),
            std::string::npos)
      << result.out;
  auto doc = json::parse(result.out.substr(result.out.find("\r\n\r\n") + 4), nullptr, false);
  EXPECT_EQ(doc["kind"], "APIGroupDiscoveryList");
  bool apps = false;
  for (const auto& group : doc["items"]) {
    if (group["metadata"]["name"] == "apps") {
      apps = true;
      EXPECT_EQ(group["versions"][0]["resources"][0]["resource"], "deployments");
    }
  }
  EXPECT_TRUE(apps) << doc.dump();
  auto legacy = Body(plane_->Curl("GET", "/apis"));
  EXPECT_EQ(legacy["kind"], "APIGroupList");
  auto openapi = Body(plane_->Curl("GET", "/openapi/v3"));
  ASSERT_TRUE(openapi["paths"].contains("apis/apps/v1")) << openapi.dump();
  std::string url = openapi["paths"]["apis/apps/v1"]["serverRelativeURL"];
  auto gv = Body(plane_->Curl("GET", url));
  auto patch = gv["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
  bool field_validation = false;
  for (const auto& param : patch["parameters"]) {
    field_validation = field_validation || param["name"] == "fieldValidation";
  }
  EXPECT_TRUE(field_validation) << patch.dump();
}

TEST_F(ApiTest, MalformedJsonIsBadRequestAndNothingStored) {
  size_t before = ConfigMapCount();
  ExpectStatus(plane_->Curl("POST", kConfigMaps, "{\"metadata\": {\"name\": ", "application/json"),
               400, "BadRequest");
  ExpectStatus(plane_->Curl("POST", kConfigMaps, "[1,2]", "application/json"), 400, "BadRequest");
  EXPECT_EQ(ConfigMapCount(), before);
}

TEST_F(ApiTest, WrongKindOrApiVersionIsBadRequest) {
  auto kind =
      ExpectStatus(plane_->Curl("POST", kConfigMaps,
                                R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}})",
                                "application/json"),
                   400, "BadRequest");
  EXPECT_NE(kind["message"].get<std::string>().find("Secret"), std::string::npos);
  ExpectStatus(
      plane_->Curl("POST", kConfigMaps,
                   R"({"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"x"}})",
                   "application/json"),
      400, "BadRequest");
  EXPECT_EQ(ConfigMapCount(), 0U);
}

TEST_F(ApiTest, FieldValidationStrictWarnIgnore) {
  std::string body = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"NAME"},)"
                     R"("data":{"a":"b"},"colour":"red"})";
  auto with_name = [&body](const std::string& name) {
    std::string copy = body;
    copy.replace(copy.find("NAME"), 4, name);
    return copy;
  };
  auto strict =
      ExpectStatus(plane_->Curl("POST", std::string(kConfigMaps) + "?fieldValidation=Strict",
                                with_name("s"), "application/json"),
                   400, "BadRequest");
  EXPECT_NE(strict["message"].get<std::string>().find("unknown field \"colour\""),
            std::string::npos)
      << strict.dump();
  EXPECT_EQ(ConfigMapCount(), 0U);
  auto warn = RunCommand(
      {"/usr/bin/curl", "-sS", "-D", "-", "--cacert", plane_->data_dir() + "/pki/ca.crt", "-H",
       "Authorization: Bearer " + plane_->token(), "-H", "Content-Type: application/json",
       "--data-binary", with_name("w"), plane_->url() + kConfigMaps + "?fieldValidation=Warn"});
  EXPECT_NE(warn.out.find("Warning: 299 - \"unknown field \\\"colour\\\"\""), std::string::npos)
      << warn.out;
  auto ignore = plane_->Curl("POST", std::string(kConfigMaps) + "?fieldValidation=Ignore",
                             with_name("i"), "application/json");
  EXPECT_EQ(HttpStatus(ignore), 201) << ignore.out;
  EXPECT_FALSE(Body(ignore).contains("colour"));
  EXPECT_EQ(ConfigMapCount(), 2U);
  // Nested unknown fields in a built-in kind are found too.
  auto nested = ExpectStatus(
      plane_->Curl("POST", "/apis/apps/v1/namespaces/default/deployments?fieldValidation=Strict",
                   R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},)"
                   R"("spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":)"
                   R"({"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","imagee":"x"}]}}}})",
                   "application/json"),
      400, "BadRequest");
  EXPECT_NE(nested["message"].get<std::string>().find(
                "unknown field \"spec.template.spec.containers[0].imagee\""),
            std::string::npos)
      << nested.dump();
}

TEST_F(ApiTest, BodiesOverTheLimitAre413) {
  std::string big =
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":")" +
      std::string(size_t{4} << 20, 'x') + "\"}}";
  auto result = plane_->Curl("POST", kConfigMaps, big, "application/json");
  ExpectStatus(result, 413, "RequestEntityTooLarge");
  EXPECT_EQ(ConfigMapCount(), 0U);
}

TEST_F(ApiTest, InvalidNamesAndLabelValuesAre422WithCauses) {
  auto name = ExpectStatus(
      plane_->Curl("POST", kConfigMaps,
                   R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}})",
                   "application/json"),
      422, "Invalid");
  ASSERT_TRUE(name["details"]["causes"].is_array()) << name.dump();
  EXPECT_EQ(name["details"]["causes"][0]["field"], "metadata.name");
  EXPECT_EQ(name["details"]["causes"][0]["reason"], "FieldValueInvalid");
  auto label =
      ExpectStatus(plane_->Curl("POST", kConfigMaps,
                                R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ok",)"
                                R"("labels":{"team":"not valid!"}}})",
                                "application/json"),
                   422, "Invalid");
  EXPECT_EQ(label["details"]["causes"][0]["field"], "metadata.labels");
  auto ns = ExpectStatus(plane_->Curl("POST", "/api/v1/namespaces/nowhere/configmaps",
                                      R"({"metadata":{"name":"x"}})", "application/json"),
                         404, "NotFound");
  EXPECT_EQ(ConfigMapCount(), 0U);
}

TEST_F(ApiTest, StaleResourceVersionIsConflictAndNothingChanges) {
  auto created = plane_->Curl("POST", kConfigMaps, R"({"metadata":{"name":"c"},"data":{"v":"1"}})",
                              "application/json");
  ASSERT_EQ(HttpStatus(created), 201) << created.out;
  std::string rv = Body(created)["metadata"]["resourceVersion"];
  std::string path = std::string(kConfigMaps) + "/c";
  auto update = [&](const std::string& value) {
    return plane_->Curl("PUT", path,
                        R"({"metadata":{"name":"c","resourceVersion":")" + rv +
                            R"("},"data":{"v":")" + value + "\"}}",
                        "application/json");
  };
  EXPECT_EQ(HttpStatus(update("2")), 200);
  auto stale = ExpectStatus(update("3"), 409, "Conflict");
  EXPECT_NE(stale["message"].get<std::string>().find("the object has been modified"),
            std::string::npos);
  EXPECT_EQ(Body(plane_->Curl("GET", path))["data"]["v"], "2");
  auto unsupported =
      ExpectStatus(plane_->Curl("PATCH", path, "data: {}", "application/apply-patch+yaml"), 415,
                   "UnsupportedMediaType");
}

TEST_F(ApiTest, ListPaginationAndSelectors) {
  for (int i = 0; i < 7; ++i) {
    auto result =
        plane_->Curl("POST", kConfigMaps,
                     "{\"metadata\":{\"name\":\"c" + std::to_string(i) +
                         "\",\"labels\":{\"parity\":\"" + (i % 2 == 0 ? "even" : "odd") + "\"}}}",
                     "application/json");
    ASSERT_EQ(HttpStatus(result), 201) << result.out;
  }
  std::vector<std::string> names;
  std::string token;
  int pages = 0;
  do {
    std::string path =
        std::string(kConfigMaps) + "?limit=3" + (token.empty() ? "" : "&continue=" + token);
    auto page = Body(plane_->Curl("GET", path));
    for (const auto& item : page["items"]) {
      if (item["metadata"]["name"] != "kube-root-ca.crt") {  // every namespace's own
        names.push_back(item["metadata"]["name"]);
      }
    }
    token = page["metadata"].value("continue", "");
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names, (std::vector<std::string>{"c0", "c1", "c2", "c3", "c4", "c5", "c6"}));
  auto even =
      Body(plane_->Curl("GET", std::string(kConfigMaps) + "?labelSelector=parity%3Deven&limit=2"));
  EXPECT_EQ(even["items"].size(), 2U);
  EXPECT_TRUE(even["metadata"].contains("continue"));
  auto by_name =
      Body(plane_->Curl("GET", std::string(kConfigMaps) + "?fieldSelector=metadata.name%3Dc5"));
  ASSERT_EQ(by_name["items"].size(), 1U);
  EXPECT_EQ(by_name["items"][0]["metadata"]["name"], "c5");
  auto in_set =
      Body(plane_->Curl("GET", std::string(kConfigMaps) + "?labelSelector=parity%20in%20(odd)"));
  EXPECT_EQ(in_set["items"].size(), 3U);
}

TEST_F(ApiTest, WatchFromARevisionWithTimeoutAndBookmarksOnlyWhenAsked) {
  auto created =
      Body(plane_->Curl("POST", kConfigMaps, R"({"metadata":{"name":"a"}})", "application/json"));
  std::string rv = created["metadata"]["resourceVersion"];
  plane_->Curl("POST", kConfigMaps, R"({"metadata":{"name":"b"}})", "application/json");
  plane_->Curl("DELETE", std::string(kConfigMaps) + "/a");
  // From rv: the events after it, then a clean end after timeoutSeconds.
  auto after = plane_->Curl(
      "GET", std::string(kConfigMaps) + "?watch=1&timeoutSeconds=1&resourceVersion=" + rv);
  EXPECT_EQ(HttpStatus(after), 200) << after.err;
  EXPECT_EQ(after.exit_code, 0) << after.err;  // curl saw a complete chunked body
  std::string body = HttpBody(after);
  EXPECT_EQ(body.find("\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
                      "\"metadata\":{\"name\":\"a\""),
            std::string::npos);
  EXPECT_NE(body.find("\"type\":\"ADDED\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"type\":\"DELETED\""), std::string::npos) << body;
  EXPECT_EQ(body.find("BOOKMARK"), std::string::npos) << body;
  // Unset: the current state as ADDED events; fieldSelector narrows to one name.
  auto now = HttpBody(plane_->Curl(
      "GET",
      std::string(kConfigMaps) + "?watch=true&timeoutSeconds=1&fieldSelector=metadata.name%3Db"));
  EXPECT_NE(now.find("\"name\":\"b\""), std::string::npos) << now;
  EXPECT_EQ(now.find("\"name\":\"a\""), std::string::npos) << now;
  EXPECT_EQ(std::count(now.begin(), now.end(), '\n'), 1) << now;
}

TEST(ApiWatch, BookmarksWhenAskedAndGoneAfterCompaction) {
  auto plane =
      ControlPlane::Start("", {"--watch-bookmark-interval", "1", "--compaction-interval", "1"});
  ASSERT_NE(plane, nullptr);
  for (int i = 0; i < 3; ++i) {
    plane->Curl("POST", kConfigMaps, "{\"metadata\":{\"name\":\"c" + std::to_string(i) + "\"}}",
                "application/json");
  }
  auto bookmarks = HttpBody(plane->Curl(
      "GET", std::string(kConfigMaps) + "?watch=1&timeoutSeconds=3&allowWatchBookmarks=true"));
  EXPECT_NE(bookmarks.find("\"type\":\"BOOKMARK\""), std::string::npos) << bookmarks;
  // Compaction runs every second; once it passed revision 1, a watch from
  // there gets one ERROR event with 410 Expired.
  std::string gone;
  for (int attempt = 0; attempt < 50; ++attempt) {
    gone = HttpBody(plane->Curl(
        "GET", std::string(kConfigMaps) + "?watch=1&timeoutSeconds=1&resourceVersion=1"));
    if (gone.find("\"type\":\"ERROR\"") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  auto event = json::parse(gone, nullptr, false);
  EXPECT_EQ(event["type"], "ERROR") << gone;
  EXPECT_EQ(event["object"]["code"], 410) << gone;
  EXPECT_EQ(event["object"]["reason"], "Expired") << gone;
}

}  // namespace
}  // namespace bulkhead::testing

namespace bulkhead::testing {
namespace {

TEST(ControlPlaneCli, HelpListsEveryFlagWithItsDefault) {
  auto help = RunCommand({BULKHEAD_CONTROLPLANE_PATH, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag :
       {"--data-dir", "--listen TEXT=127.0.0.1:6443", "--cluster-name TEXT=bulkhead", "--tls-san",
        "--durability", "=process-crash", "--max-body-bytes UINT=3145728", "--compaction-interval",
        "=300", "--watch-bookmark-interval", "=60", "--log-level TEXT=info", "Example:"}) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag << "\n" << help.out;
  }
}

TEST(ControlPlaneCli, BadFlagsAreOneLineAndExit2) {
  auto missing = RunCommand({BULKHEAD_CONTROLPLANE_PATH});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
  EXPECT_NE(missing.err.find("--data-dir"), std::string::npos) << missing.err;
  TempDir dir;
  auto listen =
      RunCommand({BULKHEAD_CONTROLPLANE_PATH, "--data-dir", dir.path(), "--listen", "nowhere"});
  EXPECT_EQ(listen.exit_code, 2);
  EXPECT_NE(listen.err.find("expected HOST:PORT"), std::string::npos) << listen.err;
}

}  // namespace
}  // namespace bulkhead::testing
