// The server's own HTTP pieces: the bytes of a whole response (status line,
// fields, Content-Length, the Connection field per version) and the per-loop
// deadline sweep (a passed deadline is seen within an interval; a moved or
// cleared one is not; a destroyed connection leaves the sweep).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "controlplane/http/deadline_sweep.h"
#include "controlplane/http/response_bytes.h"

namespace bulkhead::controlplane {
namespace {

using std::chrono::milliseconds;

std::string Wire(const ResponseHead& head, std::string body) {
  WireResponse response = ResponseBytes(head, std::move(body));
  return response.head + response.body;
}

TEST(ResponseBytesTest, AKeepAliveHttp11ResponseHasItsFieldsInOrderAndAContentLength) {
  ResponseHead head{200, 11, true, {{"Content-Type", "application/json"}, {"Warning", "299 - x"}}};
  EXPECT_EQ(Wire(head, R"({"a":1})"),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nWarning: 299 - x\r\n"
            "Content-Length: 7\r\n\r\n{\"a\":1}");
}

TEST(ResponseBytesTest, TheConnectionFieldFollowsTheVersion) {
  EXPECT_EQ(Wire({404, 11, false, {}}, ""),
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(Wire({200, 10, true, {}}, "ok"),
            "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
  EXPECT_EQ(Wire({200, 10, false, {}}, "ok"), "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

TEST(ResponseBytesTest, NoContentAndNotModifiedCarryNoLengthAndNoBody) {
  EXPECT_EQ(Wire({204, 11, true, {}}, "dropped"), "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(Wire({304, 11, true, {}}, ""), "HTTP/1.1 304 Not Modified\r\n\r\n");
  EXPECT_EQ(Wire({507, 11, true, {}}, "x"),
            "HTTP/1.1 507 Insufficient Storage\r\nContent-Length: 1\r\n\r\nx");
}

TEST(ResponseBytesTest, ASmallBodyIsOneStringWithItsHeadAndALargeOneIsMovedNotCopied) {
  WireResponse small = ResponseBytes({200, 11, true, {}}, std::string(kInlineBodyBytes, 'y'));
  EXPECT_TRUE(small.body.empty());
  EXPECT_EQ(small.head.substr(small.head.size() - kInlineBodyBytes),
            std::string(kInlineBodyBytes, 'y'));
  std::string body(1 << 20, 'x');
  const char* bytes = body.data();
  WireResponse response = ResponseBytes({200, 11, true, {}}, std::move(body));
  EXPECT_EQ(response.body.data(), bytes);
  EXPECT_EQ(response.head, "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n");
}

TEST(ResponseBytesTest, FramingFieldsAreTheServersAndNamesMustBeTokens) {
  for (const char* owned : {"Content-Length", "content-length", "Transfer-Encoding", "CONNECTION",
                            "Content-Type", "Keep-Alive", "Upgrade", "Trailer"}) {
    EXPECT_TRUE(IsServerOwnedField(owned)) << owned;
  }
  EXPECT_FALSE(IsServerOwnedField("Warning"));
  EXPECT_FALSE(IsServerOwnedField("Content-Lengths"));
  EXPECT_TRUE(IsFieldName("Warning"));
  EXPECT_TRUE(IsFieldName("X-Kubernetes-PF-FlowSchema-UID"));
  for (const char* bad : {"", "Bad Name", "Bad:Name", "Bad\r\nX-Injected", "N\xc3\xa4me"}) {
    EXPECT_FALSE(IsFieldName(bad)) << bad;
  }
}

class FakeConnection : public DeadlineSweep::Subject {
 public:
  [[nodiscard]] DeadlineSweep::Clock::time_point deadline() const override { return deadline_; }
  void DeadlinePassed() override {
    ++passed;
    deadline_ = DeadlineSweep::Clock::time_point::max();
  }
  void Expect(milliseconds limit) { deadline_ = DeadlineSweep::Clock::now() + limit; }
  void ExpectNothing() { deadline_ = DeadlineSweep::Clock::time_point::max(); }

  int passed = 0;

 private:
  DeadlineSweep::Clock::time_point deadline_ = DeadlineSweep::Clock::time_point::max();
};

TEST(DeadlineSweepTest, APassedDeadlineIsSeenWithinAnIntervalAndAClearedOneNever) {
  boost::asio::io_context loop(1);
  DeadlineSweep sweep(loop, milliseconds(20));
  auto late = std::make_shared<FakeConnection>();
  auto cleared = std::make_shared<FakeConnection>();
  auto moved = std::make_shared<FakeConnection>();
  sweep.Add(late);
  sweep.Add(cleared);
  sweep.Add(moved);
  late->Expect(milliseconds(50));
  cleared->Expect(milliseconds(50));
  cleared->ExpectNothing();
  moved->Expect(milliseconds(50));
  // Every 20 ms for 200 ms, `moved` gets another 50 ms: it never passes.
  auto start = DeadlineSweep::Clock::now();
  while (DeadlineSweep::Clock::now() - start < milliseconds(200)) {
    loop.run_for(milliseconds(20));
    moved->Expect(milliseconds(50));
  }
  EXPECT_EQ(late->passed, 1);
  EXPECT_EQ(cleared->passed, 0);
  EXPECT_EQ(moved->passed, 0);
  moved->ExpectNothing();
}

TEST(DeadlineSweepTest, ADestroyedConnectionLeavesTheSweepAndAnEmptySweepStops) {
  boost::asio::io_context loop(1);
  DeadlineSweep sweep(loop, milliseconds(10));
  auto kept = std::make_shared<FakeConnection>();
  {
    auto gone = std::make_shared<FakeConnection>();
    sweep.Add(gone);
    sweep.Add(kept);
    EXPECT_EQ(sweep.size(), 2U);
  }
  loop.run_for(milliseconds(50));
  EXPECT_EQ(sweep.size(), 1U);
  kept.reset();
  loop.run_for(milliseconds(50));
  EXPECT_EQ(sweep.size(), 0U);
  // Nothing left to watch: the timer is not armed again, so run() returns.
  loop.restart();
  auto start = DeadlineSweep::Clock::now();
  loop.run();
  EXPECT_LT(DeadlineSweep::Clock::now() - start, milliseconds(1000));
}

}  // namespace
}  // namespace bulkhead::controlplane
