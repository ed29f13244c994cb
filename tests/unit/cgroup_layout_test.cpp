#include "agent/cgroups/layout.h"

#include <gtest/gtest.h>

namespace bulkhead::agent {
namespace {

// The hybrid layout of a Debian 12 machine with v1 resource controllers and
// a controller-less cgroup2 mount for BPF.
constexpr std::string_view kHybrid =
    "24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "37 31 0:34 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "38 31 0:35 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

constexpr std::string_view kPureV2 =
    "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n"
    "31 23 0:27 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:5 - bpf bpf rw,mode=700\n";

constexpr std::string_view kPureV1 =
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n";

ControllersReader Controllers(const std::string& text) {
  return [text](const std::string&) -> StatusOr<std::string> { return text; };
}

TEST(ParseCgroupLayout, Hybrid) {
  auto layout = ParseCgroupLayout(kHybrid, Controllers(""));
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->mode, CgroupMode::kHybrid);
  EXPECT_EQ(layout->unified_mount, "/sys/fs/cgroup/unified");
  auto memory = layout->Find("memory");
  ASSERT_TRUE(memory.has_value());
  EXPECT_EQ(memory->version, 1);
  EXPECT_EQ(memory->mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ(layout->Find("pids")->mount_point, "/sys/fs/cgroup/pids");
  // name=systemd is a named hierarchy, not a controller.
  EXPECT_FALSE(layout->Find("name=systemd").has_value());
  EXPECT_FALSE(layout->Find("systemd").has_value());
  EXPECT_FALSE(layout->Find("io").has_value());
}

TEST(ParseCgroupLayout, PureV2TakesControllersFromTheRoot) {
  std::string asked;
  auto layout = ParseCgroupLayout(kPureV2, [&](const std::string& mount) -> StatusOr<std::string> {
    asked = mount;
    return std::string("cpuset cpu io memory hugetlb pids rdma misc\n");
  });
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(asked, "/sys/fs/cgroup");
  EXPECT_EQ(layout->mode, CgroupMode::kV2);
  EXPECT_EQ(layout->unified_mount, "/sys/fs/cgroup");
  EXPECT_EQ(layout->Find("cpu")->version, 2);
  EXPECT_EQ(layout->Find("memory")->mount_point, "/sys/fs/cgroup");
  EXPECT_EQ(layout->controllers.size(), 8U);
}

TEST(ParseCgroupLayout, PureV1WithCoMountedControllers) {
  auto layout = ParseCgroupLayout(kPureV1, Controllers("unused"));
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->mode, CgroupMode::kV1);
  EXPECT_TRUE(layout->unified_mount.empty());
  EXPECT_EQ(layout->Find("cpu")->mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(layout->Find("cpuacct")->mount_point, "/sys/fs/cgroup/cpu,cpuacct");
}

TEST(ParseCgroupLayout, ControllerBoundToV1IsNotListedTwice) {
  std::string text = std::string(kPureV1) +
                     "38 31 0:35 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
  auto layout = ParseCgroupLayout(text, Controllers("memory pids"));
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->mode, CgroupMode::kHybrid);
  EXPECT_EQ(layout->Find("memory")->version, 1);
  EXPECT_EQ(layout->Find("pids")->version, 2);
}

TEST(ParseCgroupLayout, EscapedMountPoint) {
  auto layout = ParseCgroupLayout(
      "38 31 0:35 / /run/my\\040cgroups rw,relatime - cgroup2 cgroup2 rw\n", Controllers(""));
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->unified_mount, "/run/my cgroups");
}

TEST(ParseCgroupLayout, NoCgroupsAtAll) {
  auto layout =
      ParseCgroupLayout("24 30 0:22 / /sys rw,nosuid - sysfs sysfs rw\n", Controllers(""));
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->mode, CgroupMode::kNone);
  EXPECT_TRUE(layout->controllers.empty());
}

TEST(ParseCgroupLayout, MalformedLineIsAnError) {
  auto layout = ParseCgroupLayout("garbage without separator\n", Controllers(""));
  ASSERT_FALSE(layout.ok());
  EXPECT_EQ(layout.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CgroupModeName, AllModes) {
  EXPECT_EQ(CgroupModeName(CgroupMode::kV1), "v1");
  EXPECT_EQ(CgroupModeName(CgroupMode::kHybrid), "hybrid");
  EXPECT_EQ(CgroupModeName(CgroupMode::kV2), "v2");
  EXPECT_EQ(CgroupModeName(CgroupMode::kNone), "none");
}

}  // namespace
}  // namespace bulkhead::agent
