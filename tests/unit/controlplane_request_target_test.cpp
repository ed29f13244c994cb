// The request target parser (path and query decoding, malformed escapes
// kept), header values made safe to write, and the client key that the
// per-client connection cap counts by.
#include "controlplane/http/request_target.h"

#include "controlplane/http/client_key.h"
#include "controlplane/http/header_value.h"

#include <gtest/gtest.h>

namespace bulkhead::controlplane {
namespace {

using Query = std::vector<std::pair<std::string, std::string>>;

TEST(RequestTargetTest, SplitsPathAndQuery) {
  RequestTarget target = ParseRequestTarget("/api/v1/namespaces/a%20b/pods?watch=1&limit=5");
  EXPECT_EQ(target.path, "/api/v1/namespaces/a b/pods");
  EXPECT_EQ(target.query, (Query{{"watch", "1"}, {"limit", "5"}}));
}

TEST(RequestTargetTest, PlusIsSpaceOnlyInTheQuery) {
  RequestTarget target = ParseRequestTarget("/a+b?labelSelector=app+in+(x%2Cy)");
  EXPECT_EQ(target.path, "/a+b");
  EXPECT_EQ(target.query, (Query{{"labelSelector", "app in (x,y)"}}));
}

TEST(RequestTargetTest, EmptyPairsAreDroppedKeysWithoutValuesKept) {
  RequestTarget target = ParseRequestTarget("/x?&&watch&=v&a=");
  EXPECT_EQ(target.query, (Query{{"watch", ""}, {"", "v"}, {"a", ""}}));
}

TEST(RequestTargetTest, MalformedEscapesAreKeptLiterally) {
  EXPECT_EQ(PercentDecode("%", false), "%");
  EXPECT_EQ(PercentDecode("%4", false), "%4");
  EXPECT_EQ(PercentDecode("a%zz", false), "a%zz");
  EXPECT_EQ(PercentDecode("%41%4a%4A", false), "AJJ");
  EXPECT_EQ(PercentDecode("%00", false), std::string(1, '\0'));
  EXPECT_EQ(PercentDecode("%0d%0a", true), "\r\n");
}

TEST(RequestTargetTest, NoQueryAndEmptyTarget) {
  EXPECT_EQ(ParseRequestTarget("").path, "");
  EXPECT_TRUE(ParseRequestTarget("/healthz").query.empty());
  EXPECT_TRUE(ParseRequestTarget("/healthz?").query.empty());
}

TEST(HeaderValueTest, ControlCharactersCannotEndTheHeaderLine) {
  EXPECT_EQ(SafeHeaderValue("299 - \"unknown field \\\"a\\\"\""),
            "299 - \"unknown field \\\"a\\\"\"");
  EXPECT_EQ(SafeHeaderValue("a\r\nX-Injected: 1"), "a\\x0d\\x0aX-Injected: 1");
  EXPECT_EQ(SafeHeaderValue(std::string("a\0b\x7f\tc", 6)), "a\\x00b\\x7f\tc");
  EXPECT_EQ(SafeHeaderValue("caf\xc3\xa9"), "caf\xc3\xa9");
}

TEST(ClientKeyTest, AnIpv4ClientIsItsAddressMappedOrNot) {
  namespace ip = boost::asio::ip;
  EXPECT_EQ(ClientKey(ip::make_address("10.1.2.3")), "10.1.2.3");
  EXPECT_EQ(ClientKey(ip::make_address("::ffff:10.1.2.3")), "10.1.2.3");
  EXPECT_NE(ClientKey(ip::make_address("10.1.2.3")), ClientKey(ip::make_address("10.1.2.4")));
}

TEST(ClientKeyTest, AnIpv6ClientIsItsSlash64) {
  namespace ip = boost::asio::ip;
  // Every address of one /64 is one client: a host cannot pass the cap by
  // using the addresses it was given.
  EXPECT_EQ(ClientKey(ip::make_address("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
  EXPECT_EQ(ClientKey(ip::make_address("2001:db8:1:2:ffff:ffff:ffff:ffff")), "2001:db8:1:2::/64");
  EXPECT_NE(ClientKey(ip::make_address("2001:db8:1:3::1")),
            ClientKey(ip::make_address("2001:db8:1:2::1")));
  EXPECT_EQ(ClientKey(ip::make_address("::1")), "::/64");
}

}  // namespace
}  // namespace bulkhead::controlplane
