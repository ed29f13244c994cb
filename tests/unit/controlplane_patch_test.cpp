// The patch engines: JSON patch (RFC 6902), merge patch (RFC 7386) and
// strategic merge patch with the list merge keys and directives kubectl uses.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "controlplane/apiserver/patch.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

json::value J(const char* text) { return json::parse(text); }

TEST(JsonPatch, AddRemoveReplaceMoveCopyTest) {
  auto doc = J(R"({"a":{"b":[1,2]},"c":"x"})");
  auto out = ApplyJsonPatch(doc, J(R"([
    {"op":"add","path":"/a/b/1","value":9},
    {"op":"add","path":"/a/b/-","value":3},
    {"op":"replace","path":"/c","value":"y"},
    {"op":"copy","from":"/c","path":"/d"},
    {"op":"move","from":"/d","path":"/e~1f"},
    {"op":"remove","path":"/a/b/0"},
    {"op":"test","path":"/c","value":"y"}])"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, J(R"({"a":{"b":[9,2,3]},"c":"y","e/f":"y"})"));
}

TEST(JsonPatch, FailuresAreInvalidArgument) {
  auto doc = J(R"({"a":1})");
  EXPECT_FALSE(ApplyJsonPatch(doc, J(R"([{"op":"remove","path":"/nope"}])")).ok());
  EXPECT_FALSE(ApplyJsonPatch(doc, J(R"([{"op":"test","path":"/a","value":2}])")).ok());
  EXPECT_FALSE(ApplyJsonPatch(doc, J(R"([{"op":"jump","path":"/a"}])")).ok());
  EXPECT_FALSE(ApplyJsonPatch(doc, J(R"({"op":"add"})")).ok());
  EXPECT_FALSE(
      ApplyJsonPatch(J(R"({"a":[1]})"), J(R"([{"op":"replace","path":"/a/5","value":1}])")).ok());
}

TEST(MergePatch, ObjectsMergeNullRemovesListsReplace) {
  auto out = ApplyMergePatch(J(R"({"a":{"b":1,"c":2},"l":[1,2],"k":"v"})"),
                             J(R"({"a":{"b":null,"d":3},"l":[3],"n":{"x":null}})"));
  EXPECT_EQ(out, J(R"({"a":{"c":2,"d":3},"l":[3],"k":"v","n":{}})"));
}

TEST(StrategicMergePatch, ContainersMergeByNameAndPortsByContainerPort) {
  auto doc = J(R"({"spec":{"template":{"spec":{"containers":[
      {"name":"a","image":"a:1","ports":[{"containerPort":80,"name":"http"}],
       "env":[{"name":"X","value":"1"}]},
      {"name":"b","image":"b:1"}]}}}})");
  auto out = ApplyStrategicMergePatch(doc, J(R"({"spec":{"template":{"spec":{"containers":[
      {"name":"a","image":"a:2","ports":[{"containerPort":443}],"env":[{"name":"Y","value":"2"}]},
      {"name":"c","image":"c:1"}]}}}})"),
                                      "Deployment");
  ASSERT_TRUE(out.ok()) << out.status();
  auto containers = out->at_pointer("/spec/template/spec/containers").as_array();
  ASSERT_EQ(containers.size(), 3U);
  EXPECT_EQ(containers[0].at("image"), "a:2");
  EXPECT_EQ(containers[0].at("ports").as_array().size(), 2U);
  EXPECT_EQ(containers[0].at("env").as_array().size(), 2U);
  EXPECT_EQ(containers[1].at("name"), "b");
  EXPECT_EQ(containers[2].at("name"), "c");
}

TEST(StrategicMergePatch, ServicePortsMergeByPortAndOtherListsReplace) {
  auto doc = J(R"({"spec":{"ports":[{"port":80,"targetPort":8080},{"port":443}],
                  "externalIPs":["1.1.1.1"]}})");
  auto out = ApplyStrategicMergePatch(
      doc, J(R"({"spec":{"ports":[{"port":80,"targetPort":9090}],"externalIPs":["2.2.2.2"]}})"),
      "Service");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->at_pointer("/spec/ports").as_array().size(), 2U);
  EXPECT_EQ(out->at_pointer("/spec/ports/0/targetPort"), 9090);
  EXPECT_EQ(out->at_pointer("/spec/externalIPs"), J(R"(["2.2.2.2"])"));
}

TEST(StrategicMergePatch, DirectivesKubectlSends) {
  auto doc = J(R"({"metadata":{"finalizers":["a","b"],"labels":{"x":"1"}},
                  "spec":{"containers":[{"name":"a"},{"name":"b"},{"name":"c"}],
                          "volumes":[{"name":"v1","emptyDir":{}}]}})");
  auto out = ApplyStrategicMergePatch(doc, J(R"({
      "metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"finalizers":["z"]},
      "spec":{"$setElementOrder/containers":[{"name":"c"},{"name":"a"}],
              "containers":[{"name":"b","$patch":"delete"}],
              "volumes":[{"$patch":"replace"},{"name":"v2","emptyDir":{}}]}})"),
                                      "Pod");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->at_pointer("/metadata/finalizers"), J(R"(["b","z"])"));
  EXPECT_EQ(out->at_pointer("/spec/containers"), J(R"([{"name":"c"},{"name":"a"}])"));
  EXPECT_EQ(out->at_pointer("/spec/volumes"), J(R"([{"name":"v2","emptyDir":{}}])"));
  auto replaced = ApplyStrategicMergePatch(
      doc, J(R"({"metadata":{"labels":{"$patch":"replace","y":"2"}}})"), "Pod");
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(replaced->at_pointer("/metadata/labels"), J(R"({"y":"2"})"));
  auto retained = ApplyStrategicMergePatch(
      J(R"({"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}})"),
      J(R"({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}})"), "Deployment");
  ASSERT_TRUE(retained.ok());
  EXPECT_EQ(retained->at_pointer("/spec/strategy"), J(R"({"type":"Recreate"})"));
}

TEST(StrategicMergePatch, ElementWithoutItsMergeKeyIsAnError) {
  auto out = ApplyStrategicMergePatch(J(R"({"spec":{"containers":[{"name":"a"}]}})"),
                                      J(R"({"spec":{"containers":[{"image":"x"}]}})"), "Pod");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bulkhead::controlplane
