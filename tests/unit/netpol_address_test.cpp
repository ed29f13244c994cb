#include "agent/netpol/address.h"

#include <gtest/gtest.h>

namespace bulkhead::agent::netpol {
namespace {

TEST(IpAddress, ParsesBothFamiliesIntoSixteenBytes) {
  auto v4 = IpAddress::Parse("10.244.1.11");
  ASSERT_TRUE(v4.ok());
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->ToString(), "10.244.1.11");
  EXPECT_EQ(v4->bytes()[10], 0xFF);
  EXPECT_EQ(v4->bytes()[12], 10);
  auto v6 = IpAddress::Parse("fd00:244::11");
  ASSERT_TRUE(v6.ok());
  EXPECT_FALSE(v6->is_v4());
  EXPECT_EQ(v6->ToString(), "fd00:244::11");
  EXPECT_EQ(IpAddress::Parse(" 10.0.0.1 ")->ToString(), "10.0.0.1");
}

TEST(IpAddress, RejectsMalformed) {
  for (const char* bad : {"", "10.0.0.256", "10.0.0", "fd00:::1", "host.example", "10.0.0.1/32"}) {
    auto parsed = IpAddress::Parse(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(MessageOf(parsed.status()).find("is not an IPv4 or IPv6 address"), std::string::npos);
  }
}

TEST(Cidr, ParsesPrefixesAndHosts) {
  auto net = Cidr::Parse("10.244.0.0/16");
  ASSERT_TRUE(net.ok());
  EXPECT_EQ(net->prefix_len(), 16);
  EXPECT_EQ(net->mapped_prefix_len(), 112);
  EXPECT_FALSE(net->is_host());
  EXPECT_TRUE(net->Contains(*IpAddress::Parse("10.244.3.4")));
  EXPECT_FALSE(net->Contains(*IpAddress::Parse("10.245.0.1")));
  EXPECT_FALSE(net->Contains(*IpAddress::Parse("fd00::1")));
  auto host = Cidr::Parse("10.0.0.1");
  ASSERT_TRUE(host.ok());
  EXPECT_TRUE(host->is_host());
  EXPECT_EQ(host->ToString(), "10.0.0.1/32");
  auto v6 = Cidr::Parse("fd00:b0::/64");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->mapped_prefix_len(), 64);
  EXPECT_TRUE(v6->Contains(*IpAddress::Parse("fd00:b0::13")));
}

TEST(Cidr, RejectsHostBitsAndBadLengths) {
  auto host_bits = Cidr::Parse("10.0.0.1/8");
  ASSERT_FALSE(host_bits.ok());
  EXPECT_NE(MessageOf(host_bits.status()).find("did you mean 10.0.0.0/8?"), std::string::npos)
      << host_bits.status();
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/x", "fd00::/129", "/8"}) {
    EXPECT_FALSE(Cidr::Parse(bad).ok()) << bad;
  }
}

TEST(Cidr, Overlaps) {
  EXPECT_TRUE(Cidr::Parse("10.0.0.0/8")->Overlaps(*Cidr::Parse("10.1.0.0/16")));
  EXPECT_TRUE(Cidr::Parse("10.1.0.0/16")->Overlaps(*Cidr::Parse("10.0.0.0/8")));
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/16")->Overlaps(*Cidr::Parse("10.1.0.0/16")));
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/8")->Overlaps(*Cidr::Parse("fd00::/8")));
}

}  // namespace
}  // namespace bulkhead::agent::netpol
