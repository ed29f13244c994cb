#include "common/strings.h"

#include <gtest/gtest.h>

namespace bulkhead {
namespace {

TEST(SplitNonEmpty, DropsEmptyPieces) {
  auto pieces = SplitNonEmpty("  a b\n\nc ", " \n");
  ASSERT_EQ(pieces.size(), 3U);
  EXPECT_EQ(pieces[0], "a");
  EXPECT_EQ(pieces[1], "b");
  EXPECT_EQ(pieces[2], "c");
  EXPECT_TRUE(SplitNonEmpty("", ",").empty());
  EXPECT_TRUE(SplitNonEmpty(",,,", ",").empty());
}

TEST(TrimSpace, StripsBothEnds) {
  EXPECT_EQ(TrimSpace("\t 0000003fffffffff \n"), "0000003fffffffff");
  EXPECT_EQ(TrimSpace("   "), "");
}

TEST(ConsumePrefix, OnlyOnMatch) {
  std::string_view line = "CapEff:\t1";
  EXPECT_FALSE(ConsumePrefix(line, "CapPrm:"));
  EXPECT_TRUE(ConsumePrefix(line, "CapEff:"));
  EXPECT_EQ(line, "\t1");
}

TEST(ParseInteger, WholeTextOnly) {
  EXPECT_EQ(ParseInteger<int>("42"), 42);
  EXPECT_EQ(ParseInteger<unsigned long long>("3fffffffff", 16), 0x3fffffffffULL);
  EXPECT_FALSE(ParseInteger<int>("42x").has_value());
  EXPECT_FALSE(ParseInteger<int>("").has_value());
  EXPECT_FALSE(ParseInteger<int>("99999999999").has_value());
}

}  // namespace
}  // namespace bulkhead
