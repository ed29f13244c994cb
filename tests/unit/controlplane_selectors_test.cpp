// Label and field selectors as kubectl and client libraries send them.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "controlplane/apiserver/selectors.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

json::object Object(const char* labels) {
  return json::parse(std::string(R"({"metadata":{"name":"n1","namespace":"ns","labels":)") +
                     labels + R"(},"status":{"phase":"Running"},"spec":{"replicas":3}})")
      .as_object();
}

bool LabelsMatch(const char* selector, const char* labels) {
  auto parsed = LabelSelector::Parse(selector);
  EXPECT_TRUE(parsed.ok()) << selector << ": " << parsed.status();
  return parsed.ok() && parsed->Matches(Object(labels));
}

TEST(LabelSelector, EqualityAndSets) {
  const char* labels = R"({"app":"web","tier":"front"})";
  EXPECT_TRUE(LabelsMatch("app=web", labels));
  EXPECT_TRUE(LabelsMatch("app==web,tier=front", labels));
  EXPECT_FALSE(LabelsMatch("app=web,tier=back", labels));
  EXPECT_TRUE(LabelsMatch("app!=db", labels));
  EXPECT_TRUE(LabelsMatch("missing!=x", labels));
  EXPECT_TRUE(LabelsMatch("tier in (front, back)", labels));
  EXPECT_FALSE(LabelsMatch("tier notin (front)", labels));
  EXPECT_TRUE(LabelsMatch("tier notin (back),app", labels));
  EXPECT_TRUE(LabelsMatch("!missing", labels));
  EXPECT_FALSE(LabelsMatch("!app", labels));
  EXPECT_FALSE(LabelsMatch("missing", labels));
  EXPECT_TRUE(LabelsMatch("", labels));
  EXPECT_FALSE(LabelsMatch("app=web", "{}"));
}

TEST(LabelSelector, BadSyntaxIsAnError) {
  EXPECT_FALSE(LabelSelector::Parse("tier within (a)").ok());
  EXPECT_FALSE(LabelSelector::Parse("tier in a)").ok());
  EXPECT_FALSE(LabelSelector::Parse("=x").ok());
}

TEST(FieldSelector, DottedPathsAndInequality) {
  auto object = Object("{}");
  auto parsed = FieldSelector::Parse("metadata.name=n1,status.phase!=Pending");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->Matches(object));
  EXPECT_FALSE(FieldSelector::Parse("metadata.namespace==other")->Matches(object));
  EXPECT_TRUE(FieldSelector::Parse("spec.replicas=3")->Matches(object));
  EXPECT_TRUE(FieldSelector::Parse("spec.nodeName=")->Matches(object));
  ASSERT_NE(parsed->Required("metadata.name"), nullptr);
  EXPECT_EQ(*parsed->Required("metadata.name"), "n1");
  EXPECT_EQ(parsed->Required("status.phase"), nullptr);
  EXPECT_FALSE(FieldSelector::Parse("metadata.name").ok());
}

}  // namespace
}  // namespace bulkhead::controlplane
