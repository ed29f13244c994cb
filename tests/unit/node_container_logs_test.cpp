// The node's container logs: CRI log lines parsed, partial records joined,
// and the options kubectl sends (timestamps, tailLines, limitBytes,
// sinceSeconds/sinceTime, follow) rendered as a kubelet renders them.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include "node/server/container_logs.h"

namespace bulkhead::node {
namespace {

class LogFile {
 public:
  LogFile() {
    dir_ = std::filesystem::temp_directory_path() /
           ("bulkhead-logs-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "0.log").string();
    std::ofstream(path_, std::ios::trunc).close();
  }
  ~LogFile() {
    std::error_code error;
    std::filesystem::remove_all(dir_, error);
  }
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  void Append(const std::string& text) const {
    std::ofstream out(path_, std::ios::app | std::ios::binary);
    out << text;
  }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::string path_;
};

std::string ReadAll(const std::string& path, const LogOptions& options) {
  std::string out;
  LogStreamHooks hooks;
  hooks.sink = [&out](std::string_view chunk) {
    out.append(chunk);
    return true;
  };
  EXPECT_TRUE(StreamContainerLog(path, options, hooks).ok());
  return out;
}

constexpr const char* kThreeLines =
    "2026-12-04T10:00:00.000000001Z stdout F one\n"
    "2026-12-04T10:00:01.5Z stderr F two\n"
    "2026-12-04T10:00:02Z stdout P thr\n"
    "2026-12-04T10:00:02.1Z stdout P e\n"
    "2026-12-04T10:00:02.2Z stdout F e\n";

TEST(CriLogLineTest, ParsesTheFourFields) {
  auto record = ParseCriLogLine("2026-12-04T10:00:00.123456789Z stderr P hello world ");
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->timestamp, "2026-12-04T10:00:00.123456789Z");
  EXPECT_TRUE(record->is_stderr);
  EXPECT_TRUE(record->partial);
  EXPECT_EQ(record->content, "hello world ");
  auto empty = ParseCriLogLine("2026-12-04T10:00:00Z stdout F");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->content, "");
  EXPECT_FALSE(empty->partial);
  EXPECT_FALSE(ParseCriLogLine("garbage").has_value());
  EXPECT_FALSE(ParseCriLogLine("2026-12-04T10:00:00Z stdin F x").has_value());
  EXPECT_FALSE(ParseCriLogLine("2026-12-04T10:00:00Z stdout X x").has_value());
  EXPECT_FALSE(ParseCriLogLine("yesterday stdout F x").has_value());
}

TEST(CriLogLineTest, ParsesRfc3339WithFractionsAndOffsets) {
  auto utc = ParseRfc3339("2026-12-04T10:00:00Z");
  auto offset = ParseRfc3339("2026-12-04T11:00:00+01:00");
  auto nanos = ParseRfc3339("2026-12-04T10:00:00.000000001Z");
  ASSERT_TRUE(utc.has_value() && offset.has_value() && nanos.has_value());
  EXPECT_EQ(*utc, *offset);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::nanoseconds>(*nanos - *utc).count(), 1);
  EXPECT_FALSE(ParseRfc3339("2026-13-04T10:00:00Z").has_value());
  EXPECT_FALSE(ParseRfc3339("2026-12-04 10:00:00Z").has_value());
}

TEST(ContainerLogsTest, RendersContentOnlyAndJoinsPartialRecords) {
  LogFile file;
  file.Append(kThreeLines);
  file.Append("not a cri line\n");
  EXPECT_EQ(ReadAll(file.path(), {}), "one\ntwo\nthree\n");
}

TEST(ContainerLogsTest, TimestampsPrefixEachLineWithItsFirstRecordsTime) {
  LogFile file;
  file.Append(kThreeLines);
  LogOptions options;
  options.timestamps = true;
  EXPECT_EQ(ReadAll(file.path(), options),
            "2026-12-04T10:00:00.000000001Z one\n"
            "2026-12-04T10:00:01.5Z two\n"
            "2026-12-04T10:00:02Z three\n");
}

TEST(ContainerLogsTest, PartialRecordsOfTwoStreamsAreJoinedPerStream) {
  LogFile file;
  file.Append(
      "2026-12-04T10:00:00Z stdout P out-\n"
      "2026-12-04T10:00:00Z stderr P err-\n"
      "2026-12-04T10:00:01Z stderr F line\n"
      "2026-12-04T10:00:01Z stdout F line\n");
  EXPECT_EQ(ReadAll(file.path(), {}), "err-line\nout-line\n");
}

TEST(ContainerLogsTest, TailLinesCountsWholeLines) {
  LogFile file;
  file.Append(kThreeLines);
  LogOptions options;
  options.tail_lines = 2;
  EXPECT_EQ(ReadAll(file.path(), options), "two\nthree\n");
  options.tail_lines = 1;
  EXPECT_EQ(ReadAll(file.path(), options), "three\n");
  options.tail_lines = 0;
  EXPECT_EQ(ReadAll(file.path(), options), "");
  options.tail_lines = 10;
  EXPECT_EQ(ReadAll(file.path(), options), "one\ntwo\nthree\n");
}

TEST(ContainerLogsTest, LimitBytesCutsTheOutput) {
  LogFile file;
  file.Append(kThreeLines);
  LogOptions options;
  options.limit_bytes = 6;
  EXPECT_EQ(ReadAll(file.path(), options), "one\ntw");
}

TEST(ContainerLogsTest, SinceLeavesOutOlderLines) {
  LogFile file;
  file.Append(kThreeLines);
  auto options = ParseLogOptions({{"sinceTime", "2026-12-04T10:00:01Z"}});
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(ReadAll(file.path(), *options), "two\nthree\n");
  // sinceSeconds counts back from now.
  auto now = ParseRfc3339("2026-12-04T10:00:03Z");
  auto recent = ParseLogOptions({{"sinceSeconds", "1"}}, *now);
  ASSERT_TRUE(recent.ok());
  EXPECT_EQ(ReadAll(file.path(), *recent), "three\n");
}

TEST(ContainerLogsTest, ParsesTheQueryAndRefusesBadValues) {
  auto options = ParseLogOptions({{"follow", "true"},
                                  {"previous", "1"},
                                  {"timestamps", "True"},
                                  {"tailLines", "5"},
                                  {"limitBytes", "100"}});
  ASSERT_TRUE(options.ok());
  EXPECT_TRUE(options->follow);
  EXPECT_TRUE(options->previous);
  EXPECT_TRUE(options->timestamps);
  EXPECT_EQ(options->tail_lines, 5);
  EXPECT_EQ(options->limit_bytes, 100);
  EXPECT_FALSE(options->since.has_value());
  EXPECT_FALSE(ParseLogOptions({{"tailLines", "-1"}}).ok());
  EXPECT_FALSE(ParseLogOptions({{"limitBytes", "0"}}).ok());
  EXPECT_FALSE(ParseLogOptions({{"sinceSeconds", "x"}}).ok());
  EXPECT_FALSE(ParseLogOptions({{"follow", "maybe"}}).ok());
  EXPECT_FALSE(
      ParseLogOptions({{"sinceSeconds", "5"}, {"sinceTime", "2026-12-04T10:00:00Z"}}).ok());
}

TEST(ContainerLogsTest, AMissingFileIsNotFound) {
  LogStreamHooks hooks;
  hooks.sink = [](std::string_view) { return true; };
  EXPECT_EQ(StreamContainerLog("/nonexistent/0.log", {}, hooks).code(),
            absl::StatusCode::kNotFound);
}

TEST(ContainerLogsTest, FollowReadsAppendedLinesAndEndsOnceTheContainerExited) {
  LogFile file;
  file.Append("2026-12-04T10:00:00Z stdout F first\n");
  LogOptions options;
  options.follow = true;
  std::mutex mu;
  std::string out;
  std::atomic<bool> running{true};
  std::atomic<bool> finished{false};
  LogStreamHooks hooks;
  hooks.poll = std::chrono::milliseconds(20);
  hooks.sink = [&](std::string_view chunk) {
    std::lock_guard lock(mu);
    out.append(chunk);
    return true;
  };
  hooks.running = [&] { return running.load(); };
  std::thread follower([&] {
    EXPECT_TRUE(StreamContainerLog(file.path(), options, hooks).ok());
    finished = true;
  });
  auto wait_for = [&](const std::string& want) {
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard lock(mu);
        if (out == want) {
          return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard lock(mu);
    return out == want;
  };
  EXPECT_TRUE(wait_for("first\n"));
  // A line being written waits for its newline; a partial record for its end.
  file.Append("2026-12-04T10:00:01Z stdout F sec");
  file.Append("ond\n2026-12-04T10:00:02Z stdout P thi");
  file.Append("rd\n");
  EXPECT_TRUE(wait_for("first\nsecond\n"));
  file.Append("2026-12-04T10:00:03Z stdout F\n");
  EXPECT_TRUE(wait_for("first\nsecond\nthird\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(finished.load());
  // The container exits with its last line written just before.
  file.Append("2026-12-04T10:00:04Z stderr F last\n");
  running = false;
  follower.join();
  EXPECT_EQ(out, "first\nsecond\nthird\nlast\n");
}

TEST(ContainerLogsTest, FollowEndsWhenCancelledOrTheSinkRefuses) {
  LogFile file;
  file.Append("2026-12-04T10:00:00Z stdout F first\n");
  LogOptions options;
  options.follow = true;
  std::atomic<bool> cancel{false};
  LogStreamHooks hooks;
  hooks.poll = std::chrono::milliseconds(20);
  hooks.sink = [](std::string_view) { return true; };
  hooks.running = [] { return true; };
  hooks.cancelled = [&] { return cancel.load(); };
  std::thread follower([&] { EXPECT_TRUE(StreamContainerLog(file.path(), options, hooks).ok()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  cancel = true;
  follower.join();

  int calls = 0;
  hooks.cancelled = nullptr;
  hooks.sink = [&](std::string_view) {
    ++calls;
    return false;
  };
  EXPECT_TRUE(StreamContainerLog(file.path(), options, hooks).ok());
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace bulkhead::node
