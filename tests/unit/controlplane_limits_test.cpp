// The limits on what the control plane stores (object_limits.h) and the
// bounded JSON patch: size, nesting and UTF-8, each refused with the
// Kubernetes status a client sees.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "common/strings.h"
#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_limits.h"
#include "controlplane/apiserver/patch.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

std::string Nested(int levels) {
  std::string text;
  for (int i = 0; i < levels; ++i) {
    text += "{\"a\":";
  }
  text += "1";
  text += std::string(static_cast<size_t>(levels), '}');
  return text;
}

int HttpCodeOf(const Status& status) { return ToHttpError(status).code; }

TEST(ObjectLimits, OversizeObjectIs413) {
  std::string big = R"({"data":")" + std::string(2000, 'x') + "\"}";
  Status status = CheckStorable(big, 1000);
  EXPECT_EQ(HttpCodeOf(status), 413) << status;
  EXPECT_NE(ToHttpError(status).body.find("RequestEntityTooLarge"), std::string::npos);
  EXPECT_TRUE(CheckStorable(big, 4000).ok());
}

TEST(ObjectLimits, InvalidUtf8Is422) {
  Status status = CheckStorable(std::string("{\"a\":\"\xff\"}"), 1000);
  EXPECT_EQ(HttpCodeOf(status), 422) << status;
  EXPECT_NE(MessageOf(status).find("UTF-8"), std::string::npos);
}

TEST(ObjectLimits, NestingPastTheLimitIs422AndTheLimitItselfReadsBack) {
  EXPECT_TRUE(CheckStorable(Nested(kMaxObjectDepth), size_t{1} << 20).ok());
  Status status = CheckStorable(Nested(kMaxObjectDepth + 1), size_t{1} << 20);
  EXPECT_EQ(HttpCodeOf(status), 422) << status;
  EXPECT_NE(MessageOf(status).find("nested"), std::string::npos);
  // What may be stored, every reader parses.
  boost::system::error_code ec;
  ParseJson(Nested(kMaxObjectDepth), ec);
  EXPECT_FALSE(ec) << ec.message();
}

TEST(ObjectLimits, ParserStopsAtTheDepthBound) {
  boost::system::error_code ec;
  ParseJson(Nested(22000), ec);
  EXPECT_EQ(ec, json::error::too_deep);
}

TEST(Utf8, AcceptsWellFormedRefusesTheRest) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x28\xa1"));      // bad continuation
}

TEST(JsonPatchLimits, DoublingCopiesStopAtTheSizeLimit) {
  json::value document = json::parse(R"({"spec":{"a":")" + std::string(1024, 'x') + "\"}}");
  json::array patch;
  for (int i = 0; i < 14; ++i) {
    patch.push_back(
        json::object{{"op", "copy"}, {"from", "/spec"}, {"path", "/spec/c" + std::to_string(i)}});
  }
  JsonPatchLimits limits;
  limits.max_bytes = size_t{3} << 20;
  auto limited = ApplyJsonPatch(document, patch, limits);
  EXPECT_EQ(limited.status().code(), absl::StatusCode::kResourceExhausted);
  // A few copies fit.
  json::array few(patch.begin(), patch.begin() + 3);
  auto fits = ApplyJsonPatch(document, few, limits);
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_TRUE(fits->at_pointer("/spec/c2/c1/c0").is_object());
}

TEST(JsonPatchLimits, AMoveIntoItselfIsRefusedAndAddsCountTowardTheLimit) {
  // Found by json_patch_fuzz: a move without "from" moved the whole
  // document into itself, so moves from the root doubled it uncounted.
  json::value document = json::parse(R"({"spec":{"containers":[{"name":"a"}]}})");
  for (const char* patch : {R"([{"op":"move","path":"/spec/containers/-"}])",
                            R"([{"op":"move","from":"/spec","path":"/spec/containers/-"}])"}) {
    auto moved = ApplyJsonPatch(document, json::parse(patch));
    EXPECT_EQ(moved.status().code(), absl::StatusCode::kInvalidArgument) << patch;
    EXPECT_NE(MessageOf(moved.status()).find("into itself"), std::string::npos) << moved.status();
  }
  // A move elsewhere, and onto itself, still work.
  auto elsewhere = ApplyJsonPatch(
      document, json::parse(R"([{"op":"move","from":"/spec/containers","path":"/list"}])"));
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status();
  EXPECT_TRUE(elsewhere->at_pointer("/list/0").is_object());
  // Values a patch adds count too, not only its copies.
  JsonPatchLimits limits;
  limits.max_bytes = 1024;
  json::array adds;
  for (int i = 0; i < 4; ++i) {
    adds.push_back(json::object{
        {"op", "add"}, {"path", "/a" + std::to_string(i)}, {"value", std::string(300, 'x')}});
  }
  EXPECT_EQ(ApplyJsonPatch(document, adds, limits).status().code(),
            absl::StatusCode::kResourceExhausted);
  json::array two(adds.begin(), adds.begin() + 2);
  EXPECT_TRUE(ApplyJsonPatch(document, two, limits).ok());
}

TEST(JsonPatchLimits, MovesThatNestTooDeepAreRefusedAndMovesAtTheSameDepthWork) {
  // Depth 31: the root, then 30 levels under /spec.
  json::value document = json::parse(R"({"spec":)" + Nested(30) + R"(,"b":{}})");
  JsonPatchLimits limits;
  limits.max_depth = 31;
  auto deeper = ApplyJsonPatch(
      document, json::parse(R"([{"op":"move","from":"/spec","path":"/b/x"}])"), limits);
  EXPECT_EQ(deeper.status().code(), absl::StatusCode::kInvalidArgument) << deeper.status();
  auto level = ApplyJsonPatch(document,
                              json::parse(R"([{"op":"move","from":"/spec","path":"/c"}])"), limits);
  ASSERT_TRUE(level.ok()) << level.status();
  EXPECT_TRUE(level->at_pointer("/c/a").is_object());
  limits.max_depth = 32;
  EXPECT_TRUE(ApplyJsonPatch(document,
                             json::parse(R"([{"op":"move","from":"/spec","path":"/b/x"}])"), limits)
                  .ok());
}

TEST(JsonPatchLimits, CopiesThatNestTooDeepAreRefused) {
  json::value document = json::parse(R"({"spec":)" + Nested(30) + "}");
  json::array patch{json::object{{"op", "copy"}, {"from", "/spec"}, {"path", "/spec/a/a/a/b"}},
                    json::object{{"op", "copy"}, {"from", "/spec"}, {"path", "/spec/a/a/a/c"}},
                    json::object{{"op", "copy"}, {"from", "/spec"}, {"path", "/spec/a/a/a/d"}}};
  JsonPatchLimits limits;
  limits.max_depth = 40;
  auto result = ApplyJsonPatch(document, patch, limits);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JsonPatchLimits, MeasureIsAnUpperBoundOfTheSerializedSize) {
  json::value value = json::parse(R"({"a":[1,2,{"b":"text\n"}],"c":null,"d":true})");
  JsonExtent extent = MeasureJson(value);
  EXPECT_GE(extent.bytes, json::serialize(value).size());
  EXPECT_EQ(extent.depth, 3U);
  EXPECT_EQ(MeasureJson(json::value(1)).depth, 0U);
  // Strings count as serialized, not six bytes a byte: a large object with
  // one small copy stays well inside the limit.
  json::value text(std::string(1000, 'x'));
  EXPECT_LE(MeasureJson(text).bytes, 1002U);
}

}  // namespace
}  // namespace bulkhead::controlplane
