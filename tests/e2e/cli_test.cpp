// The bulkhead and bulkhead-agent binaries as a user runs them, without
// privileges: version, help, and one-line errors for bad flags.
#include <gtest/gtest.h>

#include "nlohmann/json.hpp"
#include "tests/support/command.h"

namespace bulkhead::testing {
namespace {

size_t Lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

TEST(BulkheadCli, VersionText) {
  auto result = RunCommand({BULKHEAD_CLI_PATH, "version"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.rfind("Client Version: v0.", 0), 0U) << result.out;
}

TEST(BulkheadCli, VersionJson) {
  auto result = RunCommand({BULKHEAD_CLI_PATH, "version", "-o", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto doc = nlohmann::json::parse(result.out);
  EXPECT_TRUE(doc["clientVersion"]["version"].is_string());
  EXPECT_TRUE(doc["clientVersion"]["gitCommit"].is_string());
}

TEST(BulkheadCli, UnknownFlagIsOneLineErrorAndExit2) {
  auto result = RunCommand({BULKHEAD_CLI_PATH, "--no-such-flag"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(result.out.empty());
  EXPECT_EQ(Lines(result.err), 1U) << result.err;
  EXPECT_NE(result.err.find("--no-such-flag"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("see 'bulkhead --help'"), std::string::npos) << result.err;
}

TEST(BulkheadCli, BadOutputFormat) {
  auto result = RunCommand({BULKHEAD_CLI_PATH, "version", "-o", "xml"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(Lines(result.err), 1U) << result.err;
  EXPECT_NE(result.err.find("xml"), std::string::npos) << result.err;
}

TEST(BulkheadCli, BadLogLevel) {
  auto result = RunCommand({BULKHEAD_CLI_PATH, "--log-level", "loud", "version"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(Lines(result.err), 1U) << result.err;
  EXPECT_NE(result.err.find("unknown log level \"loud\""), std::string::npos) << result.err;
}

TEST(BulkheadCli, HelpShowsAnExample) {
  for (const char* binary : {BULKHEAD_CLI_PATH, BULKHEAD_AGENT_PATH}) {
    auto result = RunCommand({binary, "--help"});
    EXPECT_EQ(result.exit_code, 0) << binary;
    EXPECT_NE(result.out.find("Example:"), std::string::npos) << binary << "\n" << result.out;
  }
  auto check = RunCommand({BULKHEAD_AGENT_PATH, "check", "--help"});
  EXPECT_EQ(check.exit_code, 0);
  EXPECT_NE(check.out.find("bulkhead-agent check -o json"), std::string::npos) << check.out;
}

TEST(BulkheadAgent, Version) {
  auto result = RunCommand({BULKHEAD_AGENT_PATH, "version"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.rfind("bulkhead-agent 0.", 0), 0U) << result.out;
}

TEST(BulkheadAgent, UnknownSubcommandIsOneLineError) {
  auto result = RunCommand({BULKHEAD_AGENT_PATH, "frobnicate"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(Lines(result.err), 1U) << result.err;
  EXPECT_NE(result.err.find("frobnicate"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace bulkhead::testing
