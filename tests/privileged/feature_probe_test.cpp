#include <dirent.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "agent/cgroups/layout.h"
#include "agent/check/attach_probe.h"
#include "agent/check/feature_probe.h"
#include "tests/support/privileged.h"

namespace bulkhead::agent {
namespace {

std::vector<std::string> CheckLeftovers(const std::string& unified) {
  std::vector<std::string> found;
  DIR* dir = ::opendir(unified.c_str());
  if (dir == nullptr) {
    return found;
  }
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name.rfind("bulkhead-check-", 0) == 0) {
      found.push_back(name);
    }
  }
  ::closedir(dir);
  return found;
}

TEST(AttachProbe, ProgramRunsForAProcessInTheCgroup) {
  BULKHEAD_REQUIRE_PRIVILEGES();
  auto layout = DetectCgroupLayout();
  ASSERT_TRUE(layout.ok()) << layout.status();
  ASSERT_FALSE(layout->unified_mount.empty()) << "this test needs a cgroup v2 mount";
  auto result = RunAttachProbe(layout->unified_mount);
  ASSERT_TRUE(result.ok()) << result.status();
  // The child connects exactly one socket.
  EXPECT_EQ(result->connect_calls, 1U);
  EXPECT_TRUE(result->link_update);
  EXPECT_TRUE(CheckLeftovers(layout->unified_mount).empty());
}

TEST(AttachProbe, MissingMountIsAClearError) {
  BULKHEAD_REQUIRE_PRIVILEGES();
  auto result = RunAttachProbe("/nonexistent-cgroup-mount");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(MessageOf(result.status()).find("/nonexistent-cgroup-mount/bulkhead-check-"),
            std::string::npos)
      << result.status();
}

TEST(ProbeKernelFeatures, ThisMachineHasWhatTheAgentNeeds) {
  BULKHEAD_REQUIRE_PRIVILEGES();
  ASSERT_TRUE(CheckProbePrivileges().ok());
  v1::FeatureReport report = ProbeKernelFeatures();
  std::vector<std::string> names;
  for (const auto& feature : report.features()) {
    names.push_back(feature.name());
    if (feature.required()) {
      EXPECT_TRUE(feature.present()) << feature.name() << ": " << feature.detail();
    }
    if (!feature.present()) {
      EXPECT_FALSE(feature.remedy().empty()) << feature.name() << " has no remedy";
    }
  }
  EXPECT_TRUE(report.ready());
  for (const char* expected : {"bpf_syscall", "btf", "bpffs", "cgroup_v2", "cgroup_controllers",
                               "cgroup_bpf_attach", "bpf_link_update", "map_ringbuf"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  EXPECT_NE(report.cgroups().mode(), v1::CGROUP_MODE_UNSPECIFIED);
}

// Swap accounting is read from the kernel's own files: on this machine's v1
// memory hierarchy memory.memsw.* exists exactly when the kernel accounts
// swap, and `check` reports it (not required: budgets work without it).
TEST(ProbeKernelFeatures, SwapAccountingIsDetectedAndReported) {
  BULKHEAD_REQUIRE_PRIVILEGES();
  auto layout = DetectCgroupLayout();
  ASSERT_TRUE(layout.ok()) << layout.status();
  auto memory = layout->Find("memory");
  if (!memory) {
    GTEST_SKIP() << "no memory controller on this node";
  }
  bool expected =
      memory->version == 1
          ? ::access((memory->mount_point + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0
          : memory->swap;
  EXPECT_EQ(memory->swap, expected);
  v1::FeatureReport report = ProbeKernelFeatures();
  auto feature = std::find_if(report.features().begin(), report.features().end(),
                              [](const auto& f) { return f.name() == "cgroup_swap_limit"; });
  ASSERT_NE(feature, report.features().end());
  EXPECT_FALSE(feature->required());
  EXPECT_EQ(feature->present(), expected) << feature->detail();
  EXPECT_NE(feature->detail().find(memory->version == 1 ? "memory.memsw" : "swap"),
            std::string::npos)
      << feature->detail();
}

}  // namespace
}  // namespace bulkhead::agent
