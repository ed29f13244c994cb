// RouteResourceRequest: every path shape the API has, each verb, and the
// 404s and 405s a real API server answers, from the path alone.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/strings.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/api_request.h"

namespace bulkhead::controlplane {
namespace {

using Query = std::vector<std::pair<std::string, std::string>>;

class RouteTest : public ::testing::Test {
 protected:
  // `path` after the group and version: "namespaces/default/pods/web".
  StatusOr<ApiRequest> Route(std::string_view method, const std::string& group,
                             const std::string& path, const Query& query = {}) {
    std::vector<std::string> rest;
    for (std::string_view part : SplitNonEmpty(path, "/")) {
      rest.emplace_back(part);
    }
    return RouteResourceRequest(method, group, "v1", rest, query, types_);
  }
  int Code(const StatusOr<ApiRequest>& routed) {
    return routed.ok() ? 200 : ToHttpError(routed.status()).code;
  }
  ResourceRegistry types_;
};

TEST_F(RouteTest, EachMethodOnAnObjectOrACollectionIsItsVerb) {
  struct Case {
    const char* method;
    const char* path;
    Verb verb;
  };
  for (const Case& c : std::vector<Case>{
           {"GET", "namespaces/default/pods", Verb::kList},
           {"GET", "pods", Verb::kList},
           {"POST", "namespaces/default/pods", Verb::kCreate},
           {"DELETE", "namespaces/default/pods", Verb::kDeleteCollection},
           {"GET", "namespaces/default/pods/web", Verb::kGet},
           {"PUT", "namespaces/default/pods/web", Verb::kUpdate},
           {"PATCH", "namespaces/default/pods/web", Verb::kPatch},
           {"DELETE", "namespaces/default/pods/web", Verb::kDelete},
           {"PUT", "namespaces/default/pods/web/status", Verb::kUpdate},
           {"GET", "namespaces", Verb::kList},
           {"GET", "namespaces/team", Verb::kGet},
           {"PUT", "namespaces/team/status", Verb::kUpdate},
       }) {
    auto routed = Route(c.method, "", c.path);
    ASSERT_TRUE(routed.ok()) << c.method << " " << c.path << ": " << routed.status();
    EXPECT_EQ(routed->verb, c.verb) << c.method << " " << c.path;
  }
  auto pod = Route("GET", "", "namespaces/default/pods/web");
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ(pod->target.type->kind, "Pod");
  EXPECT_EQ(pod->target.namespace_name, "default");
  EXPECT_EQ(pod->target.name, "web");
  auto status = Route("PUT", "", "namespaces/team/status");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->target.type->kind, "Namespace");
  EXPECT_EQ(status->target.name, "team");
  EXPECT_EQ(status->target.subresource, "status");
}

TEST_F(RouteTest, WatchesComeFromTheQueryOrTheOldWatchPathAndOneObjectIsItsCollection) {
  for (const char* value : {"1", "true", "True"}) {
    auto routed = Route("GET", "", "namespaces/default/pods", {{"watch", value}});
    ASSERT_TRUE(routed.ok());
    EXPECT_EQ(routed->verb, Verb::kWatch) << value;
  }
  auto not_watch = Route("GET", "", "namespaces/default/pods", {{"watch", "false"}});
  ASSERT_TRUE(not_watch.ok());
  EXPECT_EQ(not_watch->verb, Verb::kList);
  auto old_path = Route("GET", "", "watch/namespaces/default/pods");
  ASSERT_TRUE(old_path.ok());
  EXPECT_EQ(old_path->verb, Verb::kWatch);
  auto one = Route("GET", "", "watch/namespaces/default/pods/web");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->verb, Verb::kWatch);
  EXPECT_EQ(one->target.name, "");
  EXPECT_EQ(one->watch_name, "web");
  EXPECT_TRUE(IsWatchQuery({{"limit", "1"}, {"watch", "1"}}));
  EXPECT_FALSE(IsWatchQuery({{"watch", "yes"}}));
}

TEST_F(RouteTest, ScaleAndReviewsHaveTheirOwnVerbs) {
  auto get = Route("GET", "apps", "namespaces/default/deployments/web/scale");
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->verb, Verb::kGetScale);
  auto patch = Route("PATCH", "apps", "namespaces/default/deployments/web/scale");
  ASSERT_TRUE(patch.ok());
  EXPECT_EQ(patch->verb, Verb::kUpdateScale);
  EXPECT_EQ(Code(Route("DELETE", "apps", "namespaces/default/deployments/web/scale")), 405);
  auto review = Route("POST", "authorization.k8s.io", "selfsubjectaccessreviews");
  ASSERT_TRUE(review.ok()) << review.status();
  EXPECT_EQ(review->verb, Verb::kReview);
  EXPECT_EQ(Code(Route("GET", "authorization.k8s.io", "selfsubjectaccessreviews")), 405);
}

TEST_F(RouteTest, PathsThatNameNoResourceAre404AndMethodsItDoesNotTakeAre405) {
  EXPECT_EQ(Code(Route("GET", "", "widgets")), 404);
  EXPECT_EQ(Code(Route("GET", "", "")), 404);
  EXPECT_EQ(Code(Route("GET", "", "namespaces/default/namespaces")), 404);  // cluster-scoped
  EXPECT_EQ(Code(Route("GET", "", "pods/web")), 404);  // a namespaced object without its namespace
  EXPECT_EQ(Code(Route("GET", "", "namespaces/default/pods/web/scale")), 404);
  EXPECT_EQ(Code(Route("GET", "", "namespaces/default/configmaps/x/status")), 404);
  EXPECT_EQ(Code(Route("GET", "", "namespaces/default/pods/web/status/extra")), 404);
  EXPECT_EQ(Code(Route("GET", "", "nodes/a/status/extra")), 404);
  EXPECT_EQ(Code(Route("PUT", "", "namespaces/default/pods")), 405);
  EXPECT_EQ(Code(Route("POST", "", "namespaces/default/pods/web")), 405);
  EXPECT_EQ(Code(Route("DELETE", "", "namespaces/default/pods/web/status")), 405);
  EXPECT_EQ(Code(Route("OPTIONS", "", "namespaces/default/pods/web")), 405);
}

}  // namespace
}  // namespace bulkhead::controlplane
