// Authentication and authorization in process: ES256 tokens and what is
// refused, RBAC matching and escalation rules, and the API server's answers
// to users who may and may not (403 worded as Kubernetes words it), service
// account tokens from TokenRequest, impersonation and access reviews.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "controlplane/auth/jwt.h"
#include "controlplane/auth/rbac_rules.h"
#include "controlplane/auth/service_account_token.h"
#include "controlplane/pki/base64.h"
#include "tests/unit/controlplane_api_harness.h"

namespace bulkhead::controlplane::testing {
namespace {

namespace json = boost::json;

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Es256Key NewKey() {
  auto pem = Es256Key::GeneratePem();
  EXPECT_TRUE(pem.ok());
  auto key = Es256Key::FromPrivatePem(*pem);
  EXPECT_TRUE(key.ok()) << key.status();
  return std::move(key).value();
}

ServiceAccountClaims Claims(int64_t now) {
  ServiceAccountClaims claims;
  claims.namespace_name = "default";
  claims.name = "robot";
  claims.uid = "uid-1";
  claims.audiences = {std::string(kDefaultIssuer)};
  claims.issued_at = now;
  claims.expires_at = now + 600;
  claims.token_id = "jti-1";
  return claims;
}

// The token with its claims replaced (signature kept): a forgery.
std::string WithPayload(const std::string& token, const json::object& payload) {
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);
  return token.substr(0, first + 1) + Base64UrlEncode(json::serialize(payload)) +
         token.substr(second);
}

TEST(JwtTest, SignedClaimsVerifyAndEveryForgeryIsRefusedWithItsReason) {
  Es256Key key = NewKey();
  auto token = key.Sign(json::object{{"sub", "x"}, {"n", 1}});
  ASSERT_TRUE(token.ok()) << token.status();
  auto claims = key.Verify(*token);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->at("sub").as_string(), "x");

  auto refused = [&](const std::string& forged, const std::string& why) {
    auto verified = key.Verify(forged);
    EXPECT_FALSE(verified.ok()) << forged;
    EXPECT_NE(verified.status().message().find(why), std::string::npos)
        << verified.status() << " wanted: " << why;
  };
  refused(WithPayload(*token, json::object{{"sub", "admin"}}), "signature does not verify");
  // alg none, and HS256 (a public key used as an HMAC secret), never accepted.
  const std::string body = token->substr(token->find('.'));
  refused(Base64UrlEncode(R"({"alg":"none"})") + body.substr(0, body.rfind('.') + 1), "not ES256");
  refused(Base64UrlEncode(R"({"alg":"HS256"})") + body, "not ES256");
  refused(NewKey().Sign(json::object{{"sub", "x"}}).value(), "another key");
  refused("a.b", "three dot-separated parts");
  refused("!!.??.**", "not base64url");
  // Another key's token without a kid still fails on the signature.
  Es256Key other = NewKey();
  std::string unnamed = other.Sign(json::object{{"sub", "x"}}).value();
  unnamed = Base64UrlEncode(R"({"alg":"ES256"})") + unnamed.substr(unnamed.find('.'));
  refused(unnamed, "signature does not verify");
}

TEST(JwtTest, TheKeyIdIsTheBase64UrlSha256OfThePublicKeyAndTheJwkNamesIt) {
  Es256Key key = NewKey();
  EXPECT_EQ(key.key_id().size(), 43U);  // 32 bytes, base64url without padding
  json::object jwk = key.PublicJwk();
  EXPECT_EQ(jwk.at("kid").as_string(), key.key_id());
  EXPECT_EQ(jwk.at("kty").as_string(), "EC");
  EXPECT_EQ(jwk.at("crv").as_string(), "P-256");
  EXPECT_EQ(jwk.at("alg").as_string(), "ES256");
  EXPECT_EQ(Base64UrlDecode(jwk.at("x").as_string())->size(), 32U);
  EXPECT_EQ(Base64UrlDecode(jwk.at("y").as_string())->size(), 32U);
}

TEST(ServiceAccountTokenTest, ExpiredEarlyWrongAudienceAndWrongIssuerAreRefused) {
  auto pem = Es256Key::GeneratePem().value();
  ServiceAccountTokens tokens(Es256Key::FromPrivatePem(pem).value(), std::string(kDefaultIssuer),
                              {});
  const int64_t now = Now();
  auto good = tokens.Issue(Claims(now));
  ASSERT_TRUE(good.ok());
  auto verified = tokens.Verify(*good, now);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->name, "robot");
  EXPECT_EQ(verified->uid, "uid-1");

  auto refused = [&](const StatusOr<std::string>& token, int64_t at, const std::string& why) {
    ASSERT_TRUE(token.ok());
    auto result = tokens.Verify(*token, at);
    ASSERT_FALSE(result.ok()) << why;
    EXPECT_NE(result.status().message().find(why), std::string::npos) << result.status();
  };
  refused(good, now + 601, "expired");
  refused(good, now - 3600, "not valid yet");
  ServiceAccountClaims elsewhere = Claims(now);
  elsewhere.audiences = {"vault"};
  refused(tokens.Issue(elsewhere), now, "audience");
  // The same key under another issuer: still not this cluster's token.
  ServiceAccountTokens other_issuer(Es256Key::FromPrivatePem(pem).value(), "https://other", {});
  refused(other_issuer.Issue(Claims(now)), now, "issuer");
  EXPECT_EQ(tokens.DiscoveryDocument().at("jwks_uri").as_string(),
            std::string(kDefaultIssuer) + "/openid/v1/jwks");
}

PolicyRule MakeRule(std::vector<std::string> verbs, std::vector<std::string> groups,
                    std::vector<std::string> resources, std::vector<std::string> names = {}) {
  return PolicyRule{
      std::move(verbs), std::move(groups), std::move(resources), std::move(names), {}};
}

RequestAttributes Ask(std::string verb, std::string group, std::string resource,
                      std::string subresource = "", std::string name = "") {
  RequestAttributes ask;
  ask.verb = std::move(verb);
  ask.api_group = std::move(group);
  ask.resource = std::move(resource);
  ask.subresource = std::move(subresource);
  ask.name = std::move(name);
  return ask;
}

TEST(RbacRulesTest, WildcardsSubresourcesNamesAndUrlsMatchAsKubernetesMatchesThem) {
  EXPECT_TRUE(RuleAllows(MakeRule({"*"}, {"*"}, {"*"}), Ask("delete", "apps", "deployments")));
  EXPECT_TRUE(RuleAllows(MakeRule({"get"}, {""}, {"pods"}), Ask("get", "", "pods")));
  EXPECT_FALSE(RuleAllows(MakeRule({"get"}, {""}, {"pods"}), Ask("get", "apps", "pods")));
  EXPECT_FALSE(RuleAllows(MakeRule({"get"}, {""}, {"pods"}), Ask("list", "", "pods")));
  // A resource does not cover its subresources; */scale covers every scale.
  EXPECT_FALSE(RuleAllows(MakeRule({"get"}, {""}, {"pods"}), Ask("get", "", "pods", "log")));
  EXPECT_TRUE(RuleAllows(MakeRule({"get"}, {""}, {"pods/log"}), Ask("get", "", "pods", "log")));
  EXPECT_TRUE(RuleAllows(MakeRule({"update"}, {"apps"}, {"*/scale"}),
                         Ask("update", "apps", "deployments", "scale")));
  // "pods/*" is no wildcard in Kubernetes.
  EXPECT_FALSE(RuleAllows(MakeRule({"get"}, {""}, {"pods/*"}), Ask("get", "", "pods", "log")));
  // Names: only requests that name one of them (never list or create).
  PolicyRule named = MakeRule({"get", "list", "create"}, {""}, {"configmaps"}, {"a"});
  EXPECT_TRUE(RuleAllows(named, Ask("get", "", "configmaps", "", "a")));
  EXPECT_FALSE(RuleAllows(named, Ask("get", "", "configmaps", "", "b")));
  EXPECT_FALSE(RuleAllows(named, Ask("list", "", "configmaps")));
  EXPECT_FALSE(RuleAllows(named, Ask("create", "", "configmaps")));
  // Non-resource URLs: exact or a trailing * as a prefix; never a resource.
  PolicyRule urls{{"get"}, {}, {}, {}, {"/healthz", "/apis/*"}};
  RequestAttributes path;
  path.verb = "get";
  path.resource_request = false;
  path.path = "/apis/apps/v1";
  EXPECT_TRUE(RuleAllows(urls, path));
  path.path = "/apis";
  EXPECT_FALSE(RuleAllows(urls, path));
  path.path = "/healthz";
  EXPECT_TRUE(RuleAllows(urls, path));
  EXPECT_FALSE(RuleAllows(urls, Ask("get", "", "pods")));
}

TEST(RbacRulesTest, CoverTakesWildcardsLiterallyAndNamesWhatIsMissing) {
  std::vector<PolicyRule> held{MakeRule({"get", "list"}, {""}, {"pods", "configmaps"})};
  std::vector<PolicyRule> missing;
  EXPECT_TRUE(RulesCover(held, {MakeRule({"get"}, {""}, {"pods"})}, &missing));
  EXPECT_TRUE(RulesCover(held, {MakeRule({"get"}, {""}, {"pods"}, {"one"})}, &missing));
  EXPECT_TRUE(missing.empty());
  EXPECT_FALSE(RulesCover(held, {MakeRule({"get", "delete"}, {""}, {"pods"})}, &missing));
  ASSERT_EQ(missing.size(), 1U);
  EXPECT_EQ(missing[0].verbs, std::vector<std::string>{"delete"});
  // Holding get on pods is not holding get on everything.
  EXPECT_FALSE(RulesCover(held, {MakeRule({"get"}, {""}, {"*"})}, nullptr));
  EXPECT_FALSE(RulesCover(held, {MakeRule({"*"}, {""}, {"pods"})}, nullptr));
  // A rule held for some names does not cover all names.
  EXPECT_FALSE(RulesCover({MakeRule({"get"}, {""}, {"pods"}, {"a"})},
                          {MakeRule({"get"}, {""}, {"pods"})}, nullptr));
  EXPECT_TRUE(
      RulesCover({MakeRule({"*"}, {"*"}, {"*"})}, {MakeRule({"*"}, {"x"}, {"*"})}, nullptr));
}

// ---- The API server, in process.

constexpr char kPods[] = "/api/v1/namespaces/default/pods";
constexpr char kConfigMaps[] = "/api/v1/namespaces/default/configmaps";
constexpr char kRoleBindings[] =
    "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings";
constexpr char kClusterRoleBindings[] = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings";

std::string Binding(const std::string& name, const std::string& role_kind, const std::string& role,
                    const std::string& subject_kind, const std::string& subject,
                    const std::string& subject_ns = "") {
  json::object s{{"kind", subject_kind}, {"name", subject}};
  if (!subject_ns.empty()) {
    s["namespace"] = subject_ns;
  } else {
    s["apiGroup"] = "rbac.authorization.k8s.io";
  }
  return json::serialize(json::object{
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "RoleBinding"},
      {"metadata", json::object{{"name", name}}},
      {"roleRef",
       json::object{
           {"apiGroup", "rbac.authorization.k8s.io"}, {"kind", role_kind}, {"name", role}}},
      {"subjects", json::array{s}}});
}

std::string ConfigMap(const std::string& name) {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
         R"("},"data":{"a":"1"}})";
}

std::string Message(const Recorded& recorded) {
  json::value body = recorded.Json();
  return body.is_object() && body.as_object().contains("message")
             ? std::string(body.as_object().at("message").as_string())
             : recorded.body;
}

TEST(AuthApiTest, AViewUserGetsButCannotCreateAndTheRefusalNamesUserVerbResourceAndNamespace) {
  ApiHarness api;
  const CallOptions jane = AsUser("jane", {"developers"});
  auto before = api.Call("GET", kPods, "", jane);
  EXPECT_EQ(before.status, 403);
  EXPECT_EQ(Message(before),
            "pods is forbidden: User \"jane\" cannot list resource \"pods\" in API group \"\" in "
            "the namespace \"default\"");
  ASSERT_EQ(
      api.Call("POST", kRoleBindings, Binding("jane-view", "ClusterRole", "view", "User", "jane"))
          .status,
      201);
  EXPECT_EQ(api.Call("GET", kPods, "", jane).status, 200);
  EXPECT_EQ(api.Call("GET", kConfigMaps, "", jane).status, 200);
  auto create = api.Call("POST", kConfigMaps, ConfigMap("x"), jane);
  EXPECT_EQ(create.status, 403);
  EXPECT_EQ(Message(create),
            "configmaps is forbidden: User \"jane\" cannot create resource \"configmaps\" in API "
            "group \"\" in the namespace \"default\"");
  json::value details = create.Json().as_object().at("details");
  EXPECT_EQ(details.as_object().at("kind").as_string(), "configmaps");
  // view does not read secrets; a named object and a group are named so.
  auto secret = api.Call("GET", "/api/v1/namespaces/default/secrets/s", "", jane);
  EXPECT_EQ(Message(secret),
            "secrets \"s\" is forbidden: User \"jane\" cannot get resource \"secrets\" in API "
            "group \"\" in the namespace \"default\"");
  auto nodes = api.Call("GET", "/api/v1/nodes", "", jane);
  EXPECT_EQ(Message(nodes),
            "nodes is forbidden: User \"jane\" cannot list resource \"nodes\" in API group \"\" "
            "at the cluster scope");
  auto other_ns = api.Call("GET", "/apis/apps/v1/namespaces/kube-system/deployments/d", "", jane);
  EXPECT_EQ(Message(other_ns),
            "deployments.apps \"d\" is forbidden: User \"jane\" cannot get resource "
            "\"deployments\" in API group \"apps\" in the namespace \"kube-system\"");
  // Discovery is everyone's; a path nobody was given is not.
  EXPECT_EQ(api.Call("GET", "/api", "", jane).status, 200);
  EXPECT_EQ(api.Call("GET", "/apis/apps/v1", "", jane).status, 200);
  EXPECT_EQ(Message(api.Call("GET", "/logs", "", jane)),
            "forbidden: User \"jane\" cannot get path \"/logs\"");
  // Nothing was made by the refused create.
  EXPECT_EQ(api.Call("GET", std::string(kConfigMaps) + "/x").status, 404);
}

TEST(AuthApiTest, AGroupsBindingAppliesToItsMembersAndAClusterRoleBindingEverywhere) {
  ApiHarness api;
  json::object binding =
      json::parse(Binding("devs", "ClusterRole", "edit", "Group", "developers")).as_object();
  binding["kind"] = "ClusterRoleBinding";
  ASSERT_EQ(api.Call("POST", kClusterRoleBindings, json::serialize(binding)).status, 201);
  EXPECT_EQ(api.Call("POST", kConfigMaps, ConfigMap("a"), AsUser("bob", {"developers"})).status,
            201);
  EXPECT_EQ(api.Call("POST", "/api/v1/namespaces/kube-system/configmaps", ConfigMap("b"),
                     AsUser("bob", {"developers"}))
                .status,
            201);
  EXPECT_EQ(api.Call("POST", kConfigMaps, ConfigMap("c"), AsUser("eve", {"others"})).status, 403);
  // edit cannot touch RBAC.
  EXPECT_EQ(api.Call("GET", kRoleBindings, "", AsUser("bob", {"developers"})).status, 403);
}

std::string Token(ApiHarness& api, const std::string& account, const std::string& spec = "{}") {
  auto made = api.Call(
      "POST", "/api/v1/namespaces/default/serviceaccounts/" + account + "/token",
      R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":)" + spec + "}");
  EXPECT_EQ(made.status, 201) << made.body;
  if (made.status != 201) {
    return "";
  }
  return std::string(made.Json().at("status").at("token").as_string());
}

TEST(AuthApiTest, AServiceAccountTokenListsWhatItsRoleAllowsAndNothingElse) {
  ApiHarness api;
  ASSERT_EQ(api.Call("POST", "/api/v1/namespaces/default/serviceaccounts",
                     R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"robot"}})")
                .status,
            201);
  ASSERT_EQ(api.Call("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
                     R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role",
                   "metadata":{"name":"cm-reader"},
                   "rules":[{"apiGroups":[""],"resources":["configmaps"],"verbs":["get","list"]}]})")
                .status,
            201);
  ASSERT_EQ(
      api.Call("POST", kRoleBindings,
               Binding("robot-reads", "Role", "cm-reader", "ServiceAccount", "robot", "default"))
          .status,
      201);
  const std::string token = Token(api, "robot", R"({"expirationSeconds":1200})");
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(api.Call("GET", kConfigMaps, "", WithToken(token)).status, 200);
  auto pods = api.Call("GET", kPods, "", WithToken(token));
  EXPECT_EQ(pods.status, 403);
  EXPECT_EQ(Message(pods),
            "pods is forbidden: User \"system:serviceaccount:default:robot\" cannot list resource "
            "\"pods\" in API group \"\" in the namespace \"default\"");
  EXPECT_EQ(api.Call("POST", kConfigMaps, ConfigMap("x"), WithToken(token)).status, 403);
  // Who it is, as kubectl auth whoami asks.
  auto whoami = api.Call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                         R"({"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"})",
                         WithToken(token));
  ASSERT_EQ(whoami.status, 201) << whoami.body;
  const json::value answer = whoami.Json();
  const json::value& info = answer.at("status").at("userInfo");
  EXPECT_EQ(info.at("username").as_string(), "system:serviceaccount:default:robot");
  EXPECT_EQ(
      json::serialize(info.at("groups")),
      R"(["system:serviceaccounts","system:serviceaccounts:default","system:authenticated"])");
  // The account deleted, its token stops working.
  ASSERT_EQ(api.Call("DELETE", "/api/v1/namespaces/default/serviceaccounts/robot").status, 200);
  auto gone = api.Call("GET", kConfigMaps, "", WithToken(token));
  EXPECT_EQ(gone.status, 401);
  EXPECT_NE(Message(gone).find("no longer exists"), std::string::npos) << gone.body;
}

TEST(AuthApiTest, ATokenBoundToAPodEndsWithThePodAndBadTokensAreRefusedWithTheirReason) {
  ApiHarness api;
  ASSERT_EQ(api.Call("POST", "/api/v1/namespaces/default/serviceaccounts",
                     R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default"}})")
                .status,
            201);
  ASSERT_EQ(api.Call("POST", kPods,
                     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},
                         "spec":{"containers":[{"name":"c","image":"busybox"}]}})")
                .status,
            201);
  const std::string bound =
      Token(api, "default", R"({"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"web"}})");
  ASSERT_FALSE(bound.empty());
  // Discovery works for it (system:discovery), and who-am-i names the pod.
  EXPECT_EQ(api.Call("GET", "/api", "", WithToken(bound)).status, 200);
  auto whoami = api.Call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                         R"({"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"})",
                         WithToken(bound));
  EXPECT_EQ(whoami.Json()
                .at("status")
                .at("userInfo")
                .at("extra")
                .at("authentication.kubernetes.io/pod-name"),
            json::array{"web"});
  ASSERT_EQ(api.Call("DELETE", std::string(kPods) + "/web?gracePeriodSeconds=0").status, 200);
  auto after = api.Call("GET", "/api", "", WithToken(bound));
  EXPECT_EQ(after.status, 401);
  EXPECT_NE(Message(after).find("bound to pod default/web, which no longer exists"),
            std::string::npos)
      << after.body;
  // A pod of another service account cannot carry this one's token.
  ASSERT_EQ(api.Call("POST", kPods,
                     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"other"},
                         "spec":{"serviceAccountName":"robot",
                         "containers":[{"name":"c","image":"busybox"}]}})")
                .status,
            201);
  auto mismatch =
      api.Call("POST", "/api/v1/namespaces/default/serviceaccounts/default/token",
               R"({"spec":{"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"other"}}})");
  EXPECT_EQ(mismatch.status, 400) << mismatch.body;
  // Too short a duration, and a kind a token cannot be bound to.
  auto short_lived = api.Call("POST", "/api/v1/namespaces/default/serviceaccounts/default/token",
                              R"({"spec":{"expirationSeconds":60}})");
  EXPECT_EQ(short_lived.status, 422);
  EXPECT_NE(Message(short_lived).find("may not specify a duration less than 10 minutes"),
            std::string::npos)
      << short_lived.body;
  EXPECT_EQ(api.Call("POST", "/api/v1/namespaces/default/serviceaccounts/default/token",
                     R"({"spec":{"boundObjectRef":{"kind":"ConfigMap","name":"x"}}})")
                .status,
            400);
  EXPECT_EQ(
      api.Call("POST", "/api/v1/namespaces/default/serviceaccounts/nobody/token", "{}").status,
      404);

  // Forged and stale tokens: 401 with the reason.
  const std::string good = Token(api, "default");
  auto reason = [&](const std::string& token) {
    auto answered = api.Call("GET", "/api", "", WithToken(token));
    EXPECT_EQ(answered.status, 401) << token;
    return Message(answered);
  };
  const size_t dot = good.find('.');
  EXPECT_NE(
      reason(Base64UrlEncode(R"({"alg":"none"})") + good.substr(dot, good.rfind('.') - dot) + ".")
          .find("not ES256"),
      std::string::npos);
  json::object claims =
      json::parse(*Base64UrlDecode(good.substr(dot + 1, good.rfind('.') - dot - 1))).as_object();
  claims["sub"] = "system:serviceaccount:kube-system:default";
  EXPECT_NE(reason(WithPayload(good, claims)).find("signature does not verify"), std::string::npos);
  ServiceAccountClaims old = Claims(Now() - 7200);
  old.name = "default";
  auto expired = api.api().tokens().Issue(old);
  ASSERT_TRUE(expired.ok());
  EXPECT_NE(reason(*expired).find("expired"), std::string::npos);
  ServiceAccountClaims elsewhere = Claims(Now());
  elsewhere.audiences = {"https://vault.example"};
  EXPECT_NE(reason(api.api().tokens().Issue(elsewhere).value()).find("audience"),
            std::string::npos);
  EXPECT_NE(reason("not-a-token").find("not one this cluster issued"), std::string::npos);
}

TEST(AuthApiTest, TheIssuerDocumentAndKeysAreServedToAnyoneAndNameTheSigningKey) {
  ApiHarness api;
  auto discovery = api.Call("GET", "/.well-known/openid-configuration", "", Anonymous());
  ASSERT_EQ(discovery.status, 200);
  EXPECT_EQ(discovery.Json().at("issuer").as_string(), kDefaultIssuer);
  auto keys = api.Call("GET", "/openid/v1/jwks", "", Anonymous());
  ASSERT_EQ(keys.status, 200);
  const json::value key_set = keys.Json();
  const json::array& set = key_set.at("keys").as_array();
  ASSERT_EQ(set.size(), 1U);
  EXPECT_EQ(set[0].at("kid").as_string(), api.api().tokens().KeySet().at("keys").at(0).at("kid"));
  // Anything else stays closed to anonymous callers.
  EXPECT_EQ(api.Call("GET", "/version", "", Anonymous()).status, 401);
}

TEST(AuthApiTest, ImpersonationNeedsTheVerbAndThenActsAsTheImpersonatedUser) {
  ApiHarness api;
  CallOptions as_jane = AsUser("ops");
  as_jane.impersonation = {{"Impersonate-User", "jane"}};
  auto refused = api.Call("GET", kPods, "", as_jane);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(Message(refused),
            "users \"jane\" is forbidden: User \"ops\" cannot impersonate resource \"users\" in "
            "API group \"\" at the cluster scope");
  ASSERT_EQ(api.Call("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                     R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",
                         "metadata":{"name":"impersonator"},
                         "rules":[{"apiGroups":[""],"resources":["users"],"verbs":["impersonate"],
                                   "resourceNames":["jane"]}]})")
                .status,
            201);
  json::object binding =
      json::parse(Binding("ops-impersonates", "ClusterRole", "impersonator", "User", "ops"))
          .as_object();
  binding["kind"] = "ClusterRoleBinding";
  ASSERT_EQ(api.Call("POST", kClusterRoleBindings, json::serialize(binding)).status, 201);
  // Now acts as jane: who has nothing yet.
  auto as_her = api.Call("GET", kPods, "", as_jane);
  EXPECT_EQ(Message(as_her),
            "pods is forbidden: User \"jane\" cannot list resource \"pods\" in API group \"\" in "
            "the namespace \"default\"");
  // Not another user, and not a group it was not given.
  CallOptions as_root = AsUser("ops");
  as_root.impersonation = {{"Impersonate-User", "root"}};
  EXPECT_EQ(api.Call("GET", kPods, "", as_root).status, 403);
  CallOptions as_masters = as_jane;
  as_masters.impersonation.emplace_back("Impersonate-Group", "system:masters");
  EXPECT_EQ(Message(api.Call("GET", kPods, "", as_masters)),
            "groups \"system:masters\" is forbidden: User \"ops\" cannot impersonate resource "
            "\"groups\" in API group \"\" at the cluster scope");
  // The admin may be anyone.
  CallOptions admin_as_jane;
  admin_as_jane.impersonation = {{"Impersonate-User", "jane"}};
  EXPECT_EQ(api.Call("GET", kPods, "", admin_as_jane).status, 403);
  CallOptions groups_only;
  groups_only.impersonation = {{"Impersonate-Group", "x"}};
  EXPECT_EQ(api.Call("GET", kPods, "", groups_only).status, 400);
}

TEST(AuthApiTest, AnEditUserCannotBindClusterAdminNorWriteARoleWithMoreThanItHolds) {
  ApiHarness api;
  ASSERT_EQ(
      api.Call("POST", kRoleBindings, Binding("bob-admin", "ClusterRole", "admin", "User", "bob"))
          .status,
      201);
  const CallOptions bob = AsUser("bob");
  // admin in default may bind edit there (it holds all of edit)...
  EXPECT_EQ(api.Call("POST", kRoleBindings,
                     Binding("carol-edit", "ClusterRole", "edit", "User", "carol"), bob)
                .status,
            201);
  // ...but not cluster-admin.
  auto escalate = api.Call("POST", kRoleBindings,
                           Binding("bob-root", "ClusterRole", "cluster-admin", "User", "bob"), bob);
  EXPECT_EQ(escalate.status, 403);
  EXPECT_NE(Message(escalate).find("rolebindings.rbac.authorization.k8s.io \"bob-root\" is "
                                   "forbidden: user \"bob\" (groups=[\"system:authenticated\"]) is "
                                   "attempting to grant RBAC permissions not currently held:"),
            std::string::npos)
      << Message(escalate);
  // carol (edit) cannot even write bindings.
  EXPECT_EQ(api.Call("POST", kRoleBindings, Binding("x", "ClusterRole", "view", "User", "x"),
                     AsUser("carol"))
                .status,
            403);
  // A role with a rule bob lacks (nodes are cluster-scoped: admin has none).
  auto role = api.Call("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
                       R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role",
                           "metadata":{"name":"wide"},
                           "rules":[{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}]})",
                       bob);
  EXPECT_EQ(role.status, 403);
  EXPECT_NE(Message(role).find("{APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}"),
            std::string::npos)
      << Message(role);
  EXPECT_EQ(
      api.Call("GET", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/wide").status,
      404);
  // One it holds is fine.
  EXPECT_EQ(api.Call("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
                     R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role",
                         "metadata":{"name":"narrow"},
                         "rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}]})",
                     bob)
                .status,
            201);
}

TEST(AuthApiTest, AccessReviewsAnswerFromRbac) {
  ApiHarness api;
  ASSERT_EQ(
      api.Call("POST", kRoleBindings, Binding("jane-view", "ClusterRole", "view", "User", "jane"))
          .status,
      201);
  auto review = [&](const std::string& verb, const std::string& resource, const CallOptions& as) {
    auto answered =
        api.Call("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                 R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview",
            "spec":{"resourceAttributes":{"namespace":"default","verb":")" +
                     verb + R"(","resource":")" + resource + R"("}}})",
                 as);
    EXPECT_EQ(answered.status, 201) << answered.body;
    return answered.Json().at("status").at("allowed").as_bool();
  };
  EXPECT_TRUE(review("list", "pods", AsUser("jane")));
  EXPECT_FALSE(review("create", "pods", AsUser("jane")));
  EXPECT_FALSE(review("list", "pods", AsUser("nobody")));
  EXPECT_TRUE(review("create", "pods", {}));  // the admin
  // For someone else (SubjectAccessReview), as a webhook asks.
  auto sar = api.Call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                      R"({"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview",
                          "spec":{"user":"jane","resourceAttributes":{"namespace":"default",
                          "verb":"get","resource":"pods"}}})");
  ASSERT_EQ(sar.status, 201) << sar.body;
  EXPECT_TRUE(sar.Json().at("status").at("allowed").as_bool());
  EXPECT_NE(std::string(sar.Json().at("status").at("reason").as_string())
                .find("RBAC: allowed by RoleBinding \"jane-view/default\" of ClusterRole \"view\""),
            std::string::npos);
  // jane may not ask about others.
  EXPECT_EQ(api.Call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                     R"({"spec":{"user":"x","resourceAttributes":{"verb":"get"}}})", AsUser("jane"))
                .status,
            403);
  // What jane may do in default (kubectl auth can-i --list).
  auto rules = api.Call("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                        R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview",
                            "spec":{"namespace":"default"}})",
                        AsUser("jane"));
  ASSERT_EQ(rules.status, 201) << rules.body;
  const std::string listed = json::serialize(rules.Json().at("status"));
  EXPECT_NE(listed.find("\"pods\""), std::string::npos);
  EXPECT_NE(listed.find("selfsubjectaccessreviews"), std::string::npos);
  EXPECT_EQ(listed.find("\"secrets\""), std::string::npos) << listed;
  auto elsewhere = api.Call("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                            R"({"spec":{"namespace":"kube-system"}})", AsUser("jane"));
  EXPECT_EQ(json::serialize(elsewhere.Json().at("status")).find("\"pods\""), std::string::npos);
}

TEST(AuthApiTest, TheBootstrapRolesAreThereWithTheirAggregatedRules) {
  ApiHarness api;
  auto view = api.Call("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/view");
  ASSERT_EQ(view.status, 200);
  const std::string rules = json::serialize(view.Json().at("rules"));
  EXPECT_NE(rules.find("\"pods\""), std::string::npos);
  EXPECT_EQ(rules.find("\"secrets\""), std::string::npos);
  auto edit = api.Call("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/edit");
  EXPECT_NE(json::serialize(edit.Json().at("rules")).find("\"secrets\""), std::string::npos);
  for (const char* name : {"cluster-admin", "admin", "system:discovery", "system:basic-user",
                           "system:public-info-viewer"}) {
    EXPECT_EQ(
        api.Call("GET", std::string("/apis/rbac.authorization.k8s.io/v1/clusterroles/") + name)
            .status,
        200)
        << name;
  }
  auto masters = api.Call("GET", std::string(kClusterRoleBindings) + "/cluster-admin");
  EXPECT_EQ(json::serialize(masters.Json().at("subjects").at(0).at("name")), "\"system:masters\"");
}

}  // namespace
}  // namespace bulkhead::controlplane::testing
