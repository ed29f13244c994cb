// `bulkhead-agent check` as root on this machine, and as an unprivileged
// user (dropped from root), as the README tells people to run it.
#include <gtest/gtest.h>

#include "nlohmann/json.hpp"
#include "tests/support/command.h"
#include "tests/support/privileged.h"

namespace bulkhead::testing {
namespace {

constexpr uid_t kNobody = 65534;

TEST(AgentCheck, TableOnThisMachine) {
  BULKHEAD_REQUIRE_PRIVILEGES();
  auto result = RunCommand({BULKHEAD_AGENT_PATH, "check"});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  for (const char* row :
       {"bpf_syscall", "btf", "bpffs", "cgroup_v2", "cgroup_controllers", "cgroup_bpf_attach"}) {
    EXPECT_NE(result.out.find(row), std::string::npos) << row;
  }
  EXPECT_NE(result.out.find("ready: this node has every kernel feature the agent needs"),
            std::string::npos)
      << result.out;
}

TEST(AgentCheck, JsonOnThisMachine) {
  BULKHEAD_REQUIRE_PRIVILEGES();
  auto result = RunCommand({BULKHEAD_AGENT_PATH, "check", "-o", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto doc = nlohmann::json::parse(result.out);
  EXPECT_EQ(doc["ready"], true);
  EXPECT_FALSE(doc["cgroups"]["mode"].get<std::string>().empty());
  bool saw_attach = false;
  for (const auto& feature : doc["features"]) {
    if (feature["name"] == "cgroup_bpf_attach") {
      saw_attach = true;
      EXPECT_EQ(feature["present"], true) << feature.dump();
    }
  }
  EXPECT_TRUE(saw_attach);
}

TEST(AgentCheck, WithoutRootIsOneLineErrorSayingWhatToDo) {
  BULKHEAD_REQUIRE_PRIVILEGES();  // root is needed to become an unprivileged user
  auto result = RunCommand({BULKHEAD_AGENT_PATH, "check"}, {.uid = kNobody});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_TRUE(result.out.empty()) << result.out;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  EXPECT_NE(result.err.find("needs root"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("run it as root"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace bulkhead::testing
